"""Robustness of the model's answer across structural variants (issue 12, item 6).

The sweep ``configs/experiment/robustness.yaml`` runs the raid capacity x corruption grid for each
variant of ``configs/variant/`` at one hand-tuned state. This module turns its runs into a table: for
each conclusion (:data:`CONCLUSIONS`) and variant, the statistic computed from cell medians, and whether
the conclusion *holds* (its 90% bootstrap interval over the cells' runs lies on the stated side),
*reverses* (it lies on the other side) or is undecided.

``python -m sim.report.robustness results/multirun/robustness`` writes the table (Markdown, with one
sentence per conclusion) beside a figure of every variant's phase diagram.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from sim.runs.metrics import AM7_SHARE

RATE, CORRUPTION, VARIANT = "police.raid_capacity", "police.corruption", "variant"
VARIANTS = {
    "v0": "all on",
    "v1": "no raid costs (a)",
    "v2": "no site state (b)",
    "v3": "no entry/exit (c)",
    "v4": "coupled tip-offs (d)",
    "v5": "no workforce economics (e)",
    "v6": "old exit routes (f)",
    "v7": "per-compound raids",
}

Cell = Callable[[float, float, str], float]  # (capacity, corruption, metric) -> median over the cell


@dataclass(frozen=True)
class Conclusion:
    """A statement about the phase diagram: a statistic of cell medians and the side it must lie on."""

    id: str
    text: str
    statistic: Callable[[Cell], float]
    below: float | None = None  # holds if the statistic is below this
    above: float | None = None  # holds if the statistic is above this

    def verdict(self, low: float, high: float) -> str:
        """✓ if the interval [low, high] lies on the stated side, ✗ if on the other, ~ otherwise."""
        bound = self.below if self.below is not None else self.above
        if not (np.isfinite(low) and np.isfinite(high)):
            return "~"
        good, bad = (high < bound, low > bound) if self.below is not None else (low > bound, high < bound)
        return "✓" if good else "✗" if bad else "~"


def _ratio(a: float, b: float) -> float:
    return a / b if b > 0 else np.inf if a > 0 else np.nan


def _tipping(cell: Cell) -> float:
    """Smallest swept capacity at corruption 0.4 with compounds below 10% of the no-raid level (inf: none)."""
    zero = cell(0, 0.4, "compounds_active_mid2025")
    for capacity in (5, 10, 15, 20, 30, 40, 60, 100, 200):
        if cell(capacity, 0.4, "compounds_active_mid2025") < 0.1 * zero:
            return float(capacity)
    return np.inf


HELD = "workers_held_end"
# Every metric the conclusions and the variants figure read.
READS = (HELD, "compounds_active_mid2025", "compounds_opened", "entries", AM7_SHARE)
CONCLUSIONS = (
    Conclusion(
        "C1",
        "more raids cut people held (held at 60 / at 20 raids a year, corruption 0.4)",
        lambda c: _ratio(c(60, 0.4, HELD), c(20, 0.4, HELD)),
        below=0.8,
    ),
    Conclusion(
        "C2",
        "less corruption cuts people held (held at corruption 0.2 / 0.6, 20 raids a year)",
        lambda c: _ratio(c(20, 0.2, HELD), c(20, 0.6, HELD)),
        below=0.8,
    ),
    Conclusion(
        "C3",
        "corruption does not cancel raids (held at 200 / at 0 raids a year, corruption 1)",
        lambda c: _ratio(c(200, 1.0, HELD), c(0, 1.0, HELD)),
        below=0.8,
    ),
    Conclusion(
        "C4",
        "a tipping point: compounds below 10% of the no-raid level at a capacity <= 200 (corruption 0.4)",
        _tipping,
        below=200.5,
    ),
    Conclusion(
        "C5",
        "displacement: openings and entries rise from 20 to 60 raids a year (corruption 0.4)",
        lambda c: _ratio(
            c(60, 0.4, "compounds_opened") + c(60, 0.4, "entries"),
            c(20, 0.4, "compounds_opened") + c(20, 0.4, "entries"),
        ),
        above=1.0,
    ),
    Conclusion(
        "C6",
        "Amnesty's 'more than two-thirds' holds at the fitted state (AM7 share (N+O)/(N+O+G), 20 raids, "
        "corruption 0.4)",
        lambda c: c(20, 0.4, AM7_SHARE),
        above=2 / 3,
    ),
    Conclusion(
        "C7",
        "diminishing returns: 10 -> 20 raids a year cuts more people held than 20 -> 30 (corruption 0.4)",
        lambda c: (c(10, 0.4, HELD) - c(20, 0.4, HELD)) - (c(20, 0.4, HELD) - c(30, 0.4, HELD)),
        above=0.0,
    ),
)


def _cell_lookup(runs: pd.DataFrame) -> Cell:
    medians = runs.groupby([RATE, CORRUPTION]).median(numeric_only=True)

    def cell(capacity: float, corruption: float, metric: str) -> float:
        key = (float(capacity), float(corruption))
        return float(medians.loc[key, metric]) if key in medians.index else np.nan

    return cell


def conclusions_table(runs: pd.DataFrame, resamples: int = 1000, seed: int = 12) -> pd.DataFrame:
    """One row per conclusion, one column per variant: ``"✓ 0.41"`` (verdict and point statistic).

    Args:
        runs: A sweep's runs with columns ``variant``, ``police.raid_capacity``, ``police.corruption``
            and the metrics.
        resamples: Bootstrap resamples of the runs within each cell.
        seed: Seed of the bootstrap.
    """
    rng = np.random.default_rng(seed)
    runs = runs[runs.get("status", "ok") == "ok"] if "status" in runs else runs
    table: dict[str, dict[str, str]] = {c.id: {"conclusion": f"{c.id} {c.text}"} for c in CONCLUSIONS}
    for variant, label in VARIANTS.items():
        part = runs[runs[VARIANT] == variant]
        if part.empty:
            continue
        cells = [g for _, g in part.groupby([RATE, CORRUPTION])]
        point = {c.id: c.statistic(_cell_lookup(part)) for c in CONCLUSIONS}
        boot = {c.id: [] for c in CONCLUSIONS}
        for _ in range(resamples):
            sample = pd.concat([g.iloc[rng.integers(0, len(g), len(g))] for g in cells])
            lookup = _cell_lookup(sample)
            for c in CONCLUSIONS:
                boot[c.id].append(c.statistic(lookup))
        for c in CONCLUSIONS:
            low, high = np.nanquantile(np.array(boot[c.id], dtype=float), [0.05, 0.95])
            table[c.id][label] = f"{c.verdict(low, high)} {point[c.id]:.3g}"
    out = pd.DataFrame(list(table.values()))
    marks = out.drop(columns="conclusion")
    out["holds in"] = marks.apply(lambda r: f"{sum(str(v).startswith('✓') for v in r)}/{len(r)}", axis=1)
    return out


def markdown(table: pd.DataFrame) -> str:
    """The table in Markdown, then one sentence per conclusion."""
    header = "| " + " | ".join(table.columns) + " |\n|" + "---|" * len(table.columns)
    rows = ["| " + " | ".join(str(v) for v in row) + " |" for row in table.itertuples(index=False)]
    sentences = []
    for row in table.itertuples(index=False):
        values = dict(zip(table.columns, row, strict=True))
        failing = [
            label for label in VARIANTS.values() if label in values and not str(values[label]).startswith("✓")
        ]
        cid = values["conclusion"].split()[0]
        sentences.append(
            f"{cid}: " + ("holds in every variant." if not failing else f"depends on: {', '.join(failing)}.")
        )
    return "\n".join([header, *rows, "", *sentences])
