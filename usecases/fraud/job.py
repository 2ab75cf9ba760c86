"""Fraud job tasks: generate -> features -> train -> compile -> score (thin: read, call pure modules, write, log)."""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path

import mlflow
from pyspark.sql import Row
from pyspark.sql import functions as F

from shared import tracking
from shared.registry import CHAMPION, model_name, register_model
from shared.task import InputError, TaskContext, TaskEntryPoint, TaskReport
from usecases.fraud import contracts, labels, model, sampling
from usecases.fraud.config import FraudConfig
from usecases.fraud.features import FeatureSpec, add_features, default_spec
from usecases.fraud.generate import generate_transactions
from usecases.fraud.scoring import jit_friendly_codegen, review_queue, score_with_sql
from usecases.fraud.serving import INPUT_COLUMNS, FraudTreeModel, predict_frame
from usecases.fraud.tree_to_sql import rules_to_sql_file, tree_to_rules, tree_to_sql

KEY_METRIC = "pr_auc"
TRUSTED_TYPES = ["sklearn.tree._tree.Tree"]  # our own tree, written by the train task a moment earlier


def run_generate(ctx: TaskContext[FraudConfig], cfg: FraudConfig) -> TaskReport:
    if not ctx.should_generate(cfg.transactions_table, cfg):
        return TaskReport(0, 0, balanced=False, metrics={"generated": 0})
    ctx.tables.write(generate_transactions(ctx.spark, cfg.n_transactions, cfg.seed), cfg.transactions_table)
    return TaskReport(cfg.n_transactions, ctx.tables.read(cfg.transactions_table).count(), metrics={"generated": 1})


def run_features(ctx: TaskContext[FraudConfig], cfg: FraudConfig) -> TaskReport:
    valid, rows_in = ctx.read_with_contract(cfg.transactions_table, contracts.TRANSACTIONS)
    quarantined = ctx.quarantined
    reviews = None
    if ctx.tables.exists(cfg.review_labels_table):
        reviews, _ = ctx.read_with_contract(cfg.review_labels_table, contracts.REVIEW_LABELS)
    rules = labels.load_rules(cfg.label_rules_file)
    ctx.tables.write(labels.resolve_labels(add_features(valid), rules, reviews), cfg.features_table)
    written = ctx.tables.read(cfg.features_table)
    stats = written.agg(F.count("*").alias("n"), F.avg("label").alias("rate"),
                        F.sum((F.col("label_source") == "review").cast("int")).alias("reviewed")).first()
    return TaskReport(rows_in, stats["n"], quarantined, metrics={
        "fraud_rate": float(stats["rate"] or 0.0), "review_overrides": int(stats["reviewed"] or 0),
        "review_rows_quarantined": ctx.quarantined - quarantined})


def _train_variant(cfg: FraudConfig, variant: str, train_pdf, test_pdf, spec: FeatureSpec) -> dict[str, object]:  # noqa: ANN001
    """Fit, evaluate on the common test split, log one nested MLflow run; return a fraud_training_runs row."""
    x, y = spec.to_matrix(train_pdf), train_pdf["label"].to_numpy(dtype="int64")
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
        info = mlflow.sklearn.log_model(tree, name="model", skops_trusted_types=TRUSTED_TYPES)
    return {"run_id": run.info.run_id, "variant": variant, "model_uri": info.model_uri,
            "max_depth": int(tree.max_depth), "feature_spec": spec.to_json(),
            **{k: float(metrics[k]) for k in ("pr_auc", "roc_auc", "precision", "recall", "f1")},
            "false_negatives": int(metrics["false_negatives"]), "train_rows": len(y)}


def run_train(ctx: TaskContext[FraudConfig], cfg: FraudConfig) -> TaskReport:
    data = sampling.with_test_flag(ctx.tables.read(cfg.features_table), cfg.test_fraction, cfg.seed)
    train, test = data.filter(~F.col("is_test")), data.filter(F.col("is_test"))
    test_pdf = sampling.bounded(test, cfg.max_eval_rows, cfg.seed).toPandas()
    samples = {
        "balanced": sampling.balanced_sample(train, cfg.negatives_per_positive, cfg.max_train_rows, cfg.seed),
        "unbalanced": sampling.uniform_sample(train, cfg.max_train_rows, cfg.seed),
    }
    pdfs = {variant: sample.toPandas() for variant, sample in samples.items()}
    spec = default_spec(sorted(set(pdfs["balanced"]["type"].dropna()) | set(pdfs["unbalanced"]["type"].dropna())))
    with ctx.mlflow_run(cfg):
        rules = labels.load_rules(cfg.label_rules_file)
        mlflow.set_tags({"label_rules": rules.source, "label_rules_sha256": rules.sha256})
        rows = [_train_variant(cfg, variant, pdf, test_pdf, spec) for variant, pdf in pdfs.items()]
        for row in rows:
            tracking.log_metrics({f"{row['variant']}_{k}": row[k] for k in ("pr_auc", "roc_auc", "false_negatives")})
    trained_at = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    ctx.tables.write(ctx.spark.createDataFrame([Row(**r, trained_at=trained_at) for r in rows]),
                     cfg.training_runs_table)
    by_variant = {r["variant"]: r for r in rows}
    return TaskReport(sum(len(p) for p in pdfs.values()) + len(test_pdf), len(rows), balanced=False, metrics={
        f"{v}_{k}": float(r[k]) for v, r in by_variant.items() for k in ("pr_auc", "roc_auc", "f1", "false_negatives")})


def run_compile(ctx: TaskContext[FraudConfig], cfg: FraudConfig) -> TaskReport:
    runs = ctx.tables.read(cfg.training_runs_table).filter(F.col("variant") == "balanced")
    best = runs.orderBy(F.col("trained_at").desc()).first()
    if best is None:
        raise InputError(f"{cfg.training_runs_table} has no balanced training run; run the train task first")
    tracking.configure_tracking()
    tree = mlflow.sklearn.load_model(best["model_uri"])
    spec = FeatureSpec.from_json(best["feature_spec"])
    scoring_sql, rules = tree_to_sql(tree, spec), tree_to_rules(tree, spec)
    name = model_name(cfg.catalog, cfg.schema, cfg.registered_model)
    example = ctx.tables.read(cfg.features_table).select(*INPUT_COLUMNS).limit(5).toPandas()
    with ctx.mlflow_run(cfg), tempfile.TemporaryDirectory(prefix="fraud-compile-") as tmp:
        rules_text = rules_to_sql_file(rules, f"fraud rules of {name}, training run {best['run_id']}")
        sql_path = Path(tmp) / "scoring.sql"
        sql_path.write_text(scoring_sql)
        tracking.log_text(scoring_sql, "scoring.sql")
        tracking.log_text(rules_text, "fraud_rules.sql")
        signature = mlflow.models.infer_signature(example, predict_frame(tree, spec, example))
        info = mlflow.pyfunc.log_model(name="model", python_model=FraudTreeModel(tree, spec), signature=signature,
                                       input_example=example, artifacts={"scoring_sql": str(sql_path)})
        registration = register_model(info.model_uri, name, KEY_METRIC, float(best[KEY_METRIC]), True)
        tracking.log_metrics({KEY_METRIC: best[KEY_METRIC], "fraud_rules": len(rules), "sql_chars": len(scoring_sql),
                              "promoted": int(registration.promoted)})
    version = str(registration.version)
    rule_rows = [Row(model_version=version, rule_id=r.rule_id, condition=r.condition, support=r.support,
                     precision=r.precision) for r in rules]
    rules_schema = "model_version string, rule_id int, condition string, support bigint, precision double"
    ctx.tables.write(ctx.spark.createDataFrame(rule_rows, rules_schema), cfg.rules_table)
    compiled = Row(model_name=name, model_version=version, run_id=best["run_id"], scoring_sql=scoring_sql,
                   feature_spec=best["feature_spec"], pr_auc=float(best[KEY_METRIC]), promoted=registration.promoted,
                   compiled_at=dt.datetime.now(dt.UTC).replace(tzinfo=None))
    ctx.tables.merge(ctx.spark.createDataFrame([compiled]), cfg.compiled_models_table, ["model_name", "model_version"])
    return TaskReport(1, len(rules), balanced=False, metrics={
        "fraud_rules": len(rules), "promoted": float(registration.promoted), "model_version": float(version)})


def _scoring_model(ctx: TaskContext[FraudConfig], cfg: FraudConfig) -> Row:
    """The compiled row of the champion version (the newest compiled version if no champion exists)."""
    name = model_name(cfg.catalog, cfg.schema, cfg.registered_model)
    compiled = ctx.tables.read(cfg.compiled_models_table).filter(F.col("model_name") == name)
    tracking.configure_tracking()
    try:
        champion = mlflow.MlflowClient().get_model_version_by_alias(name, CHAMPION).version
        chosen = compiled.filter(F.col("model_version") == str(champion)).first()
    except mlflow.exceptions.MlflowException:
        chosen = None
    chosen = chosen or compiled.orderBy(F.col("compiled_at").desc()).first()
    if chosen is None:
        raise InputError(f"no compiled model {name} in {cfg.compiled_models_table}; run the compile task first")
    return chosen


def run_score(ctx: TaskContext[FraudConfig], cfg: FraudConfig) -> TaskReport:
    chosen = _scoring_model(ctx, cfg)
    valid, rows_in = ctx.read_with_contract(cfg.transactions_table, contracts.TRANSACTIONS)
    scores = score_with_sql(add_features(valid), chosen["scoring_sql"], str(chosen["model_version"]),
                            cfg.review_band_low, cfg.review_band_high, cfg.min_leaf_support)
    with jit_friendly_codegen(ctx.spark):
        ctx.tables.write(scores, cfg.scores_table)
    written = ctx.tables.read(cfg.scores_table)
    ctx.tables.write(review_queue(written), cfg.review_queue_table)
    stats = written.agg(F.count("*").alias("n"), F.sum("prediction").alias("flagged"),
                        F.sum(F.col("needs_review").cast("int")).alias("review")).first()
    return TaskReport(rows_in, stats["n"], ctx.quarantined, metrics={
        "flagged": float(stats["flagged"] or 0), "needs_review": float(stats["review"] or 0)})


generate = TaskEntryPoint("fraud", "generate", FraudConfig, run_generate)
features = TaskEntryPoint("fraud", "features", FraudConfig, run_features)
train = TaskEntryPoint("fraud", "train", FraudConfig, run_train)
compile = TaskEntryPoint("fraud", "compile", FraudConfig, run_compile)  # noqa: A001 - the bundle task's name
score = TaskEntryPoint("fraud", "score", FraudConfig, run_score)
