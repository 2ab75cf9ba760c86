"""Zone geometry parsing and repair: bad polygons are repaired or rejected with a reason, never raise."""

from __future__ import annotations

import json

import pytest
import shapely

from usecases.geospatial.geometry import clean_geometry

SQUARE = "POLYGON ((-74 40.7, -73.99 40.7, -73.99 40.71, -74 40.71, -74 40.7))"
BOWTIE = "POLYGON ((-74 40.7, -73.99 40.71, -73.99 40.7, -74 40.71, -74 40.7))"


def test_valid_wkt_and_geojson_parse_to_the_same_polygon() -> None:
    from_wkt = clean_geometry(SQUARE, 10, 10**6)
    from_json = clean_geometry(shapely.to_geojson(shapely.from_wkt(SQUARE)), 10, 10**6)
    feature = json.dumps({"type": "Feature", "properties": {}, "geometry": json.loads(shapely.to_geojson(
        shapely.from_wkt(SQUARE)))})
    assert from_wkt.reason is None and not from_wkt.repaired
    assert from_wkt.geometry.equals(from_json.geometry)
    assert clean_geometry(feature, 10, 10**6).geometry.equals(from_wkt.geometry)


def test_self_intersecting_polygon_is_repaired() -> None:
    result = clean_geometry(BOWTIE, 10, 10**6)
    assert result.reason is None and result.repaired
    assert result.geometry.is_valid and result.geometry.geom_type == "MultiPolygon"
    assert result.geometry.area == pytest.approx(0.01 * 0.01 / 2)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (None, "empty"),
        ("  ", "empty"),
        ("POLYGON ((0 0, 1 1, 1", "not valid WKT or GeoJSON"),
        ('{"type": "Polygon", "coordinates": [[[0, 0]', "not valid WKT or GeoJSON"),
        ("POINT (-74 40.7)", "not Polygon or MultiPolygon"),
        ("LINESTRING (-74 40.7, -73 40)", "not Polygon or MultiPolygon"),
        ("POLYGON ((500000 4500000, 501000 4500000, 501000 4501000, 500000 4500000))", "outside lon"),
        ("POLYGON ((-74 40.7, -73.9 40.7, -73.8 40.7, -74 40.7))", "no area"),
        ("POLYGON EMPTY", "empty"),
        ("POLYGON ((-80 30, -70 30, -70 45, -80 45, -80 30))", "max_cells_per_zone"),
    ],
)
def test_unusable_geometry_gets_a_reason(text: str | None, reason: str) -> None:
    result = clean_geometry(text, 12, 1_000_000)
    assert result.geometry is None
    assert reason in result.reason


@pytest.mark.parametrize("text, pole", [
    ("POLYGON((-90 89.99, 90 89.99, 90 90, -90 90, -90 89.99))", "north"),  # h3's fill ran out of memory
    ("POLYGON((-180 -90, 180 -90, 180 -89.99, -180 -89.99, -180 -90))", "south"),  # h3 covered 27 of ~1,800 cells
])
def test_a_zone_reaching_a_pole_is_rejected_with_a_reason(text: str, pole: str) -> None:
    result = clean_geometry(text, 11, 2_000_000)
    assert result.geometry is None and f"of the {pole} pole" in result.reason


NEAR_POLE = "POLYGON((-60 89.9, 60 89.9, 60 89.98, -60 89.98, -60 89.9))"


def test_a_zone_near_but_short_of_a_pole_is_kept_and_fully_covered() -> None:
    """89.90-89.98 N: kept at resolution 9, every sampled inside point in a covered cell; at resolution 11 h3's
    polygon fill fails there (MemoryError), so the zone gets a reason instead of killing the cover task."""
    import numpy as np

    from usecases.geospatial.cells import cover_geometry, latlng_to_cells

    result = clean_geometry(NEAR_POLE, 9, 2_000_000)
    assert result.geometry is not None
    cells, _ = cover_geometry(result.geometry, 9)
    rng = np.random.default_rng(0)
    lon, lat = rng.uniform(-60, 60, 20_000), rng.uniform(89.9, 89.98, 20_000)
    assert set(latlng_to_cells(lat, lon, 9).tolist()) <= set(cells.tolist())
    refused = clean_geometry(NEAR_POLE, 11, 2_000_000)
    assert refused.geometry is None
    assert "H3 cannot cover this zone near the north pole at resolution 11" in refused.reason
