"""Compare the tables of two local runs (classic Spark vs Spark Connect) table by table.

``python -m tests.support.compare_runs WAREHOUSE_A WAREHOUSE_B`` reads every table both warehouses hold (through
the core's table store, current versions only) and reports, per table: the row counts, the columns, and the
values. Values must be equal, except:

- columns that record *when* or *which run* (write times, run ids, model URIs, durations): not compared;
- floating-point columns: equal within ``--rtol`` (default 1e-6, for Spark's summation order) and, for tables
  produced by model training that is not bitwise reproducible across processes (TRAINED), within
  ``TRAINED_RTOL``; labels predicted by such models may differ on at most ``TRAINED_LABEL_SHARE`` of rows.

Exit status 0 when every table matches; the report says what differs otherwise.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

# Columns that name the moment or the run, not the result.
VOLATILE = {"trained_at", "compiled_at", "run_id", "model_uri", "elapsed_s", "fit_seconds", "predict_seconds",
            "model_version", "training_run_id", "written_at", "job_run_id",
            "features_version"}  # a table version id: unique per write
# Tables whose numbers come from training that is not bitwise reproducible between two Spark sessions
# (multi-process PyTorch on CPU threads): compared with a looser tolerance.
TRAINED = {"image_predictions"}
TRAINED_RTOL = 1e-3
TRAINED_LABEL_SHARE = 0.02
MAX_ROWS = 2_000_000  # the runs compared are small; refuse to pull anything bigger into pandas


def _tables(warehouse: Path) -> dict[str, Path]:
    """table name -> its current version folder, for every table under every catalog/schema."""
    found = {}
    for pointer in warehouse.glob("*/*/*/_CURRENT"):
        found[pointer.parent.name] = pointer.parent / pointer.read_text().strip()
    return found


def _read(path: Path, home: Path) -> pd.DataFrame:
    """One table version; file paths inside the run's own folder are made relative to it, to compare runs."""
    frame = pd.read_parquet(path)
    if len(frame) > MAX_ROWS:
        raise SystemExit(f"{path}: {len(frame):,} rows is more than this tool compares ({MAX_ROWS:,})")
    for column in frame.columns:
        if frame[column].dtype == object and frame[column].map(lambda v: isinstance(v, str)).any():
            frame[column] = frame[column].map(lambda v: v.replace(str(home), "<run>") if isinstance(v, str) else v)
    return frame


def _normalise(frame: pd.DataFrame, keep: list[str]) -> pd.DataFrame:
    out = frame[keep].copy()
    for column in keep:
        if out[column].map(lambda v: isinstance(v, (list, np.ndarray, dict, bytes))).any():
            out[column] = out[column].map(repr)
    order = [c for c in keep if not pd.api.types.is_float_dtype(out[c])] or keep
    return out.sort_values(order, kind="mergesort").reset_index(drop=True)


def compare_table(name: str, a: pd.DataFrame, b: pd.DataFrame, rtol: float) -> list[str]:
    """What differs between two versions of one table (empty when they match)."""
    problems = []
    if list(a.columns) != list(b.columns):
        return [f"{name}: columns differ: {list(a.columns)} vs {list(b.columns)}"]
    if len(a) != len(b):
        return [f"{name}: {len(a):,} rows vs {len(b):,}"]
    keep = [c for c in a.columns if c not in VOLATILE]
    a, b = _normalise(a, keep), _normalise(b, keep)
    tolerance = TRAINED_RTOL if name in TRAINED else rtol
    for column in keep:
        left, right = a[column], b[column]
        if pd.api.types.is_float_dtype(left) and pd.api.types.is_float_dtype(right):
            close = np.isclose(left.to_numpy(float), right.to_numpy(float), rtol=tolerance, atol=tolerance,
                               equal_nan=True)
            if not close.all():
                problems.append(f"{name}.{column}: {int((~close).sum())} of {len(close)} values differ beyond "
                                f"rtol {tolerance}")
            continue
        same = (left.astype(str) == right.astype(str)) | (left.isna() & right.isna())
        allowed = TRAINED_LABEL_SHARE * len(same) if name in TRAINED else 0
        if (~same).sum() > allowed:
            problems.append(f"{name}.{column}: {int((~same).sum())} of {len(same)} values differ")
    return problems


def compare_warehouses(first: Path, second: Path, rtol: float = 1e-6) -> tuple[list[str], list[str]]:
    """(tables compared, problems) for two local warehouses."""
    a, b = _tables(first), _tables(second)
    problems = [f"{t}: only in {first}" for t in sorted(set(a) - set(b))]
    problems += [f"{t}: only in {second}" for t in sorted(set(b) - set(a))]
    shared = sorted(set(a) & set(b))
    for table in shared:
        problems += compare_table(table, _read(a[table], first.parent), _read(b[table], second.parent), rtol)
    return shared, problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("first", type=Path)
    parser.add_argument("second", type=Path)
    parser.add_argument("--rtol", type=float, default=1e-6)
    args = parser.parse_args(argv)
    tables, problems = compare_warehouses(args.first, args.second, args.rtol)
    for problem in problems:
        print(f"DIFF {problem}")
    verdict = "identical within tolerance" if not problems else f"{len(problems)} differences"
    print(f"{len(tables)} tables compared: {verdict}")
    return 1 if problems or not tables else 0


if __name__ == "__main__":
    sys.exit(main())
