"""The figure of a scenario comparison: paired differences of every outcome, with 90% intervals."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from sim.analysis.compare import OUTCOMES, Comparison
from sim.report.figures import footer


def difference_figure(comparison: Comparison) -> Figure:
    """Paired differences of every outcome, as % of the baseline median, one marker per scenario.

    Hollow markers are effects within noise. Outcomes whose baseline median is zero have no relative
    change and are left out.
    """
    d = comparison.differences
    d = d[d["baseline_median"].abs() > 0]
    outcomes = [name for name in OUTCOMES if name in set(d["outcome"])]
    names = list(comparison.scenarios)
    # Constrained layout makes room for the long outcome labels (tight_layout clipped them).
    fig, ax = plt.subplots(figsize=(12, 1.8 + 0.32 * len(outcomes)), layout="constrained")
    height = 0.8 / max(len(names), 1)
    for k, scenario in enumerate(names):
        part = d[d["scenario"] == scenario].set_index("outcome").reindex(outcomes)
        scale = 100 / part["baseline_median"].abs()
        y = np.arange(len(outcomes)) + (k - (len(names) - 1) / 2) * height
        mid = part["diff_median"] * scale
        err = [mid - part["diff_q05"] * scale, part["diff_q95"] * scale - mid]
        colour = f"C{k}"
        ax.errorbar(mid, y, xerr=err, fmt="none", ecolor=colour, elinewidth=1.2, capsize=2)
        noise = part["within_noise"].fillna(True).astype(bool).to_numpy()
        ax.plot(mid[~noise], y[~noise], "o", color=colour, label=scenario)
        ax.plot(mid[noise], y[noise], "o", mfc="white", color=colour)
    ax.plot([], [], "o", mfc="white", color="0.3", label="hollow: within noise")
    labels = [f"{OUTCOMES[o].label} [{OUTCOMES[o].unit}]" for o in outcomes]
    ax.set_yticks(np.arange(len(outcomes)), labels, fontsize=7.5)
    ax.invert_yaxis()
    ax.axvline(0, color="0.2", linewidth=0.8)
    ax.set_xlabel("paired difference, scenario - baseline [% of the baseline median]")
    ax.set_title("Scenarios vs baseline: paired difference, median and 90% interval over replicates")
    ax.grid(axis="x", alpha=0.3)
    ax.legend(fontsize=7, loc="best")
    footer(fig, comparison.metadata, note="paired median and 90% interval; hollow: within noise")
    fig.get_layout_engine().set(rect=(0, 0.03, 1, 0.97))
    return fig
