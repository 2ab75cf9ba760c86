"""The ``usecases`` command: list, validate, describe, sync and locally run the bundle's jobs; browse their
tables and runs."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path

from shared import browse
from shared.bundle import Bundle, BundleError, load_bundle, task_order
from shared.runner import TaskFailed, check_overrides, parse_overrides, run_job
from shared.task import USER_ERRORS, VERBOSE_ENV

SCHEMA_ENV = "DATABRICKS_BUNDLE_SCHEMA"
LOCAL_TARGET = "local"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="usecases", description=__doc__)
    parser.add_argument("--bundle", default=".", help="bundle root holding databricks.yml (default: .)")
    parser.add_argument("-v", "--verbose", action="store_true", help="show logs, and tracebacks of errors")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="jobs and their tasks, from resources/*.yml")
    params = sub.add_parser("params", help="a job's parameters: meaning, type and default")
    params.add_argument("job", help="job key")
    validate = sub.add_parser("validate", help="offline checks of databricks.yml and resources/ (no CLI needed)")
    validate.add_argument("--schema", default=os.environ.get(SCHEMA_ENV),
                          help=f"JSON schema from 'databricks bundle schema' (default: ${SCHEMA_ENV})")
    sync = sub.add_parser("sync-bundle", help="write each job's parameters list from its config dataclass")
    sync.add_argument("--check", action="store_true", help="only report stale files (exit 1 if any)")
    run = sub.add_parser("run", help="run a job (or 'all') locally")
    run.add_argument("job", help="job key, or 'all'")
    run.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                     help="set a job parameter, as 'databricks bundle run --params' does; with 'all', "
                          "JOB.NAME=VALUE sets it for one job and NAME=VALUE for every job that declares it")
    run.add_argument("--task", help="run only this task")
    run.add_argument("--warehouse", help="local table folder (default: $USECASES_WAREHOUSE or .local/warehouse)")
    run.add_argument("--target", default=LOCAL_TARGET,
                     help="bundle target whose variables to use (default: local = the variables' defaults)")
    run.add_argument("--json", action="store_true",
                     help="print one JSON object per task and per job on stdout instead of human lines")
    run.add_argument("--connect", action="store_true",
                     help="run on a local Spark Connect server with serverless limits, as on Databricks serverless "
                          "(same as USECASES_SPARK_REMOTE=local[2])")
    browse.add_commands(sub)
    return parser


def overrides_per_job(bundle: Bundle, jobs: Sequence[str], pairs: Sequence[str]) -> dict[str, dict[str, str]]:
    """Split ``--param`` values among jobs: ``JOB.NAME=V`` for one job, ``NAME=V`` for each job declaring NAME."""
    raw = parse_overrides(pairs)
    per_job: dict[str, dict[str, str]] = {key: {} for key in jobs}
    for name, value in raw.items():
        job, dot, param = name.partition(".")
        if dot and job in bundle.jobs:
            if job not in per_job:
                raise BundleError(f"--param {name}: job {job!r} is not being run")
            per_job[job][param] = value
            continue
        takers = [key for key in jobs if name in bundle.jobs[key].parameter_names]
        if len(jobs) == 1:
            takers = list(jobs)  # one job: check_overrides names the declared parameters
        if not takers:
            raise BundleError(f"no job being run declares parameter {name!r}; see 'usecases params <job>'")
        for key in takers:
            per_job[key][name] = value
    for key, overrides in per_job.items():
        check_overrides(bundle.jobs[key], overrides)
    return per_job


def check_target(bundle: Bundle, target: str) -> None:
    if target != LOCAL_TARGET and target not in bundle.targets:
        raise BundleError(f"no target {target!r}; targets: {', '.join([LOCAL_TARGET, *sorted(bundle.targets)])}")


def _print_params(bundle: Bundle, job_key: str) -> None:
    from shared.bundle_sync import job_config_class
    from shared.config import describe

    if job_key not in bundle.jobs:
        raise BundleError(f"no job {job_key!r}; jobs: {', '.join(sorted(bundle.jobs))}")
    config_cls = job_config_class(bundle, bundle.jobs[job_key])
    print(f"{job_key}: {(config_cls.__doc__ or '').strip().splitlines()[0]}")
    for info in describe(config_cls):
        default = info.default if info.default else "''"
        deploy = f"; on Databricks {info.bundle_default(job_key)}" if info.deploy else ""
        print(f"  {info.name}  [{info.type}; default {default}{deploy}]\n      {info.help}")


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.verbose:
        os.environ[VERBOSE_ENV] = "1"
    else:  # third-party chatter (MLflow's store set-up, its download bars) stays out of a run's output; -v shows it
        os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")
        os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
        from shared.noise import quiet_third_party

        quiet_third_party()
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
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
        if args.command == "params":
            _print_params(bundle, args.job)
            return 0
        if args.command == "validate":
            from shared.bundle_check import check_bundle

            errors = check_bundle(bundle.root, args.schema)
            for error in errors:
                print(f"ERROR {error}")
            checked = "typed models, entry points, parameters" + (", JSON schema" if args.schema else "")
            print(f"{len(bundle.jobs)} job(s) checked ({checked}): {len(errors)} error(s)")
            return 1 if errors else 0
        if args.command == "sync-bundle":
            from shared.bundle_sync import sync_bundle

            results = sync_bundle(bundle, write=not args.check)
            for result in results:
                state = ("stale" if args.check else "written") if result.stale else "up to date"
                print(f"{result.path.relative_to(bundle.root)}: {state}")
            return 1 if args.check and any(r.stale for r in results) else 0
        return _run(bundle, args)
    except TaskFailed as exc:
        if args.verbose or not isinstance(exc.cause, USER_ERRORS):
            traceback.print_exception(exc.cause, file=sys.stderr)
        print(f"usecases: {exc}", file=sys.stderr)
        return 1
    except (BundleError, *USER_ERRORS) as exc:
        if args.verbose:
            traceback.print_exc()
        print(f"usecases: error: {exc}", file=sys.stderr)
        return 2


def check_warehouse(folder: str | None) -> None:
    """A local warehouse must be a folder this process can create and write (else: one clear line, no traceback)."""
    from shared.env import local_warehouse, on_databricks

    if on_databricks():
        return
    path = local_warehouse(folder)
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / f".write-check-{os.getpid()}"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise BundleError(f"cannot use {path} as the local warehouse ({exc.strerror or exc}); pass --warehouse "
                          "with a writable folder, or set USECASES_WAREHOUSE / USECASES_HOME") from exc


def _run(bundle: Bundle, args: argparse.Namespace) -> int:
    check_target(bundle, args.target)
    check_warehouse(args.warehouse)
    jobs = sorted(bundle.jobs) if args.job == "all" else [args.job]
    if args.job != "all" and args.job not in bundle.jobs:
        raise BundleError(f"no job {args.job!r}; jobs: {', '.join(sorted(bundle.jobs))}")
    if args.job == "all" and args.task:
        raise BundleError("--task needs a single job, not 'all'")
    per_job = overrides_per_job(bundle, jobs, args.param)
    if args.connect:
        from shared.spark import REMOTE_ENV

        os.environ.setdefault(REMOTE_ENV, "local[2]")
    from shared.reporting import HumanReporter, JsonReporter

    reporter = JsonReporter() if args.json else HumanReporter()
    for key in jobs:
        reporter.job_started(key)
        run_job(bundle, key, per_job[key], args.task, args.warehouse, args.target, reporter=reporter)
    return 0


if __name__ == "__main__":
    sys.exit(main())
