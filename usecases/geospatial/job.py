"""Geospatial job tasks: generate -> index -> cover -> join -> aggregate (thin: read, call pure modules, write, log)."""

from __future__ import annotations

import time
from pathlib import Path

import shapely
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from shared.contracts import REASON, ContractResult, check_quarantine_budget
from shared.spark import ARROW_BATCH_ROWS_CONF, session_conf
from shared.tables import is_file_reference
from shared.task import InputError, TaskContext, TaskEntryPoint, TaskReport, quarantine_table
from shared.tracking import log_dict, log_figure, log_metrics, log_table_sample, log_text
from usecases.geospatial import contracts
from usecases.geospatial.aggregate import cell_stats, hexagon_map, map_cells, map_zones, points_extent, zone_stats
from usecases.geospatial.config import GeospatialConfig
from usecases.geospatial.cover import cover_zones, flag_zones, split_flagged
from usecases.geospatial.generate import generate_points, make_zones, true_zones
from usecases.geospatial.index import index_points
from usecases.geospatial.join import choose_strategy, interior_share, join_points, load_zone_set
from usecases.geospatial.web_map import TARGET_CELLS, build_map, choose_map_resolution, map_html
from usecases.geospatial.zones_io import ZonesFileError, feature_collection_to_frame, is_feature_collection_file

Ctx = TaskContext[GeospatialConfig]
MAP_OUTLINES_MAX = 5_000


def geometry_reason_kinds(rejected: DataFrame) -> dict[str, int]:
    """Zone geometry rejects counted per kind of reason, as the contract counts its own: without a parser's
    trailing detail in parentheses and with a zone's own cell estimate as N (a few kinds, whatever the rows)."""
    kind = F.regexp_replace(F.regexp_replace(F.col(REASON), r" \([^()]*\)$", ""), r"about [0-9,]+ cells",
                            "about N cells")
    return {r[0]: r[1] for r in rejected.groupBy(kind.alias("kind")).count().collect()}


def check_zone_budget(ctx: Ctx, cfg: GeospatialConfig, rows_in: int, clean: DataFrame, rejected: DataFrame) -> None:
    """The quarantine budget over the zones' contract and geometry rejects together (the contract alone was
    checked on read): one line with the share and the top reasons, after the quarantine table is written."""
    reasons = tuple(sorted(ctx.quarantine_reasons.items(), key=lambda kv: (-kv[1], kv[0])))
    result = ContractResult(clean, rejected, rows_in, rows_in - ctx.quarantined, ctx.quarantined, reasons)
    label = cfg.zones_table if is_file_reference(cfg.zones_table) else ctx.tables.display_name(cfg.zones_table)
    where = (f"contract and geometry checks of {label}; quarantine in "
             f"{ctx.tables.display_name(quarantine_table(contracts.ZONES.table))}")
    check_quarantine_budget(result, contracts.ZONES.table, ctx.max_quarantine_fraction, where)


def run_generate(ctx: Ctx, cfg: GeospatialConfig) -> TaskReport:
    """Write the synthetic city (zones, points, points_truth) when none of those tables exists yet: all or nothing,
    so synthetic zones or truth never sit beside a user's own points. Points are made in Spark (any size)."""
    if not ctx.should_generate([cfg.zones_table, cfg.points_table, cfg.ground_truth_table], cfg):
        return TaskReport(rows_in=0, rows_out=0, balanced=False)
    spark = ctx.spark
    zones = make_zones(cfg.n_zones, cfg.seed, cfg.plant_bad_rows)
    ctx.tables.write(spark.createDataFrame(zones, "zone_id string, name string, geometry string"), cfg.zones_table)
    ctx.tables.write(generate_points(spark, cfg.n_points, zones, cfg.seed, cfg.plant_bad_rows), cfg.points_table)
    # The truth is computed on the points as stored, for a seeded sample of them (generate.TRUTH_MAX_POINTS).
    ctx.tables.write(true_zones(ctx.tables.read(cfg.points_table), zones), cfg.ground_truth_table)
    return TaskReport(rows_in=0, rows_out=len(zones) + cfg.n_points, balanced=False,
                      summary=[f"generated {len(zones):,} zones and {cfg.n_points:,} points"])


def run_index(ctx: Ctx, cfg: GeospatialConfig) -> TaskReport:
    """points -> points_indexed (+ cell BIGINT); bad coordinates -> points_quarantine with a reason."""
    valid, rows_in = ctx.read_with_contract(cfg.points_table, contracts.POINTS)
    started = time.perf_counter()
    # Bigger Arrow batches than Spark's 10,000 rows: fewer round trips to the Python worker; measured ~10%
    # more points/s at 1M-4M points (benchmarks/geospatial.py). The write must run inside the block.
    with session_conf(ctx.spark, {ARROW_BATCH_ROWS_CONF: str(cfg.index_arrow_batch_rows)}):
        ctx.tables.write(index_points(valid, cfg.resolution, cfg.h3_engine), cfg.points_indexed_table)
    seconds = time.perf_counter() - started
    # The cells holding points are counted once, by aggregate (cells_with_points): a distinct count here would be
    # a second aggregation over every point.
    rows_out = ctx.tables.read(cfg.points_indexed_table).count()
    metrics = {"points_indexed": rows_out, "points_quarantined": ctx.quarantined,
               "index_points_per_s": rows_out / max(seconds, 1e-9)}
    with ctx.mlflow_run(cfg):
        log_metrics(metrics)
    return TaskReport(rows_in, rows_out, ctx.quarantined, metrics=metrics)


def read_zones(ctx: Ctx, cfg: GeospatialConfig) -> DataFrame:
    """The zones table or file; a GeoJSON FeatureCollection file becomes rows of (zone_id, name, geometry)."""
    name = cfg.zones_table
    if is_file_reference(name) and is_feature_collection_file(name):
        try:
            frame = feature_collection_to_frame(Path(name).read_text(encoding="utf-8-sig"))
        except ZonesFileError as exc:
            raise InputError(f"zones file {name}: {exc}") from exc
        except UnicodeDecodeError as exc:
            raise InputError(f"zones file {name} is not UTF-8 text (byte {exc.object[exc.start]:#04x} at offset "
                             f"{exc.start}); GeoJSON is UTF-8 (RFC 8259)") from exc
        return ctx.spark.createDataFrame(frame, "zone_id string, name string, geometry string")
    return ctx.tables.read(name)


def run_cover(ctx: Ctx, cfg: GeospatialConfig) -> TaskReport:
    """zones -> zones_clean (repaired where needed) and zone_cells (zone_id, cell, is_boundary);
    rows failing the contract or with unusable geometry -> zones_quarantine with a reason."""
    valid, rows_in = ctx.read_with_contract(cfg.zones_table, contracts.ZONES, frame=read_zones(ctx, cfg))
    # Cleaning feeds zones_clean and the quarantine: stage it once (serverless has no cache).
    with ctx.staged(flag_zones(valid, cfg.resolution, cfg.max_cells_per_zone), "flagged_zones") as flagged:
        clean, rejected = split_flagged(flagged)
        ctx.add_to_quarantine(contracts.ZONES.table, rejected)
        ctx.note_reasons(geometry_reason_kinds(rejected))
        check_zone_budget(ctx, cfg, rows_in, clean, rejected)
        ctx.tables.write(clean, cfg.zones_clean_table)
    zones_clean = ctx.tables.read(cfg.zones_clean_table)
    rows_out, rows_quarantined = zones_clean.count(), ctx.quarantined
    ctx.tables.write(cover_zones(zones_clean, cfg.resolution), cfg.zone_cells_table)
    cells = ctx.tables.read(cfg.zone_cells_table)
    metrics = {"zones_clean": rows_out, "zones_quarantined": rows_quarantined,
               "zones_repaired": zones_clean.filter("repaired").count(),
               "zones_split_at_antimeridian": zones_clean.filter("split_at_antimeridian").count(),
               "zone_cells": cells.count(), "interior_cell_share": interior_share(cells)}
    with ctx.mlflow_run(cfg):
        log_metrics(metrics)
    return TaskReport(rows_in, rows_out, rows_quarantined, metrics=metrics)


def run_join(ctx: Ctx, cfg: GeospatialConfig) -> TaskReport:
    """points_indexed + zones -> points_zoned (every point, its lowest zone_id or null, n_zones)."""
    points = ctx.tables.read(cfg.points_indexed_table)
    zone_cells = ctx.tables.read(cfg.zone_cells_table)
    zones = load_zone_set(ctx.tables.read(cfg.zones_clean_table), cfg.max_zones)
    share, n_cells = interior_share(zone_cells), zone_cells.count()
    strategy = choose_strategy(cfg.join_strategy, len(zones.zone_ids), share, cfg.auto_h3_min_zones,
                               cfg.auto_h3_min_interior_share)
    started = time.perf_counter()
    ctx.tables.write(join_points(points, zone_cells, zones, strategy, n_cells), cfg.points_zoned_table)
    seconds = time.perf_counter() - started
    # One pass over the written table for its three counts (it has a row per point).
    counts = ctx.tables.read(cfg.points_zoned_table).agg(
        F.count("*").alias("rows"), F.count("zone_id").alias("in_zone"),
        F.sum((F.col("n_zones") > 1).cast("long")).alias("overlaps")).first()
    rows_in, rows_out, in_zone = points.count(), int(counts["rows"]), int(counts["in_zone"])
    metrics = {"points_in_a_zone_share": in_zone / max(rows_out, 1), "interior_cell_share": share,
               "points_in_overlaps": int(counts["overlaps"] or 0), "join_seconds": seconds}
    with ctx.mlflow_run(cfg):
        log_metrics(metrics)
        log_dict({"strategy": strategy, "requested": cfg.join_strategy, "zones": len(zones.zone_ids)},
                 "join_strategy.json")
    summary = [f"{in_zone:,} of {rows_out:,} points ({metrics['points_in_a_zone_share']:.1%}) fall in one of "
               f"{len(zones.zone_ids):,} zones ({strategy} join), {int(metrics['points_in_overlaps']):,} in overlaps"]
    return TaskReport(rows_in, rows_out, metrics={**metrics, "strategy_is_h3": float(strategy == "h3")},
                      summary=summary)


def run_aggregate(ctx: Ctx, cfg: GeospatialConfig) -> TaskReport:
    """points_zoned -> h3_cell_stats and zone_stats; to MLflow an interactive map (h3_map.html, self-contained) and a
    static PNG of the same cells (hexagon_map.png), both at a parent resolution that suits the data's extent."""
    zoned = ctx.tables.read(cfg.points_zoned_table)
    zones_clean = ctx.tables.read(cfg.zones_clean_table)
    ctx.tables.write(cell_stats(zoned, cfg.resolution), cfg.cell_stats_table)
    ctx.tables.write(zone_stats(zoned, zones_clean), cfg.zone_stats_table)
    cells = ctx.tables.read(cfg.cell_stats_table)
    zstats = ctx.tables.read(cfg.zone_stats_table)
    n_cells, n_zones = cells.count(), zstats.count()

    extent = points_extent(zoned)
    map_resolution = choose_map_resolution(extent, cfg.resolution, min(TARGET_CELLS, cfg.map_max_cells))
    shown_cells, n_map_cells = map_cells(cells, map_resolution, cfg.map_max_cells)
    shown_zones, _ = map_zones(zones_clean, zstats, MAP_OUTLINES_MAX)
    title = f"points per H3 cell, resolution {map_resolution} (job resolution {cfg.resolution})"
    notes = [f"{len(shown_cells):,} of {n_map_cells:,} cells with points shown (busiest first)",
             f"{len(shown_zones):,} of {n_zones:,} zones outlined (most points first)"]
    page = map_html(build_map(shown_cells, shown_zones, map_resolution, view=extent, tiles=cfg.map_tiles,
                              title=title, notes=notes))
    figure = hexagon_map(shown_cells, list(shapely.from_wkb(shown_zones["wkb"].to_numpy(object))), title=title)
    metrics = {"cells_with_points": n_cells, "zones": n_zones,
               "zones_without_points": zstats.filter(F.col("n_points") == 0).count(),
               "map_resolution": map_resolution, "map_cells": n_map_cells, "map_cells_shown": len(shown_cells)}
    with ctx.mlflow_run(cfg):
        log_metrics(metrics)
        log_text(page, "h3_map.html")
        log_figure(figure, "hexagon_map.png")
        log_table_sample(zstats.orderBy(F.desc("n_points")), "zone_stats_top.json", limit=100)
    summary = [f"{n_cells:,} H3 cells with points in {cfg.cell_stats_table}, {n_zones:,} zones in "
               f"{cfg.zone_stats_table} ({int(metrics['zones_without_points']):,} without points); interactive map: "
               "h3_map.html in the run's MLflow artifacts"]
    return TaskReport(zoned.count(), n_cells + n_zones, balanced=False, metrics=metrics, summary=summary)


generate = TaskEntryPoint("geospatial", "generate", GeospatialConfig, run_generate)
index = TaskEntryPoint("geospatial", "index", GeospatialConfig, run_index)
cover = TaskEntryPoint("geospatial", "cover", GeospatialConfig, run_cover)
join = TaskEntryPoint("geospatial", "join", GeospatialConfig, run_join)
aggregate = TaskEntryPoint("geospatial", "aggregate", GeospatialConfig, run_aggregate)
