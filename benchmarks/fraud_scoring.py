"""Fraud scoring benchmark: the compiled tree SQL versus mapInPandas + predict_proba on the same cached frame.

Both paths produce (transaction_id, probability, rule_id); the benchmark checks they are identical, then reports
rows/s for a depth-5 and a depth-10 tree: the SQL with default settings ("naive": a big tree's whole-stage method
exceeds the JVM's 8000-byte JIT limit and runs interpreted), with ``jit_friendly_codegen``, and mapInPandas.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Iterator
from contextlib import nullcontext

import numpy as np
import pandas as pd

OUTPUT_SCHEMA = "transaction_id bigint, probability double, rule_id int"


def _timed(fn: Callable[[], object], repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - started)
    return best


def _train(pdf: pd.DataFrame, spec, depth: int, noise: float, seed: int):
    """A tree on rule labels with some flipped: noise makes a depth-10 tree grow hundreds of nodes."""
    from sklearn.tree import DecisionTreeClassifier

    rng = np.random.default_rng(seed)
    y = pdf["label"].to_numpy().copy()
    flip = rng.random(len(y)) < noise
    y[flip] = 1 - y[flip]
    return DecisionTreeClassifier(max_depth=depth, random_state=seed).fit(spec.to_matrix(pdf), y)


def _udf_scores(df, model, spec):
    def predict(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for pdf in batches:
            x = spec.to_matrix(pdf)
            yield pd.DataFrame({
                "transaction_id": pdf["transaction_id"].to_numpy(),
                "probability": model.predict_proba(x)[:, list(model.classes_).index(1)],
                "rule_id": model.apply(x).astype("int32"),
            })

    return df.mapInPandas(predict, OUTPUT_SCHEMA)


def _sql_scores(df, sql: str):
    from pyspark.sql import functions as F

    return df.select("transaction_id", F.expr(sql).alias("s")).select(
        "transaction_id", "s.probability", F.col("s.rule_id").cast("int").alias("rule_id")
    )


def _generated_method_bytes(spark, scored) -> int:
    """Largest bytecode size of a generated method in the plan's whole-stage code (the JIT's input)."""
    jvm = spark.sparkContext._jvm
    plan = scored._jdf.queryExecution().executedPlan()
    try:
        codegen = jvm.org.apache.spark.sql.execution.debug.package.codegenStringSeq(plan)
        sizes = []
        for i in range(codegen.size()):
            stats = codegen.apply(i)._3()
            sizes.append(int(stats.maxMethodCodeSize()))
        return max(sizes) if sizes else 0
    except Exception:  # a diagnostic only; internals differ between Spark versions
        return -1


def run(argv: list[str]) -> dict[str, object]:
    parser = argparse.ArgumentParser(prog="python -m benchmarks fraud_scoring")
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--train_rows", type=int, default=200_000)
    parser.add_argument("--depths", default="5,10")
    parser.add_argument("--noise", type=float, default=0.03)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args(argv)

    from shared.spark import get_spark, jit_friendly_codegen
    from usecases.fraud.features import add_features, default_spec
    from usecases.fraud.generate import generate_transactions
    from usecases.fraud.labels import load_rules, resolve_labels
    from usecases.fraud.tree_to_sql import tree_to_sql

    spark = get_spark("bench-fraud-scoring")
    spec = default_spec()
    frame = add_features(generate_transactions(spark, args.rows, args.seed, partitions=8)).cache()
    frame.count()
    train_pdf = resolve_labels(frame.limit(args.train_rows), load_rules(), None).toPandas()
    result: dict[str, object] = {"rows": args.rows, "train_rows": len(train_pdf), "noise": args.noise}
    for depth in (int(d) for d in args.depths.split(",")):
        model = _train(train_pdf, spec, depth, args.noise, args.seed)
        sql = tree_to_sql(model, spec)
        sql_scored, udf_scored = _sql_scores(frame, sql), _udf_scores(frame, model, spec)
        with jit_friendly_codegen(spark):
            mismatches = sql_scored.exceptAll(udf_scored).count() + udf_scored.exceptAll(sql_scored).count()
        entry: dict[str, object] = {"nodes": int(model.tree_.node_count), "leaves": int(model.get_n_leaves()),
                                    "sql_chars": len(sql), "mismatched_rows": mismatches,
                                    "max_generated_method_bytes": _generated_method_bytes(spark, sql_scored)}

        def noop_write(scored=None) -> None:
            scored.write.format("noop").mode("overwrite").save()

        for name, scored, fixed in (("sql_naive", sql_scored, False), ("sql", sql_scored, True),
                                    ("mapinpandas", udf_scored, False)):
            with jit_friendly_codegen(spark) if fixed else nullcontext():
                noop_write(scored)  # warm-up: JIT, Python workers
                seconds = _timed(lambda s=scored: noop_write(s), args.repeats)
            entry[f"{name}_s"] = round(seconds, 3)
            entry[f"{name}_rows_per_s"] = round(args.rows / seconds)
        entry["speedup"] = round(entry["mapinpandas_s"] / entry["sql_s"], 2)
        entry["speedup_naive"] = round(entry["mapinpandas_s"] / entry["sql_naive_s"], 2)
        result[f"depth_{depth}"] = entry
        print(f"depth {depth}: {entry}", flush=True)
    frame.unpersist()
    return result
