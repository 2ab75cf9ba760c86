"""Local tables: round trips, atomic replacement, idempotent partial writes, user files, SQL for Delta."""

from __future__ import annotations

import json
import os
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest
from chispa import assert_df_equality
from pyspark.sql import functions as F
from pyspark.sql.types import LongType

from shared.identifiers import IdentifierError
from shared.table_versions import LEASE_SUFFIX, STAGING_PREFIX, new_version_name
from shared.tables import (
    CURRENT_POINTER,
    LocalTableStore,
    TableNotFoundError,
    describe_detail_sql,
    describe_history_sql,
    merge_sql,
    replace_where_sql,
    show_tables_sql,
    table_store,
)


def test_write_then_read_round_trip(spark, tables: LocalTableStore) -> None:
    df = spark.createDataFrame([(1, "a"), (2, "b")], "id long, name string")
    tables.write(df, "people")
    assert tables.exists("people")
    assert_df_equality(tables.read("people"), df, ignore_row_order=True)


def test_missing_table_names_the_table(tables: LocalTableStore) -> None:
    with pytest.raises(TableNotFoundError, match="test_catalog.test_schema.nothing"):
        tables.read("nothing")


@pytest.mark.parametrize("name", ["../escape", "a.b", "x y", "t;drop"])
def test_table_names_are_validated(spark, tables: LocalTableStore, name: str) -> None:
    with pytest.raises(IdentifierError):
        tables.table_dir(name)


def test_crash_mid_write_leaves_previous_table_intact(spark, tables: LocalTableStore) -> None:
    """A write whose job fails part-way (a row that raises inside a task) never replaces the live version."""
    good = spark.range(100).withColumn("v", F.col("id") * 2)
    tables.write(good, "scores")

    @F.udf(LongType())
    def explode_on_77(x: int) -> int:
        if x == 77:
            raise ValueError("injected crash mid-write")
        return x

    crashing = spark.range(200).repartition(4).withColumn("v", explode_on_77("id"))
    with pytest.raises(Exception, match="injected crash"):
        tables.write(crashing, "scores")
    assert_df_equality(tables.read("scores"), good, ignore_row_order=True, ignore_nullable=True)


def test_overwrite_swaps_pointer_and_prunes_old_versions(spark, tables: LocalTableStore) -> None:
    for n in range(4):
        tables.write(spark.range(n + 1), "counter")
    root = tables.table_dir("counter")
    versions = [p for p in root.iterdir() if p.is_dir()]
    assert len(versions) == 2
    assert (root / CURRENT_POINTER).read_text() == max(p.name for p in versions)
    assert tables.read("counter").count() == 4


def test_reading_and_overwriting_the_same_table(spark, tables: LocalTableStore) -> None:
    """A task may read a table and write it back: the new version never clobbers the files being read."""
    tables.write(spark.range(10), "loop")
    tables.write(tables.read("loop").withColumn("id", F.col("id") + 100), "loop")
    assert sorted(r.id for r in tables.read("loop").collect()) == list(range(100, 110))


def test_replace_where_is_idempotent(spark, tables: LocalTableStore) -> None:
    day1 = spark.createDataFrame([("2024-01-01", 1), ("2024-01-01", 2)], "training_date string, k int")
    day2 = spark.createDataFrame([("2024-01-02", 1)], "training_date string, k int")
    tables.write(day1, "forecasts", replace_where={"training_date": "2024-01-01"})
    tables.write(day2, "forecasts", replace_where={"training_date": "2024-01-02"})
    tables.write(day1, "forecasts", replace_where={"training_date": "2024-01-01"})
    result = tables.read("forecasts")
    assert result.count() == 3
    assert result.filter(F.col("training_date") == "2024-01-01").count() == 2


def test_merge_upserts_without_duplicates(spark, tables: LocalTableStore) -> None:
    first = spark.createDataFrame([(1, "a"), (2, "b")], "id int, v string")
    update = spark.createDataFrame([(2, "B"), (3, "c")], "id int, v string")
    tables.merge(first, "dim", ["id"])
    tables.merge(update, "dim", ["id"])
    tables.merge(update, "dim", ["id"])
    expected = spark.createDataFrame([(1, "a"), (2, "B"), (3, "c")], "id int, v string")
    assert_df_equality(tables.read("dim"), expected, ignore_row_order=True)


def test_user_files_are_read_by_path(spark, tables: LocalTableStore, tmp_path: Path) -> None:
    csv = tmp_path / "mine.csv"
    csv.write_text("id,amount\n1,2.5\n2,oops\n")
    df = tables.read(str(csv))
    assert df.columns[:2] == ["id", "amount"] and df.count() == 2  # + the malformed-row flag (shared.files)
    parquet = tmp_path / "mine.parquet"
    spark.range(3).write.parquet(str(parquet))
    assert tables.read(str(parquet)).count() == 3
    with pytest.raises(TableNotFoundError):
        tables.read(str(tmp_path / "absent.csv"))


def test_factory_picks_local_store_off_databricks(spark, warehouse: Path) -> None:
    assert isinstance(table_store(spark, "c", "s", warehouse), LocalTableStore)
    assert "DATABRICKS_RUNTIME_VERSION" not in os.environ


def test_delta_sql_quotes_identifiers_and_escapes_literals() -> None:
    predicate = replace_where_sql({"train`ing": "x' OR 1=1 --"})
    assert predicate == "`train``ing` <=> 'x\\' OR 1=1 --'"
    sql = merge_sql("`main`.`s`.`t`", "merge_source_1", ["id", "we`ird"])
    assert "t.`we``ird` <=> s.`we``ird`" in sql
    assert sql.startswith("MERGE INTO `main`.`s`.`t` AS t USING `merge_source_1`")
    with pytest.raises(IdentifierError):
        merge_sql("`t`", "v; DROP TABLE x", ["id"])


def test_delta_predicate_selects_the_same_rows_as_the_column_predicate(spark) -> None:
    """replaceWhere text (for Delta) and the Column predicate (local) agree, nulls included."""
    from shared.tables import match_all

    df = spark.createDataFrame([("a", 1), ("a", None), (None, 1), ("b'x", 2)], "k string, n int")
    values = {"k": "b'x", "n": 2}
    assert df.filter(match_all(values)).count() == df.filter(replace_where_sql(values)).count() == 1


def test_volume_path_is_a_folder_beside_the_tables(tables: LocalTableStore, warehouse: Path) -> None:
    path = tables.volume_path("images")
    assert path == warehouse / "_volumes" / "test_catalog" / "test_schema" / "images" and path.is_dir()
    with pytest.raises(IdentifierError):
        tables.volume_path("../escape")


def _leave_killed_writers_folder(root: Path) -> Path:
    """What a SIGKILLed writer leaves: a half-written staging folder and a lease nobody holds."""
    staging = root / f"{STAGING_PREFIX}{new_version_name()}"
    (staging / "_temporary" / "0").mkdir(parents=True)
    (staging / "part-00000-half.snappy.parquet").write_bytes(b"PAR1 truncated")
    Path(f"{staging}{LEASE_SUFFIX}").write_text(json.dumps({"host": "h", "pid": 1, "started_at": 0}))
    return staging


def test_a_killed_writers_folder_is_never_read_counted_or_kept(spark, tables: LocalTableStore) -> None:
    tables.write(spark.range(3), "scores")
    good = tables.versions("scores").current_version()
    leftover = _leave_killed_writers_folder(tables.table_dir("scores"))
    assert tables.read("scores").count() == 3 and tables.table_info("scores").versions == 1
    tables.write(spark.range(5), "scores")
    root = tables.table_dir("scores")
    assert not leftover.exists() and not list(root.glob(f"*{LEASE_SUFFIX}"))
    kept = tables.versions("scores").kept_versions()
    assert kept[0] == good and sorted(p.name for p in root.iterdir() if p.is_dir()) == sorted(kept)
    assert tables.read("scores").count() == 5 and tables.table_info("scores").versions == 2


def test_concurrent_merges_lose_no_rows(spark, tables: LocalTableStore) -> None:
    """Two threads upsert different keys into one table at once: every key survives (a stale merge recomputes)."""
    tables.merge(spark.createDataFrame([(0, "seed")], "id int, v string"), "dim", ["id"])
    errors: list[BaseException] = []

    def upsert(first: int) -> None:
        try:
            for key in range(first, first + 3):
                tables.merge(spark.createDataFrame([(key, f"v{key}")], "id int, v string"), "dim", ["id"])
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=upsert, args=(first,)) for first in (100, 200)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(600)
    assert errors == []
    assert sorted(r.id for r in tables.read("dim").collect()) == [0, 100, 101, 102, 200, 201, 202]
    assert tables.table_info("dim").versions == 7


def test_listing_and_describing_local_tables(spark, tables: LocalTableStore) -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    tables.write(spark.range(4), "alerts")
    tables.write(spark.range(6), "alerts")
    tables.write(spark.range(2), "alerts_quarantine")
    tables.volume_path("images")
    (tables.schema_dir() / "not a table").mkdir()
    (tables.schema_dir() / "empty").mkdir()
    assert tables.list_tables() == ["alerts", "alerts_quarantine"]
    info = tables.table_info("alerts")
    assert (info.name, info.display_name, info.rows, info.versions) == (
        "alerts", "test_catalog.test_schema.alerts", 6, 2)
    assert info.last_write is not None and info.last_write >= before
    assert info.location == tables.current_location("alerts") == str(tables._current_path("alerts"))
    import pandas as pd

    assert len(pd.read_parquet(tables.current_location("alerts"))) == 6
    with pytest.raises(TableNotFoundError, match="test_catalog.test_schema.nothing"):
        tables.table_info("nothing")
    with pytest.raises(TableNotFoundError):
        tables.current_location("empty")
    assert LocalTableStore(spark, "other", "schema", tables.warehouse).list_tables() == []


def test_metadata_needs_no_spark_session(spark, tables: LocalTableStore) -> None:
    tables.write(spark.range(3), "counts")
    bare = LocalTableStore(None, "test_catalog", "test_schema", tables.warehouse)
    assert bare.list_tables() == ["counts"] and bare.table_info("counts").rows == 3
    assert bare._spark is None, "listing and describing started no session"
    assert bare.read("counts").count() == 3  # reading rows starts (here: finds) the session


def test_unity_catalog_listing_sql_quotes_every_name() -> None:
    assert show_tables_sql("main", "ml_use_cases") == "SHOW TABLES IN `main`.`ml_use_cases`"
    assert describe_history_sql("`main`.`s`.`t`", 1) == "DESCRIBE HISTORY `main`.`s`.`t` LIMIT 1"
    assert describe_detail_sql("`main`.`s`.`t`") == "DESCRIBE DETAIL `main`.`s`.`t`"
    with pytest.raises(IdentifierError):
        show_tables_sql("main", "s`; DROP SCHEMA x")


def test_a_merge_computed_on_a_version_replaced_meanwhile_is_recomputed(spark, tables: LocalTableStore,
                                                                       tmp_path: Path) -> None:
    """Another writer commits while the merge is being written (from inside the merge's own Spark job): the stale
    result is discarded and the merge recomputed on the newer version, so neither writer's rows are lost."""
    tables.merge(spark.createDataFrame([(0, "seed")], "id int, v string"), "dim", ["id"])
    root, marker = str(tables.table_dir("dim")), str(tmp_path / "interfered")

    @F.udf("string")
    def interfere_once(v: str) -> str:
        import os
        from pathlib import Path

        import pyarrow as pa
        import pyarrow.parquet as pq

        from shared.table_versions import VersionedFolder

        try:
            os.close(os.open(marker, os.O_CREAT | os.O_EXCL))
        except FileExistsError:
            return v

        def other_writer(path: Path) -> None:
            path.mkdir()
            rows = pa.table({"id": pa.array([0, 7], pa.int32()), "v": ["seed", "other writer"]})
            pq.write_table(rows, path / "part-0.parquet")

        VersionedFolder(Path(root)).write(other_writer)
        return v

    update = spark.createDataFrame([(1, "mine")], "id int, v string").withColumn("v", interfere_once("v"))
    tables.merge(update, "dim", ["id"])
    assert sorted((r.id, r.v) for r in tables.read("dim").collect()) == [(0, "seed"), (1, "mine"), (7, "other writer")]
    assert [c.operation for c in tables.versions("dim").history().commits] == ["merge", "write", "merge"]
