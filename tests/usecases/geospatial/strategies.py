"""Test helper: zones and points through the job's own steps (contracts, cleaning, cover, index) and then every
join strategy, for comparing against a plain shapely loop."""

from __future__ import annotations

import pandas as pd

from shared.contracts import apply_contract
from usecases.geospatial.contracts import POINTS, ZONES
from usecases.geospatial.cover import clean_zones, cover_zones
from usecases.geospatial.index import index_points
from usecases.geospatial.join import join_geometry_only, join_points, load_zone_set

STRATEGIES = ("h3", "strtree", "geometry_only")


def zoned_by_each_strategy(spark, zones: pd.DataFrame, points: pd.DataFrame, resolution: int,
                           max_cells: int = 10**7) -> dict[str, pd.DataFrame]:
    """strategy -> points_zoned (point_id, zone_id, n_zones) indexed by point_id, as the job computes it."""
    zones_df = apply_contract(spark.createDataFrame(zones, "zone_id string, name string, geometry string"), ZONES)
    clean, rejected = clean_zones(zones_df.valid, resolution, max_cells)
    assert rejected.count() == 0, rejected.collect()
    clean = spark.createDataFrame(clean.toPandas(), clean.schema)  # computed once for the four uses below
    cells = cover_zones(clean, resolution)
    cells = spark.createDataFrame(cells.toPandas(), cells.schema)
    contract = apply_contract(spark.createDataFrame(points), POINTS)
    assert contract.rows_quarantined == 0
    indexed = index_points(contract.valid, resolution)
    zone_set = load_zone_set(clean, 10**5)
    frames = {"h3": join_points(indexed, cells, zone_set, "h3", cells.count()),
              "strtree": join_points(indexed, cells, zone_set, "strtree"),
              "geometry_only": join_geometry_only(indexed, zone_set)}
    return {name: df.select("point_id", "zone_id", "n_zones").toPandas().set_index("point_id").sort_index()
            for name, df in frames.items()}
