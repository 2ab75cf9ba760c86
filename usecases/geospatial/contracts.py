"""Data contracts of the geospatial job's inputs: points and zones.

Identifiers are text: ``point_id`` and ``zone_id`` accept any non-blank string (``00M``, ``FJI``,
``11-Sault-au-Récollet``); numeric ids from typed sources arrive as their digits (a BIGINT 123 is ``"123"``).
Where zones overlap, a point keeps the lowest zone_id in Unicode code point order (see ``exact``).
"""

from __future__ import annotations

from pyspark.sql import Column
from pyspark.sql import functions as F

from shared.contracts import ColumnSpec, Contract, RowRule


def _coordinate_ok(column: str, limit: float) -> Column:
    # Spark orders NaN above every number, so NaN gets its own reason instead of "out of range".
    return F.isnan(column) | F.col(column).between(-limit, limit)


def _not_blank(column: str) -> RowRule:
    return RowRule(f"{column} is blank", lambda: F.length(F.trim(F.col(column))) > 0)


POINTS = Contract(
    table="points",
    columns=(
        ColumnSpec("point_id", "string"),
        ColumnSpec("lat", "double"),
        ColumnSpec("lon", "double"),
        ColumnSpec("ts", "timestamp", nullable=True, required=False),
        ColumnSpec("value", "double", nullable=True, required=False),
    ),
    rules=(
        _not_blank("point_id"),
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
        ColumnSpec("zone_id", "string"),
        ColumnSpec("name", "string", nullable=True, required=False),
        ColumnSpec("geometry", "string"),
    ),
    rules=(_not_blank("zone_id"),),
    unique_key=("zone_id",),
)
