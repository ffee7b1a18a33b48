"""End-of-run metrics, computed from a run's output tables (never from the live model).

The published figures they are compared with are listed in :mod:`sim.model.facts`. The Amnesty statistic
follows AM7's definition exactly: among the compounds operating in the focal jurisdiction during the
research window (Jan 2024 - Jun 2025, AM4), the share that were either never investigated by police or
kept operating after police interventions, both judged at the end of the window; and the number of
them that were shut down by then. It is a statement about compounds, not a rate per raid.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from sim.model import facts
from sim.model.ledger import EXIT_ROUTES, LOSS_BINS

# Metric name -> (unit, meaning). Every metric is computed per replicate.
METRICS: dict[str, tuple[str, str]] = {
    "compounds_in_window": (
        "compounds",
        "Compounds operating in the focal jurisdiction in the AM4 window",
    ),
    "am7_share": (
        "share",
        "AM7: of those, share never investigated or still operating at window end",
    ),
    "am7_not_investigated_or_operating": ("compounds", "AM7 numerator"),
    "am7_closed": ("compounds", "AM7: of those, number shut down by the end of the window"),
    "am7_investigated": ("compounds", "Of those, number raided at least once by window end (AM10)"),
    "compounds_active_mid2025": (
        "compounds",
        "Compounds operating in the focal jurisdiction, 30 Jun 2025",
    ),
    "compounds_active_end": ("compounds", "Compounds operating anywhere at the end of the run"),
    "raided_still_operating_share": (
        "share",
        "Of compounds raided at least once, share operating at end",
    ),
    "workers_held_aug2023": (
        "people",
        "Mean workers held in the focal jurisdiction in Aug 2023 (SC1)",
    ),
    "workers_held_end": ("people", "Workers held anywhere at the end of the run"),
    "quota_met_share": (
        "share",
        "Share of held workers meeting quota in the focal jurisdiction, AM4 window",
    ),
    "trafficked": ("people", "People recruited into compounds during the run (all jurisdictions)"),
    "exits_total": ("people", "People who left captivity during the run"),
    **{f"exits_{r}": ("people", f"Exits by route: {r}") for r in EXIT_ROUTES},
    "resales": ("people", "Resales between compounds during the run"),
    "months_held_at_exit": ("months", "Mean time held of those who left captivity"),
    "target_losses": ("USD", "Money lost by targets during the run"),
    "loss_median": ("USD", "Median loss per defrauded target (TG1)"),
    "loss_mean": ("USD", "Mean loss per defrauded target (TG1)"),
    "bribes": ("USD", "Protection money paid to police during the run"),
    "raids": ("raids", "Raids during the run"),
    "raids_tipped_off_share": ("share", "Share of raids leaked in advance"),
    "compounds_closed": ("compounds", "Compounds shut down during the run"),
    "relocated_within": ("compounds", "Relocations within a jurisdiction during the run"),
    "relocated_across": ("compounds", "Relocations across a border during the run"),
}


def covers(period: tuple[dt.date, dt.date], window: tuple[dt.date, dt.date]) -> bool:
    """Whether a run's simulated ``period`` (first and last day) contains all of ``window``."""
    return period[0] <= window[0] and window[1] <= period[1]


def am7(compounds: pd.DataFrame, period: tuple[dt.date, dt.date]) -> dict[str, float]:
    """The Amnesty statistic (AM7) from one replicate's compound table.

    Args:
        compounds: One row per compound with ``in_window``, ``first_raid`` and ``closed`` (dates; NaT
            if never).
        period: The run's first and last day. A run that does not cover the whole research window
            cannot judge the statistic: every output is then missing (NaN).

    Returns:
        ``compounds_in_window``, ``am7_not_investigated_or_operating``, ``am7_share``, ``am7_closed``,
        ``am7_investigated``.
    """
    names = ("compounds_in_window", "am7_not_investigated_or_operating", "am7_share", "am7_closed")
    if not covers(period, facts.AMNESTY_WINDOW):
        return dict.fromkeys((*names, "am7_investigated"), np.nan)
    end = pd.Timestamp(facts.AMNESTY_WINDOW[1])
    seen = compounds[compounds["in_window"]]
    investigated = seen["first_raid"] <= end
    closed = seen["closed"] <= end
    numerator = int((~investigated | ~closed).sum())
    n = len(seen)
    return {
        "compounds_in_window": n,
        "am7_not_investigated_or_operating": numerator,
        "am7_share": numerator / n if n else np.nan,
        "am7_closed": int(closed.sum()),
        "am7_investigated": int(investigated.sum()),
    }


def loss_quantile(counts: np.ndarray, q: float) -> float:
    """Quantile of defrauded targets' losses from the log-binned histogram (geometric interpolation)."""
    total = counts.sum()
    if total == 0:
        return np.nan
    cum = np.cumsum(counts)
    i = int(np.searchsorted(cum, q * total))
    edges = np.concatenate([[LOSS_BINS[0]], LOSS_BINS, [LOSS_BINS[-1]]])
    lo, hi = edges[i], edges[i + 1]
    below = cum[i - 1] if i > 0 else 0
    frac = (q * total - below) / counts[i] if counts[i] else 0.5
    return float(lo * (hi / lo) ** frac)


def replicate_metrics(
    series: pd.DataFrame,
    compounds: pd.DataFrame,
    loss_counts: np.ndarray,
    loss_total: float,
    period: tuple[dt.date, dt.date],
    focal: str,
) -> dict[str, float]:
    """All :data:`METRICS` for one replicate.

    A metric judged at a date or over a window outside the simulated period is missing (NaN), not 0.

    Args:
        series: The replicate's time series (people and money already at full scale).
        compounds: The replicate's compound table.
        loss_counts: Histogram of defrauded targets' losses (bins :data:`sim.model.ledger.LOSS_BINS`).
        loss_total: Sum of those losses (USD, model scale).
        period: The run's first and last day (``time.start``, ``time.end``).
        focal: Name of the jurisdiction the published figures refer to.
    """
    out: dict[str, float] = dict(am7(compounds, period))
    dates = series["date"].dt.date
    focal_rows = series[series["jurisdiction"] == focal]
    fdates = focal_rows["date"].dt.date
    mid2025 = facts.AMNESTY_WINDOW[1]
    at_mid2025 = focal_rows[fdates <= mid2025].tail(1)
    defined = covers(period, (mid2025, mid2025)) and len(at_mid2025)
    out["compounds_active_mid2025"] = float(at_mid2025["compounds_active"].sum()) if defined else np.nan
    last = series[dates == dates.max()]
    out["compounds_active_end"] = float(last["compounds_active"].sum())
    out["workers_held_end"] = float(last["workers_held"].sum())
    aug = focal_rows[(fdates >= facts.SC1_MONTH[0]) & (fdates <= facts.SC1_MONTH[1])]
    defined = covers(period, facts.SC1_MONTH) and len(aug)
    out["workers_held_aug2023"] = float(aug["workers_held"].mean()) if defined else np.nan
    window = focal_rows[(fdates >= facts.AMNESTY_WINDOW[0]) & (fdates <= facts.AMNESTY_WINDOW[1])]
    held = window["workers_held"].sum()
    defined = covers(period, facts.AMNESTY_WINDOW) and held
    out["quota_met_share"] = float(window["quota_met"].sum() / held) if defined else np.nan

    totals = series.drop(columns=["date", "jurisdiction", "step"]).sum()
    out["trafficked"] = float(totals["recruited"])
    exits = sum(float(totals[f"exits_{r}"]) for r in EXIT_ROUTES)
    out["exits_total"] = exits
    for r in EXIT_ROUTES:
        out[f"exits_{r}"] = float(totals[f"exits_{r}"])
    out["resales"] = float(totals["resales"])
    out["months_held_at_exit"] = float(totals["exit_days_held"] / exits / 30.4375) if exits else np.nan
    out["target_losses"] = float(totals["target_losses"])
    out["loss_median"] = loss_quantile(loss_counts, 0.5)
    n_defrauded = loss_counts.sum()
    out["loss_mean"] = float(loss_total / n_defrauded) if n_defrauded else np.nan
    out["bribes"] = float(totals["bribes"])
    out["raids"] = float(totals["raids"])
    out["raids_tipped_off_share"] = (
        float(totals["raids_tipped_off"] / totals["raids"]) if totals["raids"] else np.nan
    )
    out["compounds_closed"] = float(totals["compounds_closed"])
    out["relocated_within"] = float(totals["relocated_within"])
    out["relocated_across"] = float(totals["relocated_out"])
    raided = compounds[compounds["raids"] > 0]
    out["raided_still_operating_share"] = float(raided["closed"].isna().mean()) if len(raided) else np.nan
    return out


def summarise(per_replicate: pd.DataFrame) -> dict[str, dict[str, float]]:
    """Median, mean and 90% interval (5th-95th percentile) of each metric over replicates."""
    summary = {}
    for name in per_replicate.columns.drop("replicate", errors="ignore"):
        values = per_replicate[name].astype(float).dropna()
        if values.empty:
            summary[name] = {"median": None, "mean": None, "q05": None, "q95": None, "n": 0}
            continue
        summary[name] = {
            "median": float(values.median()),
            "mean": float(values.mean()),
            "q05": float(values.quantile(0.05)),
            "q95": float(values.quantile(0.95)),
            "n": len(values),
        }
    return summary


def comparison(summary: dict[str, dict[str, float]]) -> pd.DataFrame:
    """Simulated vs published values for the figures in :data:`sim.model.facts.PUBLISHED`."""
    rows = []
    for pub in facts.PUBLISHED:
        s = summary.get(pub.statistic, {})
        median = s.get("median")
        inside = median is not None and pub.low <= median <= pub.high
        rows.append(
            {
                "id": pub.id,
                "statistic": pub.statistic,
                "unit": METRICS[pub.statistic][0],
                "simulated_median": median,
                "simulated_q05": s.get("q05"),
                "simulated_q95": s.get("q95"),
                "published": pub.value,
                "published_low": pub.low,
                "published_high": pub.high,
                "median_in_published_range": inside,
                "definition": pub.text,
            }
        )
    return pd.DataFrame(rows)
