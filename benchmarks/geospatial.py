"""Geospatial benchmark: H3-hybrid vs STRtree vs geometry-only point-in-zone joins on local Spark, plus H3 indexing
throughput per core on Spark vs a plain h3 loop in one process. All joins must give identical points_zoned.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import pandas as pd


def _timed(fn) -> tuple[float, object]:  # noqa: ANN001 - a zero-argument callable
    started = time.perf_counter()
    out = fn()
    return time.perf_counter() - started, out


def _run(df) -> None:  # noqa: ANN001 - a Spark DataFrame; "noop" computes every row and writes nothing
    df.write.format("noop").mode("overwrite").save()


def _result(df) -> pd.DataFrame:  # noqa: ANN001
    out = df.select("point_id", "zone_id", "n_zones").toPandas().sort_values("point_id").reset_index(drop=True)
    return out.astype({"zone_id": "float64", "n_zones": "int64"})


def scenario(spark, n_points: int, n_zones: int, resolution: int, edge_fraction: float,  # noqa: ANN001
             geometry_only: bool, seed: int) -> dict[str, object]:
    """One size: generate, index, cover, then time each join (noop write) and check their results are equal."""
    from usecases.geospatial.config import GeospatialConfig
    from usecases.geospatial.cover import clean_zones, cover_zones
    from usecases.geospatial.generate import make_points, make_zones
    from usecases.geospatial.index import index_points
    from usecases.geospatial.join import (
        BROADCAST_MAX_CELLS,
        cell_lookup,
        choose_strategy,
        interior_share,
        join_geometry_only,
        join_h3,
        join_strtree,
        load_zone_set,
    )

    defaults = GeospatialConfig()  # the job's default auto-strategy thresholds
    zones = make_zones(n_zones, seed, plant_bad_rows=False)
    points = make_points(n_points, zones, seed, plant_bad_rows=False, edge_fraction=edge_fraction)
    parts = spark_cores(spark) * 2
    points_df = spark.createDataFrame(points[["point_id", "lat", "lon", "value"]]).repartition(parts).cache()
    points_df.count()
    index_s, _ = _timed(lambda: _run(index_points(points_df, resolution)))
    indexed = index_points(points_df, resolution).cache()
    indexed.count()
    clean, _ = clean_zones(spark.createDataFrame(zones), resolution, 10**8)
    clean = clean.cache()
    cover_s, _ = _timed(lambda: cover_zones(clean, resolution).cache().count())
    zone_cells = cover_zones(clean, resolution).cache()
    n_cells = zone_cells.count()
    lookup_s, lookup = _timed(lambda: cell_lookup(zone_cells).cache())
    lookup_s += _timed(lookup.count)[0]
    zone_set = load_zone_set(clean, 10**6)
    share = interior_share(zone_cells)

    joins = {"a_h3_hybrid": lambda: join_h3(indexed, lookup, zone_set, broadcast_cells=n_cells <= BROADCAST_MAX_CELLS),
             "b_strtree": lambda: join_strtree(points_df, zone_set)}
    if geometry_only:
        joins["c_geometry_only"] = lambda: join_geometry_only(points_df, zone_set)
    seconds, results = {}, {}
    for name, build in joins.items():
        seconds[name], _ = _timed(lambda build=build: _run(build()))
        results[name] = _result(build())
    reference = results["a_h3_hybrid"]
    identical = all(r.equals(reference) for r in results.values())
    out: dict[str, object] = {
        "points": n_points, "zones": n_zones, "resolution": resolution, "edge_point_fraction": edge_fraction,
        "zone_cells": n_cells, "interior_cell_share": round(share, 4),
        "points_in_a_zone_share": round(float(reference["zone_id"].notna().mean()), 4),
        "auto_strategy": choose_strategy("auto", n_zones, share, defaults.auto_h3_min_zones,
                                         defaults.auto_h3_min_interior_share),
        "seconds": {k: round(v, 2) for k, v in seconds.items()},
        "index_seconds": round(index_s, 2), "cover_seconds": round(cover_s, 2),
        "cell_lookup_seconds": round(lookup_s, 2),
        "a_plus_index_seconds": round(seconds["a_h3_hybrid"] + index_s, 2),
        "identical_results": identical,
        "speedup_a_vs_b": round(seconds["b_strtree"] / seconds["a_h3_hybrid"], 2),
        "speedup_a_plus_index_vs_b": round(seconds["b_strtree"] / (seconds["a_h3_hybrid"] + index_s), 2),
    }
    if geometry_only:
        out["speedup_a_vs_c"] = round(seconds["c_geometry_only"] / seconds["a_h3_hybrid"], 2)
        out["speedup_a_plus_index_vs_c"] = round(seconds["c_geometry_only"] / (seconds["a_h3_hybrid"] + index_s), 2)
        out["speedup_b_vs_c"] = round(seconds["c_geometry_only"] / seconds["b_strtree"], 2)
    for df in (points_df, indexed, clean, zone_cells, lookup):
        df.unpersist()
    return out


def spark_cores(spark) -> int:  # noqa: ANN001
    """Task slots of a local master: local[N] -> N, local[*] -> all CPUs."""
    master = spark.sparkContext.master
    inside = master[master.find("[") + 1 : master.find("]")] if "[" in master else "1"
    return (os.cpu_count() or 1) if inside == "*" else int(inside.split(",")[0])


def _points_parquet(spark, n_points: int, seed: int, folder: str):  # noqa: ANN001, ANN202
    """Random points written as Parquet and read back, as the job reads its points table; plus the arrays."""
    rng = np.random.default_rng(seed)
    lat, lon = rng.uniform(40.6, 40.85, n_points), rng.uniform(-74.1, -73.8, n_points)
    # Written with pyarrow, not Spark: an 8M-row createDataFrame would sit in the driver's heap during the timing.
    import pyarrow as pa
    import pyarrow.parquet as pq

    os.makedirs(folder, exist_ok=True)
    pq.write_table(pa.table({"point_id": np.arange(n_points), "lat": lat, "lon": lon}), f"{folder}/part-0.parquet")
    return spark.read.parquet(folder), lat, lon


def _spark_index_seconds(spark, df, resolution: int, batch_rows: int, repeats: int) -> float:  # noqa: ANN001
    """Best of ``repeats`` warm runs of the job's indexing step (scalar pandas UDF) with a given Arrow batch."""
    from shared.spark import ARROW_BATCH_ROWS_CONF, session_conf
    from usecases.geospatial.index import index_points

    with session_conf(spark, {ARROW_BATCH_ROWS_CONF: str(batch_rows)}):
        _run(index_points(df, resolution))  # warm the Python workers
        return min(_timed(lambda: _run(index_points(df, resolution)))[0] for _ in range(repeats))


def _loop_best(lat: np.ndarray, lon: np.ndarray, resolution: int, repeats: int) -> tuple[float, np.ndarray]:
    """Best of ``repeats`` runs of the plain h3 loop (the core's ``latlng_to_cells``) in this one process."""
    from usecases.geospatial.cells import latlng_to_cells

    return min((_timed(lambda: latlng_to_cells(lat, lon, resolution)) for _ in range(repeats)),
               key=lambda pair: pair[0])


def index_throughput(spark, sizes: list[int], resolution: int, seed: int, batch_rows: int,  # noqa: ANN001
                     repeats: int = 3) -> dict[str, object]:
    """Points indexed per second per core: Spark (the job's scalar pandas UDF over Parquet points) vs one plain h3
    loop over in-memory arrays, best of ``repeats`` each. At each size it also times Spark's default Arrow batch
    (10,000 rows) against the job's ``index_arrow_batch_rows``. With two sizes it splits Spark's time into a fixed
    cost per job and a marginal cost per point (a line through the two), which is what larger tables approach."""
    import tempfile

    from usecases.geospatial.index import index_points

    cores = spark_cores(spark)
    rows: list[dict[str, object]] = []
    timings: list[tuple[int, float, float]] = []  # (points, spark seconds, loop seconds)
    with tempfile.TemporaryDirectory(prefix="bench-geo-index-") as scratch:
        for n_points in sizes:
            df, lat, lon = _points_parquet(spark, n_points, seed, f"{scratch}/points_{n_points}")
            loop_s, cells = _loop_best(lat, lon, resolution, repeats)
            default_s = _spark_index_seconds(spark, df, resolution, 10_000, repeats)
            spark_s = _spark_index_seconds(spark, df, resolution, batch_rows, repeats)
            with_ids = index_points(df, resolution).select("point_id", "cell").toPandas().sort_values("point_id")
            loop_rate, spark_rate = n_points / loop_s, n_points / spark_s / cores
            timings.append((n_points, spark_s, loop_s))
            rows.append({"points": n_points, "plain_loop_seconds": round(loop_s, 3),
                         "spark_seconds": round(spark_s, 3), "spark_seconds_default_batch": round(default_s, 3),
                         "batch_speedup": round(default_s / spark_s, 2),
                         "plain_loop_points_per_s": round(loop_rate),
                         "spark_points_per_s_per_core": round(spark_rate),
                         "spark_per_core_vs_loop": round(spark_rate / loop_rate, 2),
                         "identical_cells": bool(np.array_equal(with_ids["cell"].to_numpy(), cells))})
    out: dict[str, object] = {"resolution": resolution, "spark_cores": cores, "arrow_batch_rows": batch_rows,
                              "sizes": rows, "load_average_1min": round(os.getloadavg()[0], 2)}
    if len(timings) >= 2:
        (n_small, spark_small, _), (n_large, spark_large, loop_large) = timings[0], timings[-1]
        per_point = (spark_large - spark_small) / (n_large - n_small)
        out["spark_fixed_seconds_per_job"] = round(spark_small - per_point * n_small, 3)
        out["spark_marginal_points_per_s_per_core"] = round(1 / per_point / cores)
        out["spark_marginal_per_core_vs_loop"] = round((loop_large / n_large) / (per_point * cores), 2)
    return out


def run(argv: list[str]) -> dict[str, object]:
    parser = argparse.ArgumentParser(prog="python -m benchmarks geospatial")
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--zones", type=int, default=200)
    parser.add_argument("--parcels", type=int, default=20_000, help="the many-small-zones size (0 to skip)")
    parser.add_argument("--resolution", type=int, default=11)
    parser.add_argument("--parcel-resolution", type=int, default=12)
    parser.add_argument("--edge-fraction", type=float, default=0.02, help="share of points planted on zone edges")
    parser.add_argument("--geometry-only-points", type=int, default=None,
                        help="points for the geometry-only join (c); default: --points")
    parser.add_argument("--index-points", type=int, nargs="+", default=[1_000_000, 8_000_000],
                        help="sizes for the indexing throughput (two or more also give fixed vs marginal cost)")
    parser.add_argument("--index-batch-rows", type=int, default=100_000,
                        help="Arrow batch rows for the indexing UDF (the job's index_arrow_batch_rows)")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args(argv)

    os.environ.setdefault("USECASES_SPARK_MASTER", "local[2]")
    from shared.spark import get_spark

    spark = get_spark("bench-geospatial")
    result: dict[str, object] = {"spark_master": spark.sparkContext.master}
    result["index_throughput"] = index_throughput(spark, args.index_points, args.resolution, args.seed,
                                                 args.index_batch_rows)
    c_points = args.geometry_only_points or args.points
    if c_points != args.points:
        result["zones_geometry_only_size"] = scenario(spark, c_points, args.zones, args.resolution,
                                                      args.edge_fraction, True, args.seed)
    result["zones"] = scenario(spark, args.points, args.zones, args.resolution, args.edge_fraction,
                               c_points == args.points, args.seed)
    if args.parcels:
        result["parcels"] = scenario(spark, args.points, args.parcels, args.parcel_resolution, args.edge_fraction,
                                     False, args.seed)
    return result
