"""The synthetic city: seeded, has every zone shape the join must handle, and its truth is brute-force exact."""

from __future__ import annotations

import numpy as np
import pandas as pd
import shapely

from usecases.geospatial.generate import make_points, make_zones, true_zones
from usecases.geospatial.geometry import clean_geometry


def brute_force_zone(points: pd.DataFrame, zones: pd.DataFrame) -> np.ndarray:
    """Every point against every zone, one shapely test per pair (no index): lowest zone id, -1 for none."""
    best = np.full(len(points), -1, dtype=np.int64)
    for zone_id, text in sorted(zip(zones["zone_id"], zones["geometry"], strict=True), reverse=True):
        geom = clean_geometry(text, 15, 10**12).geometry
        if geom is None:
            continue
        inside = np.array([geom.intersects(shapely.Point(x, y)) if np.isfinite(x) and np.isfinite(y) else False
                           for x, y in zip(points["lon"], points["lat"], strict=True)])
        best[inside] = zone_id
    return best


def test_generator_is_seeded_and_has_every_shape() -> None:
    zones = make_zones(20, seed=3)
    assert zones.equals(make_zones(20, seed=3))
    geoms = [clean_geometry(t, 15, 10**12) for t in zones["geometry"]]
    kinds = {g.geometry.geom_type for g in geoms if g.geometry is not None}
    assert kinds == {"Polygon", "MultiPolygon"}
    assert any(g.geometry is not None and shapely.get_num_interior_rings(g.geometry) > 0 for g in geoms)
    assert any(g.repaired for g in geoms) and sum(g.geometry is None for g in geoms) == 1
    assert zones["geometry"].str.startswith("{").any() and zones["geometry"].str.startswith("POLYGON").any()


def test_truth_matches_brute_force_including_edges_and_overlaps() -> None:
    zones = make_zones(40, seed=5)
    points = make_points(3000, zones, seed=5)
    truth = true_zones(points, zones)
    expected = brute_force_zone(points, zones)
    assert (truth["true_zone_id"].fillna(-1).to_numpy() == expected).all()
    assert (truth["true_n_zones"] > 1).any()  # overlapping zones are exercised
    assert 0.3 < (expected > 0).mean() < 0.95  # both zoned and unzoned points
