"""Bad input probes for the out_of_stock job, one table row each: (what is wrong, what must happen).

Probes write a user's ``store_item_daily`` CSV (text, the way files arrive) and run the prepare task the way a
bundle task does. Row-level probes each spoil a different row of one file, run once (one Spark job per outcome
kind, not per probe), and each spoiled row must land in quarantine with its own reason, with rows in = rows out +
rows quarantined. Whole-file probes run alone: accepted as they are, or one clear line on stderr with exit code 2
(never a traceback).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from shared.tables import LocalTableStore
from tests.support.entry import one_line_failure
from usecases.out_of_stock import job
from usecases.out_of_stock.generate import DAILY_COLUMNS, simulate_series

INT_COLUMNS = ("units_sold", "on_hand_units", "replenishment_units")


@dataclass(frozen=True)
class Accepted:
    """Nothing is quarantined; ``check`` holds on the prepared table (as pandas)."""

    check: Callable[[pd.DataFrame], bool]


@dataclass(frozen=True)
class Fails:
    """The prepare task exits with code 2 and prints one line containing ``message``."""

    message: str


@dataclass(frozen=True)
class Probe:
    name: str
    edit: Callable[[pd.DataFrame], pd.DataFrame]
    outcome: Accepted | Fails


def _set(column: str, value: str) -> Callable[[pd.DataFrame, int], pd.DataFrame]:
    """Spoil one row: ``column`` of row ``row`` becomes ``value``."""
    def edit(pdf: pd.DataFrame, row: int) -> pd.DataFrame:
        out = pdf.copy()
        out.loc[out.index[row], column] = value
        return out
    return edit


def _duplicate(pdf: pd.DataFrame, row: int) -> pd.DataFrame:
    """Repeat row ``row``: both copies of the store-item-date must go (nothing says which one is right)."""
    return pd.concat([pdf, pdf.iloc[[row]]], ignore_index=True)


def _as_float_text(pdf: pd.DataFrame) -> pd.DataFrame:
    """What pandas writes for an integer column that once held a NaN: ``54.0``."""
    return pdf.assign(**{c: [f"{float(v):.1f}" if v != "" else "" for v in pdf[c]] for c in INT_COLUMNS})


def _zero_padded_ids(pdf: pd.DataFrame) -> pd.DataFrame:
    return pdf.assign(store_id="007", item_id=[f"000{v}" for v in pdf["item_id"]])


# Row-level probes: (name, edit of one row, the reason that row must get, rows quarantined).
ROW_PROBES = [
    ("units 3.7", _set("units_sold", "3.7"), "units_sold is not a whole number: 3.7", 1),
    ("units -0.4", _set("units_sold", "-0.4"), "units_sold is not a whole number: -0.4", 1),
    ("units Infinity", _set("units_sold", "Infinity"), "units_sold is not a whole number: Infinity", 1),
    ("units not a number", _set("units_sold", "lots"), "units_sold is not a number: lots", 1),
    ("negative units", _set("units_sold", "-2"), "units_sold must be >= 0", 1),
    ("negative stock", _set("on_hand_units", "-3"), "on_hand_units must be >= 0 (negative stock)", 1),
    ("date year only", _set("date", "2025"), "date is not a valid date: 2025", 1),
    ("date year-month", _set("date", "2025-06"), "date is not a valid date: 2025-06", 1),
    ("date with garbage", _set("date", "2024-01-01 garbage"), "date is not a valid date: 2024-01-01 garbage", 1),
    ("date that does not exist", _set("date", "2024-02-30"), "date is not a valid date: 2024-02-30", 1),
    ("blank store id", _set("store_id", "  "), "store_id is null", 1),
    ("duplicate store-item-date", _duplicate, "duplicate key (store_id, item_id, date)", 2),
]
# Whole-file probes.
FILE_PROBES = [
    Probe("counts written as 54.0", _as_float_text, Accepted(lambda p: len(p) > 0)),
    Probe("ids with leading zeros", _zero_padded_ids,
          Accepted(lambda p: set(p["store_id"]) == {"007"} and all(i.startswith("000") for i in p["item_id"]))),
    Probe("missing column", lambda p: p.drop(columns=["on_hand_units"]),
          Fails("missing required column 'on_hand_units'")),
    Probe("header only", lambda p: p.iloc[0:0],
          Fails("input store_item_daily: no rows to process (the input is empty or has only a header)")),
    Probe("every row bad", lambda p: p.assign(units_sold="-1"),
          Fails("input store_item_daily: no valid rows left, all 600 rows quarantined: 'units_sold must be >= 0'")),
]


@pytest.fixture(scope="module")
def base_rows() -> pd.DataFrame:
    """A user's daily file as text: 4 store-items x 150 days."""
    frames = [simulate_series(11, 0, item, 150, date(2024, 1, 1)) for item in range(4)]
    daily = pd.concat(frames, ignore_index=True)[list(DAILY_COLUMNS)]
    return daily.astype(str).replace({"None": "", "nan": "", "<NA>": ""})


def _prepare(path: Path, warehouse: Path):  # -> TaskReport
    return job.prepare.run([f"--store_item_daily_table={path}", "--generate_data=false"], warehouse=str(warehouse))


def test_each_bad_row_is_quarantined_with_its_own_reason(base_rows: pd.DataFrame, spark, tmp_path: Path,
                                                         mlflow_store: str) -> None:
    """Row i * 40 + 3 of the file gets probe i's spoiling; every other row is fine."""
    spoiled = base_rows
    rows = {}
    for i, (name, edit, _, _) in enumerate(ROW_PROBES):
        rows[name] = i * 40 + 3
        spoiled = edit(spoiled, rows[name])
    path = tmp_path / "store_item_daily.csv"
    spoiled.to_csv(path, index=False)
    report = _prepare(path, tmp_path / "warehouse")
    tables = LocalTableStore(spark, "main", "ml_use_cases", tmp_path / "warehouse")
    quarantine = tables.read("store_item_daily_quarantine").toPandas()
    prepared = tables.read("oos_prepared").toPandas()
    assert report.rows_in == len(spoiled) == int((~prepared["is_filled"]).sum()) + len(quarantine)
    assert report.rows_quarantined == len(quarantine) == sum(n for *_, n in ROW_PROBES)
    for name, _, reason, n in ROW_PROBES:  # each row has one fault, so its reason is exactly that one
        hits = quarantine["quarantine_reason"] == reason
        assert hits.sum() == n, (name, quarantine["quarantine_reason"].tolist())
    assert sum(report.quarantine_reasons.values()) >= len(quarantine)  # counted into the task's report


@pytest.mark.parametrize("probe", FILE_PROBES, ids=[p.name for p in FILE_PROBES])
def test_whole_file_probe(probe: Probe, base_rows: pd.DataFrame, spark, tmp_path: Path, mlflow_store: str,
                          monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    path = tmp_path / "store_item_daily.csv"
    probe.edit(base_rows).to_csv(path, index=False)
    warehouse = tmp_path / "warehouse"
    outcome = probe.outcome
    if isinstance(outcome, Fails):
        line = one_line_failure(job.prepare, [f"--store_item_daily_table={path}", "--generate_data=false"],
                                warehouse, monkeypatch, capsys)
        assert outcome.message in line, line
        return
    report = _prepare(path, warehouse)
    tables = LocalTableStore(spark, "main", "ml_use_cases", warehouse)
    quarantine = tables.read("store_item_daily_quarantine").toPandas()
    prepared = tables.read("oos_prepared").toPandas()
    assert len(quarantine) == 0, quarantine["quarantine_reason"].tolist()
    assert report.rows_in == len(base_rows) == int((~prepared["is_filled"]).sum())
    assert outcome.check(prepared)
