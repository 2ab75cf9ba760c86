"""Zone geometry parsing and repair: WKT or GeoJSON text to a valid lon/lat (Multi)Polygon, or a reason it cannot be.

Polygons crossing the antimeridian are cut there, as RFC 7946 (section 3.1.9) asks of GeoJSON writers: a ring
whose longitude jumps by more than 180 degrees between two vertices is read as crossing +-180 (the short way
round), not as a band around the rest of the world.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from usecases.geospatial.cells import boundary_margin_deg, cover_geometry, estimated_cell_count

KM_PER_DEGREE = 111.32
POLYGONAL = ("Polygon", "MultiPolygon")


@dataclass(frozen=True)
class CleanGeometry:
    """A parsed zone: the valid polygonal geometry, whether it had to be repaired, or why it was rejected."""

    geometry: BaseGeometry | None
    repaired: bool = False
    reason: str | None = None
    split_at_antimeridian: bool = False


class AntimeridianError(ValueError):
    """A ring whose longitudes cannot be read as crossing the antimeridian once (it circles a pole)."""


def _is_seam(a: float, b: float) -> bool:
    """A step between two vertices both exactly on +-180: a move along the map's edge, not a crossing."""
    return abs(a) == 180.0 and abs(b) == 180.0


def _unwrapped(ring: np.ndarray) -> tuple[np.ndarray, bool]:
    """A closed ring's (x, y) with longitudes made continuous across the antimeridian, and whether it crossed.

    Every step of more than 180 degrees in longitude (other than along the +-180 edge itself) is taken the short
    way round; the ring then lies in one continuous frame, with longitudes beyond +-180 on the far side.
    """
    x = ring[:, 0]
    steps = np.diff(x)
    jumps = (np.abs(steps) > 180.0) & ~np.array([_is_seam(a, b) for a, b in zip(x[:-1], x[1:], strict=True)])
    if not jumps.any():
        return ring, False
    shifts = np.where(jumps, -360.0 * np.sign(steps), 0.0)
    out = ring.copy()
    out[1:, 0] = x[1:] + np.cumsum(shifts)
    if abs(out[-1, 0] - out[0, 0]) > 1e-9:
        raise AntimeridianError("a ring circles a pole (its longitudes wrap all the way round); give it as a "
                                "polygon that runs along +-180 and the pole, or split it into parts")
    return out, True


def _crossing_parts(polygon: shapely.Polygon) -> list[shapely.Polygon] | None:
    """The parts of a polygon that crosses the antimeridian, each on its own side; None when it does not cross."""
    shell, crossed = _unwrapped(np.asarray(polygon.exterior.coords)[:, :2])
    holes = []
    for interior in polygon.interiors:
        hole, hole_crossed = _unwrapped(np.asarray(interior.coords)[:, :2])
        crossed |= hole_crossed
        holes.append(hole)
    if not crossed:
        return None
    middle = (shell[:, 0].min() + shell[:, 0].max()) / 2
    placed = []
    for hole in holes:  # a hole goes in the shell's frame: the copy of it nearest the shell
        hole = hole.copy()
        hole[:, 0] += 360.0 * round((middle - (hole[:, 0].min() + hole[:, 0].max()) / 2) / 360.0)
        placed.append(hole)
    whole = shapely.Polygon(shell, placed)
    if not whole.is_valid:
        whole = polygonal_part(shapely.make_valid(whole))
    parts = []
    for offset in (-360.0, 0.0, 360.0):
        piece = whole.intersection(shapely.box(-180.0 + offset, -90.0, 180.0 + offset, 90.0))
        piece = shapely.affinity.translate(polygonal_part(piece), -offset) if not piece.is_empty else piece
        parts.extend(p for p in shapely.get_parts(piece) if p.geom_type == "Polygon" and p.area > 0)
    return parts


def split_antimeridian(geom: BaseGeometry) -> tuple[BaseGeometry, bool]:
    """A Polygon/MultiPolygon with every part that crosses the antimeridian cut at +-180 into parts on each side
    (RFC 7946 3.1.9), and whether anything was cut. Raises AntimeridianError for a ring that circles a pole."""
    if geom.geom_type not in POLYGONAL:
        return geom, False
    polygons = list(geom.geoms) if geom.geom_type == "MultiPolygon" else [geom]
    out, cut = [], False
    for polygon in polygons:
        parts = _crossing_parts(polygon)
        cut |= parts is not None
        out.extend([polygon] if parts is None else parts)
    if not cut:
        return geom, False
    return shapely.MultiPolygon(out), True


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


POLAR_LATITUDE = 80.0  # beyond it a zone's cover is tried while cleaning (see clean_geometry)


def clean_geometry(text: str | None, resolution: int, max_cells: int) -> CleanGeometry:
    """Parse, check and repair one zone geometry. Never raises: a bad zone gets a reason instead.

    Self-intersecting or otherwise invalid polygons are repaired with ``shapely.make_valid`` (keeping the areal
    parts) and flagged ``repaired``; polygons crossing the antimeridian are cut there (``split_antimeridian``) and
    flagged ``split_at_antimeridian``; unparseable text, non-areal types, non-finite coordinates, coordinates
    outside lon/lat range (for example projected metres), rings circling a pole, zones reaching a pole (within the
    edge margin), empty results and zones needing more than ``max_cells`` cells are rejected.
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
    if not np.isfinite(shapely.get_coordinates(geom)).all():
        return CleanGeometry(None, reason="geometry has coordinates that are not finite numbers (NaN or infinity)")
    xmin, ymin, xmax, ymax = geom.bounds
    if xmin < -180 or xmax > 180 or ymin < -90 or ymax > 90:
        return CleanGeometry(None, reason="coordinates are outside lon [-180, 180] / lat [-90, 90] (not WGS84?)")
    if geom.geom_type == "GeometryCollection":
        geom = polygonal_part(geom)
        repaired = True
    else:
        repaired = False
    try:
        geom, split = split_antimeridian(geom)
    except AntimeridianError as exc:
        return CleanGeometry(None, reason=str(exc))
    if not geom.is_valid:
        geom = polygonal_part(shapely.make_valid(geom))
        repaired = True
    if geom.is_empty or geom.area == 0:
        return CleanGeometry(None, repaired, reason="geometry has no area" + (" after repair" if repaired else ""))
    # The cover grows the zone by the edge margin and hands it to h3's polygon fill, which fails next to a
    # pole (measured: a 2 km^2 cap at 89.99-90 N ran out of memory; one at 89.99-90 S got 27 of ~1,800 cells,
    # so points inside it silently matched no zone). Refuse such zones loudly instead.
    margin, (_, ymin, _, ymax) = boundary_margin_deg(resolution), geom.bounds
    if ymax + margin >= 90 or ymin - margin <= -90:
        pole = "north" if ymax + margin >= 90 else "south"
        return CleanGeometry(None, repaired, reason=f"zone reaches within {margin:g} degrees of the {pole} pole "
                                                    f"(latitudes {ymin:g} to {ymax:g}): H3 covers of polar zones "
                                                    "are not supported", split_at_antimeridian=split)
    cells = estimated_cell_count(approx_area_km2(geom), resolution)
    if cells > max_cells:
        return CleanGeometry(None, repaired, reason=f"zone needs about {cells:,.0f} cells at resolution {resolution} "
                                                    f"(max_cells_per_zone={max_cells})", split_at_antimeridian=split)
    if max(abs(ymin), abs(ymax)) > POLAR_LATITUDE:
        # h3's polygon fill sizes its buffer from the zone's lon/lat box, which explodes near a pole (a 120-degree
        # band at 89.90-89.98 N fails at resolution 11, not at 9): try the cover here, once, for these few zones
        try:
            cover_geometry(geom, resolution)
        except Exception as exc:  # MemoryError from h3's sizing, or any h3 error: this zone's reason, not a crash
            pole = "north" if ymax > 0 else "south"
            return CleanGeometry(None, repaired, reason=f"H3 cannot cover this zone near the {pole} pole at "
                                                        f"resolution {resolution} ({type(exc).__name__}); a lower "
                                                        "resolution may work", split_at_antimeridian=split)
    return CleanGeometry(geom, repaired, split_at_antimeridian=split)
