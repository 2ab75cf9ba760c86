"""What the local runner prints per task: counts, and why rows were quarantined without hiding any reason."""

from __future__ import annotations

import io

from shared.reporting import TOP_REASONS, HumanReporter
from shared.task import TaskReport


def printed(reasons: dict[str, int]) -> str:
    stream = io.StringIO()
    report = TaskReport(10, 10 - sum(reasons.values()), sum(reasons.values()), task="prepare",
                        quarantine_reasons=reasons)
    HumanReporter(stream).task_done("job", "prepare", report)
    return stream.getvalue()


def test_the_top_reasons_are_named_and_the_rest_counted() -> None:
    reasons = {"units_sold is not a number": 4, "date is missing": 2, "units_sold must be >= 0": 1,
               "store_id is missing": 1, "duplicate key": 1}
    text = printed(reasons)
    assert "'units_sold is not a number' x4" in text and "'date is missing' x2" in text
    assert TOP_REASONS == 3 and "and 2 more reasons (see the quarantine table)" in text


def test_no_more_note_when_every_reason_is_shown() -> None:
    assert "more reason" not in printed({"a": 1, "b": 1})
