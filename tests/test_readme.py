"""Every ``usecases ...`` command in the README parses against the real CLI and the jobs' real parameters.

Cheap commands (list, params, validate, sync-bundle --check) are also run; ``run`` commands are checked for an
existing job and task and declared parameters (running them is what the end-to-end tests and CI do).
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from shared.bundle import load_bundle
from shared.cli import _parser, main, overrides_per_job

REPO_ROOT = Path(__file__).resolve().parents[1]
FENCE = re.compile(r"```(?:bash|sh|console)?\n(.*?)```", re.DOTALL)
CHEAP = {"list", "params", "validate", "sync-bundle"}


def readme_commands() -> list[list[str]]:
    """The argv (after ``usecases``) of every usecases command in the README's code blocks."""
    commands = []
    for block in FENCE.findall((REPO_ROOT / "README.md").read_text(encoding="utf-8")):
        for line in block.splitlines():
            line = line.split(" #", 1)[0].strip()
            match = re.match(r"^(?:\S*/)?usecases\s+(.*)$", line)
            if match and not line.startswith("#"):
                commands.append(shlex.split(match.group(1)))
    return commands


def test_the_readme_has_usecases_commands() -> None:
    names = {argv[0] for argv in readme_commands() if argv}
    assert {"run", "list", "params", "validate"} <= names


@pytest.mark.parametrize("argv", readme_commands(), ids=lambda a: " ".join(a)[:60])
def test_readme_command_parses(argv: list[str], capsys) -> None:
    args = _parser().parse_args(argv)
    bundle = load_bundle(REPO_ROOT)
    if args.command == "run":
        jobs = sorted(bundle.jobs) if args.job == "all" else [args.job]
        assert set(jobs) <= set(bundle.jobs)
        overrides_per_job(bundle, jobs, args.param)  # raises on an undeclared parameter
        if args.task:
            bundle.jobs[args.job].task(args.task)
    elif args.command in CHEAP and "--bundle" not in argv:
        assert main(["--bundle", str(REPO_ROOT), *argv]) == 0, capsys.readouterr()
