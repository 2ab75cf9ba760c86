"""Zone geometry parsing and repair: WKT or GeoJSON text to a valid lon/lat (Multi)Polygon, or a reason it cannot be."""

from __future__ import annotations

import math
from dataclasses import dataclass

import shapely
from shapely.geometry.base import BaseGeometry

from usecases.geospatial.cells import estimated_cell_count

KM_PER_DEGREE = 111.32
POLYGONAL = ("Polygon", "MultiPolygon")


@dataclass(frozen=True)
class CleanGeometry:
    """A parsed zone: the valid polygonal geometry, whether it had to be repaired, or why it was rejected."""

    geometry: BaseGeometry | None
    repaired: bool = False
    reason: str | None = None


def parse_geometry(text: str) -> BaseGeometry:
    """WKT, or GeoJSON when the text starts with ``{`` (a bare geometry or a Feature); raises ValueError."""
    stripped = text.strip()
    try:
        if stripped.startswith("{"):
            import json

            obj = json.loads(stripped)
            if obj.get("type") == "Feature":
                obj = obj.get("geometry") or {}
            return shapely.from_geojson(json.dumps(obj))
        return shapely.from_wkt(stripped)
    except (shapely.errors.GEOSException, ValueError, TypeError, AttributeError) as exc:
        raise ValueError(f"geometry is not valid WKT or GeoJSON ({str(exc).splitlines()[0][:120]})") from exc


def polygonal_part(geom: BaseGeometry) -> BaseGeometry:
    """Only the areal parts of a geometry (make_valid can return lines and points beside polygons)."""
    if geom.geom_type in POLYGONAL:
        return geom
    parts = [p for p in getattr(geom, "geoms", []) if p.geom_type in POLYGONAL]
    polygons = [q for p in parts for q in (p.geoms if p.geom_type == "MultiPolygon" else [p])]
    return shapely.MultiPolygon(polygons) if polygons else shapely.Polygon()


def approx_area_km2(geom: BaseGeometry) -> float:
    """Area in km2 with a local equirectangular projection at the zone's latitude (good for city-sized zones)."""
    lat = geom.centroid.y if not geom.is_empty else 0.0
    return float(geom.area * KM_PER_DEGREE**2 * math.cos(math.radians(lat)))


def clean_geometry(text: str | None, resolution: int, max_cells: int) -> CleanGeometry:
    """Parse, check and repair one zone geometry. Never raises: a bad zone gets a reason instead.

    Self-intersecting or otherwise invalid polygons are repaired with ``shapely.make_valid`` (keeping the areal
    parts) and flagged ``repaired``; unparseable text, non-areal types, coordinates outside lon/lat range (for
    example projected metres), empty results and zones needing more than ``max_cells`` cells are rejected.
    """
    if text is None or not str(text).strip():
        return CleanGeometry(None, reason="geometry is empty")
    try:
        geom = parse_geometry(str(text))
    except ValueError as exc:
        return CleanGeometry(None, reason=str(exc))
    if geom.geom_type not in POLYGONAL and geom.geom_type != "GeometryCollection":
        return CleanGeometry(None, reason=f"geometry type {geom.geom_type} is not Polygon or MultiPolygon")
    if geom.is_empty:
        return CleanGeometry(None, reason="geometry is empty")
    xmin, ymin, xmax, ymax = geom.bounds
    if not all(map(math.isfinite, (xmin, ymin, xmax, ymax))) or xmin < -180 or xmax > 180 or ymin < -90 or ymax > 90:
        return CleanGeometry(None, reason="coordinates are outside lon [-180, 180] / lat [-90, 90] (not WGS84?)")
    repaired = not geom.is_valid or geom.geom_type == "GeometryCollection"
    if repaired:
        geom = polygonal_part(shapely.make_valid(geom))
    if geom.is_empty or geom.area == 0:
        return CleanGeometry(None, repaired, reason="geometry has no area" + (" after repair" if repaired else ""))
    cells = estimated_cell_count(approx_area_km2(geom), resolution)
    if cells > max_cells:
        return CleanGeometry(None, repaired, reason=f"zone needs about {cells:,.0f} cells at resolution {resolution} "
                                                    f"(max_cells_per_zone={max_cells})")
    return CleanGeometry(geom, repaired)
