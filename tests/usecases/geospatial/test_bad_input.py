"""Probe suite: every kind of user mistake in the geospatial inputs, with its expected outcome.

Row-level mistakes are quarantined with a reason and counted (rows in = rows out + rows quarantined); file-level
mistakes stop the task with one clear line (exit code 2), never a traceback and never an empty result that
looks like success. Each table below is (case, input, expected outcome).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest
import shapely

from shared.contracts import REASON
from shared.tables import LocalTableStore
from usecases.geospatial import job

SQUARE = shapely.box(-73.99, 40.70, -73.97, 40.72)
SQUARE_WKT = SQUARE.wkt
SQUARE_JSON = shapely.to_geojson(SQUARE)
GOOD_POINTS = "point_id,lat,lon\nok-1,40.71,-73.98\nok-2,40.705,-73.975\n"

# Points rows: (point_id, lat, lon, ts, value) -> expected quarantine reason (a regex), or None for a valid row.
POINT_ROWS = [
    (("00M", "40.71", "-73.98", "", ""), None),
    (("Ω-ü-1", "40.71", "-73.98", "2026-01-05 10:00:00", "1.5"), None),
    (("007", "-90", "180", "", ""), None),  # the poles and the antimeridian are valid; leading zeros kept
    ((" ", "40.71", "-73.98", "", ""), r"^point_id is null$"),  # blank id text is null
    (("", "40.71", "-73.98", "", ""), r"^point_id is null$"),  # an empty CSV field is null
    (("dup", "40.71", "-73.98", "", ""), r"^duplicate key \(point_id\)$"),
    (("dup", "40.72", "-73.98", "", ""), r"^duplicate key \(point_id\)$"),
    (("bad-lat", "abc", "-73.98", "", ""), r"^lat is not a number: abc$"),
    (("comma-lat", "40,71", "-73.98", "", ""), r"^lat is not a number: 40,71$"),
    (("nan-lat", "NaN", "-73.98", "", ""), r"^lat is not a finite number: NaN$"),
    (("inf-lat", "1e400", "-73.98", "", ""), r"^lat is out of range for double: 1e400$"),
    (("high-lat", "95", "-73.98", "", ""), r"^lat outside \[-90, 90\]$"),
    (("far-lon", "40.71", "-181", "", ""), r"^lon outside \[-180, 180\]$"),
    (("no-lon", "40.71", "", "", ""), r"^lon is null$"),
    (("bad-ts", "40.71", "-73.98", "next tuesday", ""), r"^ts is not a valid timestamp: next tuesday$"),
    (("bad-value", "40.71", "-73.98", "", "lots"), r"^value is not a number: lots$"),
]

# Zones rows: (zone_id, geometry text) -> expected quarantine reason (a regex), or None for a valid zone.
POLE_RING = "POLYGON ((-170 80, -10 80, 10 80, 170 80, -170 80))"
ZONE_ROWS = [
    (("FJI", SQUARE_WKT), None),
    (("11-Sault-au-Récollet", SQUARE_JSON), None),
    (("bow-tie", "POLYGON ((-73.93 40.70, -73.91 40.72, -73.91 40.70, -73.93 40.72, -73.93 40.70))"), None),
    (("collection", "GEOMETRYCOLLECTION (POLYGON ((0 0, 1 0, 1 1, 0 0)), LINESTRING (0 0, 2 2))"), None),
    (("crossing", "POLYGON ((179.9 -16.8, -179.9 -16.8, -179.9 -16.7, 179.9 -16.7, 179.9 -16.8))"), None),
    ((" ", SQUARE_WKT), r"^zone_id is null$"),
    (("twice", SQUARE_WKT), r"^duplicate key \(zone_id\)$"),
    (("twice", SQUARE_JSON), r"^duplicate key \(zone_id\)$"),
    (("no-geometry", None), r"^geometry is null$"),
    (("garbage", "garbage"), r"^geometry is not valid WKT or GeoJSON"),
    (("number", "42"), r"^geometry is not valid WKT or GeoJSON"),
    (("json-array", "[[0, 0], [1, 1]]"), r"^geometry is not valid WKT or GeoJSON"),
    (("bad-geojson", '{"type": "Polygon", "coordinates": "here"}'), r"^geometry is not valid WKT or GeoJSON"),
    (("null-feature", '{"type": "Feature", "geometry": null}'), r"^geometry is not valid WKT or GeoJSON"),
    (("truncated", "POLYGON ((0 0, 1 1, 1"), r"^geometry is not valid WKT or GeoJSON"),
    (("point", "POINT (-73.9 40.7)"), r"^geometry type Point is not Polygon or MultiPolygon$"),
    (("line", "LINESTRING (-74 40.7, -73 40)"), r"^geometry type LineString is not Polygon or MultiPolygon$"),
    (("metres", "POLYGON ((583000 4507000, 584000 4507000, 584000 4508000, 583000 4507000))"),
     r"^coordinates are outside lon"),
    (("infinite", "POLYGON ((-73 inf, -73 40, -72 41, -73 inf))"), r"^geometry has coordinates that are not finite"),
    (("flat", "POLYGON ((-74 40.7, -73.9 40.7, -73.8 40.7, -74 40.7))"), r"^geometry has no area"),
    (("empty", "POLYGON EMPTY"), r"^geometry is empty$"),
    (("pole-ring", POLE_RING), r"^a ring circles a pole"),
    (("too-big", "POLYGON ((-80 30, -70 30, -70 45, -80 45, -80 30))"),
     r"^zone needs about [\d,]+ cells at resolution 9"),
]


def _store(spark, warehouse: Path) -> LocalTableStore:
    return LocalTableStore(spark, "main", "ml_use_cases", warehouse)


def _reasons(spark, warehouse: Path, table: str, key: str) -> dict[str, str]:
    rows = _store(spark, warehouse).read(table).collect()
    out: dict[str, list[str]] = {}
    for row in rows:
        out.setdefault("" if row[key] is None else row[key], []).append(row[REASON])
    return {k: v[0] if len(set(v)) == 1 else "; ".join(v) for k, v in out.items()}


def test_bad_point_rows_are_quarantined_with_their_reason_and_counted(spark, tmp_path, mlflow_store) -> None:
    frame = pd.DataFrame([r for r, _ in POINT_ROWS], columns=["point_id", "lat", "lon", "ts", "value"])
    path = tmp_path / "points.csv"
    frame.to_csv(path, index=False)
    warehouse = tmp_path / "warehouse"
    report = job.index.run([f"--points_table={path}", "--max_quarantine_fraction=1", "--resolution=9"],
                           warehouse=str(warehouse))
    expected_valid = sorted(r[0] for r, reason in POINT_ROWS if reason is None)
    assert report.rows_in == len(POINT_ROWS)
    assert report.rows_in == report.rows_out + report.rows_quarantined
    assert report.rows_out == len(expected_valid)
    indexed = _store(spark, warehouse).read("points_indexed").toPandas()
    assert sorted(indexed["point_id"]) == expected_valid
    reasons = _reasons(spark, warehouse, "points_quarantine", "point_id")
    for (point_id, *_), pattern in POINT_ROWS:
        if pattern is not None:
            assert re.search(pattern, reasons[point_id]), (point_id, reasons[point_id])


def test_bad_zone_rows_are_quarantined_with_their_reason_and_counted(spark, tmp_path, mlflow_store) -> None:
    frame = pd.DataFrame([(z, f"name {i}", g) for i, ((z, g), _) in enumerate(ZONE_ROWS)],
                         columns=["zone_id", "name", "geometry"])
    path = tmp_path / "zones.parquet"
    frame.to_parquet(path)
    warehouse = tmp_path / "warehouse"
    report = job.cover.run([f"--zones_table={path}", "--max_quarantine_fraction=1", "--resolution=9"],
                           warehouse=str(warehouse))
    expected_valid = sorted(z for (z, _), reason in ZONE_ROWS if reason is None)
    assert report.rows_in == len(ZONE_ROWS)
    assert report.rows_in == report.rows_out + report.rows_quarantined
    clean = _store(spark, warehouse).read("zones_clean").toPandas().set_index("zone_id")
    assert sorted(clean.index) == expected_valid
    assert clean.loc["bow-tie", "repaired"] and clean.loc["collection", "repaired"]
    assert clean.loc["crossing", "split_at_antimeridian"] and clean.loc["crossing", "n_parts"] == 2
    reasons = _reasons(spark, warehouse, "zones_quarantine", "zone_id")
    for (zone_id, _), pattern in ZONE_ROWS:
        if pattern is not None:
            assert re.search(pattern, reasons[zone_id]), (zone_id, reasons[zone_id])


def _feature_collection(*features: object) -> str:
    return json.dumps({"type": "FeatureCollection", "features": list(features)}, ensure_ascii=False)


def _feature(zone_id: object, geometry: str | None) -> dict:
    return {"type": "Feature", "properties": {"zone_id": zone_id},
            "geometry": json.loads(geometry) if geometry else None}


# Whole-file mistakes: (case, task, file name, file content (str or bytes), extra parameters, expected line regex).
FILE_CASES = [
    ("points file missing", "index", None, None, [], r"file .*missing\.csv does not exist"),
    ("points header only", "index", "points.csv", "point_id,lat,lon\n", [], r"input points: no rows to process"),
    ("points empty file", "index", "points.csv", "", [], r"missing required column 'point_id'"),
    ("points without lon", "index", "points.csv", "point_id,lat\n1,40.7\n", [], r"missing required column 'lon'"),
    ("points all garbage", "index", "points.csv", "point_id,lat,lon\n1,north,west\n2,south,east\n", [],
     r"input points: no valid rows left, all 2 rows quarantined: 'lat is not a number' x 2"),
    ("points over the budget", "index", "points.csv",
     "point_id,lat,lon\n1,40.7,-73.9\n2,40.7,-73.9\n3,95,-73.9\n", [],
     r"input points: 33.3% of 3 rows quarantined \(limit 10%\): 'lat outside \[-90, 90\]' x 1"),
    ("zones file missing", "cover", None, None, [], r"file .*missing\.csv does not exist"),
    ("zones geojson is a Feature", "cover", "zones.geojson", json.dumps(_feature("a", SQUARE_JSON)), [],
     r"expected a GeoJSON FeatureCollection, found 'Feature'"),
    ("zones geojson is a list", "cover", "zones.geojson", json.dumps([_feature("a", SQUARE_JSON)]), [],
     r"expected a GeoJSON FeatureCollection, found 'a JSON list'"),
    ("zones geojson not JSON", "cover", "zones.geojson", '{"type": "FeatureCollection", "features": [', [],
     r"zones file .*: not valid JSON \(Expecting value at line 1"),
    ("zones geojson features not a list", "cover", "zones.geojson",
     '{"type": "FeatureCollection", "features": {"a": 1}}', [], r"'features' is dict, not a list"),
    ("zones geojson feature not an object", "cover", "zones.geojson", _feature_collection(1, 2), [],
     r"feature 1 is a JSON int, not a Feature object"),
    ("zones geojson empty", "cover", "zones.geojson", _feature_collection(), [], r"input zones: no rows to process"),
    ("zones geojson not UTF-8", "cover", "zones.geojson",
     _feature_collection(_feature("Montréal", SQUARE_JSON)).encode("latin-1"), [], r"is not UTF-8 text"),
    ("zones csv header only", "cover", "zones.csv", "zone_id,name,geometry\n", [], r"input zones: no rows to process"),
    ("zones csv without geometry", "cover", "zones.csv", "zone_id,name\nFJI,Fiji\n", [],
     r"missing required column 'geometry'"),
    ("zones geometry all garbage", "cover", "zones.csv", "zone_id,geometry\nA,hello\nB,world\nC,42\n", [],
     r"input zones: no valid rows left, all 3 rows quarantined: 'geometry is not valid WKT or GeoJSON' x 3"),
    ("zones geometry mostly garbage", "cover", "zones.csv",
     f'zone_id,geometry\nA,"{SQUARE_WKT}"\nB,world\n', [],
     r"input zones: 50.0% of 2 rows quarantined \(limit 10%\): 'geometry is not valid WKT or GeoJSON' x 1"),
    ("join before index", "join", None, None, [], r"does not exist"),
]


@pytest.mark.parametrize(("case", "task", "file_name", "content", "extra", "expected"), FILE_CASES,
                         ids=[c[0] for c in FILE_CASES])
def test_a_bad_file_stops_the_task_with_one_clear_line(case: str, task: str, file_name: str | None,
                                                        content: str | bytes | None, extra: list[str], expected: str,
                                                        spark, tmp_path, mlflow_store, monkeypatch, capsys) -> None:
    parameter = {"index": "points_table", "cover": "zones_table", "join": "points_table"}[task]
    path = tmp_path / (file_name or "missing.csv")
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content, encoding="utf-8")
    monkeypatch.setenv("USECASES_WAREHOUSE", str(tmp_path / "warehouse"))
    monkeypatch.setenv("USECASES_PROGRESS", "off")  # no Spark progress lines on stderr beside the error
    monkeypatch.setattr("sys.argv", [f"geospatial-{task}", f"--{parameter}={path}", *extra])
    with pytest.raises(SystemExit) as exit_info:
        getattr(job, task)()
    lines = capsys.readouterr().err.strip().splitlines()
    assert exit_info.value.code == 2, lines
    assert len(lines) == 1 and re.search(expected, lines[0]), lines
    assert "Traceback" not in lines[0]


def test_a_geojson_zones_file_with_a_byte_order_mark_is_read(spark, tmp_path, mlflow_store) -> None:
    path = tmp_path / "zones.geojson"
    path.write_bytes(b"\xef\xbb\xbf" + _feature_collection(_feature("Montréal", SQUARE_JSON)).encode("utf-8"))
    report = job.cover.run([f"--zones_table={path}", "--resolution=9"], warehouse=str(tmp_path / "warehouse"))
    assert (report.rows_in, report.rows_out, report.rows_quarantined) == (1, 1, 0)


def test_a_semicolon_separated_points_file_is_read(spark, tmp_path, mlflow_store) -> None:
    path = tmp_path / "points.csv"
    path.write_text("point_id;lat;lon\n00123;-16.79;179.9\nFJI-2;-16.79;-179.9\n", encoding="utf-8")
    report = job.index.run([f"--points_table={path}", "--resolution=9"], warehouse=str(tmp_path / "warehouse"))
    assert (report.rows_in, report.rows_out, report.rows_quarantined) == (2, 2, 0)
    indexed = _store(spark, tmp_path / "warehouse").read("points_indexed").toPandas()
    assert sorted(indexed["point_id"]) == ["00123", "FJI-2"]  # leading zeros kept


def test_geojson_geometries_inside_a_csv_are_read(spark, tmp_path, mlflow_store) -> None:
    path = tmp_path / "zones.csv"
    pd.DataFrame({"zone_id": ["FJI"], "geometry": [SQUARE_JSON]}).to_csv(path, index=False)
    report = job.cover.run([f"--zones_table={path}", "--resolution=9"], warehouse=str(tmp_path / "warehouse"))
    assert (report.rows_in, report.rows_out, report.rows_quarantined) == (1, 1, 0)


def test_generate_never_puts_synthetic_zones_or_truth_beside_a_users_points(spark, tmp_path, mlflow_store,
                                                                             monkeypatch, capsys) -> None:
    warehouse = tmp_path / "warehouse"
    store = _store(spark, warehouse)
    users = spark.createDataFrame([("FJI-1", -17.7, 178.0), ("00M-2", 40.7, -73.9)],
                                  "point_id string, lat double, lon double")
    store.write(users, "points")
    report = job.generate.run(["--generate_data=true", "--n_points=500", "--n_zones=9"], warehouse=str(warehouse))
    assert report.rows_out == 0
    assert not store.exists("zones") and not store.exists("points_truth")
    assert sorted(r["point_id"] for r in store.read("points").collect()) == ["00M-2", "FJI-1"]
    # The next task says what is missing, in one line, instead of joining the user's points to anything synthetic.
    monkeypatch.setenv("USECASES_WAREHOUSE", str(warehouse))
    monkeypatch.setenv("USECASES_PROGRESS", "off")
    monkeypatch.setattr("sys.argv", ["geospatial-cover"])
    with pytest.raises(SystemExit) as exit_info:
        job.cover()
    lines = capsys.readouterr().err.strip().splitlines()
    assert exit_info.value.code == 2 and len(lines) == 1 and "zones" in lines[0] and "does not exist" in lines[0]
