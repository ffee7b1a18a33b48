"""Figures from results tables (never from a live model), and the one style every figure follows.

Every figure function in :mod:`sim.report` returns a matplotlib figure drawn in this module's style
(set on import):

* the Okabe-Ito palette, safe for the common kinds of colour blindness (:data:`PALETTE`);
* 90% bands drawn by :func:`band`: a light fill with an outline, and a hatch from the second band on,
  so overlapping bands stay legible instead of mixing into one colour;
* dates on time axes (:func:`date_axis`), numbers with thousands separators (:data:`GROUPED`), money
  in USD million or billion (:func:`money_scale`); axis labels give units;
* the run's provenance under every figure (:func:`footer`);
* saved by :func:`save` (or encoded by :func:`encode`) as PNG at :data:`DPI` dpi with an SVG beside it.
"""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only; notebooks may switch backends before importing pyplot

import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import pandas as pd
from cycler import cycler
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from sim.model.ledger import EXIT_ROUTES, VARIABLES

BAND = (0.05, 0.95)  # the 90% band across replicates

# --------------------------------------------------------------------------------------------------
# Style
# --------------------------------------------------------------------------------------------------

# Okabe & Ito (2008), "Color universal design", in the order series take them.
PALETTE = {
    "blue": "#0072B2",
    "orange": "#E69F00",
    "green": "#009E73",
    "vermillion": "#D55E00",
    "purple": "#CC79A7",
    "sky": "#56B4E9",
    "yellow": "#F0E442",
    "black": "#000000",
}
COLOURS = tuple(PALETTE.values())
HATCHES = ("", "////", "\\\\\\\\", "....", "xx")  # the first band is plain, the others hatched
BAND_ALPHA = 0.15  # fill opacity: two overlapping fills stay light enough to read the lines through
DPI = 200  # raster resolution of every saved figure
VECTOR = "svg"  # the vector copy saved beside each PNG
MINUS = "\u2212"  # the typographic minus sign

STYLE = {
    "axes.prop_cycle": cycler(color=COLOURS),
    "image.cmap": "viridis",  # perceptually uniform and colour-blind safe
    "savefig.dpi": DPI,
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.labelsize": 9,
    "legend.fontsize": 8,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "svg.hashsalt": "scamsim",  # fixed element ids: a redrawn figure gives the same SVG file
}
matplotlib.rcParams.update(STYLE)

GROUPED = FuncFormatter(lambda x, _pos: f"{x:,.10g}".replace("-", MINUS))
"""Tick labels with thousands separators (12,000; 0.25), never in exponent form."""


def money_scale(maximum: float) -> tuple[float, str]:
    """Divisor and unit for a money axis whose values reach ``maximum`` USD, e.g. (1e9, "USD billion")."""
    for divisor, unit in ((1e9, "USD billion"), (1e6, "USD million")):
        if abs(maximum) >= divisor:
            return divisor, unit
    return 1.0, "USD"


def date_axis(ax: Any) -> None:
    """Dates on the x axis, labelled concisely (years, then months within them) so labels never collide."""
    locator = mdates.AutoDateLocator(minticks=4, maxticks=9)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator, show_offset=False))


def band(ax: Any, q: pd.DataFrame, k: int, label: str | None = None, linestyle: str = "-") -> None:
    """The ``k``-th median line and 90% band of an axes: light fill, outline, a hatch from the second on.

    Args:
        ax: Axes to draw on.
        q: Columns median, lo and hi (5th and 95th percentiles), indexed by position (dates or numbers).
        k: Index of the series; picks its colour and hatch.
        label: Legend entry of the median line.
        linestyle: Of the median line.
    """
    colour = COLOURS[k % len(COLOURS)]
    ax.fill_between(
        q.index,
        q["lo"],
        q["hi"],
        facecolor=to_rgba(colour, BAND_ALPHA),
        edgecolor=to_rgba(colour, 0.7),
        hatch=HATCHES[k % len(HATCHES)] or None,
        linewidth=0.6,
    )
    ax.plot(q.index, q["median"], color=colour, linewidth=1.8, linestyle=linestyle, label=label)


def mark_policy(ax: Any, start: dt.date, label: str | None = "policy starts") -> None:
    """A dashed vertical line where a policy starts, with ``label`` (if any) at the top of the axes."""
    when = pd.Timestamp(start)
    ax.axvline(when, color=PALETTE["black"], linestyle="--", linewidth=1)
    if label is None:
        return
    ax.annotate(
        f" {label}, {when:%b %Y}",
        (when, 1),
        xycoords=("data", "axes fraction"),
        ha="left",
        va="top",
        fontsize=8,
    )


def encode(fig: Figure) -> dict[str, bytes]:
    """A figure as PNG (:data:`DPI` dpi) and SVG bytes, without dates or software names; closes it.

    Identical figures give identical bytes. The saved area grows to take in anything drawn outside the
    figure, such as long outcome labels.
    """
    out = {}
    for fmt, metadata in (("png", {"Software": None}), (VECTOR, {"Date": None, "Creator": None})):
        buffer = io.BytesIO()
        fig.savefig(buffer, format=fmt, dpi=DPI, metadata=metadata, bbox_inches="tight", pad_inches=0.05)
        out[fmt] = buffer.getvalue()
    plt.close(fig)
    return out


def files(figures: dict[str, Figure], folder: str = "figures") -> dict[str, bytes]:
    """Each figure encoded as ``<folder>/<name>.png`` and ``.svg`` (for a results directory's writer)."""
    return {
        f"{folder}/{name}.{fmt}": data for name, fig in figures.items() for fmt, data in encode(fig).items()
    }


def save(folder: Path, figures: dict[str, Figure]) -> list[Path]:
    """Write each figure as ``<name>.png`` and ``<name>.svg`` in ``folder`` (made if missing); closes them."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, fig in figures.items():
        for fmt, data in encode(fig).items():
            path = folder / f"{name}.{fmt}"
            path.write_bytes(data)
            written.append(path)
    return written


# --------------------------------------------------------------------------------------------------
# Provenance and the run figures
# --------------------------------------------------------------------------------------------------


def quantiles(table: pd.DataFrame, column: str, by: str = "date") -> pd.DataFrame:
    """Median and 90% band (columns median, lo, hi) of ``column`` over replicates, per value of ``by``."""
    grouped = table.groupby(by)[column]
    return pd.DataFrame(
        {
            "median": grouped.median(),
            "lo": grouped.quantile(BAND[0]),
            "hi": grouped.quantile(BAND[1]),
        }
    )


def footer(
    fig: Figure,
    metadata: dict[str, Any],
    note: str = "median and 90% band over replicates",
    below: bool = False,
) -> None:
    """Write the run's provenance (version, commit, config hash, seeds) and ``note`` under a figure.

    ``below`` puts it just outside the figure's bottom edge (kept by :func:`save`'s tight bounding box),
    for a constrained layout that puts a shared x label on that edge.
    """
    git = metadata.get("git", {})
    commit = (git.get("commit") or "unknown")[:10] + ("+dirty" if git.get("dirty") else "")
    seeds = metadata.get("seeds", {})
    # A figure of several runs (e.g. calibrations, one per seed) says so in seeds["summary"].
    seeded = seeds.get("summary") or (
        f"seed {seeds.get('base_seed', '?')} x {seeds.get('n_seeds', '?')} replicates"
    )
    text = (
        f"scamsim {metadata.get('versions', {}).get('scamsim', '?')} | commit {commit} | "
        f"config {metadata.get('config_hash', '?')} | {seeded} | {note}"
    )
    fig.text(
        0.01,
        0 if below else 0.005,
        text,
        fontsize=6.5,
        color="0.4",
        ha="left",
        va="top" if below else "bottom",
    )


def time_axes(ax: Any, ylabel: str, title: str) -> None:
    """Dates along x, thousands separators along y from 0, axis labels and title: every time plot's axes."""
    date_axis(ax)
    ax.yaxis.set_major_formatter(GROUPED)
    ax.set_xlabel("date")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.set_ylim(bottom=0)


def _finish(fig: Figure, ax: Any, ylabel: str, title: str, legend: str, metadata: dict[str, Any]) -> None:
    """Axes, legend and the provenance footer shared by the run's time plots."""
    time_axes(ax, ylabel, title)
    ax.legend(title=legend)
    footer(fig, metadata)
    fig.tight_layout(rect=(0, 0.03, 1, 1))


def band_plot(
    timeseries: pd.DataFrame,
    variable: str,
    metadata: dict[str, Any],
    title: str,
    cumulative: bool = False,
    by: str = "jurisdiction",
    start: dt.date | None = None,
) -> Figure:
    """One line per jurisdiction (or per value of ``by``): median over replicates with the 90% band.

    Args:
        timeseries: Tidy time series (columns replicate, date, ``by``, variables).
        variable: Column to plot.
        metadata: Run provenance, shown in the footer.
        title: Figure title.
        cumulative: Plot the running total of a flow variable.
        by: Column whose values get a line each, e.g. ``scenario`` in a comparison.
        start: Date a policy starts, marked on the time axis (None: no mark).
    """
    unit = VARIABLES[variable].unit
    fig, ax = plt.subplots(figsize=(8, 4.2))
    parts = []
    for name, part in timeseries.groupby(by, observed=True):
        part = part.sort_values("date")
        if cumulative:
            part = part.assign(**{variable: part.groupby("replicate")[variable].cumsum()})
        parts.append((str(name), quantiles(part, variable)))
    divisor = 1.0
    if unit == "USD":
        divisor, unit = money_scale(max(q["hi"].max() for _, q in parts) if parts else 0)
    for k, (name, q) in enumerate(parts):
        band(ax, q / divisor, k, label=name)
    if start is not None:
        mark_policy(ax, start)
    label = variable.replace("_", " ") + (", cumulative" if cumulative else "")
    _finish(fig, ax, f"{label} [{unit}]", title, by, metadata)
    return fig


def exits_by_route(timeseries: pd.DataFrame, metadata: dict[str, Any]) -> Figure:
    """Cumulative exits from captivity by route (all jurisdictions), median and 90% band."""
    fig, ax = plt.subplots(figsize=(8, 4.2))
    columns = [f"exits_{r}" for r in EXIT_ROUTES] + ["resales"]
    total = timeseries.groupby(["replicate", "date"], observed=True)[columns].sum()
    cumulative = total.groupby(level="replicate").cumsum().reset_index()
    for k, column in enumerate(columns):
        label = column.removeprefix("exits_") + (" (sold on, still held)" if column == "resales" else "")
        style = "--" if column == "resales" else "-"
        band(ax, quantiles(cumulative, column), k, label=label, linestyle=style)
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
