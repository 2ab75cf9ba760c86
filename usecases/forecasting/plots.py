"""Figures for MLflow: the backtest metric distribution per model and forecasts of a few series."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # the backend must be chosen first
import numpy as np
import pandas as pd
from matplotlib.figure import Figure


def metric_distribution_figure(metrics: pd.DataFrame, metric: str = "mase") -> Figure:
    """Histogram of one backtest metric per series, one colour per model (columns model, <metric>)."""
    fig, ax = plt.subplots(figsize=(7, 4))
    finite = metrics[np.isfinite(metrics[metric].astype(float))]
    bins = np.linspace(0, max(float(finite[metric].quantile(0.99)), 1e-9) if len(finite) else 1, 30)
    for model, group in finite.groupby("model"):
        ax.hist(group[metric].clip(upper=bins[-1]), bins=bins, alpha=0.55, label=f"{model} (n={len(group)})")
    ax.set_xlabel(metric.upper())
    ax.set_ylabel("series")
    ax.set_title(f"Backtest {metric.upper()} per series")
    ax.legend()
    fig.tight_layout()
    return fig


def forecast_figure(history: pd.DataFrame, forecast: pd.DataFrame, title: str) -> Figure:
    """Recent history (date, units_sold) and the forecast (ds, yhat, yhat_lower, yhat_upper) of one series."""
    fig, ax = plt.subplots(figsize=(9, 3.5))
    ax.plot(pd.to_datetime(history["date"]), history["units_sold"], lw=0.8, color="black", label="history")
    ds = pd.to_datetime(forecast["ds"])
    ax.plot(ds, forecast["yhat"], color="tab:blue", label="forecast")
    if forecast["yhat_lower"].notna().any():
        ax.fill_between(ds, forecast["yhat_lower"].astype(float), forecast["yhat_upper"].astype(float),
                        color="tab:blue", alpha=0.2, label="interval")
    ax.set_title(title)
    ax.legend(loc="upper left")
    fig.tight_layout()
    return fig
