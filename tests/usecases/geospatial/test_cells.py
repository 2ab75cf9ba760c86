"""H3 core invariants (property tests): a point's cell contains it, a parent contains its child, covers are sound."""

from __future__ import annotations

import h3.api.basic_int as h3i
import numpy as np
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from usecases.geospatial.cells import boundary_margin_deg, cell_polygon, cover_geometry, latlng_to_cells

# Planar lon/lat hexagons are only meaningful away from the poles and the antimeridian.
lats = st.floats(-70, 70, allow_nan=False)
lons = st.floats(-170, 170, allow_nan=False)
resolutions = st.integers(5, 15)


@settings(max_examples=30, deadline=None)
@given(lat=lats, lon=lons, res=resolutions)
def test_a_points_cell_contains_it(lat: float, lon: float, res: int) -> None:
    cell = int(latlng_to_cells(np.array([lat]), np.array([lon]), res)[0])
    assert h3i.is_valid_cell(cell) and h3i.get_resolution(cell) == res
    assert cell > 0  # fits a signed BIGINT
    hexagon = cell_polygon(cell)
    assert shapely.intersects_xy(hexagon.buffer(boundary_margin_deg(res)), lon, lat)
    assert h3i.latlng_to_cell(*h3i.cell_to_latlng(cell), res) == cell  # the centre maps back to the cell


@settings(max_examples=30, deadline=None)
@given(lat=lats, lon=lons, res=resolutions, up=st.integers(1, 5))
def test_a_cells_parent_contains_the_cell(lat: float, lon: float, res: int, up: int) -> None:
    cell = h3i.latlng_to_cell(lat, lon, res)
    parent = h3i.cell_to_parent(cell, res - up)
    assert h3i.get_resolution(parent) == res - up
    assert cell in h3i.cell_to_children(parent, res)
    assert h3i.cell_to_parent(cell, res) == cell
    # The hierarchy is logical, not geometric (aperture 7), but a child's centre lies in its parent's region
    # grown by one ring of cells at the parent's resolution.
    centre_cell = h3i.latlng_to_cell(*h3i.cell_to_latlng(cell), res - up)
    assert centre_cell in h3i.grid_disk(parent, 1)


def _blob(seed: int, lon: float, lat: float, size: float) -> shapely.Polygon:
    rng = np.random.default_rng(seed)
    angles = np.sort(rng.uniform(0, 2 * np.pi, 9))
    radius = size * rng.uniform(0.3, 1.0, 9)
    shell = np.c_[lon + radius * np.cos(angles), lat + radius * np.sin(angles)]
    poly = shapely.make_valid(shapely.Polygon(shell))
    hole = shapely.Point(lon, lat).buffer(size * 0.15)
    return poly.difference(hole) if seed % 2 else poly


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 10_000), lon=lons, lat=lats, size=st.floats(0.001, 0.02), res=st.integers(8, 11))
def test_cover_is_sound(seed: int, lon: float, lat: float, size: float, res: int) -> None:
    """Every point of the zone lands in a covered cell; every point of an interior cell is in the zone."""
    zone = _blob(seed, lon, lat, size)
    cells, is_boundary = cover_geometry(zone, res)
    covered = set(cells.tolist())
    rng = np.random.default_rng(seed)
    x0, y0, x1, y1 = zone.bounds
    xs, ys = rng.uniform(x0, x1, 400), rng.uniform(y0, y1, 400)
    edge = shapely.get_coordinates(shapely.line_interpolate_point(zone.boundary, rng.random(100), normalized=True))
    xs, ys = np.r_[xs, edge[:, 0]], np.r_[ys, edge[:, 1]]
    inside = shapely.intersects_xy(zone, xs, ys)
    point_cells = latlng_to_cells(ys, xs, res)
    assert all(c in covered for c in point_cells[inside].tolist())
    interior = set(cells[~is_boundary].tolist())
    in_interior = np.array([c in interior for c in point_cells.tolist()], dtype=bool)
    assert inside[in_interior].all()
