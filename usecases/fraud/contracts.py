"""Data contracts of the fraud job's inputs: transactions (plus the user's extra feature columns) and review labels.

Every number the tree sees is computed in float32 (scikit-learn casts its input, the compiled SQL casts to FLOAT),
so amounts, balances, balance changes and extra features must be finite and inside float32's range: a NaN or
infinite value, or one that overflows float32 to infinity, is quarantined with a reason, never scored.
"""

from __future__ import annotations

from pyspark.sql import Column
from pyspark.sql import functions as F

from shared.contracts import ColumnSpec, Contract, RowRule
from usecases.fraud.generate import TRANSACTION_TYPES

FLOAT32_MAX = 3.4028234663852886e38
TRANSACTIONS_TABLE = "transactions"
BASE_COLUMNS = (
    ColumnSpec("transaction_id", "string", id=True),
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
)
BASE_COLUMN_NAMES = tuple(c.name for c in BASE_COLUMNS)


def _within_float32(value: Column) -> Column:
    """True for a finite value float32 can hold; false for NaN (Spark orders NaN above every number) and +-inf."""
    return F.abs(value) <= F.lit(FLOAT32_MAX)


def _finite_rule(column: str) -> RowRule:
    return RowRule(f"{column} must be a finite number within float32 range (|x| <= 3.4e38)",
                   lambda: _within_float32(F.col(column)))


def _change_rule(new: str, old: str) -> RowRule:
    return RowRule(f"{new} - {old} must be within float32 range (|x| <= 3.4e38)",
                   lambda: _within_float32(F.col(new) - F.col(old)))


def transactions(extra_features: tuple[str, ...] = ()) -> Contract:
    """The transactions contract; ``extra_features`` are the user's own numeric columns the tree may split on
    (required, double, NULL = missing, finite like every other feature)."""
    numeric = ("amount", "old_balance_orig", "new_balance_orig", "old_balance_dest", "new_balance_dest",
               *extra_features)
    return Contract(
        table=TRANSACTIONS_TABLE,
        columns=(*BASE_COLUMNS, *(ColumnSpec(name, "double", nullable=True) for name in extra_features)),
        rules=(
            RowRule(f"type must be one of {', '.join(TRANSACTION_TYPES)}",
                    lambda: F.col("type").isin(*TRANSACTION_TYPES)),
            RowRule("amount must be >= 0", lambda: F.col("amount") >= 0),
            *(_finite_rule(c) for c in numeric),
            _change_rule("new_balance_orig", "old_balance_orig"),
            _change_rule("new_balance_dest", "old_balance_dest"),
            RowRule("step must be >= 0", lambda: F.col("step") >= 0),
            RowRule("label must be 0 or 1", lambda: F.col("label").isin(0, 1)),
        ),
        unique_key=("transaction_id",),
    )


TRANSACTIONS = transactions()

REVIEW_LABELS = Contract(
    table="fraud_review_labels",
    columns=(
        ColumnSpec("transaction_id", "string", id=True),
        ColumnSpec("label", "int"),
        ColumnSpec("reviewer", "string", nullable=True),
        ColumnSpec("reviewed_at", "timestamp", nullable=True),
    ),
    rules=(RowRule("label must be 0 or 1", lambda: F.col("label").isin(0, 1)),),
)
