"""Read and write tables by name: Unity Catalog Delta tables on Databricks, atomic Parquet folders locally.

Local layout: ``<warehouse>/<catalog>/<schema>/<table>/`` holds one folder per written version and a
``_CURRENT`` file naming the live one. A write goes to a fresh version folder and only then swaps
``_CURRENT`` with an atomic ``os.replace``, so a crash mid-write leaves the previous version readable.
"""

from __future__ import annotations

import os
import shutil
import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from functools import reduce
from pathlib import Path

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from shared.identifiers import quote_identifier, quote_qualified, sql_literal, validate_name

CURRENT_POINTER = "_CURRENT"
VERSIONS_KEPT = 2  # the live version and the one before it, for readers still holding a lazy plan
FILE_SUFFIXES = (".parquet", ".csv", ".json")


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


def merge_sql(target: str, source_view: str, keys: Sequence[str]) -> str:
    """A Delta MERGE (upsert on ``keys``) of a temp view into a quoted table name."""
    if not keys:
        raise ValueError("merge needs at least one key column")
    on = " AND ".join(f"t.{quote_identifier(k)} <=> s.{quote_identifier(k)}" for k in keys)
    view = quote_identifier(validate_name(source_view, "view name"))
    return (
        f"MERGE INTO {target} AS t USING {view} AS s ON {on} "  # noqa: S608 - every part quoted above
        "WHEN MATCHED THEN UPDATE SET * WHEN NOT MATCHED THEN INSERT *"
    )


class TableStore(ABC):
    """Tables of one catalog and schema, addressed by short name."""

    def __init__(self, spark: SparkSession, catalog: str, schema: str) -> None:
        self.spark = spark
        self.catalog = validate_name(catalog, "catalog")
        self.schema = validate_name(schema, "schema")

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
    def display_name(self, name: str) -> str:
        """The name shown in logs and errors."""

    @abstractmethod
    def volume_path(self, volume: str) -> Path:
        """A folder for a job's files (images, exports) beside its tables, created if absent."""


class LocalTableStore(TableStore):
    """Parquet tables under a warehouse folder; table parameters may also be Parquet/CSV file paths."""

    def __init__(self, spark: SparkSession, catalog: str, schema: str, warehouse: str | os.PathLike[str]) -> None:
        super().__init__(spark, catalog, schema)
        self.warehouse = Path(warehouse).resolve()

    def table_dir(self, name: str) -> Path:
        return self.warehouse / self.catalog / self.schema / validate_name(name, "table name")

    def display_name(self, name: str) -> str:
        if is_file_reference(name):
            return name
        return f"{self.catalog}.{self.schema}.{validate_name(name, 'table name')}"

    def volume_path(self, volume: str) -> Path:
        path = self.warehouse / "_volumes" / self.catalog / self.schema / validate_name(volume, "volume name")
        path.mkdir(parents=True, exist_ok=True)
        return path

    def _current_path(self, name: str) -> Path | None:
        root = self.table_dir(name)
        pointer = root / CURRENT_POINTER
        if pointer.is_file():
            return root / pointer.read_text().strip()
        return None

    def exists(self, name: str) -> bool:
        if is_file_reference(name):
            return Path(name).exists()
        return self._current_path(name) is not None

    def read(self, name: str) -> DataFrame:
        if is_file_reference(name):
            return read_file(self.spark, name)
        path = self._current_path(name)
        if path is None:
            raise TableNotFoundError(
                f"table {self.display_name(name)} does not exist (looked in {self.table_dir(name)})"
            )
        return self.spark.read.parquet(str(path))

    def write(self, df: DataFrame, name: str, replace_where: Mapping[str, object] | None = None) -> None:
        if replace_where and self.exists(name):
            kept = self.read(name).filter(~match_all(replace_where))
            df = kept.unionByName(df, allowMissingColumns=True)
        self._write_version(df, name)

    def merge(self, df: DataFrame, name: str, keys: Sequence[str]) -> None:
        if self.exists(name):
            kept = self.read(name).join(df.select(*keys).distinct(), on=list(keys), how="left_anti")
            df = kept.unionByName(df, allowMissingColumns=True)
        self._write_version(df, name)

    def _write_version(self, df: DataFrame, name: str) -> None:
        root = self.table_dir(name)
        root.mkdir(parents=True, exist_ok=True)
        version = f"v{time.time_ns()}-{uuid.uuid4().hex[:8]}"
        df.write.mode("error").parquet(str(root / version))
        tmp_pointer = root / f".{CURRENT_POINTER}.{version}.tmp"
        tmp_pointer.write_text(version)
        os.replace(tmp_pointer, root / CURRENT_POINTER)  # the atomic commit point
        self._prune(root, version)

    @staticmethod
    def _prune(root: Path, live: str) -> None:
        """Drop old versions (keeping VERSIONS_KEPT) and folders left by crashed writes."""
        versions = sorted((p for p in root.iterdir() if p.is_dir() and p.name.startswith("v")), key=lambda p: p.name)
        older = [p.name for p in versions if p.name < live]
        keep = {live, *older[len(older) - (VERSIONS_KEPT - 1) :]}
        for path in versions:
            if path.name not in keep:
                shutil.rmtree(path, ignore_errors=True)


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
    spark: SparkSession, catalog: str, schema: str, warehouse: str | os.PathLike[str] | None = None
) -> TableStore:
    """The store for where this runs: Unity Catalog on Databricks, Parquet folders locally."""
    from shared.env import local_warehouse, on_databricks

    if on_databricks():
        return UnityCatalogTableStore(spark, catalog, schema)
    return LocalTableStore(spark, catalog, schema, local_warehouse(warehouse))
