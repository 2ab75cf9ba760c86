"""Spark side of zones: geometry cleaning (repair or reject) and the H3 cover, via pandas UDFs."""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial

import pandas as pd
import shapely
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import (
    BinaryType,
    BooleanType,
    DoubleType,
    IntegerType,
    LongType,
    StringType,
    StructField,
    StructType,
)

from shared.contracts import REASON
from usecases.geospatial.cells import cover_geometry
from usecases.geospatial.geometry import approx_area_km2, clean_geometry

CLEAN_SCHEMA = StructType([
    StructField("zone_id", StringType(), False),
    StructField("name", StringType(), True),
    StructField("geometry", StringType(), True),
    StructField("wkb", BinaryType(), True),
    StructField("repaired", BooleanType(), False),
    StructField("split_at_antimeridian", BooleanType(), False),
    StructField("n_parts", IntegerType(), True),
    StructField("n_holes", IntegerType(), True),
    StructField("area_km2", DoubleType(), True),
    StructField("reason", StringType(), True),
])

ZONE_CELLS_SCHEMA = StructType([
    StructField("zone_id", StringType(), False),
    StructField("cell", LongType(), False),
    StructField("is_boundary", BooleanType(), False),
])


def clean_zones_frame(pdf: pd.DataFrame, resolution: int, max_cells: int) -> pd.DataFrame:
    """zones (zone_id, name, geometry text) -> CLEAN_SCHEMA columns: valid WKB or a rejection ``reason``."""
    rows = []
    for zone_id, name, text in zip(pdf["zone_id"], pdf["name"], pdf["geometry"], strict=True):
        result = clean_geometry(text, resolution, max_cells)
        geom = result.geometry
        parts = shapely.get_parts(geom) if geom is not None else []
        rows.append({
            "zone_id": zone_id, "name": name, "geometry": text, "repaired": result.repaired,
            "split_at_antimeridian": result.split_at_antimeridian, "reason": result.reason,
            "wkb": shapely.to_wkb(geom) if geom is not None else None,
            "n_parts": len(parts) if geom is not None else None,
            "n_holes": int(sum(shapely.get_num_interior_rings(parts))) if geom is not None else None,
            "area_km2": approx_area_km2(geom) if geom is not None else None,
        })
    return pd.DataFrame(rows, columns=CLEAN_SCHEMA.fieldNames())


def cover_zones_frame(pdf: pd.DataFrame, resolution: int) -> pd.DataFrame:
    """zones_clean (zone_id, wkb) -> one row per covering cell: zone_id, cell, is_boundary."""
    frames = [pd.DataFrame(columns=ZONE_CELLS_SCHEMA.fieldNames())]
    for zone_id, wkb in zip(pdf["zone_id"], pdf["wkb"], strict=True):
        cells, is_boundary = cover_geometry(shapely.from_wkb(wkb), resolution)
        frames.append(pd.DataFrame({"zone_id": zone_id, "cell": cells, "is_boundary": is_boundary}))
    return pd.concat(frames, ignore_index=True).astype({"zone_id": object, "cell": "int64", "is_boundary": bool})


def _map(batches: Iterator[pd.DataFrame], fn, **kwargs) -> Iterator[pd.DataFrame]:  # frame function
    for pdf in batches:
        yield fn(pdf, **kwargs)


def flag_zones(zones: DataFrame, resolution: int, max_cells: int, partitions: int = 4) -> DataFrame:
    """Contract-valid zones -> CLEAN_SCHEMA rows: cleaned geometry, or a rejection ``reason`` (null when clean)."""
    return zones.select("zone_id", "name", "geometry").repartition(partitions).mapInPandas(
        partial(_map, fn=clean_zones_frame, resolution=resolution, max_cells=max_cells), schema=CLEAN_SCHEMA)


def split_flagged(flagged: DataFrame) -> tuple[DataFrame, DataFrame]:
    """Flagged zones -> (zones_clean without ``reason``, rejected zones as quarantine rows with ``reason``)."""
    clean = flagged.filter(F.col("reason").isNull()).drop("reason")
    bad = flagged.filter(F.col("reason").isNotNull()).select("zone_id", "name", "geometry", "reason")
    # Same shape as the contract's quarantine rows: every column as text plus the reason.
    return clean, bad.select(*[F.col(c).cast("string").alias(c) for c in ("zone_id", "name", "geometry")],
                             F.col("reason").alias(REASON))


def clean_zones(zones: DataFrame, resolution: int, max_cells: int, partitions: int = 4) -> tuple[DataFrame, DataFrame]:
    """``flag_zones`` then ``split_flagged``; each of the two frames recomputes the cleaning when used, so a job
    that uses both stages the flagged frame first (``TaskContext.staged``)."""
    return split_flagged(flag_zones(zones, resolution, max_cells, partitions))


def cover_zones(zones_clean: DataFrame, resolution: int, partitions: int = 8) -> DataFrame:
    """zones_clean (zone_id, wkb) -> zone_cells (zone_id, cell BIGINT, is_boundary), spread over ``partitions``."""
    return zones_clean.select("zone_id", "wkb").repartition(partitions, "zone_id").mapInPandas(
        partial(_map, fn=cover_zones_frame, resolution=resolution), schema=ZONE_CELLS_SCHEMA)

