"""The ``usecases`` command: list, validate and locally run the bundle's jobs; browse their tables and runs."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path

from shared import browse
from shared.bundle import BundleError, load_bundle, task_order
from shared.runner import TaskFailed, parse_overrides, run_job
from shared.task import USER_ERRORS

SCHEMA_ENV = "DATABRICKS_BUNDLE_SCHEMA"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="usecases", description=__doc__)
    parser.add_argument("--bundle", default=".", help="bundle root holding databricks.yml (default: .)")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="jobs and their tasks, from resources/*.yml")
    validate = sub.add_parser("validate", help="offline checks of databricks.yml and resources/ (no CLI needed)")
    validate.add_argument("--schema", default=os.environ.get(SCHEMA_ENV),
                          help=f"JSON schema from 'databricks bundle schema' (default: ${SCHEMA_ENV})")
    run = sub.add_parser("run", help="run a job (or 'all') locally")
    run.add_argument("job", help="job key, or 'all'")
    run.add_argument("--param", action="append", default=[], metavar="NAME=VALUE", help="override a job parameter")
    run.add_argument("--task", help="run only this task")
    run.add_argument("--warehouse", help="local table folder (default: $USECASES_WAREHOUSE or .local/warehouse)")
    run.add_argument("--target", default="local", help="bundle target whose variables to use (default: local)")
    browse.add_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if args.command in browse.COMMANDS:
        return browse.run(args)
    try:
        bundle = load_bundle(Path(args.bundle))
        if args.command == "list":
            for key, job in sorted(bundle.jobs.items()):
                print(f"{key}  ({job.name})")
                for task in task_order(job):
                    after = f"  after {', '.join(task.depends_on)}" if task.depends_on else ""
                    print(f"  - {task.key}: {task.entry_point}{after}")
            return 0
        if args.command == "validate":
            from shared.bundle_check import check_bundle

            errors = check_bundle(bundle.root, args.schema)
            for error in errors:
                print(f"ERROR {error}")
            checked = "typed models, entry points, parameters" + (", JSON schema" if args.schema else "")
            print(f"{len(bundle.jobs)} job(s) checked ({checked}): {len(errors)} error(s)")
            return 1 if errors else 0
        jobs = sorted(bundle.jobs) if args.job == "all" else [args.job]
        if args.job == "all" and (args.task or args.param):
            raise BundleError("--task and --param need a single job, not 'all'")
        overrides = parse_overrides(args.param)
        for key in jobs:
            print(f"job {key}")
            run_job(bundle, key, overrides, args.task, args.warehouse, args.target)
        return 0
    except TaskFailed as exc:
        if not isinstance(exc.cause, USER_ERRORS):
            traceback.print_exception(exc.cause, file=sys.stderr)
        print(f"usecases: {exc}", file=sys.stderr)
        return 1
    except (BundleError, *USER_ERRORS) as exc:
        print(f"usecases: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
