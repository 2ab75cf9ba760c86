"""Data contracts of the fraud job's inputs: transactions and human review labels."""

from __future__ import annotations

from pyspark.sql import functions as F

from shared.contracts import ColumnSpec, Contract, RowRule
from usecases.fraud.generate import TRANSACTION_TYPES

TRANSACTIONS = Contract(
    table="transactions",
    columns=(
        ColumnSpec("transaction_id", "bigint"),
        ColumnSpec("step", "int"),
        ColumnSpec("type", "string"),
        ColumnSpec("amount", "double"),
        ColumnSpec("name_orig", "string", nullable=True),
        ColumnSpec("old_balance_orig", "double", nullable=True),
        ColumnSpec("new_balance_orig", "double", nullable=True),
        ColumnSpec("name_dest", "string", nullable=True),
        ColumnSpec("old_balance_dest", "double", nullable=True),
        ColumnSpec("new_balance_dest", "double", nullable=True),
        ColumnSpec("label", "int", nullable=True, required=False),
    ),
    rules=(
        RowRule(f"type must be one of {', '.join(TRANSACTION_TYPES)}", lambda: F.col("type").isin(*TRANSACTION_TYPES)),
        RowRule("amount must be >= 0", lambda: F.col("amount") >= 0),
        RowRule("amount must not be NaN", lambda: ~F.isnan("amount")),
        RowRule("step must be >= 0", lambda: F.col("step") >= 0),
        RowRule("label must be 0 or 1", lambda: F.col("label").isin(0, 1)),
    ),
    unique_key=("transaction_id",),
)

REVIEW_LABELS = Contract(
    table="fraud_review_labels",
    columns=(
        ColumnSpec("transaction_id", "bigint"),
        ColumnSpec("label", "int"),
        ColumnSpec("reviewer", "string", nullable=True),
        ColumnSpec("reviewed_at", "timestamp", nullable=True),
    ),
    rules=(RowRule("label must be 0 or 1", lambda: F.col("label").isin(0, 1)),),
)
