"""Core benchmark: local Spark start-up, and the atomic table write/read round trip versus a plain Parquet overwrite.

The ratio says what the write-aside-then-swap protection costs over writing in place.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

STARTUP_SNIPPET = """
import time
t0 = time.perf_counter()
from shared.spark import get_spark
spark = get_spark("bench-startup")
t1 = time.perf_counter()
spark.range(1000).count()
t2 = time.perf_counter()
print(f"{t1 - t0:.3f} {t2 - t1:.3f}")
"""


def spark_startup_seconds() -> tuple[float, float]:
    """Session creation and first action, in a fresh process (a fresh JVM)."""
    out = subprocess.run([sys.executable, "-c", STARTUP_SNIPPET], capture_output=True, text=True, check=True)
    session_s, first_action_s = out.stdout.strip().splitlines()[-1].split()
    return float(session_s), float(first_action_s)


def _timed(fn) -> float:  # a zero-argument callable
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def run(argv: list[str]) -> dict[str, object]:
    parser = argparse.ArgumentParser(prog="python -m benchmarks core")
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)

    from pyspark.sql import functions as F

    from shared.spark import get_spark
    from shared.tables import LocalTableStore

    session_s, first_action_s = spark_startup_seconds()
    spark = get_spark("bench-core")
    df = spark.range(args.rows).select(
        "id", (F.col("id") * 1.5).alias("amount"), (F.col("id") % 97).cast("string").alias("category")
    ).cache()
    df.count()
    with tempfile.TemporaryDirectory(prefix="bench-core-") as tmp:
        store = LocalTableStore(spark, "bench", "core", Path(tmp) / "warehouse")
        plain_path = str(Path(tmp) / "plain")

        def atomic_round_trip() -> None:
            store.write(df, "round_trip")
            assert store.read("round_trip").agg(F.count("amount"), F.sum("amount")).first()[0] == args.rows

        def plain_round_trip() -> None:
            df.write.mode("overwrite").parquet(plain_path)
            assert spark.read.parquet(plain_path).agg(F.count("amount"), F.sum("amount")).first()[0] == args.rows

        atomic_round_trip(), plain_round_trip()  # warm-up: JIT, file system caches
        atomic = min(_timed(atomic_round_trip) for _ in range(args.repeats))
        plain = min(_timed(plain_round_trip) for _ in range(args.repeats))
    df.unpersist()
    result = {
        "rows": args.rows,
        "spark_session_start_s": round(session_s, 3),
        "spark_first_action_s": round(first_action_s, 3),
        "atomic_write_read_s": round(atomic, 3),
        "plain_overwrite_read_s": round(plain, 3),
        "atomic_rows_per_s": round(args.rows / atomic),
        "plain_rows_per_s": round(args.rows / plain),
        "atomic_over_plain_ratio": round(atomic / plain, 3),
    }
    print(
        f"spark start {session_s:.1f}s + first action {first_action_s:.1f}s; round trip of {args.rows:,} rows: "
        f"atomic {atomic:.2f}s vs plain {plain:.2f}s (ratio {atomic / plain:.2f})"
    )
    return result
