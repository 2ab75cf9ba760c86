"""Parameters of the geospatial job (one field per job parameter in resources/geospatial.job.yml)."""

from __future__ import annotations

from dataclasses import dataclass

from shared.config import ConfigError, JobConfig

H3_ENGINES = ("python", "databricks_sql")
JOIN_STRATEGIES = ("auto", "h3", "strtree")


@dataclass(frozen=True)
class GeospatialConfig(JobConfig):
    """Geospatial job parameters: tables, generator size, H3 resolution, join strategy and limits.

    ``points_table`` / ``zones_table`` may be table names or, locally, files: points as CSV/Parquet, zones as
    CSV/Parquet (zone_id, name, geometry as WKT or GeoJSON) or a GeoJSON FeatureCollection (``.geojson``).
    """

    points_table: str = "points"
    zones_table: str = "zones"
    points_truth_table: str = "points_truth"
    points_indexed_table: str = "points_indexed"
    zones_clean_table: str = "zones_clean"
    zone_cells_table: str = "zone_cells"
    points_zoned_table: str = "points_zoned"
    cell_stats_table: str = "h3_cell_stats"
    zone_stats_table: str = "zone_stats"
    n_points: int = 200_000
    n_zones: int = 200
    plant_bad_rows: bool = True
    resolution: int = 11
    h3_engine: str = "python"
    index_arrow_batch_rows: int = 100_000  # rows per Arrow batch into the indexing UDF (Spark's default: 10,000)
    join_strategy: str = "auto"
    auto_h3_min_zones: int = 1_000_000  # above every size measured; see join.choose_strategy
    auto_h3_min_interior_share: float = 0.5
    max_zones: int = 200_000
    max_cells_per_zone: int = 2_000_000
    map_max_cells: int = 50_000

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.n_points < 1 or self.n_zones < 1:
            raise ConfigError("n_points and n_zones must be >= 1")
        if not 5 <= self.resolution <= 15:
            raise ConfigError(f"resolution must be an H3 resolution in 5..15, got {self.resolution}")
        if self.index_arrow_batch_rows < 1:
            raise ConfigError("index_arrow_batch_rows must be >= 1")
        if self.h3_engine not in H3_ENGINES:
            raise ConfigError(f"h3_engine must be one of {', '.join(H3_ENGINES)}, got {self.h3_engine!r}")
        if self.join_strategy not in JOIN_STRATEGIES:
            raise ConfigError(f"join_strategy must be one of {', '.join(JOIN_STRATEGIES)}, got {self.join_strategy!r}")
        if self.auto_h3_min_zones < 0:
            raise ConfigError("auto_h3_min_zones must be >= 0")
        if not 0.0 <= self.auto_h3_min_interior_share <= 1.0:
            raise ConfigError("auto_h3_min_interior_share must be in [0, 1]")
        if self.max_zones < 1 or self.max_cells_per_zone < 1 or self.map_max_cells < 1:
            raise ConfigError("max_zones, max_cells_per_zone and map_max_cells must be >= 1")
