"""Fraud job tasks: generate -> features -> train -> compile -> score (thin: read, call pure modules, write, log)."""

from __future__ import annotations

import datetime as dt
import json

import mlflow
import numpy as np
import pandas as pd
from pyspark.sql import DataFrame, Row
from pyspark.sql import functions as F

from shared import tracking
from shared.registry import CHAMPION, champion_version, model_name, register_model
from shared.spark import jit_friendly_codegen
from shared.tables import TableNotFoundError
from shared.task import InputError, TaskContext, TaskEntryPoint, TaskReport
from usecases.fraud import contracts, labels, model, sampling, serving
from usecases.fraud.config import FraudConfig
from usecases.fraud.features import CATEGORICAL_FEATURE, NUMERIC_FEATURES, FeatureSpec, add_features, default_spec
from usecases.fraud.generate import generate_transactions
from usecases.fraud.scoring import review_queue, score_with_sql
from usecases.fraud.tree_model import TreeArrays
from usecases.fraud.tree_to_sql import export_tree, rules_to_sql_file, tree_to_rules, tree_to_sql

KEY_METRIC = "pr_auc"
TREE_ARTIFACT_DIR = "tree"  # a training run's tree.json and feature_spec.json
EXAMPLE_ROWS = 5


def run_generate(ctx: TaskContext[FraudConfig], cfg: FraudConfig) -> TaskReport:
    if not ctx.should_generate(cfg.transactions_table, cfg):
        return TaskReport(0, 0, balanced=False, metrics={"generated": 0})
    ctx.tables.write(generate_transactions(ctx.spark, cfg.n_transactions, cfg.seed), cfg.transactions_table)
    return TaskReport(cfg.n_transactions, ctx.tables.read(cfg.transactions_table).count(), metrics={"generated": 1})


def run_features(ctx: TaskContext[FraudConfig], cfg: FraudConfig) -> TaskReport:
    valid, rows_in = ctx.read_with_contract(cfg.transactions_table, contracts.transactions(cfg.extra_features))
    quarantined = ctx.quarantined
    reviews = None
    if ctx.tables.exists(cfg.review_labels_table):
        reviews, _ = ctx.read_with_contract(cfg.review_labels_table, contracts.REVIEW_LABELS)
    rules = labels.load_rules(cfg.label_rules_file)
    featured = add_features(valid, cfg.extra_features)
    ctx.tables.write(labels.resolve_labels(featured, rules, reviews), cfg.features_table)
    written = ctx.tables.read(cfg.features_table)
    stats = written.agg(F.count("*").alias("n"), F.avg("label").alias("rate"),
                        F.sum((F.col("label_source") == "review").cast("int")).alias("reviewed")).first()
    return TaskReport(rows_in, stats["n"], quarantined, metrics={
        "fraud_rate": float(stats["rate"] or 0.0), "review_overrides": int(stats["reviewed"] or 0),
        "review_rows_quarantined": ctx.quarantined - quarantined})


def _train_variant(cfg: FraudConfig, variant: str, train_pdf, test_pdf, spec: FeatureSpec) -> dict[str, object]:
    """Fit, evaluate on the common test split, log one nested MLflow run; return a fraud_training_runs row.

    The nested run keeps the tree as ``tree/tree.json`` (plain arrays: the export the registered model and the
    compiled SQL are built from; no pickle, readable anywhere) beside its feature spec, figures and metrics.
    """
    x, y = spec.to_matrix(train_pdf), train_pdf["label"].to_numpy(dtype="int64")
    require_both_classes(y, f"the {variant} training sample")
    tree, cv_scores = model.fit_tree(x, y, cfg.depth_grid, cfg.cv_folds, cfg.min_samples_leaf, cfg.seed)
    metrics = model.evaluate(tree, spec.to_matrix(test_pdf), test_pdf["label"].to_numpy(dtype="int64"))
    with mlflow.start_run(run_name=f"fraud.train.{variant}", nested=True) as run:
        mlflow.set_tags({"variant": variant, "usecase": "fraud"})
        mlflow.log_params({"variant": variant, "max_depth": tree.max_depth, "train_rows": len(y)})
        tracking.log_metrics({**metrics, **cv_scores, "train_fraud_rate": float(y.mean()),
                              "nodes": tree.tree_.node_count})
        tracking.log_figure(model.confusion_figure(metrics, f"{variant} model, test split"), "confusion_matrix.png")
        tracking.log_figure(model.tree_figure(tree, spec.feature_names), "tree.png")
        tracking.log_figure(model.importance_figure(tree, spec.feature_names), "feature_importances.png")
        tracking.log_dict(dict(zip(spec.feature_names, map(float, tree.feature_importances_), strict=True)),
                          "feature_importances.json")
        tracking.log_dict(json.loads(spec.to_json()), f"{TREE_ARTIFACT_DIR}/feature_spec.json")
        tracking.log_dict(export_tree(tree), f"{TREE_ARTIFACT_DIR}/tree.json")
    return {"run_id": run.info.run_id, "variant": variant,
            "model_uri": f"runs:/{run.info.run_id}/{TREE_ARTIFACT_DIR}/tree.json",
            "max_depth": int(tree.max_depth), "feature_spec": spec.to_json(),
            **{k: float(metrics[k]) for k in ("pr_auc", "roc_auc", "precision", "recall", "f1")},
            "false_negatives": int(metrics["false_negatives"]), "train_rows": len(y)}


def require_both_classes(y: np.ndarray, what: str) -> None:
    """Refuse to train or evaluate on one class: a model of one class is always "right" and means nothing."""
    counts = {int(k): int(v) for k, v in zip(*np.unique(y, return_counts=True), strict=True)}
    if counts.get(0, 0) < 2 or counts.get(1, 0) < 2:
        raise InputError(f"{what} has {counts.get(1, 0)} fraud and {counts.get(0, 0)} legitimate rows; training "
                         "needs at least 2 of each (check the input's label column and label_rules_file)")


def model_input_columns(extra_features: tuple[str, ...]) -> list[str]:
    """The feature-table columns the tree is trained and evaluated on (any category set)."""
    return [*NUMERIC_FEATURES, *extra_features, CATEGORICAL_FEATURE]


def _split_class_counts(data: DataFrame) -> dict[tuple[bool, int], int]:  # with is_test, label
    """Rows per (is_test, label): one small aggregation, so one-class or empty inputs fail before any collect."""
    return {(bool(r["is_test"]), int(r["label"])): int(r["count"])
            for r in data.groupBy("is_test", "label").count().collect() if r["label"] is not None}


def _require_trainable(counts: dict[tuple[bool, int], int], cfg: FraudConfig) -> None:
    total = sum(counts.values())
    if total == 0:
        raise InputError(f"{cfg.features_table} has no labelled rows: the transactions input had no row that passed "
                         "its contract (see transactions_quarantine); nothing to train on")
    for is_test, side in ((False, "training split"), (True, "held-out split")):
        fraud, legit = counts.get((is_test, 1), 0), counts.get((is_test, 0), 0)
        if fraud < 2 or legit < 2:
            hint = ("training needs at least 2 of each (check the input's label column and label_rules_file)"
                    if not is_test else "evaluation needs both classes (raise test_fraction or add data)")
            raise InputError(f"the {side} of {cfg.features_table} has {fraud} fraud and {legit} legitimate rows; "
                             f"{hint}")


def run_train(ctx: TaskContext[FraudConfig], cfg: FraudConfig) -> TaskReport:
    features = ctx.tables.read(cfg.features_table)
    absent = [c for c in cfg.extra_features if c not in features.columns]
    if absent:
        raise InputError(f"{cfg.features_table} lacks extra feature column(s) {', '.join(absent)}; run the features "
                         "task with the same extra_features")
    data = sampling.with_test_flag(features, cfg.test_fraction, cfg.seed)
    counts = _split_class_counts(data)  # one pass gives every count the split and the samples need
    _require_trainable(counts, cfg)
    model_columns = [*model_input_columns(cfg.extra_features), "label"]  # only what the tree reads reaches pandas
    train, test = data.filter(~F.col("is_test")), data.filter(F.col("is_test"))
    test_rows = counts.get((True, 0), 0) + counts.get((True, 1), 0)
    test_pdf = sampling.bounded(test, cfg.max_eval_rows, cfg.seed, rows=test_rows).select(*model_columns).toPandas()
    require_both_classes(test_pdf["label"].to_numpy(dtype="int64"), "the held-out sample")
    positives, negatives = counts.get((False, 1), 0), counts.get((False, 0), 0)
    samples = {
        "balanced": sampling.balanced_sample(train, cfg.negatives_per_positive, cfg.max_train_rows, cfg.seed,
                                             positives, negatives),
        "unbalanced": sampling.uniform_sample(train, cfg.max_train_rows, cfg.seed, rows=positives + negatives),
    }
    pdfs = {variant: sample.select(*model_columns).toPandas() for variant, sample in samples.items()}
    observed = sorted(set(pdfs["balanced"]["type"].dropna()) | set(pdfs["unbalanced"]["type"].dropna()))
    spec = default_spec(observed, cfg.extra_features)
    features_version = ctx.tables.current_version(cfg.features_table)
    with ctx.mlflow_run(cfg):
        rules = labels.load_rules(cfg.label_rules_file)
        mlflow.set_tags({"label_rules": rules.source, "label_rules_sha256": rules.sha256,
                         "input.features": f"{ctx.tables.display_name(cfg.features_table)}@{features_version}"})
        rows = [_train_variant(cfg, variant, pdf, test_pdf, spec) for variant, pdf in pdfs.items()]
        for row in rows:
            tracking.log_metrics({f"{row['variant']}_{k}": row[k] for k in ("pr_auc", "roc_auc", "false_negatives")})
    trained_at = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    ctx.tables.write(ctx.spark.createDataFrame([Row(**r, features_version=features_version, label_rules=rules.source,
                                                    label_rules_sha256=rules.sha256, trained_at=trained_at)
                                                for r in rows]), cfg.training_runs_table)
    by_variant = {r["variant"]: r for r in rows}
    summary = ["held-out PR-AUC " + ", ".join(f"{v} {float(r['pr_auc']):.3f} ({int(r['false_negatives']):,} frauds "
                                              "missed)" for v, r in sorted(by_variant.items()))]
    return TaskReport(sum(len(p) for p in pdfs.values()) + len(test_pdf), len(rows), balanced=False, metrics={
        f"{v}_{k}": float(r[k]) for v, r in by_variant.items() for k in ("pr_auc", "roc_auc", "f1", "false_negatives")},
        summary=summary)


def _held_out(ctx: TaskContext[FraudConfig], cfg: FraudConfig, spec: FeatureSpec) -> pd.DataFrame:
    """The challenger's held-out rows (the seeded hash split, at most max_eval_rows) with the model's input columns
    and the label: the data every registered model is scored on by the champion gate."""
    features = ctx.tables.read(cfg.features_table)
    absent = [c for c in spec.input_columns if c not in features.columns]
    if absent:
        raise InputError(f"{cfg.features_table} lacks column(s) {', '.join(absent)} that the trained model reads; "
                         "run the features and train tasks again")
    test = sampling.with_test_flag(features, cfg.test_fraction, cfg.seed).filter(F.col("is_test"))
    held_out = sampling.bounded(test, cfg.max_eval_rows, cfg.seed).select(*spec.input_columns, "label").toPandas()
    # (the same rows the train task evaluated on: same split, same count, same seeded sample)
    require_both_classes(held_out["label"].to_numpy(dtype="int64"), "the held-out sample")
    return held_out


def run_compile(ctx: TaskContext[FraudConfig], cfg: FraudConfig) -> TaskReport:
    if not ctx.tables.exists(cfg.training_runs_table):
        raise InputError(f"{cfg.training_runs_table} does not exist; run the train task first")
    runs = ctx.tables.read(cfg.training_runs_table).filter(F.col("variant") == "balanced")
    best = runs.orderBy(F.col("trained_at").desc()).first()
    if best is None:
        raise InputError(f"{cfg.training_runs_table} has no balanced training run; run the train task first")
    tracking.configure_tracking()
    tree = TreeArrays(mlflow.artifacts.load_dict(best["model_uri"]))
    spec = FeatureSpec.from_json(best["feature_spec"])
    scoring_sql, rules = tree_to_sql(tree, spec), tree_to_rules(tree, spec)
    name = model_name(cfg.catalog, cfg.schema, cfg.registered_model)
    held_out = _held_out(ctx, cfg, spec)
    inputs = held_out[spec.input_columns]
    score_model = serving.pr_auc_scorer(inputs, held_out["label"].to_numpy(dtype="int64"))
    with ctx.mlflow_run(cfg):
        tracking.log_text(scoring_sql, "scoring.sql")
        tracking.log_text(rules_to_sql_file(rules, f"fraud rules of {name}, training run {best['run_id']}"),
                          "fraud_rules.sql")
        info = serving.log_model(tree, spec, inputs.head(EXAMPLE_ROWS), scoring_sql)
        challenger = score_model(info.model_uri)  # the logged pyfunc itself, on the data the champion is scored on
        lineage = tracking.lineage_tags(ctx.tables, {
            "transactions": cfg.transactions_table, "review_labels": cfg.review_labels_table,
            "features": cfg.features_table, "training_runs": cfg.training_runs_table}, cfg, best["run_id"])
        lineage.update({"input.features_at_training": str(best["features_version"]),
                        "label_rules": str(best["label_rules"]), "label_rules_sha256": str(best["label_rules_sha256"]),
                        "feature_spec": best["feature_spec"]})
        registration = register_model(info.model_uri, name, KEY_METRIC, challenger, higher_is_better=True,
                                      score_model=score_model, tags=lineage)
        tracking.log_metrics({KEY_METRIC: challenger, f"train_{KEY_METRIC}": best[KEY_METRIC],
                              "fraud_rules": len(rules), "sql_chars": len(scoring_sql),
                              "held_out_rows": len(held_out), "model_version": float(registration.version)})
    version = str(registration.version)
    if registration.promoted or not ctx.tables.exists(cfg.rules_table):
        rule_rows = [Row(model_version=version, rule_id=r.rule_id, condition=r.condition, support=r.support,
                         precision=r.precision) for r in rules]
        rules_schema = "model_version string, rule_id int, condition string, support bigint, precision double"
        ctx.tables.write(ctx.spark.createDataFrame(rule_rows, rules_schema), cfg.rules_table)
    compiled = Row(model_name=name, model_version=version, run_id=best["run_id"], scoring_sql=scoring_sql,
                   feature_spec=best["feature_spec"], pr_auc=challenger, promoted=registration.promoted,
                   compiled_at=dt.datetime.now(dt.UTC).replace(tzinfo=None))
    ctx.tables.merge(ctx.spark.createDataFrame([compiled]), cfg.compiled_models_table, ["model_name", "model_version"])
    metrics = {"fraud_rules": len(rules), "promoted": float(registration.promoted), "model_version": float(version),
               f"challenger_{KEY_METRIC}": challenger}
    if registration.previous_champion_value is not None:
        metrics[f"champion_{KEY_METRIC}_same_data"] = registration.previous_champion_value
    verdict = (f"now champion, its {len(rules)} fraud rules in {cfg.rules_table}" if registration.promoted
               else "not promoted: the champion and its rules stay")
    summary = [f"model {name} v{version}: held-out {KEY_METRIC} {challenger:.3f}, {verdict}"]
    return TaskReport(1, len(rules), balanced=False, metrics=metrics, summary=summary)


def _champion(ctx: TaskContext[FraudConfig], cfg: FraudConfig) -> tuple[str, str, Row]:
    """The champion's name, version and compiled row; InputError when there is none to score with."""
    name = model_name(cfg.catalog, cfg.schema, cfg.registered_model)
    tracking.configure_tracking()
    version = champion_version(mlflow.MlflowClient(), name)
    if version is None:
        raise InputError(f"{name} has no {CHAMPION} version; run the compile task first")
    if not ctx.tables.exists(cfg.compiled_models_table):
        raise InputError(f"{cfg.compiled_models_table} does not exist; run the compile task first")
    chosen = (ctx.tables.read(cfg.compiled_models_table)
              .filter((F.col("model_name") == name) & (F.col("model_version") == version)).first())
    if chosen is None:
        raise InputError(f"{CHAMPION} {name} v{version} has no compiled SQL in {cfg.compiled_models_table}; run the "
                         "compile task in this store")
    return name, version, chosen


def run_score(ctx: TaskContext[FraudConfig], cfg: FraudConfig) -> TaskReport:
    name, version, chosen = _champion(ctx, cfg)
    spec = FeatureSpec.from_json(chosen["feature_spec"])
    try:
        raw = ctx.tables.read(cfg.transactions_table)
    except TableNotFoundError as exc:
        raise TableNotFoundError(f"input table {contracts.TRANSACTIONS_TABLE!r}: {exc}") from exc
    # Never score with a model that cannot read this input: check the compiled spec and the registered signature.
    model_signature = mlflow.models.get_model_info(f"models:/{name}/{version}").signature
    problems = serving.spark_input_problems(spec, model_signature, dict(raw.dtypes))
    if problems:
        raise InputError(f"{CHAMPION} {name} v{version} cannot score {cfg.transactions_table}: {'; '.join(problems)}; "
                         "score an input with those columns, or retrain on this one (features, train, compile)")
    extra = tuple(c for c in spec.numeric if c not in NUMERIC_FEATURES)
    valid, rows_in = ctx.read_with_contract(cfg.transactions_table, contracts.transactions(extra), frame=raw)
    scores = score_with_sql(add_features(valid, extra), chosen["scoring_sql"], version,
                            cfg.review_band_low, cfg.review_band_high, cfg.min_leaf_support)
    with jit_friendly_codegen(ctx.spark):
        ctx.tables.write(scores, cfg.scores_table)
    written = ctx.tables.read(cfg.scores_table)
    ctx.tables.write(review_queue(written), cfg.review_queue_table)
    stats = written.agg(F.count("*").alias("n"), F.sum("prediction").alias("flagged"),
                        F.sum(F.col("needs_review").cast("int")).alias("review")).first()
    flagged, review = int(stats["flagged"] or 0), int(stats["review"] or 0)
    summary = [f"flagged {flagged:,} of {int(stats['n']):,} transactions as fraud (model v{version}); {review:,} "
               f"sent to review in {cfg.review_queue_table}"]
    return TaskReport(rows_in, stats["n"], ctx.quarantined, metrics={
        "flagged": float(flagged), "needs_review": float(review), "model_version": float(version)}, summary=summary)


generate = TaskEntryPoint("fraud", "generate", FraudConfig, run_generate)
features = TaskEntryPoint("fraud", "features", FraudConfig, run_features)
train = TaskEntryPoint("fraud", "train", FraudConfig, run_train)
compile = TaskEntryPoint("fraud", "compile", FraudConfig, run_compile)  # the bundle task's name
score = TaskEntryPoint("fraud", "score", FraudConfig, run_score)
