"""The geospatial job end to end through the local runner: on generated data, and on a user's own files."""

from __future__ import annotations

import json
from pathlib import Path

import mlflow
import pandas as pd
import pytest
import shapely

from shared.bundle import load_bundle
from shared.runner import run_job
from shared.tables import LocalTableStore
from usecases.geospatial.web_map import external_resources

REPO_ROOT = Path(__file__).resolve().parents[3]
SMALL = {"n_points": "3000", "n_zones": "16", "resolution": "10", "map_max_cells": "500"}


def _store(spark, warehouse: Path) -> LocalTableStore:
    return LocalTableStore(spark, "main", "ml_use_cases", warehouse)


@pytest.mark.slow
def test_job_on_generated_city_matches_truth(spark, warehouse, mlflow_store) -> None:
    results = run_job(load_bundle(REPO_ROOT), "geospatial", overrides=SMALL, warehouse=str(warehouse))
    reports = {r.task: r.report for r in results}
    assert list(reports) == ["generate", "index", "cover", "join", "aggregate"]
    assert reports["index"].rows_quarantined == 4 and reports["cover"].rows_quarantined == 1

    tables = _store(spark, warehouse)
    zoned = tables.read("points_zoned").toPandas().set_index("point_id")
    truth = tables.read("points_truth").toPandas().set_index("point_id").loc[zoned.index]
    assert (zoned["zone_id"].fillna(-1) == truth["true_zone_id"].fillna(-1)).all()
    assert (zoned["n_zones"] == truth["true_n_zones"]).all()
    zone_stats = tables.read("zone_stats").toPandas()
    assert zone_stats["n_points"].sum() == zoned["zone_id"].notna().sum()
    assert tables.read("h3_cell_stats").toPandas()["n_points"].sum() == len(zoned)

    runs = mlflow.search_runs(search_all_experiments=True, filter_string="tags.task = 'aggregate'",
                              output_format="list")
    run = runs[0]
    artifacts = [a.path for a in mlflow.MlflowClient().list_artifacts(run.info.run_id)]
    assert {"hexagon_map.png", "h3_map.html"} <= set(artifacts)
    # 3,000 points over ~25 km: at most 500 cells in view (map_max_cells) -> resolution 7, coarser than the job's 10.
    assert run.data.metrics["map_resolution"] == 7
    assert 0 < run.data.metrics["map_cells_shown"] == run.data.metrics["map_cells"] <= 500
    page = Path(mlflow.artifacts.download_artifacts(run_id=run.info.run_id, artifact_path="h3_map.html",
                                                    dst_path=str(warehouse.parent))).read_text(encoding="utf-8")
    assert external_resources(page) == []
    assert page.count('"resolution": 7') == run.data.metrics["map_cells_shown"]
    assert f"zones ({len(zone_stats)})" in page and "zone_00001" in page

    # Re-running the join with the other strategy gives the same table (and no duplicates).
    before = tables.read("points_zoned").toPandas().sort_values("point_id").reset_index(drop=True)
    run_job(load_bundle(REPO_ROOT), "geospatial", overrides={**SMALL, "join_strategy": "strtree"},
            only_task="join", warehouse=str(warehouse))
    after = tables.read("points_zoned").toPandas().sort_values("point_id").reset_index(drop=True)
    pd.testing.assert_frame_equal(before, after, check_dtype=False)


def _feature(zone_id: object, geometry: dict | None, name: str) -> dict:
    return {"type": "Feature", "properties": {"zone_id": zone_id, "name": name}, "geometry": geometry}


@pytest.mark.slow
def test_job_on_users_points_csv_and_geojson_zones(spark, warehouse, mlflow_store, tmp_path, monkeypatch) -> None:
    # 2 of the 8 points are bad on purpose: above the default quarantine budget (10%), so raise it for this run.
    monkeypatch.setattr("shared.task.DEFAULT_MAX_QUARANTINE_FRACTION", 0.25)
    square = shapely.box(-73.99, 40.70, -73.97, 40.72)
    holed = shapely.box(-73.96, 40.70, -73.94, 40.72).difference(shapely.box(-73.955, 40.705, -73.945, 40.715))
    bowtie = {"type": "Polygon", "coordinates": [[[-73.93, 40.70], [-73.91, 40.72], [-73.91, 40.70],
                                                  [-73.93, 40.72], [-73.93, 40.70]]]}
    features = [
        _feature(10, json.loads(shapely.to_geojson(square)), "square"),
        _feature(20, json.loads(shapely.to_geojson(holed)), "holed"),
        _feature(30, bowtie, "bow-tie"),
        _feature(40, {"type": "Point", "coordinates": [-73.9, 40.7]}, "not an area"),
        _feature("x", json.loads(shapely.to_geojson(square)), "bad id"),
    ]
    zones_path = tmp_path / "zones.geojson"
    zones_path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    points = pd.DataFrame({
        "point_id": [1, 2, 3, 4, 5, 6, 7, 8],
        "lat": ["40.71", "40.71", "40.71", "40.71", "40.71", "abc", "91", "40.72"],
        "lon": ["-73.98", "-73.95", "-73.942", "-73.927", "-73.80", "-73.98", "-73.98", "-73.98"],
        "value": ["1.5", "2", "3", "4", "5", "6", "7", "8"],
    })
    points_path = tmp_path / "my_points.csv"
    points.to_csv(points_path, index=False)

    overrides = {"points_table": str(points_path), "zones_table": str(zones_path), "resolution": "12"}
    results = {r.task: r.report for r in run_job(load_bundle(REPO_ROOT), "geospatial", overrides=overrides,
                                                 warehouse=str(warehouse))}
    assert results["generate"].rows_out == 0  # users' files are never overwritten
    assert results["index"].rows_quarantined == 2 and results["cover"].rows_quarantined == 2

    tables = _store(spark, warehouse)
    zoned = tables.read("points_zoned").toPandas().set_index("point_id")["zone_id"]
    # 2: inside the hole (no zone); 3: holed zone; 4: repaired bow-tie; 5: outside; 8: on the square's edge.
    assert zoned.fillna(-1).to_dict() == {1: 10, 2: -1, 3: 20, 4: 30, 5: -1, 8: 10}
    reasons = set(tables.read("zones_quarantine").toPandas()["quarantine_reason"])
    assert any("not Polygon or MultiPolygon" in r for r in reasons)
    assert any("zone_id is not a number: x" in r for r in reasons)
