"""Figures of a calibration: marginal posteriors, pair plot (one run or several), each target's fit."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import NullFormatter

from sim.analysis.calibration import Posterior
from sim.analysis.convergence import correlations
from sim.analysis.uncertainties import Dist, Uncertainty
from sim.model import keys as model_keys
from sim.model.schemas import ConfigError, ModelParams
from sim.report.figures import COLOURS, PALETTE, footer

NOTE = "ABC-SMC posterior, last generation (weighted particles)"


def axis_label(key: str, wrap: bool = False) -> str:
    """``key [unit]`` for a model parameter with a unit (``schemas.param``); the key alone otherwise.

    Args:
        key: Dotted parameter name.
        wrap: Put the unit on a line of its own (the pair plot's narrow panels).
    """
    try:
        unit = model_keys.metadata(ModelParams(), key).get("unit", "-")
    except ConfigError:
        return key  # not a model parameter (a test's toy prior)
    sep = "\n" if wrap else " "
    return key if unit == "-" else f"{key}{sep}[{unit}]"


def _bins(prior: Uncertainty) -> np.ndarray:
    if prior.dist is Dist.loguniform:
        return np.geomspace(prior.low, prior.high, 21)
    return np.linspace(prior.low, prior.high, 21)


def marginals(posterior: Posterior, priors: dict[str, Uncertainty], metadata: dict[str, Any]) -> Figure:
    """Weighted histogram of each parameter's posterior over its prior range (the prior is flat)."""
    keys = list(priors)
    cols = 4
    rows = -(-len(keys) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.6 * rows + 0.4), squeeze=False)
    w = posterior.particles["weight"].to_numpy(float)
    for ax, key in zip(axes.flat, keys, strict=False):
        prior = priors[key]
        ax.hist(
            posterior.particles[key],
            bins=_bins(prior),
            weights=w,
            density=True,
            color=PALETTE["blue"],
            alpha=0.8,
        )
        if prior.dist is Dist.loguniform:
            ax.set_xscale("log")
            ax.xaxis.set_minor_formatter(NullFormatter())  # minor labels overlap on short ranges
        ax.set_xlim(prior.low, prior.high)
        ax.set_xlabel(axis_label(key), fontsize=8)
        ax.set_ylabel("posterior density", fontsize=8)
        ax.tick_params(labelsize=7)
    for ax in list(axes.flat)[len(keys) :]:
        ax.set_visible(False)
    fig.suptitle("Marginal posteriors (x-axis spans the prior range)")
    footer(fig, metadata, NOTE)
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    return fig


def pairs(
    posteriors: dict[str, pd.DataFrame],
    priors: dict[str, Uncertainty],
    metadata: dict[str, Any],
    unidentified: Collection[str] = (),
) -> Figure:
    """Pair plot of weighted particles, one colour per run (marker size ~ weight).

    Below the diagonal the particles, on the diagonal each run's marginal, above it the posterior
    correlation of the runs pooled (on the priors' scales, :func:`sim.analysis.convergence.correlations`).

    Args:
        posteriors: Run name -> weighted particles (one run: a single calibration).
        priors: The parameters to plot and their priors (the axes span the prior ranges).
        metadata: Provenance for the footer.
        unidentified: Parameters whose marginal is titled "not identified by the targets".
    """
    keys = list(priors)
    k = len(keys)
    fig, axes = plt.subplots(k, k, figsize=(1.6 * k + 1, 1.6 * k + 1), squeeze=False)
    colours = dict(zip(posteriors, COLOURS, strict=False))
    r = correlations(posteriors, priors)
    for i, yi in enumerate(keys):
        for j, xj in enumerate(keys):
            ax = axes[i, j]
            if i < j:
                ax.axis("off")
                ax.text(0.5, 0.5, f"r = {r.loc[yi, xj]:.2f}", ha="center", va="center", fontsize=7)
                continue
            for run, p in posteriors.items():
                if i == j:
                    share = p["weight"] / p["weight"].sum()
                    ax.hist(p[xj], bins=_bins(priors[xj]), weights=share, color=colours[run], alpha=0.5)
                else:
                    size = 4 + 60 * p["weight"] / p["weight"].max()
                    ax.scatter(p[xj], p[yi], s=size, alpha=0.5, color=colours[run], linewidths=0)
            if i == j and xj in unidentified:
                ax.set_title("not identified by the targets", fontsize=6, color=PALETTE["vermillion"])
            for axis, key in (("x", xj), ("y", yi)):
                if priors[key].dist is Dist.loguniform and not (axis == "y" and i == j):
                    getattr(ax, f"set_{axis}scale")("log")
                    getattr(ax, f"{axis}axis").set_minor_formatter(NullFormatter())
            ax.set_xlim(priors[xj].low, priors[xj].high)
            if i != j:
                ax.set_ylim(priors[yi].low, priors[yi].high)
            ax.tick_params(labelsize=5)
            if i == k - 1:
                ax.set_xlabel(axis_label(xj, wrap=True), fontsize=6)
            if i == j:  # a bar is the share of its run's weight in the bin
                share_label = "weight share" if j else f"{axis_label(yi, wrap=True)}\nweight share"
                ax.set_ylabel(share_label, fontsize=6)
            elif j == 0:
                ax.set_ylabel(axis_label(yi, wrap=True), fontsize=6)
    if len(posteriors) > 1:
        handles = [Patch(color=c, alpha=0.5, label=run) for run, c in colours.items()]
        fig.legend(handles=handles, loc="upper right", fontsize=6, title="run", title_fontsize=6)
    runs = f" of {len(posteriors)} calibrations" if len(posteriors) > 1 else ""
    fig.suptitle(f"Posterior pair plot{runs}\n(r: posterior correlation on the priors' scales)", fontsize=10)
    footer(fig, metadata, NOTE)
    fig.tight_layout(rect=(0, 0.03, 1, 0.97))
    return fig


def fit(report: pd.DataFrame, metadata: dict[str, Any], basis: str = "posterior predictive") -> Figure:
    """Each target's published value or range beside the simulated 90% interval.

    Values are shown relative to the published value (or the range's midpoint, or its upper end when it
    starts at 0, or a one-sided bound) on a log axis, so targets of different units share one panel.
    ``basis`` says what was simulated (the posterior predictive, or the hand-tuned parameters).
    """
    fig, ax = plt.subplots(figsize=(8, 0.55 * len(report) + 1.6))
    for y, row in enumerate(report.itertuples()):
        binomial = row.kind in ("binomial", "binomial_at_least")
        ref = row.observed / row.n if binomial else row.observed
        if row.kind in ("interval", "binomial_between"):
            scale = row.n if row.kind == "binomial_between" else 1.0
            ref = (np.sqrt(row.low * row.high) if row.low > 0 else row.high) / scale
            ax.plot(
                [row.low / scale / ref, row.high / scale / ref],
                [y, y],
                color="0.6",
                lw=6,
                solid_capstyle="butt",
                label="published range" if y == 0 else None,
            )
        elif row.kind == "binomial_at_least":
            ax.plot([ref / ref, 1 / ref], [y, y], color="0.6", lw=6, solid_capstyle="butt")
        elif row.kind == "at_least":  # a one-sided bound: the bar runs from it to the right
            ref = row.low
            ax.plot([1, max(2.0, row.q95 / ref)], [y, y], color="0.6", lw=6, solid_capstyle="butt")
        else:
            ax.plot([1], [y], "s", color="0.3", label="published value" if y == 0 else None)
        colour = PALETTE["blue"] if row.covered else PALETTE["vermillion"]
        ax.plot([row.q05 / ref, row.q95 / ref], [y, y], color=colour, lw=2)
        ax.plot([row.median / ref], [y], "o", color=colour)
    ax.set_yticks(range(len(report)))
    ax.set_yticklabels([f"{r.target} ({r.use})" for r in report.itertuples()], fontsize=8)
    ax.set_xscale("log")
    ax.set_xlabel(f"simulated / published (log scale); bar = published range, line = 90% {basis}")
    ax.axvline(1, color="0.8", lw=0.8, zorder=0)
    ax.set_title(f"{basis.capitalize()}: 90% intervals (blue: meets the target, vermillion: misses)")
    ax.invert_yaxis()
    footer(fig, metadata, f"{basis}: one fresh replicate per draw")
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    return fig
