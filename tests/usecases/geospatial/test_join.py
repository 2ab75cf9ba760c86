"""Joins on Spark: H3 hybrid, STRtree and geometry-only agree with each other and with brute force, 100%."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from chispa import assert_df_equality

from shared.contracts import apply_contract
from tests.usecases.geospatial.test_generate import brute_force_zone
from usecases.geospatial.config import GeospatialConfig
from usecases.geospatial.contracts import POINTS
from usecases.geospatial.cover import clean_zones, cover_zones
from usecases.geospatial.generate import make_points, make_zones
from usecases.geospatial.index import index_points
from usecases.geospatial.join import (
    cell_lookup,
    choose_strategy,
    interior_share,
    join_geometry_only,
    join_h3,
    join_strtree,
    load_zone_set,
)

RESOLUTION = 10


@pytest.fixture(scope="module")
def city(spark):
    zones = make_zones(30, seed=11)
    points = make_points(4000, zones, seed=11)
    zones_df = spark.createDataFrame(zones)
    clean, rejected = clean_zones(zones_df, RESOLUTION, 10**6)
    clean = clean.cache()
    zone_cells = cover_zones(clean, RESOLUTION).cache()
    valid = apply_contract(spark.createDataFrame(points), POINTS).valid
    indexed = index_points(valid, RESOLUTION).cache()
    return points, zones, indexed, clean, zone_cells, rejected


def test_all_joins_agree_with_brute_force(city) -> None:
    points, zones, indexed, clean, zone_cells, _ = city
    zone_set = load_zone_set(clean, 1000)
    h3_result = join_h3(indexed, cell_lookup(zone_cells), zone_set)
    strtree = join_strtree(indexed, zone_set)
    geometry_only = join_geometry_only(indexed, zone_set)
    assert_df_equality(h3_result, strtree, ignore_row_order=True, ignore_nullable=True)
    assert_df_equality(h3_result, geometry_only, ignore_row_order=True, ignore_nullable=True)

    got = h3_result.select("point_id", "zone_id").toPandas().set_index("point_id")["zone_id"]
    expected = pd.Series(brute_force_zone(points, zones), index=points["point_id"])
    assert len(got) == len(points) - 4  # the 4 planted bad points were quarantined by the contract
    assert (got.fillna(-1).astype(np.int64) == expected.loc[got.index]).all()


def test_boundary_cells_are_checked_and_interior_cells_are_not(city) -> None:
    *_, zone_cells, _ = city
    share = interior_share(zone_cells)
    assert 0.0 < share < 1.0
    assert choose_strategy("auto", 100_000, share, GeospatialConfig().auto_h3_min_zones, 0.0) == "strtree"  # measured
    assert choose_strategy("auto", 30, share, 20_000, 0.5) == "strtree"  # few zones: STRtree
    assert choose_strategy("auto", 30_000, share, 20_000, 0.0) == "h3"
    assert choose_strategy("auto", 30_000, share, 20_000, 1.0) == "strtree"  # too few interior cells
    assert choose_strategy("h3", 1, 0.0, 20_000, 0.5) == "h3"  # the override wins


def test_bad_zones_are_rejected_not_fatal(city) -> None:
    *_, clean, _, rejected = city
    reasons = [r["quarantine_reason"] for r in rejected.collect()]
    assert len(reasons) == 1 and "not valid WKT or GeoJSON" in reasons[0]
    assert clean.filter("repaired").count() == 1  # the bow-tie
