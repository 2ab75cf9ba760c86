"""GeoJSON FeatureCollection zones: ids and names from properties, geometry kept as GeoJSON text."""

from __future__ import annotations

import json

import pytest

from usecases.geospatial.zones_io import feature_collection_to_frame, is_feature_collection_file

POLY = {"type": "Polygon", "coordinates": [[[-74, 40.7], [-73.9, 40.7], [-73.9, 40.8], [-74, 40.7]]]}


def test_feature_collection_rows(tmp_path) -> None:
    collection = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"zone_id": 7, "name": "Harbor"}, "geometry": POLY},
        {"type": "Feature", "id": 9, "properties": {"zone": "Park"}, "geometry": POLY},
        {"type": "Feature", "properties": {}, "geometry": None},
    ]}
    path = tmp_path / "zones.geojson"
    path.write_text(json.dumps(collection))
    assert is_feature_collection_file(str(path))
    frame = feature_collection_to_frame(path.read_text())
    assert frame["zone_id"].tolist() == ["7", "9", "3"]
    assert frame["name"].tolist() == ["Harbor", "Park", "3"]
    assert json.loads(frame["geometry"][0]) == POLY and frame["geometry"][2] is None


def test_blank_ids_and_names_fall_back_to_the_feature_id_and_are_never_invented() -> None:
    collection = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "id": "ZN-1", "properties": {"zone_id": "", "name": "  "}, "geometry": POLY},
        {"type": "Feature", "id": " ", "properties": {"LocationID": "  ", "OBJECTID": 12}, "geometry": POLY},
        {"type": "Feature", "id": "", "properties": {"zone_id": " "}, "geometry": POLY},
    ]}
    frame = feature_collection_to_frame(json.dumps(collection))
    assert frame["zone_id"].tolist() == ["ZN-1", "12", ""]  # a blank id with nothing to fall back on stays blank
    assert frame["name"].tolist() == ["ZN-1", "12", ""]


def test_other_json_is_not_a_feature_collection(tmp_path) -> None:
    path = tmp_path / "rows.json"
    path.write_text(json.dumps([{"zone_id": 1}]))
    assert not is_feature_collection_file(str(path))
    with pytest.raises(ValueError, match="FeatureCollection"):
        feature_collection_to_frame(path.read_text())
