"""Spark indexing of points to H3 cells: the points contract and a thin pandas-UDF adapter over the H3 core."""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial

import pandas as pd
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import LongType, StructField, StructType

from shared.contracts import ColumnSpec, Contract, RowRule
from usecases.geospatial.cells import latlng_to_cells

CELL = "cell"


def _coordinate_ok(column: str, limit: float) -> F.Column:
    # Spark orders NaN above every number, so NaN gets its own reason instead of "out of range".
    return F.isnan(column) | F.col(column).between(-limit, limit)


POINTS_CONTRACT = Contract(
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


def cells_for_frame(pdf: pd.DataFrame, resolution: int) -> pd.DataFrame:
    """Add ``cell`` (H3 id as int64) to a frame with valid ``lat``/``lon`` (plain pandas, testable alone)."""
    return pdf.assign(**{CELL: latlng_to_cells(pdf["lat"].to_numpy(), pdf["lon"].to_numpy(), resolution)})


def _index_batches(batches: Iterator[pd.DataFrame], resolution: int) -> Iterator[pd.DataFrame]:
    for pdf in batches:
        yield cells_for_frame(pdf, resolution)


def index_points(points: DataFrame, resolution: int, engine: str = "python") -> DataFrame:
    """Points (point_id, lat, lon, ... valid coordinates) -> the same rows plus ``cell`` BIGINT.

    ``engine='python'`` runs the h3-py core in ``mapInPandas``; ``engine='databricks_sql'`` calls Databricks'
    built-in ``h3_longlatash3(lon, lat, resolution)``, which returns the same BIGINT cell ids (same H3 grid).
    """
    if engine == "databricks_sql":
        return points.withColumn(CELL, F.call_function("h3_longlatash3", F.col("lon"), F.col("lat"),
                                                       F.lit(resolution)))
    schema = StructType([*points.schema.fields, StructField(CELL, LongType(), False)])
    return points.mapInPandas(partial(_index_batches, resolution=resolution), schema=schema)
