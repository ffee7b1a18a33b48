"""Figures of a sensitivity analysis, drawn from its indices table (one panel per output)."""

from __future__ import annotations

import math
import textwrap
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from sim.report.figures import GROUPED, PALETTE, footer, money_scale
from sim.runs import metrics

TOP = 15  # parameters shown per panel: beyond the first few, Morris bars are indistinguishable from 0


def _panels(outputs: list[str], n_rows: int) -> tuple[Figure, np.ndarray]:
    columns = min(2, len(outputs))
    rows = math.ceil(len(outputs) / columns)
    height = 0.9 + 0.28 * n_rows
    fig = Figure(figsize=(6.2 * columns, height * rows + 0.5))
    axes = np.atleast_1d(fig.subplots(rows, columns, squeeze=False).ravel())
    for ax in axes[len(outputs) :]:
        ax.set_visible(False)
    return fig, axes


def _label(ax: Any, output: str, table: pd.DataFrame, groups: str) -> None:
    """Panel title (metric, meaning, how many groups were used) and axis formatting."""
    meaning = metrics.METRICS[output][1] if output in metrics.METRICS else ""
    ax.set_title(f"{output} ({table['n_used'].iloc[0]} {groups})\n{textwrap.fill(meaning, 70)}", fontsize=9)
    ax.set_ylabel("parameter")
    ax.grid(axis="x", alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")


def morris(indices: pd.DataFrame, metadata: dict[str, Any]) -> Figure:
    """Tornado chart of Morris mu* (bars, 95% CI as error bars) and sigma (diamonds) per output."""
    outputs = list(dict.fromkeys(indices["output"]))
    n_params = indices["parameter"].nunique()
    shown = min(TOP, n_params)
    fig, axes = _panels(outputs, shown)
    for ax, output in zip(axes, outputs, strict=False):
        table = indices[indices["output"] == output].nlargest(shown, "mu_star").iloc[::-1]
        unit = metrics.METRICS.get(output, ("",))[0]
        divisor = 1.0
        if unit == "USD":  # 2e10 USD reads as "20" on an axis in USD billion
            divisor, unit = money_scale(table["mu_star"].max())
        y = np.arange(len(table))
        ax.barh(
            y,
            table["mu_star"] / divisor,
            xerr=table["mu_star_conf"] / divisor,
            color=PALETTE["blue"],
            alpha=0.8,
            label="mu* (95% CI)",
        )
        ax.plot(table["sigma"] / divisor, y, "D", mfc="none", color=PALETTE["vermillion"], label="sigma")
        ax.set_yticks(y, table["parameter"], fontsize=7)
        ax.set_xlabel(f"elementary effect over the parameter's range [{unit}]")
        ax.xaxis.set_major_formatter(GROUPED)
        ax.set_xlim(left=0)
        _label(ax, output, table, "trajectories")
    fig.suptitle(f"Morris screening: the {shown} most influential of {n_params} parameters per output")
    footer(fig, metadata, "Morris mu*, sigma (SALib); seeds shared by all sample rows")
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    return fig


def sobol(indices: pd.DataFrame, metadata: dict[str, Any]) -> Figure:
    """Paired bars of Sobol first-order (S1) and total (ST) indices with 95% CIs, per output."""
    outputs = list(dict.fromkeys(indices["output"]))
    n_params = indices["parameter"].nunique()
    shown = min(TOP, n_params)
    fig, axes = _panels(outputs, shown)
    height = 0.4
    for ax, output in zip(axes, outputs, strict=False):
        table = indices[indices["output"] == output].nlargest(shown, "ST").iloc[::-1]
        y = np.arange(len(table))
        ax.barh(
            y + height / 2,
            table["ST"],
            height,
            xerr=table["ST_conf"],
            color=PALETTE["orange"],
            label="ST (total)",
        )
        ax.barh(
            y - height / 2,
            table["S1"],
            height,
            xerr=table["S1_conf"],
            color=PALETTE["blue"],
            label="S1 (first order)",
        )
        ax.set_yticks(y, table["parameter"], fontsize=7)
        ax.set_xlabel("share of output variance (95% CI)")
        ax.axvline(0, color="0.3", lw=0.8)
        _label(ax, output, table, "base samples")
    fig.suptitle(f"Sobol indices of {n_params} parameters per output")
    footer(fig, metadata, "Sobol S1, ST (SALib, Saltelli sampling); seeds shared by all sample rows")
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    return fig


FIGURES = {"morris": morris, "sobol": sobol}
