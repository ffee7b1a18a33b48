"""Figures from results tables (never from a live model). Each function returns a matplotlib figure."""

from __future__ import annotations

from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only; notebooks may switch backends before importing pyplot

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.figure import Figure

from sim.model.ledger import EXIT_ROUTES, VARIABLES

BAND = (0.05, 0.95)  # the 90% band across replicates


def _quantiles(table: pd.DataFrame, column: str) -> pd.DataFrame:
    """Median and 90% band of ``column`` over replicates, per date."""
    grouped = table.groupby("date")[column]
    return pd.DataFrame(
        {
            "median": grouped.median(),
            "lo": grouped.quantile(BAND[0]),
            "hi": grouped.quantile(BAND[1]),
        }
    )


def footer(fig: Figure, metadata: dict[str, Any], note: str = "median and 90% band over replicates") -> None:
    """Write the run's provenance (version, commit, config hash, seeds) and ``note`` under a figure."""
    git = metadata.get("git", {})
    commit = (git.get("commit") or "unknown")[:10] + ("+dirty" if git.get("dirty") else "")
    seeds = metadata.get("seeds", {})
    text = (
        f"scamsim {metadata.get('versions', {}).get('scamsim', '?')} | commit {commit} | "
        f"config {metadata.get('config_hash', '?')} | seed {seeds.get('base_seed', '?')} x "
        f"{seeds.get('n_seeds', '?')} replicates | {note}"
    )
    fig.text(0.01, 0.005, text, fontsize=6.5, color="0.4", ha="left", va="bottom")


def _finish(fig: Figure, ax: Any, ylabel: str, title: str, legend: str, metadata: dict[str, Any]) -> None:
    """Axis labels, legend, grid and the provenance footer shared by all time plots."""
    ax.set_xlabel("date")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.set_ylim(bottom=0)
    ax.legend(title=legend, fontsize=8)
    ax.grid(alpha=0.3)
    footer(fig, metadata)
    fig.tight_layout(rect=(0, 0.03, 1, 1))


def band_plot(
    timeseries: pd.DataFrame,
    variable: str,
    metadata: dict[str, Any],
    title: str,
    cumulative: bool = False,
    by: str = "jurisdiction",
) -> Figure:
    """One line per jurisdiction (or per value of ``by``): median over replicates with the 90% band.

    Args:
        timeseries: Tidy time series (columns replicate, date, ``by``, variables).
        variable: Column to plot.
        metadata: Run provenance, shown in the footer.
        title: Figure title.
        cumulative: Plot the running total of a flow variable.
        by: Column whose values get a line each, e.g. ``scenario`` in a comparison.
    """
    var = VARIABLES[variable]
    fig, ax = plt.subplots(figsize=(8, 4.2))
    for name, part in timeseries.groupby(by, observed=True):
        part = part.sort_values("date")
        if cumulative:
            part = part.assign(**{variable: part.groupby("replicate")[variable].cumsum()})
        q = _quantiles(part, variable)
        ax.fill_between(q.index, q["lo"], q["hi"], alpha=0.25, linewidth=0)
        ax.plot(q.index, q["median"], label=str(name))
    label = variable.replace("_", " ") + (" (cumulative)" if cumulative else "")
    _finish(fig, ax, f"{label} [{var.unit}]", title, by, metadata)
    return fig


def exits_by_route(timeseries: pd.DataFrame, metadata: dict[str, Any]) -> Figure:
    """Cumulative exits from captivity by route (all jurisdictions), median and 90% band."""
    fig, ax = plt.subplots(figsize=(8, 4.2))
    total = timeseries.groupby(["replicate", "date"], observed=True)[
        [f"exits_{r}" for r in EXIT_ROUTES] + ["resales"]
    ].sum()
    cumulative = total.groupby(level="replicate").cumsum().reset_index()
    for column in [f"exits_{r}" for r in EXIT_ROUTES] + ["resales"]:
        q = _quantiles(cumulative, column)
        style = "--" if column == "resales" else "-"
        ax.fill_between(q.index, q["lo"], q["hi"], alpha=0.2, linewidth=0)
        label = column.removeprefix("exits_") + (" (sold on, still held)" if column == "resales" else "")
        ax.plot(q.index, q["median"], style, label=label)
    title = "Ways out of the compounds (all jurisdictions)"
    _finish(fig, ax, "people, cumulative [people]", title, "route", metadata)
    return fig


def run_figures(timeseries: pd.DataFrame, metadata: dict[str, Any]) -> dict[str, Figure]:
    """The standard figures of ``scamsim run``."""
    return {
        "compounds_active": band_plot(timeseries, "compounds_active", metadata, "Compounds operating"),
        "workers_held": band_plot(timeseries, "workers_held", metadata, "Trafficked workers held"),
        "exits_by_route": exits_by_route(timeseries, metadata),
    }
