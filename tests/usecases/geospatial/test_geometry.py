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
