"""The robustness study drawn: the phase diagram of every structural variant and the conclusions table.

``python -m sim.report.robustness SWEEP [--out DIR]`` reads the sweep of
``configs/experiment/robustness.yaml`` (a sweep directory or a saved sweep) and writes to ``DIR``
(default ``results/robustness``), replaced as a whole:

* ``conclusions.md`` and ``conclusions.csv``: :func:`sim.analysis.robustness.conclusions_table`;
* ``variants.png``/``.svg``: people held at the end of the Amnesty window over raid capacity x
  corruption, one panel per variant on one colour scale, with the two-thirds contour of the AM7 share
  the fit reads, (N+O)/(N+O+G);
* ``runs.parquet`` and ``metadata.json``: the sweep's runs and provenance.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.colors import Normalize
from matplotlib.figure import Figure

from sim.analysis.robustness import (
    CORRUPTION,
    HELD,
    RATE,
    READS,
    VARIANT,
    VARIANTS,
    conclusions_table,
    markdown,
)
from sim.report.figures import GROUPED, footer, save
from sim.report.phase import CORRUPTION_LABEL, RATE_LABEL, TWO_THIRDS
from sim.runs import dirs
from sim.runs.collect import load_sweep, missing_metric
from sim.runs.metrics import AM7_SHARE
from sim.runs.results import atomic_dir

NOTE = "median over each cell's runs (posterior draws x seeds)"


def variants_figure(runs: pd.DataFrame, metadata: dict[str, Any]) -> Figure:
    """One heatmap per variant of people held at the run's end (median per cell), on one colour scale."""
    ok = runs[runs["status"] == "ok"] if "status" in runs else runs
    medians = ok.groupby([VARIANT, RATE, CORRUPTION])[[HELD, AM7_SHARE]].median().reset_index()
    present = [v for v in VARIANTS if v in set(medians[VARIANT])]
    cols = 4
    rows = -(-len(present) // cols)
    # Constrained layout places the shared labels, the title and the colour bar without overlaps.
    fig, axes = plt.subplots(
        rows, cols, figsize=(3.6 * cols, 3.2 * rows + 0.8), squeeze=False, layout="constrained"
    )
    norm = Normalize(0, float(medians[HELD].max()) / 1e3)
    mesh = None
    for ax, variant in zip(axes.flat, present, strict=False):
        part = medians[medians[VARIANT] == variant]
        held = part.pivot(index=CORRUPTION, columns=RATE, values=HELD) / 1e3
        share = part.pivot(index=CORRUPTION, columns=RATE, values=AM7_SHARE).to_numpy()
        rates, corruptions = held.columns.to_numpy(float), held.index.to_numpy(float)
        ax.grid(False)  # grid lines would cut the cells
        mesh = ax.pcolormesh(held.to_numpy(), shading="flat", norm=norm)
        finite = share[np.isfinite(share)]
        if finite.size and finite.min() < TWO_THIRDS < finite.max():  # else there is no contour
            centres = np.arange(len(rates)) + 0.5, np.arange(len(corruptions)) + 0.5
            ax.contour(*centres, share, levels=[TWO_THIRDS], colors="white", linewidths=1)
        ax.set_xticks(np.arange(len(rates)) + 0.5, [f"{r:g}" for r in rates], fontsize=7)
        ax.set_yticks(np.arange(len(corruptions)) + 0.5, [f"{c:g}" for c in corruptions], fontsize=7)
        ax.set_title(f"{variant}: {VARIANTS[variant]}", fontsize=9)
    for ax in axes.flat[len(present) :]:
        ax.set_visible(False)
    fig.supxlabel(RATE_LABEL + " (grid values, unevenly spaced)", fontsize=9)
    fig.supylabel(CORRUPTION_LABEL, fontsize=9)
    if mesh is not None:
        bar = fig.colorbar(mesh, ax=axes, shrink=0.8, format=GROUPED)
        bar.set_label("workers held at the run's end [thousand people] (median)")
    fig.suptitle(
        "People held by raid capacity and corruption, per structural variant "
        "(white line: AM7 share (N+O)/(N+O+G), the share the fit reads, = 2/3)",
        fontsize=11,
    )
    footer(fig, metadata, NOTE, below=True)  # the shared x label holds the bottom edge
    return fig


def draw(sweep_dir: Path, out_dir: Path, overwrite: bool = False, resamples: int = 1000) -> list[Path]:
    """Write the conclusions table, the variants figure and the sweep's runs to ``out_dir``.

    Raises:
        ValueError: If the sweep has no variant, raid capacity or corruption column, no finished runs,
            or runs without a metric the conclusions read (saved before it existed).
        sim.runs.dirs.DirError: If ``out_dir`` is busy, not ours, or holds another sweep's figures.
    """
    sweep = load_sweep(sweep_dir)
    missing = [c for c in (VARIANT, RATE, CORRUPTION) if c not in sweep.runs.columns]
    if missing:
        raise ValueError(f"{sweep_dir} does not sweep {' and '.join(missing)}")
    if not (sweep.runs.get("status", pd.Series(["ok"])) == "ok").any():
        raise ValueError(f"{sweep_dir} has no successful runs")
    if reason := missing_metric(sweep.runs, READS, sweep_dir):
        raise ValueError(reason)
    table = conclusions_table(sweep.runs, resamples)
    with dirs.claim(out_dir, sweep.metadata.get("config_hash"), overwrite), atomic_dir(out_dir) as tmp:
        written = save(tmp, {"variants": variants_figure(sweep.runs, sweep.metadata)})
        (tmp / "conclusions.md").write_text(markdown(table) + "\n")
        table.to_csv(tmp / "conclusions.csv", index=False)
        written += [*sweep.write(tmp), tmp / "conclusions.md", tmp / "conclusions.csv"]
    return [out_dir / path.relative_to(tmp) for path in written]


def main(argv: list[str] | None = None) -> None:
    """Draw the robustness study and print the conclusions table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sweep", help="sweep directory (results/multirun/robustness) or saved sweep")
    parser.add_argument("--out", default="results/robustness", help="output directory")
    parser.add_argument("--overwrite", action="store_true", help="replace another sweep's output")
    parser.add_argument("--resamples", type=int, default=1000, help="bootstrap resamples per conclusion")
    args = parser.parse_args(argv)
    if args.resamples < 1:
        parser.exit(2, f"robustness: error: --resamples={args.resamples} must be at least 1\n")
    try:
        written = draw(Path(args.sweep), Path(args.out), args.overwrite, args.resamples)
    except (FileNotFoundError, ValueError, dirs.DirError) as exc:
        parser.exit(2, f"robustness: error: {args.sweep}: {exc}\n")
    print((Path(args.out) / "conclusions.md").read_text())
    print("\n".join(str(p) for p in written), file=sys.stderr)


if __name__ == "__main__":
    main()
