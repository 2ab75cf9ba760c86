"""The synthetic city: seeded, made in Spark, has every zone shape the join must handle, and its truth is exact."""

from __future__ import annotations

import numpy as np
import pandas as pd
import shapely
from chispa import assert_df_equality

from usecases.geospatial.generate import TRUTH_MAX_POINTS, generate_points, make_zones, true_zones
from usecases.geospatial.geometry import clean_geometry


def brute_force_zone(points: pd.DataFrame, zones: pd.DataFrame) -> tuple[list[str | None], list[int]]:
    """Every point against every zone, one shapely ``covers`` per pair (no index, no job code): the lowest zone id
    in text order (None for none) and how many zones hold the point."""
    geoms = [(str(z), clean_geometry(t, 15, 10**12).geometry) for z, t in zip(zones["zone_id"], zones["geometry"],
                                                                             strict=True)]
    geoms = [(z, g) for z, g in geoms if g is not None]
    best, counts = [], []
    for x, y in zip(points["lon"], points["lat"], strict=True):
        if not (np.isfinite(x) and np.isfinite(y) and abs(x) <= 180 and abs(y) <= 90):
            best.append(None)
            counts.append(0)
            continue
        holding = [z for z, g in geoms if g.covers(shapely.Point(x, y))]
        best.append(min(holding) if holding else None)
        counts.append(len(holding))
    return best, counts


def test_generator_is_seeded_and_has_every_shape() -> None:
    zones = make_zones(20, seed=3)
    assert zones.equals(make_zones(20, seed=3))
    assert zones["zone_id"].tolist() == [str(i) for i in range(1, 23)]
    geoms = [clean_geometry(t, 15, 10**12) for t in zones["geometry"]]
    kinds = {g.geometry.geom_type for g in geoms if g.geometry is not None}
    assert kinds == {"Polygon", "MultiPolygon"}
    assert any(g.geometry is not None and shapely.get_num_interior_rings(g.geometry) > 0 for g in geoms)
    assert any(g.repaired for g in geoms) and sum(g.geometry is None for g in geoms) == 1
    assert zones["geometry"].str.startswith("{").any() and zones["geometry"].str.startswith("POLYGON").any()


def test_points_are_made_in_spark_seeded_with_planted_bad_rows(spark) -> None:
    zones = make_zones(12, seed=4)
    first = generate_points(spark, 3000, zones, seed=4)
    assert first.schema.simpleString() == ("struct<point_id:string,lat:double,lon:double,ts:timestamp,"
                                           "value:double>")
    assert_df_equality(first, generate_points(spark, 3000, zones, seed=4), ignore_row_order=True,
                       allow_nan_equality=True)
    points = first.toPandas().set_index("point_id")
    assert len(points) == 3000 and points.index.is_unique
    assert np.isnan(points.loc["1", "lat"]) and points.loc["2", "lat"] == 95.0
    assert points.loc["3", "lon"] == -200.0 and pd.isna(points.loc["4", "lon"])
    assert not generate_points(spark, 3000, zones, seed=5).toPandas()["lat"].equals(points["lat"].reset_index(
        drop=True))


def test_truth_matches_brute_force_including_edges_and_overlaps(spark) -> None:
    zones = make_zones(40, seed=5)
    points = generate_points(spark, 3000, zones, seed=5)
    truth = true_zones(points, zones).toPandas().set_index("point_id")
    pdf = points.toPandas()
    expected, counts = brute_force_zone(pdf, zones)
    got = truth.loc[pdf["point_id"]]
    assert got["true_zone_id"].tolist() == expected
    assert got["true_n_zones"].tolist() == counts
    assert (got["true_n_zones"] > 1).any()  # overlapping zones are exercised
    assert 0.3 < np.mean([e is not None for e in expected]) < 0.95  # both zoned and unzoned points
    edges = shapely.boundary(np.array([g for g in (clean_geometry(t, 15, 10**12).geometry for t in zones["geometry"])
                                       if g is not None], dtype=object))
    on_edge = [bool(shapely.intersects_xy(edges, x, y).any()) for x, y in zip(pdf["lon"], pdf["lat"], strict=True)
               if np.isfinite(x) and np.isfinite(y)]
    assert sum(on_edge) >= 10  # points exactly on zone edges and vertices


def test_truth_covers_a_bounded_sample(spark) -> None:
    zones = make_zones(9, seed=6)
    points = generate_points(spark, 50, zones, seed=6)
    truth = true_zones(points, zones, max_points=20).toPandas()
    assert sorted(truth["point_id"], key=int) == [str(i) for i in range(1, 21)]
    assert TRUTH_MAX_POINTS >= 200_000  # the default job size keeps a complete truth
