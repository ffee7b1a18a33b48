"""Figures of a simulation-based calibration check: one rank histogram per free parameter."""

from __future__ import annotations

from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from scipy import stats

from sim.analysis.sbc import rank_histogram
from sim.report.figures import PALETTE, footer

NOTE = "rank of each synthetic truth among its posterior draws; grey: 99% range of a bin if uniform"


def ranks(
    rows: pd.DataFrame, summary: pd.DataFrame, posterior_draws: int, bins: int, metadata: dict[str, Any]
) -> Figure:
    """Rank histograms (Talts et al. 2018, fig. 2): flat within the grey band if the posteriors are exact.

    Args:
        rows: Every truth's rows (:func:`sim.analysis.sbc.rows_of`).
        summary: :func:`sim.analysis.sbc.summary` (its order and coverage label the panels).
        posterior_draws: The number of draws each truth is ranked among.
        bins: Rank histogram bins.
        metadata: The report's provenance (:func:`sim.report.figures.footer`).
    """
    cols = 4
    n_rows = -(-len(summary) // cols)
    fig, axes = plt.subplots(n_rows, cols, figsize=(3.2 * cols, 2.6 * n_rows + 0.5), squeeze=False)
    edges = np.arange(bins + 1) * (posterior_draws + 1) / bins
    for ax, row in zip(axes.flat, summary.itertuples(), strict=False):
        counts = rank_histogram(rows.loc[rows["parameter"] == row.parameter, "rank"], posterior_draws, bins)
        # What chance alone does to a bin of an exact posterior's histogram: Binomial(truths, 1 / bins).
        low, high = stats.binom.ppf([0.005, 0.995], row.truths, 1 / bins)
        ax.axhspan(low, high, color="0.85", zorder=0)
        ax.axhline(row.truths / bins, color="0.4", linewidth=1, zorder=1)
        ax.bar(
            edges[:-1], counts, width=np.diff(edges), align="edge", color=PALETTE["blue"], alpha=0.8, zorder=2
        )
        ax.set_xlim(0, posterior_draws + 1)
        ax.set_title(
            f"{row.parameter}\ncoverage 50%: {row.coverage50:.2f}, 90%: {row.coverage90:.2f}", fontsize=8
        )
        ax.set_xlabel(f"rank among {posterior_draws} posterior draws", fontsize=8)
        ax.set_ylabel("truths", fontsize=8)
        ax.tick_params(labelsize=7)
    for ax in list(axes.flat)[len(summary) :]:
        ax.set_visible(False)
    truths = int(summary["truths"].max()) if len(summary) else 0
    fig.suptitle(f"Simulation-based calibration: rank histograms over {truths} synthetic truths")
    footer(fig, metadata, NOTE)
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    return fig
