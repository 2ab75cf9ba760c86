"""The pure H3 core: points to cells, zones to interior/boundary cells, cells to hexagon polygons (numpy + shapely)."""

from __future__ import annotations

import h3
import h3.api.basic_int as h3i
import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

# How far (degrees) a point H3 assigns to a cell may lie outside the planar polygon of the cell's vertices.
# H3 cell edges are great-circle arcs, the polygon's edges are straight lines in lon/lat; the gap grows with the
# square of the edge length (~7e-9 deg measured at resolution 9, x7 per coarser resolution). The margin is far
# larger than that gap, so a cell marked interior can never hold a point outside its zone.
_BASE_MARGIN_DEG = 1e-6


def boundary_margin_deg(resolution: int) -> float:
    """The band (degrees) around a zone's edges whose cells always get the exact check."""
    return _BASE_MARGIN_DEG + 1e-7 * 7.0 ** max(0, 9 - resolution)


def latlng_to_cells(lat: np.ndarray, lon: np.ndarray, resolution: int) -> np.ndarray:
    """H3 cell ids (int64, the BIGINT form) of valid lat/lon arrays; h3-py has no array API, so this loops."""
    to_cell = h3i.latlng_to_cell
    return np.fromiter((to_cell(a, b, resolution) for a, b in zip(lat.tolist(), lon.tolist(), strict=True)),
                       dtype=np.int64, count=len(lat))


def cell_polygon(cell: int) -> shapely.Polygon:
    """The hexagon (or pentagon) of a cell as a lon/lat polygon."""
    return shapely.Polygon([(lng, lat) for lat, lng in h3i.cell_to_boundary(int(cell))])


def cells_to_polygons(cells: np.ndarray) -> np.ndarray:
    """An array of lon/lat polygons, one per cell."""
    return np.array([cell_polygon(c) for c in cells], dtype=object)


def _overlapping_cells(geom: BaseGeometry, resolution: int) -> set[int]:
    """Cells whose hexagon overlaps ``geom`` (h3's 'overlap' containment mode)."""
    if geom.is_empty:
        return set()
    shape = h3.geo_to_h3shape(geom.__geo_interface__)
    return {h3.str_to_int(c) for c in h3.h3shape_to_cells_experimental(shape, resolution, contain="overlap")}


def cover_geometry(geom: BaseGeometry, resolution: int) -> tuple[np.ndarray, np.ndarray]:
    """All cells a point inside ``geom`` can fall in, and whether each is a boundary cell.

    Output: (cells int64, is_boundary bool). A cell is *interior* only when its whole hexagon lies inside the zone
    with ``boundary_margin_deg`` to spare, so every point H3 puts in it is inside the zone; every other covered
    cell is *boundary* and its points get the exact check. Cover = cells overlapping the zone grown by the margin;
    boundary = cells overlapping the band of that width around the zone's edges (outer rings and holes).
    """
    margin = boundary_margin_deg(resolution)
    covered = _overlapping_cells(geom.buffer(margin, quad_segs=2), resolution)
    boundary = _overlapping_cells(geom.boundary.buffer(margin, quad_segs=2), resolution)
    cells = np.fromiter(sorted(covered | boundary), dtype=np.int64)
    is_boundary = np.fromiter((c in boundary for c in cells.tolist()), dtype=bool, count=len(cells))
    return cells, is_boundary


def estimated_cell_count(area_km2: float, resolution: int) -> float:
    """About how many cells cover an area at a resolution (to refuse zones too big to cover)."""
    return area_km2 / h3.average_hexagon_area(resolution, unit="km^2")


def cell_contains_point(cell: int, lat: float, lon: float) -> bool:
    """Whether H3 puts (lat, lon) in ``cell`` at the cell's resolution (the definition of containment)."""
    return h3i.latlng_to_cell(lat, lon, h3i.get_resolution(cell)) == cell
