"""Parameters of the geospatial job (one field per job parameter in resources/geospatial.job.yml)."""

from __future__ import annotations

from dataclasses import dataclass

from shared.config import ConfigError, JobConfig, param

H3_ENGINES = ("python", "databricks_sql")
JOIN_STRATEGIES = ("auto", "h3", "strtree")


@dataclass(frozen=True)
class GeospatialConfig(JobConfig):
    """Geospatial job parameters: tables, generator size, H3 resolution, join strategy and limits.

    ``points_table`` / ``zones_table`` may be table names or, locally, files: points as CSV/Parquet, zones as
    CSV/Parquet (zone_id, name, geometry as WKT or GeoJSON) or a GeoJSON FeatureCollection (``.geojson``).
    """

    points_table: str = param("points", "input: points (point_id text, lat, lon, ts?, value?); table name or, "
                              "locally, a CSV/Parquet path")
    zones_table: str = param("zones", "input: zones (zone_id text, name, geometry as WKT or GeoJSON); table name "
                             "or, locally, a CSV/Parquet path or a GeoJSON FeatureCollection (.geojson)")
    ground_truth_table: str = param("points_truth", "output of generate: the true zone of generated points 1..200,000 "
                                    "(all of them at the default size), for evaluation")
    points_indexed_table: str = param("points_indexed", "output: valid points with their H3 cell")
    zones_clean_table: str = param("zones_clean", "output: valid (or repaired) zones with their geometry")
    zone_cells_table: str = param("zone_cells", "output: the H3 cells covering each zone, interior or boundary")
    points_zoned_table: str = param("points_zoned", "output: every point with its zone (if several, the lowest "
                                    "zone_id in text order)")
    cell_stats_table: str = param("h3_cell_stats", "output: points and values per H3 cell")
    zone_stats_table: str = param("zone_stats", "output: points and values per zone")
    n_points: int = param(200_000, "points the generate task writes")
    n_zones: int = param(200, "zones the generate task writes")
    plant_bad_rows: bool = param(True, "generate a few invalid points and zones, to exercise the quarantine")
    resolution: int = param(11, "H3 resolution of the point index and the zone cover (5..15)")
    h3_engine: str = param("python", "how points get their H3 cell: python (h3-py in a pandas UDF) or "
                           "databricks_sql (Databricks' built-in h3_longlatash3)", deploy="${var.h3_engine}")
    index_arrow_batch_rows: int = param(100_000, "rows per Arrow batch into the indexing UDF (Spark's default "
                                        "is 10,000)")
    join_strategy: str = param("auto", "point-in-zone join: auto, h3 (cells then exact check on boundary "
                               "cells) or strtree (broadcast STRtree)")
    auto_h3_min_zones: int = param(1_000_000, "join_strategy=auto picks h3 from this many zones (above every "
                                   "size measured; see join.choose_strategy)")
    auto_h3_min_interior_share: float = param(0.5, "join_strategy=auto picks h3 only when at least this share of "
                                              "cover cells is interior")
    max_zones: int = param(200_000, "most zones loaded to the driver for the broadcast join")
    max_cells_per_zone: int = param(2_000_000, "a zone needing more H3 cells than this is quarantined")
    map_max_cells: int = param(50_000, "most cells drawn on the MLflow maps")
    map_tiles: str = param("OpenStreetMap.Mapnik", "basemap of the interactive map h3_map.html: an xyzservices "
                           "provider name needing no API key, or none (the page then makes no network request)")

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
        _check_tiles(self.map_tiles)


def _check_tiles(name: str) -> None:
    """``none`` or a tile provider that xyzservices knows and that needs no API key (the page holds no secrets)."""
    if name.lower() == "none":
        return
    import xyzservices

    try:
        provider = xyzservices.providers.query_name(name)
    except ValueError as exc:
        raise ConfigError(f"map_tiles must be 'none' or an xyzservices provider name such as "
                          f"'OpenStreetMap.Mapnik', got {name!r}") from exc
    if provider.requires_token():
        raise ConfigError(f"map_tiles provider {name!r} needs an API key; choose one without, or 'none'")
