"""Read and write tables by name: Unity Catalog Delta tables on Databricks, atomic Parquet folders locally.

Local layout: ``<warehouse>/<catalog>/<schema>/<table>/`` holds committed version folders and a ``_CURRENT``
file naming the live one (``shared.table_versions``). A write fills a staging folder under a lease, renames it
to a version and swaps ``_CURRENT`` under a lock, so a crash or a concurrent writer never leaves a reader a
partial table, and crash leftovers never count as versions.
"""

from __future__ import annotations

import logging
import os
import shutil
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import reduce
from pathlib import Path

from pyspark.errors import AnalysisException
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from shared.identifiers import quote_identifier, quote_qualified, sql_literal, validate_name
from shared.table_versions import (
    CURRENT_POINTER,
    STAGING_GRACE_S,
    VERSIONS_KEPT,
    Base,
    ConcurrentWriteError,
    VersionedFolder,
)

__all__ = ["CURRENT_POINTER", "VERSIONS_KEPT", "ConcurrentWriteError", "LocalTableStore", "TableInfo",
           "TableNotFoundError", "TableStore", "UnityCatalogTableStore", "table_store"]

log = logging.getLogger(__name__)

FILE_SUFFIXES = (".parquet", ".csv", ".json")
COMMIT_ATTEMPTS = 5  # a merge or replace_where recomputed on a newer version this often before giving up
READ_ATTEMPTS = 3  # a version pruned between reading the pointer and listing its files: read the new one


class TableNotFoundError(LookupError):
    """A table name that resolves to nothing."""


def is_file_reference(name: str) -> bool:
    """True when a table parameter is a file or folder path rather than a table name."""
    return os.sep in name or "/" in name or name.lower().endswith(FILE_SUFFIXES)


def match_all(values: Mapping[str, object]) -> Column:
    """A null-safe Column predicate that is true where every column equals its value."""
    if not values:
        raise ValueError("replace_where needs at least one column")
    return reduce(lambda a, b: a & b, [F.col(k).eqNullSafe(F.lit(v)) for k, v in values.items()])


def replace_where_sql(values: Mapping[str, object]) -> str:
    """The same predicate as SQL text for Delta's ``replaceWhere``: quoted columns, escaped literals."""
    if not values:
        raise ValueError("replace_where needs at least one column")
    return " AND ".join(f"{quote_identifier(k)} <=> {sql_literal(v)}" for k, v in values.items())


def show_tables_sql(catalog: str, schema: str) -> str:
    """List a Unity Catalog schema's tables."""
    return f"SHOW TABLES IN {quote_qualified(catalog, schema)}"


def describe_history_sql(target: str, limit: int = 1) -> str:
    """A Delta table's latest commits (newest first) for a quoted table name."""
    return f"DESCRIBE HISTORY {target} LIMIT {int(limit)}"


def describe_detail_sql(target: str) -> str:
    """A Delta table's storage location, size and last modification for a quoted table name."""
    return f"DESCRIBE DETAIL {target}"


def merge_sql(target: str, source_view: str, keys: Sequence[str]) -> str:
    """A Delta MERGE (upsert on ``keys``) of a temp view into a quoted table name."""
    if not keys:
        raise ValueError("merge needs at least one key column")
    on = " AND ".join(f"t.{quote_identifier(k)} <=> s.{quote_identifier(k)}" for k in keys)
    view = quote_identifier(validate_name(source_view, "view name"))
    return (
        f"MERGE INTO {target} AS t USING {view} AS s ON {on} "  # every part quoted above
        "WHEN MATCHED THEN UPDATE SET * WHEN NOT MATCHED THEN INSERT *"
    )


@dataclass(frozen=True)
class TableInfo:
    """What ``usecases tables`` shows of one table."""

    name: str
    display_name: str
    rows: int
    versions: int | None  # committed writes (Delta: the latest version + 1); None where unknown (a view)
    last_write: datetime | None  # UTC
    location: str  # the live data's folder (locally) or storage location (Delta), else the table's name


class TableStore(ABC):
    """Tables of one catalog and schema, addressed by short name."""

    def __init__(self, spark: SparkSession | None, catalog: str, schema: str) -> None:
        self._spark = spark
        self.catalog = validate_name(catalog, "catalog")
        self.schema = validate_name(schema, "schema")

    @property
    def spark(self) -> SparkSession:
        """The session; started on first use when the store was made without one (commands that read no rows)."""
        if self._spark is None:
            from shared.spark import get_spark

            self._spark = get_spark()
        return self._spark

    @abstractmethod
    def read(self, name: str) -> DataFrame:
        """The table (or, locally, the file) called ``name``."""

    @abstractmethod
    def exists(self, name: str) -> bool:
        """Whether ``name`` resolves to a readable table."""

    @abstractmethod
    def write(self, df: DataFrame, name: str, replace_where: Mapping[str, object] | None = None) -> None:
        """Atomically replace the table, or only the rows matching ``replace_where`` (idempotent re-runs)."""

    @abstractmethod
    def merge(self, df: DataFrame, name: str, keys: Sequence[str]) -> None:
        """Upsert ``df`` into the table on ``keys``: re-running with the same rows leaves one copy."""

    @abstractmethod
    def current_version(self, name: str) -> str:
        """An id of the table's current version (for lineage): the version folder locally, the Delta version on
        Unity Catalog; for a user's file, its size and modification time."""

    @abstractmethod
    def drop(self, name: str) -> None:
        """Remove the table if it exists (used for a task's own staging tables, never for inputs)."""

    @abstractmethod
    def display_name(self, name: str) -> str:
        """The name shown in logs and errors."""

    @abstractmethod
    def volume_path(self, volume: str) -> Path:
        """A folder for a job's files (images, exports) beside its tables, created if absent."""

    @abstractmethod
    def list_tables(self) -> list[str]:
        """Short names of every table in the catalog and schema, sorted."""

    @abstractmethod
    def table_info(self, name: str) -> TableInfo:
        """Row count, committed versions, last write and location of one table."""

    @abstractmethod
    def current_location(self, name: str) -> str:
        """Where other tools read the live version: a folder locally, the storage location (or name) on Databricks."""


class LocalTableStore(TableStore):
    """Parquet tables under a warehouse folder; table parameters may also be Parquet/CSV file paths."""

    def __init__(self, spark: SparkSession | None, catalog: str, schema: str, warehouse: str | os.PathLike[str],
                 staging_grace_s: float = STAGING_GRACE_S) -> None:
        super().__init__(spark, catalog, schema)
        self.warehouse = Path(warehouse).resolve()
        self.staging_grace_s = staging_grace_s

    def schema_dir(self) -> Path:
        return self.warehouse / self.catalog / self.schema

    def table_dir(self, name: str) -> Path:
        return self.schema_dir() / validate_name(name, "table name")

    def versions(self, name: str) -> VersionedFolder:
        """The table's committed versions, staging folders and pruning rules."""
        return VersionedFolder(self.table_dir(name), VERSIONS_KEPT, self.staging_grace_s)

    def display_name(self, name: str) -> str:
        if is_file_reference(name):
            return name
        return f"{self.catalog}.{self.schema}.{validate_name(name, 'table name')}"

    def volume_path(self, volume: str) -> Path:
        path = self.warehouse / "_volumes" / self.catalog / self.schema / validate_name(volume, "volume name")
        path.mkdir(parents=True, exist_ok=True)
        return path

    def drop(self, name: str) -> None:
        shutil.rmtree(self.table_dir(name), ignore_errors=True)

    def current_version(self, name: str) -> str:
        if is_file_reference(name):
            stat = Path(name).stat()
            return f"size={stat.st_size},mtime={int(stat.st_mtime)}"
        path = self._current_path(name)
        if path is None:
            raise TableNotFoundError(f"table {self.display_name(name)} does not exist")
        return path.name

    def _current_path(self, name: str) -> Path | None:
        return self.versions(name).current()

    def exists(self, name: str) -> bool:
        if is_file_reference(name):
            return Path(name).exists()
        return self._current_path(name) is not None

    def _not_found(self, name: str) -> TableNotFoundError:
        return TableNotFoundError(f"table {self.display_name(name)} does not exist (looked in {self.table_dir(name)})")

    def read(self, name: str) -> DataFrame:
        if is_file_reference(name):
            return read_file(self.spark, name)
        for _ in range(READ_ATTEMPTS):
            path = self._current_path(name)
            if path is None:
                raise self._not_found(name)
            df = self._open_version(path)
            if df is not None:
                return df
        raise RuntimeError(f"{self.display_name(name)} changed {READ_ATTEMPTS} times while being opened")

    def _open_version(self, path: Path) -> DataFrame | None:
        """The version's rows (its files are listed now: all of them), or None if it was pruned meanwhile.

        A version is pruned only after two newer commits; a reader that loses that race opens the newest.
        """
        try:
            return self.spark.read.parquet(str(path))
        except Exception:
            if path.is_dir():
                raise
            return None  # renamed away while Spark listed it or read its footers (AnalysisException or a job error)

    def write(self, df: DataFrame, name: str, replace_where: Mapping[str, object] | None = None) -> None:
        if not replace_where:
            self._write_version(name, lambda _: df, "write", blind=True)
            return

        def replace(base: DataFrame | None) -> DataFrame:
            if base is None:
                return df
            return base.filter(~match_all(replace_where)).unionByName(df, allowMissingColumns=True)

        self._write_version(name, replace, "replace_where", blind=False)

    def merge(self, df: DataFrame, name: str, keys: Sequence[str]) -> None:
        def upsert(base: DataFrame | None) -> DataFrame:
            if base is None:
                return df
            kept = base.join(df.select(*keys).distinct(), on=list(keys), how="left_anti")
            return kept.unionByName(df, allowMissingColumns=True)

        self._write_version(name, upsert, "merge", blind=False)

    def _write_version(self, name: str, build: Callable[[DataFrame | None], DataFrame], operation: str,
                       blind: bool) -> None:
        """Write ``build(live rows)`` as a new version; a read-modify-write recomputes if another writer won."""
        folder = self.versions(name)
        for attempt in range(1, COMMIT_ATTEMPTS + 1):
            base = None if blind else folder.current_version()
            rows = None if base is None else self._open_version(folder.root / base)
            if base is not None and rows is None:
                continue  # the base version was pruned meanwhile: other writers won, recompute on the newest
            df = build(rows)
            try:
                folder.write(parquet_writer(df), operation, Base.ANY if blind else base)
                return
            except ConcurrentWriteError:
                if attempt == COMMIT_ATTEMPTS:
                    raise
                log.info("%s: another writer committed first; recomputing %s (attempt %d)",
                         self.display_name(name), operation, attempt + 1)
        raise ConcurrentWriteError(f"{self.display_name(name)}: {operation} lost to other writers "
                                   f"{COMMIT_ATTEMPTS} times; nothing was committed")

    def list_tables(self) -> list[str]:
        root = self.schema_dir()
        if not root.is_dir():
            return []
        names = []
        for entry in root.iterdir():
            try:
                validate_name(entry.name, "table name")
            except ValueError:
                continue
            if entry.is_dir() and self.exists(entry.name):
                names.append(entry.name)
        return sorted(names)

    def table_info(self, name: str) -> TableInfo:
        folder = self.versions(name)
        for _ in range(READ_ATTEMPTS):
            history = folder.history()
            if not history.commits:
                raise self._not_found(name)
            path = folder.root / history.commits[-1].version
            try:
                rows = parquet_row_count(path)
            except FileNotFoundError:
                continue  # pruned while counting: count the newer version
            return TableInfo(name, self.display_name(name), rows, history.total,
                             history.commits[-1].committed_at_utc, str(path))
        raise RuntimeError(f"{self.display_name(name)} changed {READ_ATTEMPTS} times while being counted")

    def current_location(self, name: str) -> str:
        path = self._current_path(name)
        if path is None:
            raise self._not_found(name)
        return str(path)


def parquet_writer(df: DataFrame) -> Callable[[Path], None]:
    """Fill a staging folder (which must not exist yet) with ``df`` as Parquet."""
    return lambda path: df.write.mode("error").parquet(str(path))


def parquet_row_count(folder: Path) -> int:
    """Rows in a folder of Parquet files, from their footers (no data read); files named ``_*``/``.*`` skipped."""
    import pyarrow.parquet as pq

    files = [p for p in folder.iterdir() if p.is_file() and not p.name.startswith(("_", "."))]
    return sum(pq.read_metadata(p).num_rows for p in files)


class UnityCatalogTableStore(TableStore):
    """Delta tables in Unity Catalog; Delta's transaction log makes each overwrite atomic."""

    def fqn(self, name: str) -> str:
        parts = name.split(".")
        if len(parts) == 3:
            return quote_qualified(*parts)
        return quote_qualified(self.catalog, self.schema, name)

    def display_name(self, name: str) -> str:
        return self.fqn(name).replace("`", "")

    def exists(self, name: str) -> bool:
        return bool(self.spark.catalog.tableExists(self.display_name(name)))

    def drop(self, name: str) -> None:
        self.spark.sql(f"DROP TABLE IF EXISTS {self.fqn(name)}")

    def current_version(self, name: str) -> str:
        latest = self.spark.sql(f"DESCRIBE HISTORY {self.fqn(name)} LIMIT 1").select("version").first()
        return f"delta_version={latest['version']}" if latest else "unknown"

    def volume_path(self, volume: str) -> Path:
        from shared.workspace import ensure_volume

        return Path(ensure_volume(self.catalog, self.schema, volume))

    def read(self, name: str) -> DataFrame:
        if not self.exists(name):
            raise TableNotFoundError(f"table {self.display_name(name)} does not exist")
        return self.spark.table(self.fqn(name))

    def write(self, df: DataFrame, name: str, replace_where: Mapping[str, object] | None = None) -> None:
        writer = df.write.format("delta").mode("overwrite")
        if replace_where and self.exists(name):
            writer = writer.option("replaceWhere", replace_where_sql(replace_where))
        else:
            writer = writer.option("overwriteSchema", "true")
        writer.saveAsTable(self.fqn(name))

    def merge(self, df: DataFrame, name: str, keys: Sequence[str]) -> None:
        if not self.exists(name):
            self.write(df, name)
            return
        view = f"merge_source_{uuid.uuid4().hex[:12]}"
        df.createOrReplaceTempView(view)
        try:
            self.spark.sql(merge_sql(self.fqn(name), view, keys))
        finally:
            self.spark.catalog.dropTempView(view)

    def list_tables(self) -> list[str]:
        rows = self.spark.sql(show_tables_sql(self.catalog, self.schema)).collect()  # one row per table
        return sorted(r["tableName"] for r in rows if not r["isTemporary"])

    def _detail(self, name: str) -> dict[str, object] | None:
        """DESCRIBE DETAIL's one row, or None for what is not a Delta table (a view)."""
        try:
            rows = self.spark.sql(describe_detail_sql(self.fqn(name))).collect()
        except AnalysisException:
            return None
        return rows[0].asDict() if rows else None

    def table_info(self, name: str) -> TableInfo:
        if not self.exists(name):
            raise TableNotFoundError(f"table {self.display_name(name)} does not exist")
        versions: int | None = None
        last_write: datetime | None = None
        try:
            latest = self.spark.sql(describe_history_sql(self.fqn(name), 1)).collect()
        except AnalysisException:
            latest = []
        if latest:
            versions, last_write = int(latest[0]["version"]) + 1, latest[0]["timestamp"]
        detail = self._detail(name)
        location = str(detail["location"]) if detail and detail.get("location") else self.display_name(name)
        rows = self.spark.table(self.fqn(name)).count()  # Delta answers from file statistics
        return TableInfo(name, self.display_name(name), rows, versions, last_write, location)

    def current_location(self, name: str) -> str:
        if not self.exists(name):
            raise TableNotFoundError(f"table {self.display_name(name)} does not exist")
        detail = self._detail(name)
        return str(detail["location"]) if detail and detail.get("location") else self.display_name(name)


def read_file(spark: SparkSession, path: str, *, delimiter: str | None = None) -> DataFrame:
    """Read a user's file: CSV (RFC 4180, delimiter detected, all columns as text), JSON or Parquet.

    The reading lives in ``shared.files``; here a missing path becomes a TableNotFoundError.
    """
    from shared import files

    try:
        return files.read_file(spark, path, delimiter=delimiter)
    except FileNotFoundError as exc:
        raise TableNotFoundError(str(exc)) from exc


def table_store(
    spark: SparkSession | None, catalog: str, schema: str, warehouse: str | os.PathLike[str] | None = None
) -> TableStore:
    """The store for where this runs: Unity Catalog on Databricks, Parquet folders locally."""
    from shared.env import local_warehouse, on_databricks

    if on_databricks():
        return UnityCatalogTableStore(spark, catalog, schema)
    return LocalTableStore(spark, catalog, schema, local_warehouse(warehouse))
