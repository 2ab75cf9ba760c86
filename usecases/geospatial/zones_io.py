"""Reading zones from a GeoJSON FeatureCollection file into rows of (zone_id, name, geometry as GeoJSON text)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

GEOJSON_SUFFIXES = (".geojson", ".json")
ZONE_ID_KEYS = ("zone_id", "id", "ZONE_ID", "LocationID", "OBJECTID")
NAME_KEYS = ("name", "zone_name", "zone", "NAME")


def is_feature_collection_file(path: str) -> bool:
    """Whether ``path`` is a .geojson/.json file holding a FeatureCollection (peeks at the start of the file)."""
    file = Path(path)
    if not file.is_file() or not file.name.lower().endswith(GEOJSON_SUFFIXES):
        return False
    with file.open("r", encoding="utf-8") as handle:
        head = handle.read(4096)
    return '"FeatureCollection"' in head or file.name.lower().endswith(".geojson")


def feature_collection_to_frame(text: str) -> pd.DataFrame:
    """FeatureCollection JSON to zones rows, all as text for the contract to cast and check.

    zone_id: the first of properties zone_id/id/LocationID/OBJECTID, else the feature's ``id``, else its
    position (1-based). name: properties name/zone_name/zone, else the zone_id. geometry: the feature's geometry
    as GeoJSON text (null when absent, which the contract quarantines).
    """
    collection = json.loads(text)
    kind = collection.get("type") if isinstance(collection, dict) else type(collection).__name__
    if kind != "FeatureCollection":
        raise ValueError(f"expected a GeoJSON FeatureCollection, got {kind!r}")
    rows = []
    for position, feature in enumerate(collection.get("features") or [], start=1):
        props = feature.get("properties") or {}
        zone_id = next((props[k] for k in ZONE_ID_KEYS if props.get(k) is not None), feature.get("id", position))
        name = next((props[k] for k in NAME_KEYS if props.get(k) is not None), zone_id)
        geometry = feature.get("geometry")
        rows.append({"zone_id": str(zone_id), "name": str(name),
                     "geometry": json.dumps(geometry) if geometry else None})
    return pd.DataFrame(rows, columns=["zone_id", "name", "geometry"])
