"""Evaluation figures: actual vs expected sales with alerts for the top items, and a per-store OSA heat map."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # the backend must be chosen first
import pandas as pd
from matplotlib.figure import Figure

MARKERS = {"phantom_inventory": ("red", "x"), "zero_sales": ("black", "v"), "osa_gap": ("orange", "o"),
           "safety_stock": ("purple", "|")}


def actual_vs_expected_figure(series: pd.DataFrame, alerts: pd.DataFrame) -> Figure:
    """One panel per store-item (columns date, store_id, item_id, units_sold, expected_units); alerts marked."""
    keys = list(series.groupby(["store_id", "item_id"]).groups)
    fig, axes = plt.subplots(max(len(keys), 1), 1, figsize=(11, 2.6 * max(len(keys), 1)), squeeze=False)
    for ax, (store, item) in zip(axes[:, 0], keys, strict=False):
        s = series[(series.store_id == store) & (series.item_id == item)].sort_values("date")
        ax.plot(s["date"], s["units_sold"], lw=0.8, label="actual")
        ax.plot(s["date"], s["expected_units"], lw=0.8, label="expected")
        a = alerts[(alerts.store_id == store) & (alerts.item_id == item)]
        top = float(s["units_sold"].max() or 1)
        for kind, (color, marker) in MARKERS.items():
            k = a[a.alert_type == kind]
            if len(k):
                ax.scatter(k["date"], [top * 1.05] * len(k), c=color, marker=marker, s=12, label=kind)
        ax.set_title(f"{store} / {item}", fontsize=9)
        ax.legend(fontsize=7, loc="upper left", ncol=6)
    fig.tight_layout()
    return fig


def osa_heatmap_figure(weekly: pd.DataFrame) -> Figure:
    """Heat map of mean OSA % per store (rows) and week (columns); input columns store_id, week, osa_pct."""
    grid = weekly.pivot_table(index="store_id", columns="week", values="osa_pct", aggfunc="mean").sort_index()
    fig, ax = plt.subplots(figsize=(11, 0.4 * max(len(grid), 3) + 1.5))
    image = ax.imshow(grid.to_numpy(), aspect="auto", cmap="RdYlGn", vmin=0.5, vmax=1.0)
    ax.set_yticks(range(len(grid)), grid.index)
    step = max(1, len(grid.columns) // 12)
    labels = [str(c)[:10] for c in grid.columns[::step]]
    ax.set_xticks(range(0, len(grid.columns), step), labels, rotation=45, fontsize=7)
    ax.set_title("On-shelf availability by store and week")
    fig.colorbar(image, ax=ax, label="OSA %")
    fig.tight_layout()
    return fig
