"""Seeded synthetic city: irregular zones (holes, multi-part, overlaps, planted bad ones) and clustered points.

Zones are few (hundreds) and made on the driver with shapely. Points are made in Spark from ``spark.range`` and
seeded column functions, so 10M+ points never pass through the driver; only small tables travel with the plan
(the hotspots, and the zones' edge segments that edge points are placed on). The truth is computed independently
of the job's join code, on the points as written: see ``true_zones``.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial

import numpy as np
import pandas as pd
import shapely
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import IntegerType, StringType, StructField, StructType

from usecases.geospatial.geometry import clean_geometry

CENTER_LAT, CENTER_LON = 40.73, -73.95
HALF_LAT, HALF_LON = 0.09, 0.12  # about 20 km x 20 km
BAD_ZONE_TEXT = "POLYGON ((0 0, 1 1, 1"  # unparseable: quarantined
BOWTIE_OFFSET = (0.01, 0.01)  # self-intersecting: repaired by make_valid
N_HOTSPOTS = 12
UNIFORM_SHARE = 0.20  # of points uniform over the city's box; edge_fraction on zone edges; the rest in clusters
EDGE_JITTERS = (0.0, 1e-9, 1e-7, 1e-6)  # degrees off the edge: exactly on it, or just either side
VERTEX_SHARE = 1 / 7  # of edge points, exactly on a vertex
POINTS_PER_PARTITION = 500_000
TRUTH_MAX_POINTS = 200_000  # the truth covers point ids 1..this (a uniform sample: every kind of point is spread
# over all ids), so checking a 10M-point run costs what checking a 200k-point run costs
TRUTH_SCHEMA = StructType([StructField("point_id", StringType(), False),
                           StructField("true_zone_id", StringType(), True),
                           StructField("true_n_zones", IntegerType(), False)])


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
    """Zones table: zone_id (text: "1", "2", ...), name, geometry text (WKT for most, GeoJSON for every 3rd zone).

    The ids look like numbers (like NYC's taxi-zone LocationIDs read from a file) but are text, and the overlapping
    discs come last, so the job's "lowest zone_id" is exercised in text order ("10" < "9"). With
    ``plant_bad_rows`` two more zones are added: a self-intersecting bow-tie (repaired) and unparseable text
    (quarantined).
    """
    geoms = make_zone_geometries(n_zones, seed)
    texts = [shapely.to_geojson(g) if i % 3 == 2 else shapely.to_wkt(g, rounding_precision=-1)
             for i, g in enumerate(geoms)]
    if plant_bad_rows:
        x, y = CENTER_LON + BOWTIE_OFFSET[0], CENTER_LAT + BOWTIE_OFFSET[1]
        texts.append(f"POLYGON (({x} {y}, {x + 0.01} {y + 0.01}, {x + 0.01} {y}, {x} {y + 0.01}, {x} {y}))")
        texts.append(BAD_ZONE_TEXT)
    ids = range(1, len(texts) + 1)
    return pd.DataFrame({"zone_id": [str(i) for i in ids], "name": [f"zone_{i:05d}" for i in ids],
                         "geometry": texts})


def clean_zone_geometries(zones: pd.DataFrame) -> tuple[list[str], list[shapely.Geometry]]:
    """(zone ids, geometries) of the zones the job keeps, cleaned as the job cleans them (repaired, bad ones out)."""
    kept = [(str(z), clean_geometry(t, 15, 10**12).geometry) for z, t in zip(zones["zone_id"], zones["geometry"],
                                                                            strict=True)]
    kept = [(z, g) for z, g in kept if g is not None]
    return [z for z, _ in kept], [g for _, g in kept]


def edge_segments(geoms: list[shapely.Geometry]) -> pd.DataFrame:
    """Every edge of every zone ring (outer and holes) as x0, y0, x1, y1, with ``seg`` 0.. (for the edge points)."""
    rings = shapely.get_parts(shapely.boundary(np.array(geoms, dtype=object)))
    frames = []
    for ring in rings:
        xy = shapely.get_coordinates(ring)
        frames.append(np.c_[xy[:-1], xy[1:]])
    segments = np.vstack(frames)
    return pd.DataFrame({"seg": np.arange(len(segments), dtype=np.int64), "x0": segments[:, 0],
                         "y0": segments[:, 1], "x1": segments[:, 2], "y1": segments[:, 3]})


def _pick(index: Column, values: np.ndarray) -> Column:
    """values[index] for a small array of doubles (the hotspots), as a literal array lookup."""
    return F.element_at(F.array(*[F.lit(float(v)) for v in values]), (index + 1).cast("int"))


def generate_points(spark: SparkSession, n_points: int, zones: pd.DataFrame, seed: int, plant_bad_rows: bool = True,
                    edge_fraction: float = 0.15) -> DataFrame:
    """Points (point_id text "1".., lat, lon, ts, value), computed in Spark: same seed and size, same rows.

    ``edge_fraction`` on zone edges, ``UNIFORM_SHARE`` uniform over the city's box (some outside every zone), the
    rest around 12 hotspots. Edge points lie: on a random edge at a random position (1 in 7 exactly on a vertex),
    then moved 0, 1e-9, 1e-7 or 1e-6 degrees off it, to exercise the boundary rule. With ``plant_bad_rows``
    points 1-4 get a NaN latitude, latitude 95, longitude -200 and a null longitude (quarantined by the job).
    """
    rng = np.random.default_rng(seed + 1)
    hot = rng.uniform([CENTER_LON - HALF_LON, CENTER_LAT - HALF_LAT], [CENTER_LON + HALF_LON, CENTER_LAT + HALF_LAT],
                      size=(N_HOTSPOTS, 2))
    spread = rng.uniform(0.003, 0.02, N_HOTSPOTS)
    segments = edge_segments(clean_zone_geometries(zones)[1])
    partitions = max(1, min(200, n_points // POINTS_PER_PARTITION + 1))
    r = [F.rand(seed * 1009 + k) for k in range(8)]
    z = [F.randn(seed * 1009 + 50 + k) for k in range(4)]
    base = spark.range(0, n_points, numPartitions=partitions).select(
        "id", r[0].alias("u_kind"), F.floor(r[1] * N_HOTSPOTS).alias("hot"), r[2].alias("u_x"), r[3].alias("u_y"),
        F.floor(r[4] * len(segments)).cast("bigint").alias("u_seg"), r[5].alias("u_t"),
        F.floor(r[6] * len(EDGE_JITTERS)).alias("jit"), z[0].alias("z_x"), z[1].alias("z_y"), z[2].alias("z_v"),
        z[3].alias("z_j"), F.floor(r[7] * 7 * 86400).cast("long").alias("ts_s"))
    cluster_cut, edge_cut = 1.0 - UNIFORM_SHARE - edge_fraction, 1.0 - edge_fraction
    kind = F.when(F.col("u_kind") < cluster_cut, "cluster").when(F.col("u_kind") < edge_cut, "uniform") \
        .otherwise("edge")
    seg_key = F.when(kind == "edge", F.col("u_seg"))
    with_seg = base.withColumn("kind", kind).withColumn("seg", seg_key).join(
        F.broadcast(spark.createDataFrame(segments)), "seg", "left")
    t = F.when(F.col("u_t") < VERTEX_SHARE, F.lit(0.0)).otherwise((F.col("u_t") - VERTEX_SHARE) / (1 - VERTEX_SHARE))
    jitter = _pick(F.col("jit"), np.array(EDGE_JITTERS))
    spread_col = _pick(F.col("hot"), spread)
    lon = (F.when(F.col("kind") == "cluster", _pick(F.col("hot"), hot[:, 0]) + F.col("z_x") * spread_col)
           .when(F.col("kind") == "uniform", F.lit(CENTER_LON - HALF_LON * 1.1) + F.col("u_x") * (2.2 * HALF_LON))
           .otherwise(F.col("x0") + t * (F.col("x1") - F.col("x0")) + jitter * F.col("z_j")))
    lat = (F.when(F.col("kind") == "cluster", _pick(F.col("hot"), hot[:, 1]) + F.col("z_y") * spread_col)
           .when(F.col("kind") == "uniform", F.lit(CENTER_LAT - HALF_LAT * 1.1) + F.col("u_y") * (2.2 * HALF_LAT))
           .otherwise(F.col("y0") + t * (F.col("y1") - F.col("y0")) + jitter * F.col("z_v")))
    point_no = F.col("id") + 1
    if plant_bad_rows and n_points >= 10:  # NaN and null alike: both quarantined
        lat = F.when(point_no == 1, F.lit(float("nan"))).when(point_no == 2, F.lit(95.0)).otherwise(lat)
        lon = F.when(point_no == 3, F.lit(-200.0)).when(point_no == 4, F.lit(None).cast("double")).otherwise(lon)
    ts = F.timestamp_seconds(F.unix_timestamp(F.lit("2026-01-05 00:00:00")) + F.col("ts_s"))
    value = F.round(F.exp(F.lit(2.5) + 0.6 * F.col("z_v")), 2)
    return with_seg.select(point_no.cast("string").alias("point_id"), lat.alias("lat"), lon.alias("lon"),
                           ts.alias("ts"), value.alias("value"))


def _truth_batches(batches: Iterator[pd.DataFrame], zone_ids: list[str], wkb: list[bytes]) -> Iterator[pd.DataFrame]:
    geoms = shapely.from_wkb(wkb)
    tree = shapely.STRtree(geoms)
    ids = np.array(zone_ids, dtype=object)
    for pdf in batches:
        lon, lat = pdf["lon"].to_numpy(float), pdf["lat"].to_numpy(float)
        ok = np.isfinite(lon) & np.isfinite(lat) & (np.abs(lat) <= 90) & (np.abs(lon) <= 180)
        idx = np.flatnonzero(ok)
        point_pos, zone_pos = tree.query(shapely.points(lon[idx], lat[idx]), predicate="intersects")
        pairs = pd.DataFrame({"row": idx[point_pos], "zone_id": ids[zone_pos]})
        per_point = pairs.groupby("row")["zone_id"].agg(["min", "size"])
        out = pd.DataFrame({"point_id": pdf["point_id"].astype(str).to_numpy(), "true_zone_id": None,
                            "true_n_zones": np.zeros(len(pdf), dtype=np.int32)})
        out.loc[per_point.index, "true_zone_id"] = per_point["min"].to_numpy()
        out.loc[per_point.index, "true_n_zones"] = per_point["size"].to_numpy(np.int32)
        yield out


def true_zones(points: DataFrame, zones: pd.DataFrame, max_points: int = TRUTH_MAX_POINTS) -> DataFrame:
    """Ground truth: point_id, true_zone_id (lowest zone id holding the point in text order, null for none),
    true_n_zones; for the points numbered 1..``max_points``, on the zones as the job will read them.

    Independent of the job's join: shapely's own ``STRtree.query(predicate="intersects")`` (closed zones, as the
    job's boundary rule says) per point, then the lowest id with Python's string order. Points with bad
    coordinates (quarantined by the job) get no zone.
    """
    zone_ids, geoms = clean_zone_geometries(zones)
    sample = points.filter(F.col("point_id").cast("long") <= max_points).select("point_id", "lat", "lon")
    return sample.mapInPandas(partial(_truth_batches, zone_ids=zone_ids, wkb=[shapely.to_wkb(g) for g in geoms]),
                              schema=TRUTH_SCHEMA)
