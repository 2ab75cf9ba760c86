"""Contract read benchmark: the task's staged contract read versus the same checks kept with ``persist``.

Serverless compute has no cache, so ``TaskContext.read_with_contract`` writes the checked rows once to a
task-private staging table (and the repeated keys, found from the key columns alone, before them) and reads
that back for the count, the quarantine write and the valid rows. The other way is what a classic cluster
allows: the same ``flag_rows`` frame persisted, then split. Both read the same generated fraud transactions
table (with a share of bad rows and repeated ids planted), write the quarantine table and consume every valid
row; the benchmark checks they give the same counts and reasons, then reports the best of ``--repeats`` runs
each, after a warm-up. A ratio above 1 means staging is faster than persist.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path


def _timed(fn: Callable[[], tuple[int, int, tuple]], repeats: int) -> tuple[float, tuple[int, int, tuple]]:
    best, outcome = float("inf"), None
    for _ in range(repeats):
        started = time.perf_counter()
        outcome = fn()
        best = min(best, time.perf_counter() - started)
    assert outcome is not None
    return best, outcome


def run(argv: list[str]) -> dict[str, object]:
    parser = argparse.ArgumentParser(prog="python -m benchmarks contracts")
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--bad_every", type=int, default=1000, help="every n-th row gets a planted fault")
    args = parser.parse_args(argv)

    from pyspark.sql import functions as F

    from shared.contracts import flag_rows, split_flagged
    from shared.spark import get_spark, jit_friendly_codegen
    from shared.tables import LocalTableStore
    from shared.task import TaskContext
    from usecases.fraud.contracts import TRANSACTIONS
    from usecases.fraud.generate import generate_transactions

    spark = get_spark("bench-contracts")
    with tempfile.TemporaryDirectory(prefix="bench-contracts-") as tmp:
        tables = LocalTableStore(spark, "bench", "contracts", Path(tmp) / "warehouse")
        raw = generate_transactions(spark, args.rows, 7)
        every = F.col("transaction_id") % args.bad_every
        planted = raw.select(
            F.when(every == 1, F.col("transaction_id") - 1).otherwise(F.col("transaction_id")).alias("transaction_id"),
            *[F.when(every == 2, F.lit(-1.0)).otherwise(F.col(c)).alias(c) if c == "amount" else F.col(c)
              for c in raw.columns if c != "transaction_id"],
        )  # id n*k+1 repeats id n*k (both copies quarantined), amount -1 on n*k+2
        tables.write(planted, "transactions")

        def staged() -> tuple[int, int, tuple]:
            ctx = TaskContext(spark, tables, "fraud", "bench", max_quarantine_fraction=1.0)
            try:
                valid, rows_in = ctx.read_with_contract("transactions", TRANSACTIONS)
                valid.write.format("noop").mode("overwrite").save()
                return rows_in, ctx.quarantined, tuple(sorted(ctx.quarantine_reasons.items()))
            finally:
                ctx.close()

        def persisted() -> tuple[int, int, tuple]:
            with jit_friendly_codegen(spark):  # the same codegen setting the task uses, so only the keeping differs
                flagged = flag_rows(tables.read("transactions"), TRANSACTIONS)
                kept = flagged.frame.persist()
                try:
                    result = split_flagged(flagged, kept)
                    tables.write(result.quarantined, "transactions_quarantine")
                    result.valid.write.format("noop").mode("overwrite").save()
                finally:
                    kept.unpersist()
            return result.rows_in, result.rows_quarantined, tuple(sorted(result.reason_counts))

        staged(), persisted()  # warm-up: JIT, Python imports, file system caches
        staged_s, staged_out = _timed(staged, args.repeats)
        persist_s, persist_out = _timed(persisted, args.repeats)

    result = {
        "rows": args.rows,
        "rows_quarantined": staged_out[1],
        "staged_s": round(staged_s, 3),
        "persist_s": round(persist_s, 3),
        "staged_rows_per_s": round(args.rows / staged_s),
        "persist_rows_per_s": round(args.rows / persist_s),
        "persist_over_staged_ratio": round(persist_s / staged_s, 3),
        "identical_counts_and_reasons": staged_out == persist_out,
    }
    print(f"contract read of {args.rows:,} rows ({staged_out[1]:,} quarantined): staged {staged_s:.2f}s vs "
          f"persist {persist_s:.2f}s (persist / staged {persist_s / staged_s:.2f})")
    return result
