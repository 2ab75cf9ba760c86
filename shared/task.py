"""Bundle task entry points: parse config, build the context, call the task function, report row counts.

Each ``python_wheel_task`` names an entry point that is a ``TaskEntryPoint``; the local runner calls the
same objects in-process, so a task runs identically in both places.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
import traceback
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any, Generic, TypeVar

from pyspark.sql import DataFrame, SparkSession

from shared.config import ConfigError, JobConfig, build_parser, parse_config
from shared.contracts import (
    Contract,
    ContractError,
    check_columns,
    check_quarantine_budget,
    duplicate_keys,
    flag_rows,
    split_flagged,
)
from shared.identifiers import IdentifierError
from shared.spark import jit_friendly_codegen
from shared.tables import TableNotFoundError, TableStore, is_file_reference, table_store

C = TypeVar("C", bound=JobConfig)
log = logging.getLogger("usecases")


class InputError(ValueError):
    """An input a task needs is absent, empty or unusable: the fix is upstream (run the earlier task, fix the data)."""


# Default quarantine budget: see TaskContext.max_quarantine_fraction.
DEFAULT_MAX_QUARANTINE_FRACTION = 0.1

# Errors that mean "the input or parameters are wrong": reported as one clear line, exit code 2.
USER_ERRORS = (ConfigError, ContractError, IdentifierError, TableNotFoundError, InputError)
# Per-run values a task receives as named parameters besides the job's parameters (not part of the config):
# the bundle passes ``--job_run_id={{job.run_id}}`` so MLflow runs can be traced back to the Databricks run.
RUNTIME_ARGS = ("job_run_id",)
VERBOSE_ENV = "USECASES_VERBOSE"
STAGING_PREFIX = "_staged_"
# A staging table is dropped when its task ends; one whose task was killed is dropped by a later task once it is
# this old (its name carries its creation time): no task runs that long, so no live task still reads it.
ABANDONED_STAGING_S = 24 * 3600


def staging_created_at(name: str) -> float | None:
    """When a staging table was created (epoch seconds, from its name), or None for a name without the time."""
    parts = name.split("_")
    if not name.startswith(STAGING_PREFIX) or len(parts) < 3 or not parts[-2].isdigit():
        return None
    return float(parts[-2])


def quarantine_table(input_table: str) -> str:
    """Where an input's rejected rows go: ``<input>_quarantine`` (the input's logical name, not a file path)."""
    return f"{input_table}_quarantine"


def split_runtime_args(argv: Sequence[str]) -> tuple[list[str], dict[str, str]]:
    """Separate ``--job_run_id=...`` style run-context arguments from the config's ``--name=value`` arguments."""
    config_argv, runtime = [], {}
    for arg in argv:
        name, sep, value = arg.partition("=")
        if sep and name.startswith("--") and name[2:] in RUNTIME_ARGS:
            runtime[name[2:]] = value
        else:
            config_argv.append(arg)
    return config_argv, runtime


class RowAccountingError(RuntimeError):
    """Rows in != rows out + rows quarantined: a task lost or invented rows."""


@dataclass
class TaskReport:
    """What a task consumed and produced. ``balanced`` tasks must satisfy in = out + quarantined."""

    rows_in: int
    rows_out: int
    rows_quarantined: int = 0
    balanced: bool = True
    metrics: dict[str, float] = field(default_factory=dict)
    task: str = ""
    elapsed_s: float = 0.0
    tables_written: list[str] = field(default_factory=list)
    # Why rows were quarantined, with counts (filled by the task context from its contracts).
    quarantine_reasons: dict[str, int] = field(default_factory=dict)
    # Headline results in plain words ("flagged 1,234 of 200,000 transactions"), printed at the end of the job.
    summary: list[str] = field(default_factory=list)

    def check(self) -> None:
        if self.balanced and self.rows_in != self.rows_out + self.rows_quarantined:
            raise RowAccountingError(
                f"task {self.task}: rows in {self.rows_in} != rows out {self.rows_out} "
                f"+ rows quarantined {self.rows_quarantined}"
            )


class RecordingTableStore:
    """A table store that remembers which tables a task wrote (for reports and the conformance test)."""

    def __init__(self, store: TableStore) -> None:
        self._store = store
        self.written: list[str] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    def _note(self, name: str) -> None:
        if not name.startswith(STAGING_PREFIX) and name not in self.written:
            self.written.append(name)

    def write(self, df: DataFrame, name: str, replace_where: Mapping[str, object] | None = None) -> None:
        self._note(name)
        self._store.write(df, name, replace_where)

    def merge(self, df: DataFrame, name: str, keys: Sequence[str]) -> None:
        self._note(name)
        self._store.merge(df, name, keys)

    def drop(self, name: str) -> None:
        if not name.startswith(STAGING_PREFIX):
            raise ValueError(f"a task may drop only its own staging tables, not {name!r}")
        self._store.drop(name)


@dataclass
class TaskContext(Generic[C]):
    """Everything a task function needs besides its config: Spark, the table store, its own name."""

    spark: SparkSession
    tables: TableStore
    usecase: str
    task: str
    quarantined: int = 0
    # Share of an input's rows the contract may quarantine before the task fails (see read_with_contract);
    # the job parameter ``max_quarantine_fraction`` sets it for every input of the task.
    max_quarantine_fraction: float = DEFAULT_MAX_QUARANTINE_FRACTION
    run_context: dict[str, str] = field(default_factory=dict)
    quarantines_written: set[str] = field(default_factory=set)
    quarantine_reasons: dict[str, int] = field(default_factory=dict)
    staging_tables: list[str] = field(default_factory=list)

    def note_reasons(self, reasons: Mapping[str, int]) -> None:
        """Add quarantine reasons (reason -> rows) to what this task reports."""
        for reason, count in reasons.items():
            self.quarantine_reasons[reason] = self.quarantine_reasons.get(reason, 0) + int(count)

    def read_with_contract(self, name: str, contract: Contract, frame: DataFrame | None = None,
                           max_quarantine_fraction: float | None = None,
                           adapt: Callable[[DataFrame], DataFrame] | None = None) -> tuple[DataFrame, int]:
        """Read table or file ``name``, apply ``contract``, write rejects to ``<contract.table>_quarantine``.

        ``frame`` is the input already read (for a source the table store cannot read, such as a GeoJSON
        FeatureCollection); ``name`` then only labels it. ``adapt`` turns the input into the contract's shape
        before it is checked (a user's column names mapped to the job's); a ContractError it raises is labelled
        with the input like the check's own. Returns the valid rows and the number of rows read.
        Quarantine is overwritten on every run so re-running gives the same tables; an empty quarantine table
        is still written, so it reflects this run. Then the quarantine budget: more than
        ``max_quarantine_fraction`` (default: the context's) of the rows quarantined, or no valid row left,
        fails the task with one line naming the top reasons, after the quarantine table is written so it can
        be inspected.
        """
        limit = self.max_quarantine_fraction if max_quarantine_fraction is None else max_quarantine_fraction
        if not 0.0 <= limit <= 1.0:
            raise ConfigError(f"max_quarantine_fraction must be within [0, 1], got {limit}")
        try:
            df = frame if frame is not None else self.tables.read(name)
        except TableNotFoundError as exc:
            raise TableNotFoundError(f"input table {contract.table!r}: {exc}") from exc
        label = name if is_file_reference(name) else self.tables.display_name(name)
        try:
            if adapt is not None:
                df = adapt(df)
            check_columns(df, contract)
        except ContractError as exc:
            raise ContractError(f"{exc} (read from {label})") from exc
        # Serverless has no cache, so the checked rows are computed once, into task-private tables: first the
        # repeated keys (a shuffle of the key columns alone; small, so the check joins them by broadcast), then
        # the typed rows with their failures. The count, the quarantine write and every use of the valid rows
        # read that table instead of recomputing the casts from the input.
        with jit_friendly_codegen(self.spark):  # the checks of a wide table compile to one huge method otherwise
            repeated = duplicate_keys(df, contract)
            if repeated is not None:
                repeated = self.stage(repeated, f"keys_{contract.table}")
            flagged = flag_rows(df, contract, repeated)
            result = split_flagged(flagged, self.stage(flagged.frame, f"contract_{contract.table}"))
        quarantine = quarantine_table(contract.table)
        self.tables.write(result.quarantined, quarantine)
        self.quarantines_written.add(quarantine)
        self.note_reasons(dict(result.reason_counts))
        self.quarantined += result.rows_quarantined
        log.info(
            "%s: %d rows in = %d passed + %d quarantined", label, result.rows_in, result.rows_valid,
            result.rows_quarantined,
        )
        check_quarantine_budget(result, contract.table, limit,
                                f"read from {label}; quarantine in {self.tables.display_name(quarantine)}")
        return result.valid, result.rows_in

    def add_to_quarantine(self, input_table: str, rejected: DataFrame) -> int:
        """Add rows a task rejected after the contract (e.g. every row of a series too short to model) to the
        input's quarantine table, beside the contract's rejects; return how many rows were added.

        After ``read_with_contract`` for the same input in the same task the rows join the contract's rejects;
        otherwise they replace the quarantine of an earlier run, so a re-run gives the same tables.
        """
        name = quarantine_table(input_table)
        current = self.tables.read(name) if name in self.quarantines_written and self.tables.exists(name) else None
        before = 0 if current is None else current.count()
        self.tables.write(rejected if current is None else current.unionByName(rejected, allowMissingColumns=True),
                          name)
        added = self.tables.read(name).count() - before
        self.quarantines_written.add(name)
        self.quarantined += added
        return added

    def _staging_name(self, label: str) -> str:
        return f"{STAGING_PREFIX}{self.usecase}_{self.task}_{label}_{int(time.time())}_{uuid.uuid4().hex[:10]}"

    def drop_abandoned_staging(self, now: float | None = None) -> list[str]:
        """Drop staging tables left by killed tasks (older than ``ABANDONED_STAGING_S``); return their names.

        A killed process never reaches ``close``, so its staging tables would otherwise stay in the schema for
        good. Never fatal: a table that cannot be listed or dropped is logged and left."""
        now = time.time() if now is None else now
        dropped = []
        try:
            names = [n for n in self.tables.list_tables() if n.startswith(STAGING_PREFIX)]
        except Exception as exc:  # listing is housekeeping, not the task's work
            log.warning("could not list staging tables: %s", str(exc).splitlines()[0] if str(exc) else exc)
            return dropped
        for name in names:
            created = staging_created_at(name)
            if created is None or now - created < ABANDONED_STAGING_S:
                continue
            try:
                self.tables.drop(name)
                dropped.append(name)
                log.info("dropped staging table %s left by a task that did not finish", name)
            except Exception as exc:
                log.warning("could not drop abandoned staging table %s: %s", name, exc)
        return dropped

    @contextmanager
    def staged(self, df: DataFrame, label: str) -> Iterator[DataFrame]:
        """Compute ``df`` once into a task-private table and yield it read back; the table is dropped after.

        Serverless compute has no cache or persist, so where one expensive frame (a simulation, decoded images,
        model scores) feeds several writes or counts, this computes it once instead of once per action.
        """
        name = self._staging_name(label)
        self.tables.write(df, name)
        try:
            yield self.tables.read(name)
        finally:
            self.tables.drop(name)

    def stage(self, df: DataFrame, label: str) -> DataFrame:
        """Like ``staged``, for a frame used until the task ends: ``close`` (called when the task ends, however
        it ends) drops the table."""
        name = self._staging_name(label)
        self.staging_tables.append(name)
        self.tables.write(df, name)
        return self.tables.read(name)

    def close(self) -> None:
        """Drop the task's staging tables; one that cannot be dropped is logged, never masks the task's outcome."""
        while self.staging_tables:
            name = self.staging_tables.pop()
            try:
                self.tables.drop(name)
            except Exception as exc:  # cleanup must not replace the task's own error
                log.warning("could not drop staging table %s: %s", self.tables.display_name(name), exc)

    def should_generate(self, names: str | Sequence[str], config: JobConfig) -> bool:
        """Whether a generate task may write its synthetic tables ``names`` (all of them, or none).

        Only when ``generate_data`` is on, every name is a table (not a user's file) and none of them exists
        yet: generation never overwrites data and never adds synthetic truth beside a user's own input.
        """
        targets = [names] if isinstance(names, str) else list(names)
        if not config.generate_data:
            return False
        if any(is_file_reference(n) for n in targets):
            log.info("generate: %s names a file; nothing generated", ", ".join(targets))
            return False
        present = [n for n in targets if self.tables.exists(n)]
        if present:
            log.info("generate: %s already exist(s); nothing generated (never overwrites)", ", ".join(present))
            return False
        return True

    def mlflow_run(self, config: JobConfig) -> Any:
        """An MLflow run for this task (experiment from config, config logged as params, commit/target tags)."""
        from shared.tracking import task_run

        return task_run(config, self.usecase, self.task, config.target, self.run_context)


TaskFunction = Callable[[TaskContext[C], C], TaskReport]


class TaskEntryPoint(Generic[C]):
    """A console-script entry point for one bundle task of one use case."""

    def __init__(self, usecase: str, task: str, config_cls: type[C], fn: TaskFunction[C]) -> None:
        self.usecase, self.task, self.config_cls, self.fn = usecase, task, config_cls, fn

    @property
    def prog(self) -> str:
        return f"{self.usecase}.{self.task}"

    def parser(self) -> argparse.ArgumentParser:
        return build_parser(self.config_cls, prog=self.prog)

    def parse(self, argv: Sequence[str]) -> C:
        return parse_config(self.config_cls, split_runtime_args(argv)[0], prog=self.prog)

    def run(self, argv: Sequence[str], warehouse: str | None = None) -> TaskReport:
        """Parse ``argv`` into the config, run the task, check and return its report."""
        from shared.spark import get_spark
        from shared.workspace import ensure_schema

        config_argv, runtime = split_runtime_args(argv)
        config = parse_config(self.config_cls, config_argv, prog=self.prog)
        started = time.perf_counter()
        spark = get_spark(self.prog)
        ensure_schema(config.catalog, config.schema)
        store = RecordingTableStore(table_store(spark, config.catalog, config.schema, warehouse))
        ctx: TaskContext[C] = TaskContext(spark, store, self.usecase, self.task,  # type: ignore[arg-type]
                                          max_quarantine_fraction=config.max_quarantine_fraction,
                                          run_context=runtime)
        from shared.progress import spark_progress

        ctx.drop_abandoned_staging()
        with spark_progress(spark, self.prog):
            try:
                report = self.fn(ctx, config)
            finally:
                ctx.close()
        report.task = self.prog
        report.elapsed_s = round(time.perf_counter() - started, 3)
        report.tables_written = list(store.written)
        for reason, count in ctx.quarantine_reasons.items():
            report.quarantine_reasons[reason] = report.quarantine_reasons.get(reason, 0) + count
        report.check()
        log.debug("TASK_REPORT %s", json.dumps(asdict(report), sort_keys=True))
        return report

    def __call__(self, argv: Sequence[str] | None = None) -> int:
        """Console-script entry, as a Databricks wheel task calls it (``entry()``, argv in ``sys.argv``).

        Databricks ignores the return value, so every failure raises ``SystemExit`` with a non-zero code: bad
        parameters or input print one clear line and exit 2 (the traceback too with ``USECASES_VERBOSE=1``);
        any other error keeps its traceback and exits 1. ``--help`` lists every parameter with its meaning.
        """
        verbose = os.environ.get(VERBOSE_ENV, "") not in ("", "0")
        logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                            format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        if not verbose:
            from shared.noise import quiet_third_party

            quiet_third_party()
        args = sys.argv[1:] if argv is None else list(argv)
        if "-h" in args or "--help" in args:
            self.parser().print_help()
            raise SystemExit(0)
        try:
            report = self.run(args)
        except USER_ERRORS as exc:
            if verbose:
                traceback.print_exc()
            print(f"{self.prog}: error: {exc}", file=sys.stderr, flush=True)
            raise SystemExit(2) from None
        print(f"{self.prog}: done in {report.elapsed_s:.1f}s: rows in {report.rows_in:,}, out {report.rows_out:,}, "
              f"quarantined {report.rows_quarantined:,}", flush=True)
        return 0
