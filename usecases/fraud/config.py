"""Parameters of the fraud job (one field per job parameter in resources/fraud.job.yml)."""

from __future__ import annotations

from dataclasses import dataclass

from shared.config import ConfigError, JobConfig, param
from usecases.fraud.contracts import BASE_COLUMN_NAMES
from usecases.fraud.features import NUMERIC_FEATURES


@dataclass(frozen=True)
class FraudConfig(JobConfig):
    """Fraud job parameters: tables, generator size, sampling, tree search and review band."""

    transactions_table: str = param("transactions", "input: transactions (table name, or locally a CSV/Parquet path)")
    review_labels_table: str = param("fraud_review_labels",
                                     "input (optional): analysts' review labels that override rule labels")
    features_table: str = param("fraud_features", "output: transactions with features and resolved labels")
    training_runs_table: str = param("fraud_training_runs", "output: one row per trained variant with its metrics")
    compiled_models_table: str = param("fraud_compiled_models", "output: registered model versions with their SQL")
    rules_table: str = param("fraud_rules", "output: the champion tree as readable rules, one row per fraud leaf")
    scores_table: str = param("fraud_scores", "output: every transaction's probability, prediction and rule")
    review_queue_table: str = param("fraud_review_queue", "output: transactions to review, most uncertain first")
    label_rules_file: str = param("", "SQL file of SME rules that label transactions without a label "
                                  "(empty: the packaged sme_rules_v1.sql)")
    extra_features: tuple[str, ...] = param((), "the input's own numeric columns the tree may also split on, "
                                            "comma-separated (empty: the built-in features only)")
    n_transactions: int = param(200_000, "transactions the generate task writes (PaySim has 6.36M)")
    test_fraction: float = param(0.2, "share of transactions held out for evaluation (seeded hash split)")
    negatives_per_positive: float = param(10.0, "legitimate transactions sampled per fraud for the balanced model")
    max_train_rows: int = param(200_000, "most rows collected to the driver for training (bounds memory)")
    max_eval_rows: int = param(500_000, "most held-out rows collected to the driver for evaluation")
    depth_grid: tuple[int, ...] = param((3, 5, 7, 10), "tree depths tried by the cross-validated grid search")
    cv_folds: int = param(3, "cross-validation folds of the grid search")
    min_samples_leaf: int = param(1, "smallest number of training rows in a leaf")
    review_band_low: float = param(0.2, "a score at or above this and at or below review_band_high needs review")
    review_band_high: float = param(0.8, "upper edge of the review band")
    min_leaf_support: int = param(5, "leaves with fewer training rows than this are sent to review")
    registered_model: str = param("fraud_tree", "registered model name (catalog.schema.<this>)")

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.n_transactions < 1:
            raise ConfigError("n_transactions must be >= 1")
        if not 0.0 < self.test_fraction < 1.0:
            raise ConfigError(f"test_fraction must be in (0, 1), got {self.test_fraction}")
        if self.negatives_per_positive <= 0:
            raise ConfigError("negatives_per_positive must be > 0")
        if self.max_train_rows < 10 or self.max_eval_rows < 10:
            raise ConfigError("max_train_rows and max_eval_rows must be >= 10")
        if not self.depth_grid or min(self.depth_grid) < 1:
            raise ConfigError("depth_grid needs at least one depth >= 1")
        if self.cv_folds < 2:
            raise ConfigError("cv_folds must be >= 2")
        if self.min_samples_leaf < 1:
            raise ConfigError("min_samples_leaf must be >= 1")
        if not 0.0 <= self.review_band_low <= self.review_band_high <= 1.0:
            raise ConfigError("need 0 <= review_band_low <= review_band_high <= 1")
        if self.min_leaf_support < 0:
            raise ConfigError("min_leaf_support must be >= 0")
        taken = set(BASE_COLUMN_NAMES) | set(NUMERIC_FEATURES) | {"is_test", "rule_hit", "rule_label", "label_source"}
        for name in self.extra_features:
            if name in taken or name.startswith("_"):
                raise ConfigError(f"extra_features: {name!r} is a built-in column or feature, or starts with '_'")
        if len(set(self.extra_features)) != len(self.extra_features):
            raise ConfigError("extra_features names a column twice")
