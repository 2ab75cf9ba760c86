"""Seeded synthetic city: irregular zones (holes, multi-part, overlaps, planted bad ones) and clustered points."""

from __future__ import annotations

import numpy as np
import pandas as pd
import shapely

from usecases.geospatial.geometry import clean_geometry

CENTER_LAT, CENTER_LON = 40.73, -73.95
HALF_LAT, HALF_LON = 0.09, 0.12  # about 20 km x 20 km
BAD_ZONE_TEXT = "POLYGON ((0 0, 1 1, 1"  # unparseable: quarantined
BOWTIE_OFFSET = (0.01, 0.01)  # self-intersecting: repaired by make_valid


def city_outline(rng: np.random.Generator) -> shapely.Polygon:
    """An irregular blob (noisy ellipse) the zones are clipped to; points outside it are in no zone."""
    angles = np.linspace(0, 2 * np.pi, 48, endpoint=False)
    radius = 0.92 + 0.08 * rng.standard_normal(len(angles)).clip(-1.5, 1.5)
    return shapely.Polygon(np.c_[CENTER_LON + HALF_LON * radius * np.cos(angles),
                                 CENTER_LAT + HALF_LAT * radius * np.sin(angles)])


def _with_hole(cell: shapely.Polygon) -> shapely.Polygon:
    """The cell minus a shrunken copy of itself around its centroid (a park that belongs to no zone)."""
    hole = shapely.affinity.scale(cell, 0.35, 0.35, origin=cell.centroid)
    return cell.difference(shapely.affinity.rotate(hole, 20, origin=cell.centroid))


def _split(cell: shapely.Polygon) -> shapely.geometry.base.BaseGeometry:
    """The cell with a river-like corridor through its centroid removed, leaving a MultiPolygon."""
    x0, y0, x1, y1 = cell.bounds
    c = cell.centroid
    corridor = shapely.box(x0 - 1, c.y - 0.04 * (y1 - y0), x1 + 1, c.y + 0.04 * (y1 - y0))
    return cell.difference(shapely.affinity.rotate(corridor, 15, origin=c))


def make_zone_geometries(n_zones: int, seed: int) -> list[shapely.geometry.base.BaseGeometry]:
    """``n_zones`` zones: Voronoi cells of random seeds clipped to the city; every 5th has a hole, every 5th (offset)
    is split into two parts, and about 1 in 40 (at most 10) is a disc overlapping its neighbours."""
    rng = np.random.default_rng(seed)
    outline = city_outline(rng)
    n_overlap = min(n_zones // 40, 10) if n_zones >= 10 else 0
    n_base = n_zones - n_overlap
    xs = rng.uniform(CENTER_LON - HALF_LON, CENTER_LON + HALF_LON, n_base * 3)
    ys = rng.uniform(CENTER_LAT - HALF_LAT, CENTER_LAT + HALF_LAT, n_base * 3)
    seeds = shapely.points(xs, ys)
    seeds = seeds[shapely.contains(outline, seeds)][:n_base]
    cells = shapely.get_parts(shapely.voronoi_polygons(shapely.MultiPoint(list(seeds)), extend_to=outline))
    cells = [c.intersection(outline) for c in sorted(cells, key=lambda g: (g.centroid.x, g.centroid.y))]
    zones = []
    for i, cell in enumerate(cells):
        zones.append(_with_hole(cell) if i % 5 == 1 else _split(cell) if i % 5 == 3 else cell)
    for _ in range(n_overlap):
        x, y = rng.uniform(CENTER_LON - HALF_LON / 2, CENTER_LON + HALF_LON / 2), rng.uniform(
            CENTER_LAT - HALF_LAT / 2, CENTER_LAT + HALF_LAT / 2)
        zones.append(shapely.Point(x, y).buffer(0.01 + 0.01 * rng.random(), quad_segs=6))
    return zones


def make_zones(n_zones: int, seed: int, plant_bad_rows: bool = True) -> pd.DataFrame:
    """Zones table: zone_id (1..), name, geometry text (WKT for most, GeoJSON for every 3rd zone).

    With ``plant_bad_rows`` two more zones are added: a self-intersecting bow-tie (repaired) and unparseable text
    (quarantined).
    """
    geoms = make_zone_geometries(n_zones, seed)
    texts = [shapely.to_geojson(g) if i % 3 == 2 else shapely.to_wkt(g, rounding_precision=-1)
             for i, g in enumerate(geoms)]
    if plant_bad_rows:
        x, y = CENTER_LON + BOWTIE_OFFSET[0], CENTER_LAT + BOWTIE_OFFSET[1]
        texts.append(f"POLYGON (({x} {y}, {x + 0.01} {y + 0.01}, {x + 0.01} {y}, {x} {y + 0.01}, {x} {y}))")
        texts.append(BAD_ZONE_TEXT)
    ids = np.arange(1, len(texts) + 1, dtype=np.int64)
    return pd.DataFrame({"zone_id": ids, "name": [f"zone_{i:05d}" for i in ids], "geometry": texts})


def make_points(n_points: int, zones: pd.DataFrame, seed: int, plant_bad_rows: bool = True,
                edge_fraction: float = 0.15) -> pd.DataFrame:
    """Points table: point_id, lat, lon, ts, value. Clustered around hotspots, a uniform background (20%), and
    ``edge_fraction`` on or within 1e-6 degrees of zone edges and vertices to exercise the boundary rules."""
    rng = np.random.default_rng(seed + 1)
    n_edge = int(n_points * edge_fraction)
    n_cluster = int(n_points * 0.8) - n_edge
    n_uniform = n_points - n_cluster - n_edge
    hot = rng.uniform([CENTER_LON - HALF_LON, CENTER_LAT - HALF_LAT], [CENTER_LON + HALF_LON, CENTER_LAT + HALF_LAT],
                      size=(12, 2))
    which = rng.integers(0, len(hot), n_cluster)
    cluster = hot[which] + rng.normal(0, 1, (n_cluster, 2)) * rng.uniform(0.003, 0.02, len(hot))[which, None]
    uniform = rng.uniform([CENTER_LON - HALF_LON * 1.1, CENTER_LAT - HALF_LAT * 1.1],
                          [CENTER_LON + HALF_LON * 1.1, CENTER_LAT + HALF_LAT * 1.1], size=(n_uniform, 2))
    edges = shapely.boundary(np.array([g for g in (clean_geometry(t, 15, 10**12).geometry
                                                   for t in zones["geometry"]) if g is not None]))
    along = shapely.line_interpolate_point(edges[rng.integers(0, len(edges), n_edge)], rng.random(n_edge),
                                           normalized=True)
    on_edge = shapely.get_coordinates(along)
    vertices = shapely.get_coordinates(edges)
    on_edge[::7] = vertices[rng.integers(0, len(vertices), len(on_edge[::7]))]  # exactly on a vertex
    jitter = rng.choice([0.0, 1e-9, 1e-7, 1e-6], size=(n_edge, 1)) * rng.normal(0, 1, (n_edge, 2))
    xy = np.vstack([cluster, uniform, on_edge + jitter])[rng.permutation(n_points)]
    points = pd.DataFrame({
        "point_id": np.arange(1, n_points + 1, dtype=np.int64),
        "lat": xy[:, 1], "lon": xy[:, 0],
        "ts": pd.Timestamp("2026-01-05") + pd.to_timedelta(rng.integers(0, 7 * 86400, n_points), unit="s"),
        "value": np.round(rng.lognormal(2.5, 0.6, n_points), 2),
    })
    if plant_bad_rows and n_points >= 10:
        points.loc[0, "lat"], points.loc[1, "lat"], points.loc[2, "lon"] = np.nan, 95.0, -200.0
        points.loc[3, "lon"] = np.nan  # NaN and null alike: both quarantined
    return points


def true_zones(points: pd.DataFrame, zones: pd.DataFrame) -> pd.DataFrame:
    """Ground truth kept for tests: point_id, true_zone_id (lowest zone holding the point, null for none),
    true_n_zones; computed exactly on the zones as the job will read them (repaired, bad ones dropped)."""
    from usecases.geospatial.exact import ZoneSet, strtree_match

    cleaned = [(zid, clean_geometry(t, 15, 10**12).geometry) for zid, t in zip(zones["zone_id"], zones["geometry"],
                                                                                strict=True)]
    cleaned = [(zid, g) for zid, g in cleaned if g is not None]
    zone_set = ZoneSet(np.array([z for z, _ in cleaned], dtype=np.int64), [shapely.to_wkb(g) for _, g in cleaned])
    lon, lat = points["lon"].to_numpy(float), points["lat"].to_numpy(float)
    ok = np.isfinite(lon) & np.isfinite(lat) & (np.abs(lat) <= 90) & (np.abs(lon) <= 180)
    zone_id, n_zones = np.full(len(points), np.nan), np.zeros(len(points), dtype=np.int32)
    zone_id[ok], n_zones[ok] = strtree_match(zone_set, lon[ok], lat[ok])
    return pd.DataFrame({"point_id": points["point_id"].to_numpy(np.int64),
                         "true_zone_id": pd.array(np.where(np.isnan(zone_id), pd.NA, zone_id), dtype="Int64"),
                         "true_n_zones": n_zones})
