"""Parameters of the fraud job (one field per job parameter in resources/fraud.job.yml)."""

from __future__ import annotations

from dataclasses import dataclass

from shared.config import ConfigError, JobConfig


@dataclass(frozen=True)
class FraudConfig(JobConfig):
    """Fraud job parameters: tables, generator size, sampling, tree search and review band."""

    transactions_table: str = "transactions"
    review_labels_table: str = "fraud_review_labels"
    features_table: str = "fraud_features"
    training_runs_table: str = "fraud_training_runs"
    compiled_models_table: str = "fraud_compiled_models"
    rules_table: str = "fraud_rules"
    scores_table: str = "fraud_scores"
    review_queue_table: str = "fraud_review_queue"
    label_rules_file: str = ""
    rows: int = 200_000
    test_fraction: float = 0.2
    negatives_per_positive: float = 10.0
    max_train_rows: int = 200_000
    max_eval_rows: int = 500_000
    depth_grid: tuple[int, ...] = (3, 5, 7, 10)
    cv_folds: int = 3
    min_samples_leaf: int = 1
    review_band_low: float = 0.2
    review_band_high: float = 0.8
    min_leaf_support: int = 5

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.rows < 1:
            raise ConfigError("rows must be >= 1")
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
