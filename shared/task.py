"""Bundle task entry points: parse config, build the context, call the task function, report row counts.

Each ``python_wheel_task`` names an entry point that is a ``TaskEntryPoint``; the local runner calls the
same objects in-process, so a task runs identically in both places.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Generic, TypeVar

from pyspark.sql import DataFrame, SparkSession

from shared.config import ConfigError, JobConfig, build_parser, parse_config
from shared.contracts import Contract, ContractError, apply_contract, check_quarantine_budget
from shared.identifiers import IdentifierError
from shared.tables import TableNotFoundError, TableStore, is_file_reference, table_store

C = TypeVar("C", bound=JobConfig)
log = logging.getLogger("usecases")

# Default quarantine budget: see TaskContext.max_quarantine_fraction.
DEFAULT_MAX_QUARANTINE_FRACTION = 0.1

# Errors that mean "the input or parameters are wrong": reported as one clear line, exit code 2.
USER_ERRORS = (ConfigError, ContractError, IdentifierError, TableNotFoundError)


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

    def check(self) -> None:
        if self.balanced and self.rows_in != self.rows_out + self.rows_quarantined:
            raise RowAccountingError(
                f"task {self.task}: rows in {self.rows_in} != rows out {self.rows_out} "
                f"+ rows quarantined {self.rows_quarantined}"
            )


@dataclass
class TaskContext(Generic[C]):
    """Everything a task function needs besides its config: Spark, the table store, its own name."""

    spark: SparkSession
    tables: TableStore
    usecase: str
    task: str
    quarantined: int = 0
    # Share of an input's rows the contract may quarantine before the task fails (see read_with_contract).
    # Read from the module default at construction, so a test can raise it for a whole job run until it
    # becomes the job parameter ``max_quarantine_fraction``.
    max_quarantine_fraction: float = field(default_factory=lambda: DEFAULT_MAX_QUARANTINE_FRACTION)

    def read_with_contract(self, name: str, contract: Contract, max_quarantine_fraction: float | None = None,
                           ) -> tuple[DataFrame, int]:
        """Read table or file ``name``, apply ``contract``, write rejects to ``<contract.table>_quarantine``.

        Returns the valid rows and the number of rows read. Quarantine is overwritten on every run so
        re-running gives the same tables; an empty quarantine table is still written, so it reflects this run.
        Then the quarantine budget: more than ``max_quarantine_fraction`` (default: the context's) of the rows
        quarantined, or no valid row left, fails the task with one line naming the top reasons, after the
        quarantine table is written so it can be inspected.
        """
        limit = self.max_quarantine_fraction if max_quarantine_fraction is None else max_quarantine_fraction
        if not 0.0 <= limit <= 1.0:
            raise ConfigError(f"max_quarantine_fraction must be within [0, 1], got {limit}")
        try:
            df = self.tables.read(name)
        except TableNotFoundError as exc:
            raise TableNotFoundError(f"input table {contract.table!r}: {exc}") from exc
        label = name if is_file_reference(name) else self.tables.display_name(name)
        try:
            result = apply_contract(df, contract)
        except ContractError as exc:
            raise ContractError(f"{exc} (read from {label})") from exc
        quarantine = f"{contract.table}_quarantine"
        self.tables.write(result.quarantined, quarantine)
        self.quarantined += result.rows_quarantined
        log.info(
            "%s: %d rows in = %d passed + %d quarantined", label, result.rows_in, result.rows_valid,
            result.rows_quarantined,
        )
        check_quarantine_budget(result, contract.table, limit,
                                f"read from {label}; quarantine in {self.tables.display_name(quarantine)}")
        return result.valid, result.rows_in

    def should_generate(self, name: str, config: JobConfig) -> bool:
        """Whether a generate task may write synthetic data to ``name``.

        Only when ``generate_data`` is on, ``name`` is a table (not a user's file) and it does not exist yet:
        generation never overwrites data, so re-runs and users' own tables are safe.
        """
        return config.generate_data and not is_file_reference(name) and not self.tables.exists(name)

    def mlflow_run(self, config: JobConfig):  # noqa: ANN201 - context manager of mlflow.ActiveRun
        """An MLflow run for this task (experiment from config, config logged as params, commit/target tags)."""
        from shared.tracking import task_run

        return task_run(config, self.usecase, self.task, config.target)


TaskFunction = Callable[[TaskContext[C], C], TaskReport]


class TaskEntryPoint(Generic[C]):
    """A console-script entry point for one bundle task of one use case."""

    def __init__(self, usecase: str, task: str, config_cls: type[C], fn: TaskFunction[C]) -> None:
        self.usecase, self.task, self.config_cls, self.fn = usecase, task, config_cls, fn

    @property
    def prog(self) -> str:
        return f"{self.usecase}.{self.task}"

    def parser(self):  # noqa: ANN201 - argparse.ArgumentParser
        return build_parser(self.config_cls, prog=self.prog)

    def parse(self, argv: Sequence[str]) -> C:
        return parse_config(self.config_cls, argv, prog=self.prog)

    def run(self, argv: Sequence[str], warehouse: str | None = None) -> TaskReport:
        """Parse ``argv`` into the config, run the task, check and return its report."""
        from shared.spark import get_spark
        from shared.workspace import ensure_schema

        config = self.parse(argv)
        started = time.perf_counter()
        spark = get_spark(self.prog)
        ensure_schema(config.catalog, config.schema)
        ctx: TaskContext[C] = TaskContext(spark, table_store(spark, config.catalog, config.schema, warehouse),
                                          self.usecase, self.task)
        report = self.fn(ctx, config)
        report.task = self.prog
        report.elapsed_s = round(time.perf_counter() - started, 3)
        report.check()
        print("TASK_REPORT " + json.dumps(asdict(report), sort_keys=True), flush=True)
        return report

    def __call__(self, argv: Sequence[str] | None = None) -> int:
        """Console-script entry: exit 0 on success, 2 with one clear line on bad input or parameters."""
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        try:
            self.run(sys.argv[1:] if argv is None else argv)
        except USER_ERRORS as exc:
            print(f"{self.prog}: error: {exc}", file=sys.stderr)
            return 2
        return 0
