"""Zones crossing the antimeridian are cut at +-180 (RFC 7946 3.1.9), not read as bands around the world: points
on both sides are assigned right by every join strategy, at coarse and fine resolutions, and the H3 cover of the
cut parts stays the size of the zone."""

from __future__ import annotations

import json

import h3.api.basic_int as h3i
import numpy as np
import pandas as pd
import pytest
import shapely

from tests.usecases.geospatial.strategies import zoned_by_each_strategy
from usecases.geospatial.cells import cover_geometry, estimated_cell_count
from usecases.geospatial.geometry import approx_area_km2, clean_geometry, split_antimeridian

# Rings as a user's file has them: longitudes jump from +179.x to -179.x where the zone crosses 180.
# Thin bands, so that the finest resolution's cover stays small for a test (~1e5 cells at resolution 11).
FIJI_LIKE = [[179.40, -16.800], [-179.60, -16.800], [-179.60, -16.785], [179.70, -16.780], [179.40, -16.785],
             [179.40, -16.800]]
FIJI_BAND = (-16.801, -16.779)
CHUKOTKA_SHELL = [[179.45, 65.00], [-179.45, 65.00], [-179.45, 65.03], [179.45, 65.03], [179.45, 65.00]]
CHUKOTKA_HOLE = [[179.85, 65.01], [-179.85, 65.01], [-179.85, 65.02], [179.85, 65.02], [179.85, 65.01]]
CHUKOTKA_BAND = (64.999, 65.031)
NEAR_ZERO = shapely.box(-0.01, -16.80, 0.01, -16.78)  # at lon 0, where a 358-degree band would be
SPECIAL_LONS = [0.0, 179.5, -179.5, 179.9, -179.9, 179.99999, -179.99999, 180.0, -180.0]
UNWRAPPED = {  # the same zones drawn continuously (east of 180 as lon + 360): the reference geometry
    "FJI": shapely.Polygon([(x + 360 if x < 0 else x, y) for x, y in FIJI_LIKE]),
    "RU-CHU": shapely.Polygon([(x + 360 if x < 0 else x, y) for x, y in CHUKOTKA_SHELL],
                              [[(x + 360 if x < 0 else x, y) for x, y in CHUKOTKA_HOLE]]),
}


def _zones() -> pd.DataFrame:
    fiji = json.dumps({"type": "Polygon", "coordinates": [FIJI_LIKE]})
    chukotka = "POLYGON ((" + ", ".join(f"{x} {y}" for x, y in CHUKOTKA_SHELL) + "), (" + \
        ", ".join(f"{x} {y}" for x, y in CHUKOTKA_HOLE) + "))"
    return pd.DataFrame({"zone_id": ["FJI", "RU-CHU", "GHA-0"], "name": ["Fiji-like", "Chukotka-like", "lon 0"],
                         "geometry": [fiji, chukotka, shapely.to_wkt(NEAR_ZERO, rounding_precision=-1)]})


def _points(seed: int) -> pd.DataFrame:
    """Random points over both sides of 180 around each zone and the lon-0 box, plus the special longitudes at
    several latitudes of each zone (inside, in Chukotka's hole, just outside)."""
    rng = np.random.default_rng(seed)
    rows = []
    for lat0, lat1 in (FIJI_BAND, CHUKOTKA_BAND):
        lon = np.r_[rng.uniform(179.3, 180.0, 500), rng.uniform(-180.0, -179.3, 500)]
        rows.append(np.c_[lon, rng.uniform(lat0, lat1, len(lon))])
        for lat in np.linspace(lat0, lat1, 7):
            rows.append(np.c_[SPECIAL_LONS, np.full(len(SPECIAL_LONS), lat)])
    rows.append(np.c_[rng.uniform(-0.02, 0.02, 100), rng.uniform(*FIJI_BAND, 100)])
    xy = np.vstack(rows)
    return pd.DataFrame({"point_id": [f"p{i}" for i in range(len(xy))], "lat": xy[:, 1], "lon": xy[:, 0]})


def reference(points: pd.DataFrame) -> pd.DataFrame:
    """Plain shapely ``covers`` on the unwrapped zones (a point west of 180 shifted by +360) and on the lon-0 box."""
    rows = []
    for pid, x, y in zip(points["point_id"], points["lon"], points["lat"], strict=True):
        shifted = shapely.Point(x + 360 if x < 0 else x, y)
        holding = [z for z, g in UNWRAPPED.items() if g.covers(shifted)]
        holding += ["GHA-0"] if NEAR_ZERO.covers(shapely.Point(x, y)) else []
        rows.append((pid, min(holding) if holding else None, len(holding)))
    return pd.DataFrame(rows, columns=["point_id", "zone_id", "n_zones"]).set_index("point_id").sort_index()


def test_crossing_rings_are_cut_into_parts_on_each_side() -> None:
    for text, unwrapped in zip(_zones()["geometry"][:2], UNWRAPPED.values(), strict=True):
        result = clean_geometry(text, 11, 10**7)
        assert result.reason is None and result.split_at_antimeridian and not result.repaired
        parts = shapely.get_parts(result.geometry)
        assert len(parts) == 2
        assert sorted(p.bounds[0] >= 0 for p in parts) == [False, True]  # one part on each side
        assert all(-180 <= p.bounds[0] and p.bounds[2] <= 180 for p in parts)
        assert result.geometry.area == pytest.approx(unwrapped.area, rel=1e-9)
        assert approx_area_km2(result.geometry) < 500  # not a band around the world


def test_zones_already_cut_or_not_crossing_are_left_alone() -> None:
    cut = shapely.MultiPolygon([shapely.box(179, 0, 180, 1), shapely.box(-180, 0, -179, 1)])
    assert split_antimeridian(cut) == (cut, False)
    world = shapely.box(-180, -90, 180, 90)  # its edges run along +-180: a move along the map's edge, no crossing
    assert split_antimeridian(world) == (world, False)
    antarctica = shapely.Polygon([(-180, -90), (-180, -80), (0, -75), (180, -80), (180, -90), (-180, -90)])
    assert split_antimeridian(antarctica) == (antarctica, False)
    # Not cut, but refused: h3's polygon fill cannot cover a zone reaching a pole (measured on this one at
    # resolution 5: 98% of points inside it fell in cells missing from its cover), so it gets a reason.
    result = clean_geometry(antarctica.wkt, 5, 10**9)
    assert result.geometry is None and "of the south pole" in result.reason


def test_a_ring_circling_a_pole_is_quarantined_with_that_reason() -> None:
    result = clean_geometry("POLYGON ((-170 80, -10 80, 10 80, 170 80, -170 80))", 5, 10**9)
    assert result.geometry is None and "circles a pole" in result.reason


def test_a_big_crossing_zone_at_a_fine_resolution_gets_a_true_reason() -> None:
    fiji_sized = "POLYGON ((177 -19, -178 -19, -178 -16, 177 -16, 177 -19))"
    result = clean_geometry(fiji_sized, 11, 2_000_000)
    # 5 x 3 degrees around Fiji (~170,000 km2): that is the zone's real size, not a 358-degree band.
    assert "needs about" in result.reason and result.split_at_antimeridian
    assert 150_000 < approx_area_km2(shapely.box(177, -19, 182, -16)) < 190_000
    assert clean_geometry(fiji_sized, 7, 2_000_000).reason is None


@pytest.mark.parametrize("resolution", [7, 9, 11])
def test_cover_of_the_cut_parts_is_sound_and_sized_like_the_zone(resolution: int) -> None:
    from usecases.geospatial.cells import latlng_to_cells

    points = _points(seed=resolution)
    for text, zone_id in zip(_zones()["geometry"][:2], ["FJI", "RU-CHU"], strict=True):
        geom = clean_geometry(text, resolution, 10**7).geometry
        cells, is_boundary = cover_geometry(geom, resolution)
        assert len(cells) < 4 * estimated_cell_count(approx_area_km2(geom), resolution) + 200
        centers_lon = np.array([h3i.cell_to_latlng(int(c))[1] for c in cells])
        assert (np.abs(centers_lon) > 179.0).all()  # every cell hugs +-180: none out along the 358-degree way round
        assert (centers_lon > 0).any() and (centers_lon < 0).any()  # cells on both sides
        expected = reference(points)["zone_id"] == zone_id
        inside = points.set_index("point_id").sort_index()[expected.to_numpy()]
        point_cells = latlng_to_cells(inside["lat"].to_numpy(), inside["lon"].to_numpy(), resolution)
        assert set(point_cells.tolist()) <= set(cells.tolist())  # every point of the zone is in a covered cell
        lon, lat = points["lon"].to_numpy(), points["lat"].to_numpy()
        in_interior = np.isin(latlng_to_cells(lat, lon, resolution), cells[~is_boundary])
        holding = shapely.intersects_xy(geom, lon, lat) | shapely.intersects_xy(geom, -lon, lat) & (np.abs(lon) == 180)
        assert holding[in_interior].all()  # an interior cell holds only points of the zone


@pytest.mark.parametrize("resolution", [7, 11])
def test_every_strategy_assigns_points_on_both_sides(spark, resolution: int) -> None:
    points = _points(seed=resolution)
    expected = reference(points)
    by_id = points.set_index("point_id")
    on_zero = by_id.index[by_id["lon"] == 0.0]
    assert expected.loc[on_zero, "zone_id"].isin(["GHA-0", None]).all() and expected.loc[on_zero, "zone_id"].any()
    for lon in SPECIAL_LONS[1:]:  # each special longitude is inside a zone at some latitude and outside at another
        at = expected.loc[by_id.index[by_id["lon"] == lon], "zone_id"]
        assert at.isin(["FJI", "RU-CHU"]).any() and at.isna().any(), lon
    for strategy, got in zoned_by_each_strategy(spark, _zones(), points, resolution).items():
        assert got.index.tolist() == expected.index.tolist(), strategy
        assert got["zone_id"].tolist() == expected["zone_id"].tolist(), strategy
        assert got["n_zones"].tolist() == expected["n_zones"].tolist(), strategy
