"""The user's sales columns under the names the job works with: ``date``, ``units_sold`` and the series keys.

Why: a user's daily series rarely arrives as ``date, units_sold``. Prophet's own examples are ``ds, y``, an ERP
export says ``order_date, qty``, and a single series has no key column at all. ``date_column`` and
``target_column`` name the user's columns (renamed here, before the contract checks them), and an empty
``key_columns`` declares one series, which gets the key column ``series`` = ``all`` so that every task, table
and the registered model keep one shape. Outputs use the job's names (``date``, ``yhat``...), whatever the input's.
"""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from shared.contracts import ContractError, input_columns
from usecases.forecasting.config import SINGLE_SERIES_KEY, SINGLE_SERIES_VALUE
from usecases.forecasting.contracts import DATE, TARGET


def _found(df: DataFrame) -> str:
    return ", ".join(input_columns(df)) or "(none)"


def sales_in_job_names(sales: DataFrame, table: str, date_column: str, target_column: str,
                       one_series: bool) -> DataFrame:
    """``sales`` with ``date_column`` renamed to ``date``, ``target_column`` to ``units_sold`` (names matched
    regardless of case, as Spark matches them) and, for ``one_series``, the constant key ``series = 'all'``.

    Raises ContractError naming ``table`` when a named column is missing or a rename would collide."""
    by_lower = {c.lower(): c for c in input_columns(sales)}
    renames: dict[str, str] = {}
    for name, job_name, param in ((date_column, DATE, "date_column"), (target_column, TARGET, "target_column")):
        if name.lower() == job_name:
            continue  # absent or not, the contract names a missing column with the whole expected schema
        source = by_lower.get(name.lower())
        if source is None:
            raise ContractError(f"table {table!r} has no column {name!r} ({param}); found columns: {_found(sales)}")
        if job_name in by_lower:
            raise ContractError(f"table {table!r} has both {source!r} ({param}) and {by_lower[job_name]!r}: drop or "
                                f"rename one, or set {param}={by_lower[job_name]}")
        renames[source] = job_name
    renamed = sales.withColumnsRenamed(renames) if renames else sales
    if not one_series:
        return renamed
    if SINGLE_SERIES_KEY in by_lower:
        raise ContractError(f"table {table!r} has a column {by_lower[SINGLE_SERIES_KEY]!r} but key_columns is empty "
                            f"(one series, keyed {SINGLE_SERIES_KEY}={SINGLE_SERIES_VALUE}): name your key columns in "
                            "key_columns")
    return renamed.withColumn(SINGLE_SERIES_KEY, F.lit(SINGLE_SERIES_VALUE))
