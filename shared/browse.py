"""The ``usecases tables|show|export|path|ui`` commands: a run's results, read through the core's table store.

They go through ``shared.tables.table_store``, so the same command reads local Parquet versions or, on
Databricks, Unity Catalog tables. ``tables`` and ``path`` read only metadata (no Spark session locally).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from shared.bundle import BundleError, load_bundle, resolve_references
from shared.identifiers import IdentifierError, quote_identifier
from shared.tables import TableNotFoundError, TableStore, table_store

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

DEFAULT_CATALOG, DEFAULT_SCHEMA = "main", "ml_use_cases"  # databricks.yml's defaults, for use outside a bundle
SHOW_LIMIT_DEFAULT = 20
SHOW_LIMIT_MAX = 10_000
SHOW_TRUNCATE = 60  # characters per value in ``show``; wider values end in "..."
QUARANTINE_SUFFIX = "_quarantine"
COMMANDS = ("tables", "show", "export", "path", "ui")


class BrowseError(ValueError):
    """A request that cannot be answered as asked (bad limit, unknown column, empty filter)."""


def add_commands(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the commands to the ``usecases`` parser."""
    store = argparse.ArgumentParser(add_help=False)
    store.add_argument("--warehouse", help="local table folder (default: $USECASES_WAREHOUSE or .local/warehouse)")
    store.add_argument("--catalog", help="catalog (default: the bundle's catalog variable, main)")
    store.add_argument("--schema", help="schema (default: the bundle's schema variable, ml_use_cases)")
    store.add_argument("--target", default="local", help="bundle target whose variables to use (default: local)")
    rows = argparse.ArgumentParser(add_help=False)
    rows.add_argument("--columns", help="comma-separated columns to keep (default: all)")
    rows.add_argument("--where", help="a Spark SQL filter on the rows, e.g. \"store_id = 'S001' AND units > 0\"")

    sub.add_parser("tables", parents=[store], help="every table: rows, versions, last write, quarantined rows")
    show = sub.add_parser("show", parents=[store, rows], help="print a table's rows")
    show.add_argument("table")
    show.add_argument("--limit", type=int, default=SHOW_LIMIT_DEFAULT,
                      help=f"rows to print (default {SHOW_LIMIT_DEFAULT}, at most {SHOW_LIMIT_MAX:,})")
    export = sub.add_parser("export", parents=[store, rows], help="write a table to one .csv or .parquet file")
    export.add_argument("table")
    export.add_argument("file", help="destination; the suffix picks the format (.csv or .parquet)")
    export.add_argument("--overwrite", action="store_true", help="replace the file if it exists")
    path = sub.add_parser("path", parents=[store], help="the live version's folder (for pandas, duckdb, polars)")
    path.add_argument("table")
    ui = sub.add_parser("ui", help="start the MLflow UI on the local tracking store")
    ui.add_argument("--port", type=int, default=5000, help="port to listen on (default: 5000)")
    ui.add_argument("--host", default="127.0.0.1", help="interface to bind (default: 127.0.0.1, this machine only)")


def run(args: argparse.Namespace) -> int:
    """Run one of COMMANDS; a user error is one line on stderr and exit status 2."""
    from pyspark.errors import PySparkException

    from shared.export import ExportError
    from shared.mlflow_ui import UiError, serve_ui

    try:
        if args.command == "ui":
            return serve_ui(args.host, args.port)
        _quiet_spark_error_logs()
        store = store_for(args)
        if args.command == "tables":
            return print_tables(store)
        if args.command == "path":
            print(store.current_location(args.table))
            return 0
        if args.command == "show":
            return show_rows(store, args.table, args.limit, args.columns, args.where)
        return export_rows(store, args.table, Path(args.file), args.columns, args.where, args.overwrite)
    except (BrowseError, ExportError, UiError, TableNotFoundError, IdentifierError, BundleError) as exc:
        return _fail(str(exc))
    except PySparkException as exc:  # a bad --where or a column Spark cannot resolve
        return _fail(_first_line(str(exc)))
    except Exception as exc:
        if type(exc).__name__ == "Py4JJavaError":  # a Spark job failed (e.g. a cast in --where on bad data)
            return _fail(_first_line(str(exc.java_exception)))  # type: ignore[attr-defined]
        raise


def _quiet_spark_error_logs() -> None:
    """PySpark logs every analysis error as a multi-line JSON record; the command reports it in one line instead."""
    import logging

    from pyspark.logger import PySparkLogger

    for name in ("SQLQueryContextLogger", "DataFrameQueryContextLogger"):
        PySparkLogger.getLogger(name).setLevel(logging.CRITICAL)


def _first_line(text: str) -> str:
    return next((line.strip() for line in text.splitlines() if line.strip()), text)


def _fail(message: str) -> int:
    print(f"usecases: error: {message}", file=sys.stderr)
    return 2


def store_for(args: argparse.Namespace) -> TableStore:
    """The table store for ``--catalog``/``--schema`` (default: the bundle's variables) and ``--warehouse``."""
    catalog, schema = args.catalog, args.schema
    if catalog is None or schema is None:
        defaults = bundle_defaults(Path(args.bundle), args.target)
        catalog = catalog or defaults.get("catalog", DEFAULT_CATALOG)
        schema = schema or defaults.get("schema", DEFAULT_SCHEMA)
    return table_store(None, catalog, schema, args.warehouse)  # Spark starts only if rows are read


def bundle_defaults(root: Path, target: str) -> dict[str, str]:
    """The bundle's ``catalog`` and ``schema`` for the target; empty outside a bundle."""
    try:
        bundle = load_bundle(root)
    except BundleError:
        return {}
    values = bundle.variable_values(target)
    return {k: resolve_references(values[k], values, bundle.name, target) for k in ("catalog", "schema") if k in values}


def print_tables(store: TableStore) -> int:
    """One line per table; a ``<table>_quarantine`` shows as its table's last column, not a line of its own."""
    infos = {}
    for name in store.list_tables():
        try:
            infos[name] = store.table_info(name)
        except TableNotFoundError:
            continue  # dropped while listing
    if not infos:
        print(f"no tables in {store.catalog}.{store.schema}{_where_looked(store)}", file=sys.stderr)
        return 0
    lines = [("table", "rows", "versions", "last write (UTC)", "quarantined")]
    for name, info in infos.items():
        base = name.removesuffix(QUARANTINE_SUFFIX)
        if name.endswith(QUARANTINE_SUFFIX) and base in infos:
            continue
        quarantine = infos.get(f"{name}{QUARANTINE_SUFFIX}")
        lines.append((
            name, f"{info.rows:,}", "?" if info.versions is None else f"{info.versions:,}",
            "?" if info.last_write is None else info.last_write.strftime("%Y-%m-%d %H:%M:%S"),
            "-" if quarantine is None else f"{quarantine.rows:,}",
        ))
    widths = [max(len(line[i]) for line in lines) for i in range(len(lines[0]))]
    print(f"{store.catalog}.{store.schema}{_where_looked(store)}")
    for line in lines:
        cells = [line[0].ljust(widths[0])] + [cell.rjust(w) for cell, w in zip(line[1:], widths[1:], strict=True)]
        print("  ".join(cells).rstrip())
    return 0


def _where_looked(store: TableStore) -> str:
    warehouse = getattr(store, "warehouse", None)
    return f" (in {warehouse})" if warehouse is not None else ""


def check_limit(limit: int) -> int:
    if not 1 <= limit <= SHOW_LIMIT_MAX:
        raise BrowseError(f"--limit must be between 1 and {SHOW_LIMIT_MAX:,} (got {limit}); "
                          "use 'usecases export' for more rows")
    return limit


def parse_columns(text: str) -> list[str]:
    names = [c.strip() for c in text.split(",") if c.strip()]
    if not names:
        raise BrowseError("--columns needs at least one column name")
    return names


def select_rows(store: TableStore, table: str, columns: str | None, where: str | None) -> DataFrame:
    """The table's rows, filtered by ``where`` (Spark SQL expression), then reduced to ``columns``."""
    from pyspark.sql import functions as F

    df = store.read(table)
    if where is not None:
        if not where.strip():
            raise BrowseError("--where is empty")
        df = df.filter(where)  # parsed as one expression: a second statement is a syntax error, never run
    if columns is not None:
        by_lower = {c.lower(): c for c in df.columns}
        wanted = parse_columns(columns)
        missing = [c for c in wanted if c not in df.columns and c.lower() not in by_lower]
        if missing:
            raise BrowseError(f"{store.display_name(table)} has no column(s) {', '.join(missing)}; "
                              f"columns: {', '.join(df.columns)}")
        resolved = [c if c in df.columns else by_lower[c.lower()] for c in wanted]
        df = df.select(*[F.col(quote_identifier(c)) for c in resolved])
    return df


def show_rows(store: TableStore, table: str, limit: int, columns: str | None, where: str | None) -> int:
    limit = check_limit(limit)
    select_rows(store, table, columns, where).show(n=limit, truncate=SHOW_TRUNCATE)  # fetches limit + 1 rows
    return 0


def export_rows(store: TableStore, table: str, file: Path, columns: str | None, where: str | None,
                overwrite: bool) -> int:
    from shared.export import export_dataframe, export_format

    export_format(file)  # a wrong suffix fails before Spark starts
    count = export_dataframe(select_rows(store, table, columns, where), file, overwrite=overwrite)
    print(f"wrote {count:,} rows of {store.display_name(table)} to {file.expanduser().resolve()}")
    return 0
