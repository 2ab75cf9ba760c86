"""Identifiers are text: real-looking ids (airport codes, ISO countries, Montreal districts, unicode) go through
the contracts and every join strategy, and points_zoned equals a plain shapely ``covers`` loop, 100%."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import shapely

from shared.contracts import REASON, apply_contract
from tests.usecases.geospatial.strategies import STRATEGIES, zoned_by_each_strategy
from usecases.geospatial.contracts import POINTS, ZONES
from usecases.geospatial.exact import ZoneSet, strtree_match

BASE_LON, BASE_LAT = -73.65, 45.55  # Montreal


def _box(dx0: float, dy0: float, dx1: float, dy1: float) -> shapely.Polygon:
    return shapely.box(BASE_LON + dx0, BASE_LAT + dy0, BASE_LON + dx1, BASE_LAT + dy1)


ZONE_SHAPES = {
    "00M": _box(0.00, 0.00, 0.02, 0.02),
    "FJI": _box(0.01, 0.01, 0.03, 0.03),  # overlaps 00M: "00M" < "FJI"
    "11-Sault-au-Récollet": _box(0.04, 0.00, 0.07, 0.03).difference(_box(0.05, 0.01, 0.06, 0.02)),
    "9": _box(0.00, 0.04, 0.02, 0.06),
    "10": _box(0.01, 0.045, 0.03, 0.065),  # overlaps 9: text order puts "10" first
    "z-zone": _box(0.04, 0.04, 0.06, 0.06),
    "é-zone": _box(0.05, 0.045, 0.07, 0.065),  # overlaps z-zone: "z" (U+007A) < "é" (U+00E9)
    "Zürich": _box(0.055, 0.05, 0.075, 0.07),  # overlaps both: "Z" < "z" < "é"
    "東京": shapely.MultiPolygon([_box(0.08, 0.0, 0.09, 0.01), _box(0.08, 0.02, 0.09, 0.03)]),
    "123": _box(0.08, 0.04, 0.1, 0.06),
}


def _zones() -> pd.DataFrame:
    ids = list(ZONE_SHAPES)
    texts = [shapely.to_geojson(g) if i % 2 else shapely.to_wkt(g, rounding_precision=-1)
             for i, g in enumerate(ZONE_SHAPES.values())]
    return pd.DataFrame({"zone_id": ids, "name": [f"name of {z}" for z in ids], "geometry": texts})


def _points(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    lon = BASE_LON + rng.uniform(-0.005, 0.105, n)
    lat = BASE_LAT + rng.uniform(-0.005, 0.075, n)
    vertices = shapely.get_coordinates(shapely.boundary(np.array(list(ZONE_SHAPES.values()), dtype=object)))
    edges = shapely.get_coordinates(shapely.line_interpolate_point(
        shapely.boundary(np.array(list(ZONE_SHAPES.values()), dtype=object))[rng.integers(0, len(ZONE_SHAPES), 300)],
        rng.random(300), normalized=True))
    xy = np.vstack([np.c_[lon, lat], vertices, edges])
    ids = [f"{code}-{i:05d}" for i, code in zip(range(len(xy)), np.resize(["00M", "pt", "Ω", "ü"], len(xy)),
                                                   strict=True)]
    return pd.DataFrame({"point_id": ids, "lat": xy[:, 1], "lon": xy[:, 0]})


def shapely_loop(points: pd.DataFrame, shapes: dict[str, shapely.Geometry]) -> pd.DataFrame:
    """The reference: for every point, every zone with ``covers`` (closed zones); lowest id by Python's ``min``."""
    rows = []
    for pid, x, y in zip(points["point_id"], points["lon"], points["lat"], strict=True):
        holding = [z for z, g in shapes.items() if g.covers(shapely.Point(x, y))]
        rows.append((pid, min(holding) if holding else None, len(holding)))
    return pd.DataFrame(rows, columns=["point_id", "zone_id", "n_zones"]).set_index("point_id").sort_index()


@pytest.mark.parametrize("resolution", [9, 12])
def test_every_strategy_matches_shapely_on_string_ids(spark, resolution: int) -> None:
    points = _points(3000, seed=resolution)
    expected = shapely_loop(points, ZONE_SHAPES)
    assert expected["zone_id"].nunique() == len(ZONE_SHAPES)  # every zone holds points
    assert {"00M", "10", "Zürich", "z-zone"} <= set(expected.loc[expected["n_zones"] > 1, "zone_id"])
    results = zoned_by_each_strategy(spark, _zones(), points, resolution)
    assert list(results) == list(STRATEGIES)
    for strategy, got in results.items():
        assert got.index.tolist() == expected.index.tolist(), strategy
        assert got["zone_id"].tolist() == expected["zone_id"].tolist(), strategy
        assert got["n_zones"].tolist() == expected["n_zones"].tolist(), strategy


def test_lowest_zone_id_is_code_point_order() -> None:
    zones = ZoneSet(["é", "z", "Z", "10", "9"], [shapely.to_wkb(shapely.box(0, 0, 1, 1))] * 5)
    assert zones.zone_ids.tolist() == ["10", "9", "Z", "z", "é"]
    zone_id, n_zones = strtree_match(zones, np.array([0.5, 2.0]), np.array([0.5, 2.0]))
    assert zone_id.tolist() == ["10", None] and n_zones.tolist() == [5, 0]


def test_spark_orders_ids_as_the_zone_set_does(spark) -> None:
    ids = ["é", "z", "Z", "10", "9", "00M", "東京", "11-Sault-au-Récollet", "ü"]
    df = spark.createDataFrame([(i,) for i in ids], "zone_id string")
    assert [r[0] for r in df.orderBy("zone_id").collect()] == sorted(ids)
    assert df.agg({"zone_id": "min"}).first()[0] == min(ids)


def test_numeric_ids_become_text_and_blank_ids_are_quarantined(spark) -> None:
    points = spark.createDataFrame([(123, 45.5, -73.6), (7, 45.5, -73.6)], "point_id bigint, lat double, lon double")
    assert [r["point_id"] for r in apply_contract(points, POINTS).valid.orderBy("point_id").collect()] == ["123", "7"]
    zones = spark.createDataFrame([("FJI", "POLYGON EMPTY"), ("  ", "x"), (None, "x"), ("FJI", "y")],
                                  "zone_id string, geometry string")
    result = apply_contract(zones, ZONES)
    reasons = sorted(r[REASON] for r in result.quarantined.collect())
    assert result.rows_valid == 0 and len(reasons) == 4
    assert reasons.count("zone_id is null") == 2  # blank id text is null
    assert sum("duplicate key" in r for r in reasons) == 2
