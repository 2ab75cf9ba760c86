"""Indexing on Spark: bad coordinates are quarantined with a reason; both H3 engines give identical cells."""

from __future__ import annotations

import h3.api.basic_int as h3i
from chispa import assert_df_equality
from pyspark.sql import functions as F

from shared.contracts import apply_contract
from usecases.geospatial.contracts import POINTS
from usecases.geospatial.index import index_points

ROWS = [
    ("1", "40.7", "-73.9", "5"),
    ("2", "NaN", "-73.9", "1"),
    ("3", "95", "-73.9", "1"),
    ("4", "40.7", "-181", "1"),
    ("5", None, "-73.9", "1"),
    ("6", "abc", "-73.9", "1"),
    ("7", "-90", "180", None),
    ("8", "40.71", "-73.91", "2"),
    ("8", "40.71", "-73.91", "2"),
]


def test_bad_coordinates_are_quarantined_with_reasons(spark) -> None:
    raw = spark.createDataFrame(ROWS, "point_id string, lat string, lon string, value string")
    result = apply_contract(raw, POINTS)
    reasons = {r["point_id"]: r["quarantine_reason"] for r in result.quarantined.collect()}
    assert reasons["2"] == "lat is not a finite number: NaN"
    assert reasons["3"] == "lat outside [-90, 90]"
    assert reasons["4"] == "lon outside [-180, 180]"
    assert reasons["5"] == "lat is null"
    assert "lat is not a number: abc" in reasons["6"]
    assert "duplicate key" in reasons["8"]
    assert sorted(r["point_id"] for r in result.valid.collect()) == [1, 7]
    indexed = {r["point_id"]: r["cell"] for r in index_points(result.valid, 9).collect()}
    assert indexed == {1: h3i.latlng_to_cell(40.7, -73.9, 9), 7: h3i.latlng_to_cell(-90, 180, 9)}


def test_databricks_sql_engine_gives_identical_cells(spark) -> None:
    """Locally the built-in is absent; a stand-in with Databricks' signature h3_longlatash3(lon, lat, res) shows
    the SQL path is wired the same way and that both paths agree."""
    spark.udf.register("h3_longlatash3", lambda lon, lat, res: h3i.latlng_to_cell(lat, lon, res), "bigint")
    points = spark.range(1, 301).select(F.col("id").alias("point_id"), (40.6 + F.col("id") * 7e-4).alias("lat"),
                                        (-74.0 + F.col("id") * 9e-4).alias("lon"))
    python = index_points(points, 11, "python")
    sql = index_points(points, 11, "databricks_sql").withColumn("cell", F.col("cell").cast("bigint"))
    assert_df_equality(python, sql, ignore_row_order=True, ignore_nullable=True)
