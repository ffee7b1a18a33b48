"""Figures of a sensitivity analysis, drawn from its indices table.

One panel per output; for the lever study one panel per lever and output.
"""

from __future__ import annotations

import math
import textwrap
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from sim.report.figures import GROUPED, PALETTE, band, footer, money_scale
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


def pawn(indices: pd.DataFrame, metadata: dict[str, Any]) -> Figure:
    """PAWN indices (median KS distance, 95% CI as error bars) per output, beside the dummy's band."""
    outputs = list(dict.fromkeys(indices["output"]))
    params = indices[indices["parameter"] != "dummy"]
    n_params = params["parameter"].nunique()
    shown = min(TOP, n_params)
    fig, axes = _panels(outputs, shown)
    for ax, output in zip(axes, outputs, strict=False):
        rows = indices[indices["output"] == output]
        dummy = rows[rows["parameter"] == "dummy"].iloc[0]
        table = params[params["output"] == output].nlargest(shown, "pawn").iloc[::-1]
        y = np.arange(len(table))
        colours = [PALETTE["blue"] if hit else "0.6" for hit in table["influential"]]
        ax.barh(y, table["pawn"], xerr=table["pawn_conf"], color=colours, alpha=0.85, label="PAWN (95% CI)")
        # What a parameter with no influence gets at this sample size (PAWN is biased upwards).
        ax.axvspan(
            max(dummy["pawn"] - dummy["pawn_conf"], 0),
            dummy["pawn"] + dummy["pawn_conf"],
            color=PALETTE["orange"],
            alpha=0.25,
            label="dummy (no influence)",
        )
        ax.set_yticks(y, table["parameter"], fontsize=7)
        ax.set_xlabel("median KS distance between conditional and overall output distribution")
        ax.set_xlim(0, 1)
        _label(ax, output, table, "rows kept")
    kept = metadata.get("kept", {})
    fig.suptitle(
        f"PAWN indices near the fitted state: the {shown} largest of {n_params} parameters per output\n"
        f"({kept.get('rows', '?')} of {metadata.get('rows', '?')} simulated worlds consistent with the fit "
        "targets; blue: above the dummy)"
    )
    footer(fig, metadata, "PAWN (SALib, given data), bootstrap 95% CI; one simulated world per row")
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    return fig


def levers(effects: pd.DataFrame, metadata: dict[str, Any]) -> Figure:
    """Each lever's effect on each output over its range: median and 90% interval over draws."""
    names = list(dict.fromkeys(effects["lever"]))
    outputs = list(dict.fromkeys(effects["output"]))
    fig = Figure(figsize=(3.6 * len(outputs), 1.9 * len(names) + 0.8))
    axes = np.atleast_2d(fig.subplots(len(names), len(outputs), squeeze=False))
    for i, name in enumerate(names):
        for j, output in enumerate(outputs):
            ax = axes[i, j]
            table = effects[(effects["lever"] == name) & (effects["output"] == output)].set_index("value")
            divisor, unit = 1.0, metrics.METRICS[output][0]
            if unit == "USD":
                divisor, unit = money_scale(table[["effect_q05", "effect_q95"]].abs().max().max())
            q = table[["effect_median", "effect_q05", "effect_q95"]] / divisor
            band(ax, q.set_axis(["median", "lo", "hi"], axis=1), 0)
            ax.axhline(0, color="0.3", lw=0.8)
            ax.axvline(table["fitted"].iloc[0], color=PALETTE["black"], ls="--", lw=0.8)
            ax.yaxis.set_major_formatter(GROUPED)
            ax.tick_params(labelsize=7)
            if i == 0:
                ax.set_title(textwrap.fill(f"{output} [{unit}]", 40), fontsize=8)
            if j == 0:
                ax.set_ylabel(f"{name}\neffect", fontsize=8)
            if i == len(names) - 1:
                ax.set_xlabel("lever value", fontsize=8)
    fig.suptitle(
        "Policy levers at the fitted state: change in each output against the same draw unchanged\n"
        "(median and 90% interval over draws; dashed: the lever's value before the change)"
    )
    footer(fig, metadata, "paired runs, common random numbers; levers set from sensitivity.levers.start")
    fig.tight_layout(rect=(0, 0.02, 1, 1))
    return fig


FIGURES = {"pawn": pawn, "morris": morris, "sobol": sobol, "levers": levers}
