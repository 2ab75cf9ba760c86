"""Spark side of the maps: H3 parents in column arithmetic, the trimmed extent, bounded parent-cell and zone frames."""

from __future__ import annotations

import h3.api.basic_int as h3i
import numpy as np
import pandas as pd
import pytest
import shapely
from chispa import assert_df_equality
from pyspark.sql import functions as F

from usecases.geospatial.aggregate import cell_stats, h3_parent, map_cells, map_zones, points_extent
from usecases.geospatial.cells import latlng_to_cells


def _random_points(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.uniform(-85, 85, n), rng.uniform(-180, 180, n)  # the whole globe, pentagons' base cells included


@pytest.mark.parametrize("finest", [15, 11, 5])
def test_h3_parent_matches_h3_at_every_coarser_resolution(spark, finest: int) -> None:
    lat, lon = _random_points(3000, seed=finest)
    cells = latlng_to_cells(lat, lon, finest).tolist()
    cells += [h3i.cell_to_center_child(p, finest) for p in h3i.get_pentagons(0)]  # every pentagon family
    df = spark.createDataFrame(pd.DataFrame({"cell": np.array(cells, dtype=np.int64)}))
    got = df.select("cell", *[h3_parent(F.col("cell"), r).alias(f"p{r}") for r in range(finest + 1)])
    expected = spark.createDataFrame(pd.DataFrame(
        {"cell": np.array(cells, dtype=np.int64),
         **{f"p{r}": np.array([h3i.cell_to_parent(c, r) for c in cells], dtype=np.int64) for r in range(finest + 1)}}))
    assert_df_equality(got, expected, ignore_row_order=True, ignore_nullable=True)


def test_h3_parent_refuses_a_bad_resolution() -> None:
    with pytest.raises(ValueError):
        h3_parent(F.col("cell"), 16)


def test_points_extent_leaves_out_a_few_strays(spark) -> None:
    rng = np.random.default_rng(3)
    lat, lon = rng.uniform(40.6, 40.8, 5000), rng.uniform(-74.1, -73.8, 5000)
    points = pd.DataFrame({"lat": np.r_[lat, 0.0, 0.5], "lon": np.r_[lon, 0.0, 179.0]})  # two strays far away
    extent = points_extent(spark.createDataFrame(points))
    assert 40.6 <= extent.south < 40.61 and 40.79 < extent.north <= 40.8
    assert -74.1 <= extent.west < -74.09 and -73.81 < extent.east <= -73.8
    untrimmed = points_extent(spark.createDataFrame(points), trim=0.0)
    assert (untrimmed.south, untrimmed.east) == (0.0, 179.0)


def test_points_extent_of_nothing_is_none(spark) -> None:
    assert points_extent(spark.createDataFrame([], "lat double, lon double")) is None


@pytest.fixture(scope="module")
def stats(spark):
    rng = np.random.default_rng(5)
    lat, lon = rng.normal(40.73, 0.03, 4000), rng.normal(-73.95, 0.04, 4000)
    zoned = pd.DataFrame({"point_id": np.arange(4000).astype(str), "lat": lat, "lon": lon,
                          "cell": latlng_to_cells(lat, lon, 11),
                          "zone_id": np.where(rng.random(4000) < 0.6, "00M", None),
                          "ts": pd.Timestamp("2026-01-05"), "value": 1.0})
    return zoned, cell_stats(spark.createDataFrame(zoned, "point_id string, lat double, lon double, cell bigint, "
                                                          "zone_id string, ts timestamp, value double"), 11)


def test_map_cells_sums_points_per_parent_and_is_bounded(stats) -> None:
    zoned, cells = stats
    expected = (zoned.assign(parent=[h3i.cell_to_parent(int(c), 7) for c in zoned["cell"]],
                             in_zone=zoned["zone_id"].notna().astype(int))
                .groupby("parent").agg(n_points=("cell", "size"), n_zoned=("in_zone", "sum")))
    everything, total = map_cells(cells, 7, limit=10_000)
    assert total == len(expected) == len(everything)
    got = everything.set_index("cell").sort_index()
    assert (got["n_points"] == expected["n_points"].sort_index()).all()
    assert (got["n_zoned"] == expected["n_zoned"].sort_index()).all()
    assert got["n_points"].sum() == len(zoned)

    top, total_again = map_cells(cells, 7, limit=5)
    assert total_again == total and len(top) == 5
    assert top["n_points"].tolist() == sorted(expected["n_points"], reverse=True)[:5]


def test_map_zones_keeps_the_busiest_and_counts_all(spark) -> None:
    wkb = [shapely.to_wkb(shapely.box(i, 0, i + 1, 1)) for i in range(4)]
    zones_clean = spark.createDataFrame(pd.DataFrame({"zone_id": ["1", "2", "3", "4"], "wkb": wkb}))
    zstats = spark.createDataFrame(pd.DataFrame({"zone_id": ["1", "2", "3", "4"], "name": ["a", "b", "c", "d"],
                                                 "n_points": [5, 50, 0, 7], "points_per_km2": [1.0, 2.0, 0.0, 3.0]}))
    top, total = map_zones(zones_clean, zstats, limit=2)
    assert total == 4 and top["zone_id"].tolist() == ["2", "4"]
    assert shapely.from_wkb(top["wkb"][0]).equals(shapely.box(1, 0, 2, 1))
    every, total = map_zones(zones_clean, zstats, limit=100)
    assert total == 4 and sorted(every["zone_id"]) == ["1", "2", "3", "4"]
