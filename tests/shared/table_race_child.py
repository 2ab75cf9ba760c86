"""A writer process for the table race tests: writes self-checking versions of one table until it is killed.

Every version holds ``n`` rows of one ``tag`` whose ``value`` column sums to ``checksum``; each row carries ``n``
and ``checksum``, so a reader can tell a complete version from a partial or mixed one.

    python -m tests.shared.table_race_child pyarrow <table folder> <seed>
    python -m tests.shared.table_race_child spark <warehouse> <seed>
"""

from __future__ import annotations

import os
import random
import sys
import time
import uuid
from pathlib import Path

RACE_CATALOG, RACE_SCHEMA, RACE_TABLE = "race", "race", "t"
PARTS = 4


def version_rows(rng: random.Random, tag: str) -> list[tuple[str, int, int, int]]:
    """(tag, n, checksum, value) rows of one version."""
    n = rng.randint(1, 400)
    values = [rng.randint(0, 1_000_000) for _ in range(n)]
    checksum = sum(values)
    return [(tag, n, checksum, v) for v in values]


def pyarrow_writer(root: Path, seed: int) -> None:
    """The store's own staging/commit/prune protocol with pyarrow filling the folder slowly, part by part."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from shared.table_versions import STAGING_PREFIX, VersionedFolder

    rng = random.Random(seed)
    folder = VersionedFolder(root)
    schema = pa.schema([("tag", pa.string()), ("n", pa.int64()), ("checksum", pa.int64()), ("value", pa.int64())])

    def fill(path: Path) -> None:
        path.mkdir()
        rows = version_rows(rng, path.name.removeprefix(STAGING_PREFIX))
        for part in range(PARTS):
            chunk = rows[part::PARTS]
            columns = {field.name: [row[i] for row in chunk] for i, field in enumerate(schema)}
            pq.write_table(pa.Table.from_pydict(columns, schema=schema), path / f"part-{part}.parquet")
            time.sleep(rng.uniform(0.0, 0.03))  # widen the window a kill can land in

    while True:
        version = folder.write(fill)
        print(f"committed {version}", flush=True)


def spark_writer(warehouse: Path, seed: int) -> None:
    """LocalTableStore.write with this process's own local Spark session."""
    from shared.spark import get_spark
    from shared.tables import LocalTableStore

    rng = random.Random(seed)
    spark = get_spark("table-race-writer")
    store = LocalTableStore(spark, RACE_CATALOG, RACE_SCHEMA, warehouse)
    print("ready", flush=True)
    while True:
        tag = uuid.uuid4().hex
        df = spark.createDataFrame(version_rows(rng, tag), "tag string, n long, checksum long, value long")
        store.write(df.repartition(3), RACE_TABLE)
        print(f"committed {tag}", flush=True)


def main(argv: list[str]) -> None:
    mode, target, seed = argv[0], Path(argv[1]), int(argv[2])
    os.environ.setdefault("USECASES_SPARK_MASTER", "local[1]")
    if mode == "pyarrow":
        pyarrow_writer(target, seed)
    elif mode == "spark":
        spark_writer(target, seed)
    else:
        raise SystemExit(f"unknown mode {mode!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
