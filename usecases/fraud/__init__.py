"""Fraud detection: SME-rule labels, a decision tree tracked in MLflow, compiled to Spark SQL for scoring."""
