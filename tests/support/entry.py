"""Call a task entry point the way a Databricks wheel task does and expect one clear error line."""

from __future__ import annotations

from pathlib import Path

import pytest


def one_line_failure(entry, argv: list[str], warehouse: Path, monkeypatch: pytest.MonkeyPatch,  # a TaskEntryPoint
                     capsys: pytest.CaptureFixture[str]) -> str:
    """Run ``entry()`` with ``argv`` in ``sys.argv``; assert exit code 2 and one stderr line; return that line."""
    monkeypatch.setenv("USECASES_WAREHOUSE", str(warehouse))
    monkeypatch.setattr("sys.argv", [entry.prog, *argv])
    with pytest.raises(SystemExit) as exit_info:
        entry()
    lines = capsys.readouterr().err.strip().splitlines()
    assert exit_info.value.code == 2
    assert len(lines) == 1 and len(lines[0]) < 1000, lines
    return lines[0]
