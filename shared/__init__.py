"""The core shared by every use case: config, Spark, tables, data contracts, MLflow tracking, the local runner.

The core never imports a use case (tests/test_import_contracts.py checks it).
"""
