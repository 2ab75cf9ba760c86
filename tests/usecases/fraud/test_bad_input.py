"""Bad input probes for the fraud job, one table row each: (what is wrong, what must happen).

Every probe writes a user's CSV (as text, the way files arrive), runs the task the way a bundle task does, and
expects either rows quarantined with a reason (and rows in = rows out + rows quarantined) or one clear line on
stderr with exit code 2 (never a traceback, never a plan dump, never a model of one class).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pytest

from shared.tables import LocalTableStore
from tests.support.entry import one_line_failure
from usecases.fraud import job
from usecases.fraud.generate import generate_transactions

ROWS = 400


@dataclass(frozen=True)
class Quarantined:
    """``rows`` rows of ``table`` go to ``<table>_quarantine``, each reason containing ``reason``."""

    reason: str
    rows: int = 1
    table: str = "transactions"


@dataclass(frozen=True)
class Fails:
    """The ``task`` exits with code 2 and prints one line containing ``message``."""

    message: str
    task: str = "features"


@dataclass(frozen=True)
class Probe:
    name: str
    edit: Callable[[pd.DataFrame], pd.DataFrame]
    outcome: Quarantined | Fails
    params: dict[str, str] = field(default_factory=dict)
    rules: str | None = None  # a label_rules_file's text
    reviews: pd.DataFrame | None = None  # a fraud_review_labels CSV


def _set(column: str, value: str, row: int = 0) -> Callable[[pd.DataFrame], pd.DataFrame]:
    def edit(pdf: pd.DataFrame) -> pd.DataFrame:
        out = pdf.copy()
        out.loc[row, column] = value
        return out
    return edit


def _with_risk(value: str | None) -> Callable[[pd.DataFrame], pd.DataFrame]:
    def edit(pdf: pd.DataFrame) -> pd.DataFrame:
        out = pdf.assign(risk=[str(i % 7) for i in range(len(pdf))])
        if value is not None:
            out.loc[0, "risk"] = value
        return out
    return edit


RULE_HEADER = "-- rule: big_transfer\n"
PROBES = [
    Probe("amount Infinity", _set("amount", "Infinity"), Quarantined("amount is not a finite number")),
    Probe("amount -Infinity", _set("amount", "-Infinity"), Quarantined("amount is not a finite number")),
    Probe("balance Infinity", _set("old_balance_orig", "Infinity"),
          Quarantined("old_balance_orig is not a finite number")),
    Probe("balance NaN", _set("new_balance_dest", "NaN"), Quarantined("new_balance_dest is not a finite number")),
    Probe("amount beyond float32", _set("amount", "1e39"),
          Quarantined("amount must be a finite number within float32")),
    Probe("balance change overflows float32",
          lambda p: _set("new_balance_orig", "3e38")(_set("old_balance_orig", "-3e38")(p)),
          Quarantined("new_balance_orig - old_balance_orig must be within float32 range")),
    Probe("amount not a number", _set("amount", "12,5"), Quarantined("amount is not a number")),
    Probe("amount missing", _set("amount", ""), Quarantined("amount is null")),
    Probe("unknown type", _set("type", "WIRE"), Quarantined("type must be one of")),
    Probe("negative step", _set("step", "-1"), Quarantined("step must be >= 0")),
    Probe("label outside 0/1", lambda p: p.assign(label="0").pipe(_set("label", "2")),
          Quarantined("label must be 0 or 1")),
    Probe("duplicate id", _set("transaction_id", "1", row=0),  # row 1 already has id 1: both copies go
          Quarantined("duplicate key (transaction_id)", rows=2)),
    # Ids are text (leading zeros kept): a blank id is quarantined, a text id is a valid id.
    Probe("blank id", _set("transaction_id", " "), Quarantined("transaction_id is null")),
    Probe("extra feature Infinity", _with_risk("Infinity"), Quarantined("risk is not a finite number"),
          params={"extra_features": "risk"}),
    Probe("extra feature not numeric", _with_risk("high"), Quarantined("risk is not a number"),
          params={"extra_features": "risk"}),
    Probe("review label not 0/1", lambda p: p,
          Quarantined("label must be 0 or 1", table="fraud_review_labels"),
          params={"max_quarantine_fraction": "0.5"},  # 1 of the 2 reviews is bad: above the default 10% budget
          reviews=pd.DataFrame({"transaction_id": ["5", "abc"], "label": ["1", "7"], "reviewer": ["a", "b"],
                                "reviewed_at": ["2026-01-05 09:00:00", "2026-01-05 09:00:00"]})),
    Probe("reviews mostly bad", lambda p: p,
          Fails("input fraud_review_labels: 50.0% of 2 rows quarantined (limit 10%)"),
          reviews=pd.DataFrame({"transaction_id": ["5", "6"], "label": ["1", "7"], "reviewer": ["a", "b"],
                                "reviewed_at": ["2026-01-05 09:00:00", "2026-01-05 09:00:00"]})),
    Probe("missing column", lambda p: p.drop(columns=["amount"]), Fails("missing required column 'amount'")),
    Probe("extra feature column absent", lambda p: p, Fails("missing required column 'risk'"),
          params={"extra_features": "risk"}),
    Probe("rules file names a missing column", lambda p: p,
          Fails("rule 'big_transfer': column `no_such_column` does not exist"),
          rules=RULE_HEADER + "type = 'TRANSFER' AND no_such_column > 5;\n"),
    Probe("rules file rule is not a condition", lambda p: p, Fails("rule 'big_transfer' must be a boolean condition"),
          rules=RULE_HEADER + "amount * 2;\n"),
    Probe("rules file syntax error", lambda p: p, Fails("rule 'big_transfer': "),
          rules=RULE_HEADER + "amount >> > 5;\n"),
    Probe("header only", lambda p: p.iloc[0:0],
          Fails("input transactions: no rows to process (the input is empty or has only a header)")),
    Probe("one class only", lambda p: p.assign(label="0"), Fails("0 fraud", task="train")),
]


@pytest.fixture(scope="module")
def base_rows(spark) -> pd.DataFrame:
    """A user's transactions as text: ids 0..ROWS-1, PaySim-shaped."""
    return generate_transactions(spark, ROWS, seed=3).toPandas().astype(str).replace({"None": "", "nan": ""})


def _entry(task: str):  # a TaskEntryPoint
    return getattr(job, task)


@pytest.mark.parametrize("probe", PROBES, ids=[p.name for p in PROBES])
def test_bad_input(probe: Probe, base_rows: pd.DataFrame, spark, tmp_path: Path, mlflow_store: str,
                   monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    path = tmp_path / "transactions.csv"
    probe.edit(base_rows).to_csv(path, index=False)
    warehouse = tmp_path / "warehouse"
    argv = [f"--transactions_table={path}", *(f"--{k}={v}" for k, v in probe.params.items())]
    if probe.rules is not None:
        (tmp_path / "rules.sql").write_text(probe.rules)
        argv.append(f"--label_rules_file={tmp_path / 'rules.sql'}")
    if probe.reviews is not None:
        probe.reviews.to_csv(tmp_path / "reviews.csv", index=False)
        argv.append(f"--review_labels_table={tmp_path / 'reviews.csv'}")
    outcome = probe.outcome
    tasks = ["features"] if isinstance(outcome, Quarantined) or outcome.task == "features" else ["features", "train"]
    for task in tasks:
        if isinstance(outcome, Fails) and task == outcome.task:
            line = one_line_failure(_entry(task), argv, warehouse, monkeypatch, capsys)
            assert outcome.message in line, line
            return
        report = _entry(task).run(argv, warehouse=str(warehouse))
        assert report.rows_in == report.rows_out + report.rows_quarantined  # row accounting
    tables = LocalTableStore(spark, "main", "ml_use_cases", warehouse)
    quarantine = tables.read(f"{outcome.table}_quarantine").toPandas()
    assert len(quarantine) == outcome.rows, quarantine
    reasons = quarantine["quarantine_reason"]
    assert reasons.str.contains(outcome.reason, regex=False).all(), reasons.tolist()
    if outcome.table == "transactions":
        assert report.rows_in == ROWS and report.rows_quarantined == outcome.rows
        assert tables.read("fraud_features").count() == ROWS - outcome.rows
