"""Decision-tree training with cross-validated depth, and the evaluation figures and metrics logged to MLflow."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import os

import numpy as np
from joblib import parallel_config
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from sklearn.metrics import average_precision_score, confusion_matrix, roc_auc_score
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.tree import DecisionTreeClassifier, plot_tree


def fit_tree(
    x: np.ndarray, y: np.ndarray, depth_grid: tuple[int, ...], cv_folds: int, min_samples_leaf: int, seed: int
) -> tuple[DecisionTreeClassifier, dict[str, float]]:
    """Pick ``max_depth`` by stratified K-fold average precision (PR-AUC), refit on all rows; return model, scores."""
    minority = int(min(np.bincount(y.astype(int), minlength=2)))
    if minority < 2:
        raise ValueError(f"need at least 2 rows of each class to train, got class counts {np.bincount(y, minlength=2)}")
    folds = StratifiedKFold(n_splits=min(cv_folds, minority), shuffle=True, random_state=seed)
    search = GridSearchCV(
        DecisionTreeClassifier(min_samples_leaf=min_samples_leaf, random_state=seed),
        {"max_depth": list(depth_grid)}, scoring="average_precision", cv=folds, refit=True,
    )
    # Tree building releases the GIL, so threads fit the grid's folds in parallel without starting processes
    # (the driver's cores are otherwise idle while Spark waits); results do not depend on the thread count.
    with parallel_config(backend="threading", n_jobs=min(os.cpu_count() or 1, len(depth_grid) * folds.n_splits)):
        search.fit(x, y)
    results = search.cv_results_
    scores = {f"cv_pr_auc_depth_{d}": float(s)
              for d, s in zip(results["param_max_depth"], results["mean_test_score"], strict=True)}
    return search.best_estimator_, scores


def evaluate(model: DecisionTreeClassifier, x: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """PR-AUC and ROC-AUC from probabilities (not hard labels), confusion counts, recall, precision, F1."""
    positive = list(model.classes_).index(1)
    proba = model.predict_proba(x)[:, positive]
    predicted = model.classes_[np.argmax(model.predict_proba(x), axis=1)]
    tn, fp, fn, tp = (int(v) for v in confusion_matrix(y, predicted, labels=[0, 1]).ravel())
    both = len(np.unique(y)) == 2
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    return {
        "pr_auc": float(average_precision_score(y, proba)) if both else float("nan"),
        "roc_auc": float(roc_auc_score(y, proba)) if both else float("nan"),
        "true_negatives": tn, "false_positives": fp, "false_negatives": fn, "true_positives": tp,
        "precision": precision, "recall": recall,
        "f1": 2 * precision * recall / (precision + recall) if precision + recall else 0.0,
        "test_rows": int(len(y)), "test_fraud_rate": float(np.mean(y)) if len(y) else 0.0,
    }


def _figure(size: tuple[float, float]) -> Figure:
    """A pyplot-free figure with an Agg canvas (plot_tree measures text, so it needs a renderer)."""
    fig = Figure(figsize=size)
    FigureCanvasAgg(fig)
    return fig


def confusion_figure(metrics: dict[str, float], title: str) -> Figure:
    """The confusion matrix as a labelled heat map."""
    cells = np.array([[metrics["true_negatives"], metrics["false_positives"]],
                      [metrics["false_negatives"], metrics["true_positives"]]])
    fig = _figure((4, 4))
    ax = fig.subplots()
    ax.imshow(cells, cmap="Blues")
    for (i, j), value in np.ndenumerate(cells):
        ax.text(j, i, f"{int(value):,}", ha="center", va="center", color="black")
    ax.set_xticks([0, 1], ["legit", "fraud"])
    ax.set_yticks([0, 1], ["legit", "fraud"])
    ax.set_xlabel("predicted")
    ax.set_ylabel("actual")
    ax.set_title(title)
    return fig


def tree_figure(model: DecisionTreeClassifier, feature_names: list[str], max_depth: int = 4) -> Figure:
    """The top of the tree (readable depth) with split features and class mix."""
    fig = _figure((20, 10))
    plot_tree(model, feature_names=feature_names, class_names=["legit", "fraud"], filled=True,
              max_depth=max_depth, fontsize=7, ax=fig.subplots())
    return fig


def importance_figure(model: DecisionTreeClassifier, feature_names: list[str]) -> Figure:
    """Impurity-based feature importances, largest first."""
    order = np.argsort(model.feature_importances_)
    fig = _figure((6, 4))
    ax = fig.subplots()
    ax.barh([feature_names[i] for i in order], model.feature_importances_[order])
    ax.set_xlabel("importance")
    fig.tight_layout()
    return fig
