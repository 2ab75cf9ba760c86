"""Fine-grained demand forecasting: one Prophet model per series on Spark, backtested, tracked in MLflow."""
