"""Spark indexing of points to H3 cells: a thin pandas-UDF adapter over the H3 core, or Databricks' built-in."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import LongType

from usecases.geospatial.cells import latlng_to_cells

CELL = "cell"


def cells_column(resolution: int) -> Callable[..., Column]:
    """A scalar pandas UDF ``(lat, lon) -> cell`` (BIGINT H3 id) over the H3 core.

    A scalar UDF ships only the two coordinate columns to Python and one back, where ``mapInPandas`` would
    ship every column both ways; measured 20-40% faster on 1M points (see benchmarks/geospatial.py).
    """

    @F.pandas_udf(LongType())
    def cells(lat: pd.Series, lon: pd.Series) -> pd.Series:
        return pd.Series(latlng_to_cells(lat.to_numpy(), lon.to_numpy(), resolution), index=lat.index)

    return cells


def index_points(points: DataFrame, resolution: int, engine: str = "python") -> DataFrame:
    """Points (point_id, lat, lon, ... valid coordinates) -> the same rows plus ``cell`` BIGINT.

    ``engine='python'`` runs the h3-py core in a scalar pandas UDF; ``engine='databricks_sql'`` calls Databricks'
    built-in ``h3_longlatash3(lon, lat, resolution)``, which returns the same BIGINT cell ids (same H3 grid).
    """
    if engine == "databricks_sql":
        return points.withColumn(CELL, F.call_function("h3_longlatash3", F.col("lon"), F.col("lat"),
                                                       F.lit(resolution)))
    return points.withColumn(CELL, cells_column(resolution)(F.col("lat"), F.col("lon")))
