"""The raid-rate x corruption phase diagram: heatmaps and cuts from a collected sweep.

``scamsim phase [sweep=DIR] [out=OUT]`` reads the sweep in ``DIR`` (default ``results/multirun/phase``,
written by ``scamsim run experiment=phase``), and writes to ``OUT`` (default ``results/phase/``):

* ``am7_share``, ``workers_held``, ``target_losses`` (each figure as PNG and SVG): the median of
  each grid cell's runs, with the two-thirds contour of the AM7 share (Amnesty: "more than
  two-thirds") and the baseline point. The AM7 share is the one the fit reads, (N+O)/(N+O+G)
  (:data:`sim.runs.metrics.AM7_SHARE`); a sweep saved before that metric existed is refused by name;
* ``cuts``: the AM7 share and workers held along rows and columns of the grid, median and 90% band
  (5th-95th percentile over a cell's runs: posterior draws x seeds);
* ``summary.csv``: median and 90% interval of the plotted metrics per cell;
* ``runs.parquet`` and ``metadata.json``: the sweep's runs and provenance (``sim.load_sweep``), so the
  figures can be redrawn (``scamsim phase sweep=results/phase``) and explored without the sweep directory.

Raid rates are not evenly spaced, so the heatmaps use one column per grid value (labelled with the
value) rather than a linear axis. The raid axis is whichever the sweep varied (:func:`raid_axis`): the
raid capacity, or the per-compound raid rate of sweeps saved before issue 12 replaced it (such a sweep is
read, never re-run; its baseline point is the capacity converted as in the per-compound variant,
``police.raid_capacity / police.reference_compounds``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from sim.model import keys
from sim.model.levers import LEVERS
from sim.model.schemas import ModelParams
from sim.report.figures import BAND, GROUPED, PALETTE, band, footer, save
from sim.runs import dirs, posterior
from sim.runs.collect import load_sweep, missing_metric
from sim.runs.metrics import AM7_SHARE, AM7_SHARE_LABEL
from sim.runs.results import atomic_dir

# The two axes are policy levers (sim.model.levers): their parameter keys and labels come from there.
RAIDS, POLICE_CORRUPTION = LEVERS["raids"], LEVERS["corruption"]
(RATE,), (CORRUPTION,) = RAIDS.keys, POLICE_CORRUPTION.keys
OLD_RATE = "police.raid_rate"  # sweeps saved before issue 12 varied a raid rate per compound
RATE_LABELS = {
    RATE: f"{RAIDS.label} [{RAIDS.unit}]",
    OLD_RATE: "raid rate [raids per compound per year; sweep of the model before issue 12]",
}
RATE_LABEL = RATE_LABELS[RATE]
CORRUPTION_LABEL = f"{POLICE_CORRUPTION.label} [{POLICE_CORRUPTION.unit}]"
TWO_THIRDS = 2 / 3
# Metric -> (figure file, title, colour-bar label, scale divisor).
HEATMAPS: dict[str, tuple[str, str, str, float]] = {
    AM7_SHARE: (
        "am7_share",
        "Compounds not shut that were never investigated or still operating, end of the Amnesty window (AM7)",
        AM7_SHARE_LABEL,
        1.0,
    ),
    "workers_held_end": (
        "workers_held",
        "Trafficked workers held at the end of the Amnesty window (30 Jun 2025)",
        "workers held [thousand people]",
        1e3,
    ),
    "target_losses": (
        "target_losses",
        "Money taken from targets, 2020 - Jun 2025",
        "target losses [USD bn]",
        1e9,
    ),
}
RUNS_NOTE = "median, 90% band: a cell's runs (posterior draws x seeds)"
CUT_RATES = (10.0, 20.0, 60.0, 200.0)
CUT_CORRUPTIONS = (0.0, 0.3, 0.6, 1.0)


def raid_axis(frame: pd.DataFrame) -> str:
    """The raid key a sweep's runs (or their summary) vary: the raid capacity, or the old raid rate.

    Raises:
        ValueError: If the frame has neither.
    """
    for key in RATE_LABELS:
        if key in frame.columns:
            return key
    raise ValueError(f"no raid axis: the runs have neither {' nor '.join(RATE_LABELS)}")


def cell_summary(runs: pd.DataFrame) -> pd.DataFrame:
    """Median and 90% interval of the plotted metrics per (raid axis, corruption) cell (successful runs).

    Metrics the runs do not hold (a sweep saved before the metric existed) are left out; :func:`draw`
    refuses such a sweep, notebook 2 says why and shows the rest.
    """
    ok = runs[runs["status"] == "ok"]
    grouped = ok.groupby([raid_axis(runs), CORRUPTION])
    parts = {"n_runs": grouped.size()}
    for metric in (m for m in HEATMAPS if m in ok.columns):
        parts[f"{metric}_median"] = grouped[metric].median()
        parts[f"{metric}_q05"] = grouped[metric].quantile(BAND[0])
        parts[f"{metric}_q95"] = grouped[metric].quantile(BAND[1])
    return pd.DataFrame(parts).reset_index()


def baseline_point(name: str | None = None) -> dict[str, tuple[float, float, float]]:
    """Raid capacity and corruption of the baseline: posterior median and 90% interval.

    Without a posterior (``name`` None: the model is hand-tuned until issue 13), and for a key the
    posterior does not cover, the schema default, with no interval.

    Returns:
        For each of the two swept keys: (median, 5th percentile, 95th percentile).
    """
    defaults = ModelParams()
    point = {key: (keys.get(defaults, key),) * 3 for key in (RATE, CORRUPTION)}
    if name is not None:
        calibrated = posterior.quantiles(name, (0.5, *BAND))
        point |= {key: tuple(float(v) for v in calibrated[key]) for key in point if key in calibrated}
    return point


def _position(values: np.ndarray, x: float) -> float:
    """Position of ``x`` on an axis with one unit per grid value (linear between grid values)."""
    return float(np.interp(x, values, np.arange(len(values))))


def heatmap(summary: pd.DataFrame, metric: str, metadata: dict[str, Any]) -> Figure:
    """Median of ``metric`` per cell, with the AM7 two-thirds contour (if the summary has the share)."""
    _, title, label, divisor = HEATMAPS[metric]
    rate = raid_axis(summary)
    grid = summary.pivot(index=CORRUPTION, columns=rate, values=f"{metric}_median") / divisor
    rates, corruptions = grid.columns.to_numpy(float), grid.index.to_numpy(float)
    fig, ax = plt.subplots(figsize=(7.5, 5.6))
    ax.grid(False)  # grid lines would cut the cells
    mesh = ax.pcolormesh(grid.to_numpy(), shading="flat")
    fig.colorbar(mesh, ax=ax, label=f"{label} (median)", format=GROUPED)
    centres_x, centres_y = np.arange(len(rates)) + 0.5, np.arange(len(corruptions)) + 0.5
    if f"{AM7_SHARE}_median" in summary:
        values = summary.pivot(index=CORRUPTION, columns=rate, values=f"{AM7_SHARE}_median").to_numpy()
        finite = values[np.isfinite(values)]
        if finite.size and finite.min() < TWO_THIRDS < finite.max():  # else there is no contour to draw
            contour = ax.contour(centres_x, centres_y, values, levels=[TWO_THIRDS], colors="white")
            ax.clabel(contour, fmt={TWO_THIRDS: "2/3"}, fontsize=8)
        ax.plot([], [], color="white", label="AM7 share = 2/3 (Amnesty: more than two-thirds)")
    # The point :func:`draw` saved with the runs (a redraw keeps it when the posterior file changes since).
    saved = metadata.get("baseline_point") or baseline_point(metadata.get("posterior_name"))
    point = {key: tuple(v) for key, v in saved.items()}
    if rate == OLD_RATE:  # the capacity as a rate per compound (the variant mechanisms.raid_capacity=false)
        per_compound = ModelParams().police.reference_compounds
        point[OLD_RATE] = tuple(v / per_compound for v in point[RATE])
    x = [_position(rates, v) + 0.5 for v in point[rate]]
    y = [_position(corruptions, v) + 0.5 for v in point[CORRUPTION]]
    ax.errorbar(
        x[0],
        y[0],
        xerr=[[x[0] - x[1]], [x[2] - x[0]]],
        yerr=[[y[0] - y[1]], [y[2] - y[0]]],
        marker="*",
        markersize=16,
        color=PALETTE["vermillion"],
        markeredgecolor="white",
        ecolor=PALETTE["vermillion"],
        capsize=3,
        linestyle="none",
        label=(
            "calibrated baseline (posterior median, 90% interval)"
            if metadata.get("posterior_name")
            else "hand-tuned baseline (the model's defaults)"
        ),
    )
    ax.set_xticks(centres_x, [f"{r:g}" for r in rates])
    ax.set_yticks(centres_y, [f"{c:g}" for c in corruptions])
    ax.set_xlabel(RATE_LABELS[rate] + " (grid values, unevenly spaced)")
    ax.set_ylabel(CORRUPTION_LABEL)
    ax.set_title(title, fontsize=10)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.13), fontsize=8, ncols=2, facecolor="0.75")
    footer(fig, metadata, RUNS_NOTE)
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    return fig


def _cut(
    ax: Any, summary: pd.DataFrame, metric: str, along: str, fixed: str, levels: tuple[float, ...]
) -> None:
    _, _, label, divisor = HEATMAPS[metric]
    grid = np.unique(summary[fixed])
    # The preferred cut levels that are on the grid; otherwise (another sweep) up to 4 of its values.
    levels = tuple(v for v in levels if np.isclose(grid, v).any()) or tuple(grid[:: -(-len(grid) // 4)])
    name = "raid rate" if fixed in RATE_LABELS else "corruption"
    for k, level in enumerate(levels):
        part = summary[np.isclose(summary[fixed], level)].sort_values(along).set_index(along)
        q = part[[f"{metric}_{c}" for c in ("median", "q05", "q95")]].set_axis(["median", "lo", "hi"], axis=1)
        band(ax, q / divisor, k, label=f"{name} {level:g}")
    if metric == AM7_SHARE:
        ax.axhline(TWO_THIRDS, color="0.3", ls="--", lw=1, label="2/3 (Amnesty)")
        ax.set_ylim(0, 1.02)
    else:
        ax.yaxis.set_major_formatter(GROUPED)
    ax.set_xlabel(RATE_LABELS.get(along, CORRUPTION_LABEL), fontsize=8)
    ax.set_ylabel(label, fontsize=8)
    ax.legend(fontsize=7)


def cuts(summary: pd.DataFrame, metadata: dict[str, Any]) -> Figure:
    """The AM7 share and workers held along the raid-rate and corruption axes, median and 90% band."""
    fig, axes = plt.subplots(2, 2, figsize=(11, 8))
    rate = raid_axis(summary)
    for row, metric in enumerate((AM7_SHARE, "workers_held_end")):
        _cut(axes[row, 0], summary, metric, rate, CORRUPTION, CUT_CORRUPTIONS)
        _cut(axes[row, 1], summary, metric, CORRUPTION, rate, CUT_RATES)
    axes[0, 0].set_title("along raid rate, at fixed corruption", fontsize=10)
    axes[0, 1].set_title("along corruption, at fixed raid rate", fontsize=10)
    fig.suptitle("Cuts through the phase diagram: median and 90% band over each cell's runs", fontsize=11)
    footer(fig, metadata, RUNS_NOTE)
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    return fig


def draw(sweep_dir: Path, out_dir: Path, overwrite: bool = False) -> list[Path]:
    """Write the phase-diagram figures, the per-cell summary and the sweep's runs (with provenance).

    ``out_dir`` is replaced as a whole (:func:`sim.runs.results.atomic_dir`), and only by the same
    sweep's figures unless ``overwrite``: an incomplete or other sweep never replaces ``results/phase``.

    Args:
        sweep_dir: A sweep directory, or a directory saved by this function (to redraw).
        out_dir: Where the figures, ``summary.csv``, ``runs.parquet`` and ``metadata.json`` go.
        overwrite: Replace an ``out_dir`` drawn from another sweep (or another state of it).

    Raises:
        ValueError: If the sweep did not vary both the raid rate and corruption, has no finished runs,
            or its runs lack a plotted metric (saved before it existed).
        sim.runs.dirs.DirError: If ``out_dir`` is busy, not ours, or holds another sweep's figures.
    """
    sweep = load_sweep(sweep_dir)
    rate = next((key for key in RATE_LABELS if key in sweep.runs.columns), RATE)
    missing = [c for c in (rate, CORRUPTION) if c not in sweep.runs.columns]
    if missing:
        raise ValueError(f"{sweep_dir} does not sweep {' and '.join(missing)}")
    if not (sweep.runs["status"] == "ok").any():
        raise ValueError(f"{sweep_dir} has no successful runs")
    if reason := missing_metric(sweep.runs, HEATMAPS, sweep_dir):
        raise ValueError(reason)
    summary = cell_summary(sweep.runs)
    sweep.metadata.setdefault("baseline_point", baseline_point(sweep.metadata.get("posterior_name")))
    with dirs.claim(out_dir, sweep.metadata.get("config_hash"), overwrite), atomic_dir(out_dir) as tmp:
        figures = {name: heatmap(summary, metric, sweep.metadata) for metric, (name, *_) in HEATMAPS.items()}
        figures["cuts"] = cuts(summary, sweep.metadata)
        written = save(tmp, figures)
        summary.to_csv(tmp / "summary.csv", index=False, float_format="%.6g")
        written += [*sweep.write(tmp), tmp / "summary.csv"]
    return [out_dir / path.relative_to(tmp) for path in written]
