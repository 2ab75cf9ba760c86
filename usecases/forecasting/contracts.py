"""Data contract of the forecasting job's input: daily sales per series (keys chosen by the user)."""

from __future__ import annotations

from collections.abc import Sequence

from pyspark.sql import functions as F

from shared.contracts import ColumnSpec, Contract, RowRule

DATE, TARGET = "date", "units_sold"
SALES = "sales"  # the logical input table; rows it rejects go to ``sales_quarantine``


def sales_contract(key_columns: Sequence[str], one_row_per_day: bool = True) -> Contract:
    """Contract of ``sales``: keys as text (numeric keys are kept as their text), a date, units_sold >= 0 (null
    allowed: an unknown day). NaN and infinities are quarantined by the core's cast (a model fitted on them
    forecasts inf or NaN). ``one_row_per_day``: rows sharing a series and date are quarantined as duplicates;
    otherwise they pass (transaction-level sales, summed per day by prepare)."""
    return Contract(
        table=SALES,
        columns=(*[ColumnSpec(k, "string", id=True) for k in key_columns], ColumnSpec(DATE, "date"),
                 ColumnSpec(TARGET, "double", nullable=True)),
        rules=(RowRule("units_sold must be >= 0", lambda: F.col(TARGET) >= 0),),
        unique_key=(*key_columns, DATE) if one_row_per_day else (),
    )
