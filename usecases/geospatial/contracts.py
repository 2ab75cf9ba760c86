"""Data contracts of the geospatial job's inputs: points and zones.

Identifiers are text (``ColumnSpec(..., id=True)``): ``point_id`` and ``zone_id`` accept any non-blank string
(``00123``, ``FJI``, ``11-Sault-au-Récollet``), trimmed, leading zeros kept; whole numbers from typed sources
arrive as their digits (a BIGINT 123 is ``"123"``); blank text is null, and quarantined as such.
Where zones overlap, a point keeps the lowest zone_id in Unicode code point order (see ``exact``).
Coordinates must be finite (the core's casts quarantine NaN and infinities) and within WGS84 range.
"""

from __future__ import annotations

from pyspark.sql import functions as F

from shared.contracts import ColumnSpec, Contract, RowRule

POINTS = Contract(
    table="points",
    columns=(
        ColumnSpec("point_id", "string", id=True),
        ColumnSpec("lat", "double"),
        ColumnSpec("lon", "double"),
        ColumnSpec("ts", "timestamp", nullable=True, required=False),
        ColumnSpec("value", "double", nullable=True, required=False),
    ),
    rules=(
        RowRule("lat outside [-90, 90]", lambda: F.col("lat").between(-90.0, 90.0)),
        RowRule("lon outside [-180, 180]", lambda: F.col("lon").between(-180.0, 180.0)),
    ),
    unique_key=("point_id",),
)


ZONES = Contract(
    table="zones",
    columns=(
        ColumnSpec("zone_id", "string", id=True),
        ColumnSpec("name", "string", nullable=True, required=False),
        ColumnSpec("geometry", "string"),
    ),
    unique_key=("zone_id",),
)
