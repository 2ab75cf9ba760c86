"""Per-cell and per-zone statistics of zoned points, and the bounded inputs of the maps: the points' extent, counts
per H3 parent cell, the busiest zones; plus the static hexagon map figure."""

from __future__ import annotations

import numpy as np
import pandas as pd
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from usecases.geospatial.cells import cells_to_polygons
from usecases.geospatial.web_map import Extent

H3_RESOLUTION_BIT = 52  # an H3 index keeps its resolution in bits 52-55
EXTENT_TRIM = 0.001  # share of points left out at each side of the map's extent (strays far away)


def cell_stats(points_zoned: DataFrame, resolution: int) -> DataFrame:
    """points_zoned -> h3_cell_stats: cell, resolution, n_points, n_zoned, value_sum, value_mean, first_ts, last_ts."""
    return points_zoned.groupBy("cell").agg(
        F.lit(resolution).alias("resolution"),
        F.count("*").alias("n_points"),
        F.count("zone_id").alias("n_zoned"),
        F.sum("value").alias("value_sum"),
        F.avg("value").alias("value_mean"),
        F.min("ts").alias("first_ts"),
        F.max("ts").alias("last_ts"),
    )


def zone_stats(points_zoned: DataFrame, zones_clean: DataFrame) -> DataFrame:
    """points_zoned + zones_clean -> zone_stats: zone_id, name, area_km2, n_points, value_sum, value_mean,
    points_per_km2, n_overlapping (points also in another zone). Zones without points get n_points 0."""
    per_zone = points_zoned.filter(F.col("zone_id").isNotNull()).groupBy("zone_id").agg(
        F.count("*").alias("n_points"),
        F.sum("value").alias("value_sum"),
        F.avg("value").alias("value_mean"),
        F.sum((F.col("n_zones") > 1).cast("long")).alias("n_overlapping"),
    )
    joined = zones_clean.select("zone_id", "name", "area_km2").join(per_zone, "zone_id", "left")
    return joined.select(
        "zone_id", "name", "area_km2",
        F.coalesce("n_points", F.lit(0)).alias("n_points"),
        "value_sum", "value_mean",
        (F.coalesce("n_points", F.lit(0)) / F.col("area_km2")).alias("points_per_km2"),
        F.coalesce("n_overlapping", F.lit(0)).alias("n_overlapping"),
    )


def h3_parent(cell: Column, resolution: int) -> Column:
    """The parent at ``resolution`` of BIGINT H3 cells of that resolution or finer, as Spark bit arithmetic.

    An H3 index holds its resolution in bits 52-55 and one 3-bit digit per resolution 1..15 below the base cell;
    digits finer than the resolution are 7. The parent is the same index with the coarser resolution and its
    digits past it set to 7 -- what h3's ``cell_to_parent`` (and Databricks' ``h3_toparent``) returns. Native column
    arithmetic needs no Python worker, so it also runs under Spark Connect and serverless.
    """
    if not 0 <= resolution <= 15:
        raise ValueError(f"H3 resolution must be in 0..15, got {resolution}")
    unused_digits = (1 << 3 * (15 - resolution)) - 1
    cleared = cell.bitwiseAND(F.lit(~(0xF << H3_RESOLUTION_BIT)))
    return cleared.bitwiseOR(F.lit((resolution << H3_RESOLUTION_BIT) | unused_digits))


def points_extent(points: DataFrame, trim: float = EXTENT_TRIM) -> Extent | None:
    """The lat/lon box holding all but a ``trim`` share of the points at each side (approximate quantiles, one
    pass), so a few strays far away do not set the map's view; None when there are no points."""
    quantiles = [trim, 1.0 - trim]
    row = points.agg(F.percentile_approx("lat", quantiles, 10_000).alias("lat"),
                     F.percentile_approx("lon", quantiles, 10_000).alias("lon")).first()
    if row is None or row["lat"] is None or row["lon"] is None:
        return None
    (south, north), (west, east) = row["lat"], row["lon"]
    return Extent(float(south), float(west), float(north), float(east))


def map_cells(stats: DataFrame, resolution: int, limit: int) -> tuple[pd.DataFrame, int]:
    """h3_cell_stats -> (the ``limit`` parent cells at ``resolution`` with most points: cell, n_points, n_zoned;
    how many parent cells hold points). Summed in Spark; only the bounded top rows reach the driver."""
    parents = stats.groupBy(h3_parent(F.col("cell"), resolution).alias("cell")).agg(
        F.sum("n_points").alias("n_points"), F.sum("n_zoned").alias("n_zoned"))
    top = parents.orderBy(F.desc("n_points"), "cell").limit(limit).toPandas()
    total = len(top) if len(top) < limit else parents.count()
    return top.astype({"cell": "int64", "n_points": "int64", "n_zoned": "int64"}), total


def map_zones(zones_clean: DataFrame, zstats: DataFrame, limit: int) -> tuple[pd.DataFrame, int]:
    """zones_clean + zone_stats -> (the ``limit`` zones with most points: zone_id, name, n_points, points_per_km2,
    wkb; how many zones there are). A bounded collect for the maps' outlines."""
    joined = zstats.select("zone_id", "name", "n_points", "points_per_km2").join(
        zones_clean.select("zone_id", "wkb"), "zone_id")
    top = joined.orderBy(F.desc("n_points"), "zone_id").limit(limit).toPandas()
    total = len(top) if len(top) < limit else zstats.count()
    return top, total


def hexagon_map(cells: pd.DataFrame, zone_outlines: list | None = None, title: str = "points per H3 cell"):
    """A matplotlib Figure: one hexagon per cell coloured by log10(n_points), zone outlines on top."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.collections import PolyCollection

    fig, ax = plt.subplots(figsize=(9, 8), dpi=110)
    if len(cells):
        polygons = cells_to_polygons(cells["cell"].to_numpy(np.int64))
        verts = [np.asarray(p.exterior.coords) for p in polygons]
        collection = PolyCollection(verts, array=np.log10(cells["n_points"].to_numpy(float)), cmap="viridis",
                                    linewidths=0)
        ax.add_collection(collection)
        fig.colorbar(collection, ax=ax, label="log10(points in cell)")
    for geom in zone_outlines or []:
        for part in getattr(geom, "geoms", [geom]):
            for ring in [part.exterior, *part.interiors]:
                x, y = ring.xy
                ax.plot(x, y, color="white", linewidth=0.3, alpha=0.8)
    ax.autoscale_view()
    ax.set_aspect(1 / np.cos(np.radians(np.mean(ax.get_ylim()))))
    ax.set_xlabel("longitude")
    ax.set_ylabel("latitude")
    ax.set_facecolor("#202020")
    ax.set_title(title)
    return fig
