"""Reading zones from a GeoJSON FeatureCollection file into rows of (zone_id, name, geometry as GeoJSON text)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

GEOJSON_SUFFIXES = (".geojson", ".json")
ZONE_ID_KEYS = ("zone_id", "id", "ZONE_ID", "LocationID", "OBJECTID")
NAME_KEYS = ("name", "zone_name", "zone", "NAME")
PEEK_CHARS = 4096


class ZonesFileError(ValueError):
    """A zones file that is not a usable GeoJSON FeatureCollection (the whole file, not one feature)."""


def is_feature_collection_file(path: str) -> bool:
    """Whether ``path`` should be read as a FeatureCollection: any ``.geojson`` file, or a ``.json`` file whose
    start names a FeatureCollection or its ``features`` (other JSON is read as rows by the table store)."""
    file = Path(path)
    if not file.is_file() or not file.name.lower().endswith(GEOJSON_SUFFIXES):
        return False
    if file.name.lower().endswith(".geojson"):
        return True
    with file.open("r", encoding="utf-8", errors="replace") as handle:
        head = handle.read(PEEK_CHARS)
    return '"FeatureCollection"' in head or '"features"' in head


def _id_text(value: object) -> str:
    """An id as text: whole numbers as their digits (7 and 7.0 both "7"), anything else as written."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _given(value: object) -> bool:
    """Whether a property holds a value: exported shapefiles often carry "" or spaces where they mean none."""
    return value is not None and not (isinstance(value, str) and not value.strip())


def feature_collection_to_frame(text: str) -> pd.DataFrame:
    """FeatureCollection JSON to zones rows, all as text for the contract to cast and check.

    zone_id: the first of properties zone_id/id/ZONE_ID/LocationID/OBJECTID holding a value (not null, not blank),
    else the feature's ``id``; else, where an id property is there but blank, blank (the contract quarantines it,
    as it does a blank id in a table), and where none is there, its position (1-based). name: properties
    name/zone_name/zone/NAME, else the zone_id. geometry: the feature's geometry as GeoJSON text, or as given
    when it is a string (WKT); null when absent, which the contract quarantines. A file that is not a
    FeatureCollection, or a feature that is not an object, raises ZonesFileError with what was found instead.
    """
    try:
        collection = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ZonesFileError(f"not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from None
    kind = collection.get("type") if isinstance(collection, dict) else f"a JSON {type(collection).__name__}"
    if kind != "FeatureCollection":
        raise ZonesFileError(f"expected a GeoJSON FeatureCollection, found {kind!r} (a zones file holds one "
                             "FeatureCollection of polygon features)")
    features = collection.get("features")
    if not isinstance(features, list):
        raise ZonesFileError(f"the FeatureCollection's 'features' is {type(features).__name__}, not a list")
    rows = []
    for position, feature in enumerate(features, start=1):
        if not isinstance(feature, dict):
            raise ZonesFileError(f"feature {position} is a JSON {type(feature).__name__}, not a Feature object")
        props = feature.get("properties")
        props = props if isinstance(props, dict) else {}
        zone_id = next((props[k] for k in ZONE_ID_KEYS if _given(props.get(k))), None)
        if zone_id is None and _given(feature.get("id")):
            zone_id = feature.get("id")
        elif zone_id is None:  # an id property left blank stays blank (quarantined): no id is invented for it
            blank = any(k in props and props[k] is not None for k in ZONE_ID_KEYS)
            zone_id = "" if blank else position
        name = next((props[k] for k in NAME_KEYS if _given(props.get(k))), zone_id)
        geometry = feature.get("geometry")
        text = geometry if isinstance(geometry, str) else json.dumps(geometry) if geometry else None
        rows.append({"zone_id": _id_text(zone_id), "name": _id_text(name), "geometry": text})
    return pd.DataFrame(rows, columns=["zone_id", "name", "geometry"])
