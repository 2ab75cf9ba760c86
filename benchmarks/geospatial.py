"""Geospatial benchmark: H3-hybrid vs STRtree vs geometry-only point-in-zone joins on local Spark, plus H3 indexing
throughput per core on Spark vs a plain h3 loop in one process. All joins must give identical points_zoned.

Each join is timed as the job runs it (points generated in Spark and read from Parquet, the result written), in wall
seconds and in CPU seconds of the whole process tree (driver, JVM, Python workers): on a shared machine the CPU
seconds are the fairer comparison. ``--points 10000000 --zones 260 --parcels 0 --index-points 0`` is the anchor.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from benchmarks._proc import tree_cpu_seconds


def _timed(fn) -> tuple[float, object]:  # a zero-argument callable
    started = time.perf_counter()
    out = fn()
    return time.perf_counter() - started, out


def _measured(fn) -> tuple[float, float, object]:  # a zero-argument callable
    """(wall seconds, CPU seconds of the process tree, result) of one call."""
    cpu = tree_cpu_seconds()
    wall, out = _timed(fn)
    return wall, tree_cpu_seconds() - cpu, out


def _run(df) -> None:  # a Spark DataFrame; "noop" computes every row and writes nothing
    df.write.format("noop").mode("overwrite").save()


def _write(df, path: str) -> None:  # a Spark DataFrame, written as the job writes a table
    df.write.mode("overwrite").parquet(path)


def _checksum(df) -> tuple[int, int]:
    """(rows, order-free 64-bit checksum of every (point_id, zone_id, n_zones) row), computed in Spark."""
    from pyspark.sql import functions as F

    row = df.agg(F.count("*").alias("n"), F.sum(F.xxhash64("point_id", "zone_id", "n_zones").cast("decimal(38,0)"))
                 .alias("h")).first()
    return int(row["n"]), int(row["h"] or 0)


def scenario(spark, n_points: int, n_zones: int, resolution: int, edge_fraction: float,
             geometry_only: bool, seed: int, h3_engine: str = "python") -> dict[str, object]:
    """One size, as the job runs it: points generated in Spark and written as Parquet, indexed (written), zones
    cleaned and covered (written), then each join written as the job writes points_zoned, timed in wall and CPU
    seconds of the whole process tree. The joins' results must be identical (row count and checksum)."""
    import tempfile

    from pyspark.sql import functions as F

    from shared.spark import ARROW_BATCH_ROWS_CONF, session_conf
    from usecases.geospatial.config import GeospatialConfig
    from usecases.geospatial.cover import clean_zones, cover_zones
    from usecases.geospatial.generate import generate_points, make_zones
    from usecases.geospatial.index import index_points
    from usecases.geospatial.join import (
        cell_lookup,
        choose_strategy,
        interior_share,
        join_geometry_only,
        join_points,
        load_zone_set,
    )

    defaults = GeospatialConfig()  # the job's default auto-strategy thresholds and Arrow batch
    zones = make_zones(n_zones, seed, plant_bad_rows=False)
    with tempfile.TemporaryDirectory(prefix="bench-geo-") as scratch:
        gen_s, gen_cpu, _ = _measured(lambda: _write(generate_points(spark, n_points, zones, seed, False,
                                                                     edge_fraction), f"{scratch}/points"))
        points = spark.read.parquet(f"{scratch}/points")
        with session_conf(spark, {ARROW_BATCH_ROWS_CONF: str(defaults.index_arrow_batch_rows)}):
            index_s, index_cpu, _ = _measured(lambda: _write(index_points(points, resolution, h3_engine),
                                                             f"{scratch}/indexed"))
        indexed = spark.read.parquet(f"{scratch}/indexed")
        clean, _ = clean_zones(spark.createDataFrame(zones), resolution, 10**8)
        _write(clean, f"{scratch}/zones_clean")
        clean = spark.read.parquet(f"{scratch}/zones_clean")
        cover_s, cover_cpu, _ = _measured(lambda: _write(cover_zones(clean, resolution), f"{scratch}/zone_cells"))
        zone_cells = spark.read.parquet(f"{scratch}/zone_cells")
        n_cells, share = zone_cells.count(), interior_share(zone_cells)
        zone_set = load_zone_set(clean, 10**6)
        boundary_cells = cell_lookup(zone_cells).filter(F.size("boundary") > 0).select("cell")
        exact_share = indexed.join(F.broadcast(boundary_cells), "cell").count() / n_points

        joins = {"a_h3_hybrid": lambda: join_points(indexed, zone_cells, zone_set, "h3", n_cells),
                 "b_strtree": lambda: join_points(indexed, zone_cells, zone_set, "strtree", n_cells)}
        if geometry_only:
            joins["c_geometry_only"] = lambda: join_geometry_only(indexed, zone_set)
        seconds, cpu, sums = {}, {}, {}
        for name, build in joins.items():
            seconds[name], cpu[name], _ = _measured(lambda build=build, name=name: _write(build(),
                                                                                        f"{scratch}/{name}"))
            sums[name] = _checksum(spark.read.parquet(f"{scratch}/{name}"))
        reference = spark.read.parquet(f"{scratch}/a_h3_hybrid")
        in_zone = reference.filter(F.col("zone_id").isNotNull()).count() / n_points
    out: dict[str, object] = {
        "points": n_points, "zones": n_zones, "resolution": resolution, "edge_point_fraction": edge_fraction,
        "h3_engine": h3_engine, "zone_cells": n_cells, "interior_cell_share": round(share, 4),
        "h3_exact_check_point_share": round(exact_share, 4), "points_in_a_zone_share": round(in_zone, 4),
        "auto_strategy": choose_strategy("auto", n_zones, share, defaults.auto_h3_min_zones,
                                         defaults.auto_h3_min_interior_share),
        "seconds": {k: round(v, 2) for k, v in seconds.items()},
        "cpu_seconds": {k: round(v, 2) for k, v in cpu.items()},
        "generate_seconds": round(gen_s, 2), "generate_cpu_seconds": round(gen_cpu, 2),
        "index_seconds": round(index_s, 2), "index_cpu_seconds": round(index_cpu, 2),
        "cover_seconds": round(cover_s, 2), "cover_cpu_seconds": round(cover_cpu, 2),
        "identical_results": len(set(sums.values())) == 1,
        "speedup_a_vs_b": round(seconds["b_strtree"] / seconds["a_h3_hybrid"], 2),
        "cpu_ratio_b_over_a": round(cpu["b_strtree"] / max(cpu["a_h3_hybrid"], 1e-9), 2),
        "load_average_1min": round(os.getloadavg()[0], 2),
    }
    if geometry_only:
        out["speedup_a_vs_c"] = round(seconds["c_geometry_only"] / seconds["a_h3_hybrid"], 2)
        out["speedup_b_vs_c"] = round(seconds["c_geometry_only"] / seconds["b_strtree"], 2)
    return out


def spark_cores(spark) -> int:
    """Task slots of a local master: local[N] -> N, local[*] -> all CPUs."""
    master = spark.sparkContext.master
    inside = master[master.find("[") + 1 : master.find("]")] if "[" in master else "1"
    return (os.cpu_count() or 1) if inside == "*" else int(inside.split(",")[0])


def _points_parquet(spark, n_points: int, seed: int, folder: str):
    """Random points written as Parquet and read back, as the job reads its points table; plus the arrays."""
    rng = np.random.default_rng(seed)
    lat, lon = rng.uniform(40.6, 40.85, n_points), rng.uniform(-74.1, -73.8, n_points)
    # Written with pyarrow, not Spark: an 8M-row createDataFrame would sit in the driver's heap during the timing.
    import pyarrow as pa
    import pyarrow.parquet as pq

    os.makedirs(folder, exist_ok=True)
    pq.write_table(pa.table({"point_id": np.arange(n_points), "lat": lat, "lon": lon}), f"{folder}/part-0.parquet")
    return spark.read.parquet(folder), lat, lon


def _spark_index_seconds(spark, df, resolution: int, batch_rows: int, repeats: int) -> float:
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


def index_throughput(spark, sizes: list[int], resolution: int, seed: int, batch_rows: int,
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
                        help="sizes for the indexing throughput (two or more also give fixed vs marginal cost; "
                             "0 to skip)")
    parser.add_argument("--h3-engine", default="python", help="the job's h3_engine for the joins' indexing step")
    parser.add_argument("--index-batch-rows", type=int, default=100_000,
                        help="Arrow batch rows for the indexing UDF (the job's index_arrow_batch_rows)")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args(argv)

    os.environ.setdefault("USECASES_SPARK_MASTER", "local[2]")
    from shared.spark import get_spark

    spark = get_spark("bench-geospatial")
    result: dict[str, object] = {"spark_master": spark.sparkContext.master}
    if [n for n in args.index_points if n > 0]:
        result["index_throughput"] = index_throughput(spark, [n for n in args.index_points if n > 0],
                                                     args.resolution, args.seed, args.index_batch_rows)
    c_points = args.geometry_only_points or args.points
    if c_points != args.points:
        result["zones_geometry_only_size"] = scenario(spark, c_points, args.zones, args.resolution,
                                                      args.edge_fraction, True, args.seed, args.h3_engine)
    result["zones"] = scenario(spark, args.points, args.zones, args.resolution, args.edge_fraction,
                               c_points == args.points, args.seed, args.h3_engine)
    if args.parcels:
        result["parcels"] = scenario(spark, args.points, args.parcels, args.parcel_resolution, args.edge_fraction,
                                     False, args.seed, args.h3_engine)
    return result
