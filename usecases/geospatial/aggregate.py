"""Per-cell and per-zone statistics of zoned points, and the hexagon map figure (bounded to the busiest cells)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from usecases.geospatial.cells import cells_to_polygons


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


def busiest_cells(stats: DataFrame, limit: int) -> pd.DataFrame:
    """The ``limit`` cells with most points (a bounded collect for the map)."""
    return stats.orderBy(F.desc("n_points"), "cell").limit(limit).select("cell", "n_points").toPandas()


def hexagon_map(cells: pd.DataFrame, zone_outlines: list | None = None, title: str = "points per H3 cell"):  # noqa: ANN201
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
