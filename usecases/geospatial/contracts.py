"""Data contracts of the geospatial job's inputs: points and zones."""

from __future__ import annotations

from pyspark.sql import Column
from pyspark.sql import functions as F

from shared.contracts import ColumnSpec, Contract, RowRule


def _coordinate_ok(column: str, limit: float) -> Column:
    # Spark orders NaN above every number, so NaN gets its own reason instead of "out of range".
    return F.isnan(column) | F.col(column).between(-limit, limit)


POINTS = Contract(
    table="points",
    columns=(
        ColumnSpec("point_id", "bigint"),
        ColumnSpec("lat", "double"),
        ColumnSpec("lon", "double"),
        ColumnSpec("ts", "timestamp", nullable=True, required=False),
        ColumnSpec("value", "double", nullable=True, required=False),
    ),
    rules=(
        RowRule("lat is NaN", lambda: ~F.isnan("lat")),
        RowRule("lon is NaN", lambda: ~F.isnan("lon")),
        RowRule("lat outside [-90, 90]", lambda: _coordinate_ok("lat", 90.0)),
        RowRule("lon outside [-180, 180]", lambda: _coordinate_ok("lon", 180.0)),
    ),
    unique_key=("point_id",),
)


ZONES = Contract(
    table="zones",
    columns=(
        ColumnSpec("zone_id", "bigint"),
        ColumnSpec("name", "string", nullable=True, required=False),
        ColumnSpec("geometry", "string"),
    ),
    unique_key=("zone_id",),
)
