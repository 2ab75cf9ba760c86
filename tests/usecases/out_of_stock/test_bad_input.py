"""Bad input probes for the out_of_stock job, one table row each: (what is wrong, what must happen).

Every probe writes a user's ``store_item_daily`` CSV (text, the way files arrive), runs the prepare task the way a
bundle task does, and expects either rows quarantined with a reason (rows in = rows out + rows quarantined, with
calendar filling accounted) or one clear line on stderr with exit code 2 (never a traceback).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from shared.tables import LocalTableStore
from usecases.out_of_stock import job
from usecases.out_of_stock.generate import DAILY_COLUMNS, simulate_series

INT_COLUMNS = ("units_sold", "on_hand_units", "replenishment_units")


@dataclass(frozen=True)
class Quarantined:
    """``rows`` rows go to ``store_item_daily_quarantine``, each reason containing ``reason``."""

    reason: str
    rows: int = 1


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
    outcome: Quarantined | Accepted | Fails


def _set(column: str, value: str, row: int = 5) -> Callable[[pd.DataFrame], pd.DataFrame]:
    def edit(pdf: pd.DataFrame) -> pd.DataFrame:
        out = pdf.copy()
        out.loc[out.index[row], column] = value
        return out
    return edit


def _as_float_text(pdf: pd.DataFrame) -> pd.DataFrame:
    """What pandas writes for an integer column that once held a NaN: ``54.0``."""
    return pdf.assign(**{c: [f"{float(v):.1f}" if v != "" else "" for v in pdf[c]] for c in INT_COLUMNS})


def _zero_padded_ids(pdf: pd.DataFrame) -> pd.DataFrame:
    return pdf.assign(store_id="007", item_id=[f"000{v}" for v in pdf["item_id"]])


PROBES = [
    Probe("counts written as 54.0", _as_float_text, Accepted(lambda p: len(p) > 0)),
    Probe("ids with leading zeros", _zero_padded_ids,
          Accepted(lambda p: set(p["store_id"]) == {"007"} and all(i.startswith("000") for i in p["item_id"]))),
    Probe("units 3.7", _set("units_sold", "3.7"), Quarantined("units_sold is not a whole number: 3.7")),
    Probe("units -0.4", _set("units_sold", "-0.4"), Quarantined("units_sold is not a whole number: -0.4")),
    Probe("units Infinity", _set("units_sold", "Infinity"), Quarantined("units_sold is not a whole number")),
    Probe("units not a number", _set("units_sold", "lots"), Quarantined("units_sold is not a number: lots")),
    Probe("negative units", _set("units_sold", "-2"), Quarantined("units_sold must be >= 0")),
    Probe("negative stock", _set("on_hand_units", "-3"), Quarantined("on_hand_units must be >= 0 (negative stock)")),
    Probe("date year only", _set("date", "2025"), Quarantined("date is not a valid date: 2025")),
    Probe("date year-month", _set("date", "2025-06"), Quarantined("date is not a valid date: 2025-06")),
    Probe("date with garbage", _set("date", "2024-01-01 garbage"), Quarantined("date is not a valid date")),
    Probe("date that does not exist", _set("date", "2024-02-30"), Quarantined("date is not a valid date")),
    Probe("blank store id", _set("store_id", "  "), Quarantined("store_id is null")),
    Probe("duplicate store-item-date", lambda p: pd.concat([p, p.iloc[[7]]], ignore_index=True),
          Quarantined("duplicate key (store_id, item_id, date)", rows=2)),
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


@pytest.mark.parametrize("probe", PROBES, ids=[p.name for p in PROBES])
def test_bad_input(probe: Probe, base_rows: pd.DataFrame, spark, tmp_path: Path, mlflow_store: str,
                   monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    path = tmp_path / "store_item_daily.csv"
    probe.edit(base_rows).to_csv(path, index=False)
    warehouse = tmp_path / "warehouse"
    argv = [f"--store_item_daily_table={path}", "--generate_data=false"]
    outcome = probe.outcome
    if isinstance(outcome, Fails):
        monkeypatch.setenv("USECASES_WAREHOUSE", str(warehouse))
        monkeypatch.setattr("sys.argv", ["out_of_stock-prepare", *argv])
        with pytest.raises(SystemExit) as exit_info:
            job.prepare()
        lines = capsys.readouterr().err.strip().splitlines()
        assert exit_info.value.code == 2
        assert len(lines) == 1 and outcome.message in lines[0], lines
        return
    report = job.prepare.run(argv, warehouse=str(warehouse))
    tables = LocalTableStore(spark, "main", "ml_use_cases", warehouse)
    quarantine = tables.read("store_item_daily_quarantine").toPandas()
    prepared = tables.read("oos_prepared").toPandas()
    observed = int((~prepared["is_filled"]).sum())
    # Row accounting: every input row is either an observed prepared day or quarantined.
    assert report.rows_in == len(probe.edit(base_rows)) == observed + len(quarantine)
    assert report.rows_quarantined == len(quarantine)
    if isinstance(outcome, Accepted):
        assert len(quarantine) == 0, quarantine["quarantine_reason"].tolist()
        assert outcome.check(prepared)
        return
    reasons = quarantine["quarantine_reason"]
    assert len(quarantine) == outcome.rows, reasons.tolist()
    assert reasons.str.contains(outcome.reason, regex=False).all(), reasons.tolist()
    assert report.quarantine_reasons  # counted into the task's report (the run's human line shows them)
