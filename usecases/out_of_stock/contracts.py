"""Data contracts of the out_of_stock job's inputs: daily store-item sales/stock and lead times."""

from __future__ import annotations

from pyspark.sql import functions as F

from shared.contracts import ColumnSpec, Contract, RowRule

KEY = ("store_id", "item_id")
STORE_ITEM_DAILY = Contract(
    table="store_item_daily",
    columns=(
        ColumnSpec("date", "date"),
        ColumnSpec("store_id", "string", id=True),
        ColumnSpec("item_id", "string", id=True),
        ColumnSpec("units_sold", "int"),
        ColumnSpec("on_hand_units", "int"),
        ColumnSpec("replenishment_units", "int", nullable=True),
        ColumnSpec("on_order_units", "int", nullable=True, required=False),
        ColumnSpec("in_transit_units", "int", nullable=True, required=False),
        ColumnSpec("promo", "boolean", nullable=True, required=False),
        ColumnSpec("shelf_capacity", "int", nullable=True, required=False),
    ),
    rules=(
        RowRule("units_sold must be >= 0", lambda: F.col("units_sold") >= 0),
        RowRule("on_hand_units must be >= 0 (negative stock)", lambda: F.col("on_hand_units") >= 0),
        RowRule("replenishment_units must be >= 0", lambda: F.coalesce(F.col("replenishment_units"), F.lit(0)) >= 0),
        RowRule("on_order_units must be >= 0", lambda: F.coalesce(F.col("on_order_units"), F.lit(0)) >= 0),
        RowRule("in_transit_units must be >= 0", lambda: F.coalesce(F.col("in_transit_units"), F.lit(0)) >= 0),
    ),
    unique_key=("store_id", "item_id", "date"),
)
LEAD_TIMES = Contract(
    table="lead_times",
    columns=(ColumnSpec("store_id", "string", id=True), ColumnSpec("item_id", "string", id=True),
             ColumnSpec("lead_time_days", "int")),
    rules=(RowRule("lead_time_days must be between 1 and 365", lambda: F.col("lead_time_days").between(1, 365)),),
    unique_key=KEY,
)
