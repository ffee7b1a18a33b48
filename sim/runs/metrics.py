"""End-of-run metrics, computed from a run's output tables (never from the live model).

The published figures they are compared with are listed in :mod:`sim.model.facts`.

**The AM7 observation model.** Amnesty visited places, so the unit is a site spell (a compound on one
site, :class:`sim.model.population.SpellLog`). Every spell in the focal jurisdiction that overlaps the
research window (Jan 2024 - Jun 2025, AM4) falls in exactly one category, judged at the window's end E:

* ``N`` never investigated: no raid and no rescue visit (police at the gate for a caller, AM8) by E;
* ``S`` shut by the authorities: investigated, and ended by E in a raid closure (site sealed);
* ``G`` investigated and gone: investigated, and ended by E by a move or a boss's closure, or still
  occupied at E but not working (downtime) or emptied (below ``survey.empty_share`` of capacity);
* ``O`` investigated and operating as before: every other investigated spell.

AM7 reads "more than two-thirds of 53 never investigated or operating as before; only 2 shut": the
first statement is about N + O among the spells not shut, the second about S
(``configs/calibration_targets/registry.yaml``). The one share reported anywhere (:data:`AM7_SHARE`) is
therefore (N + O) / (N + O + G), the share the fit reads. An earlier share, ``am7_share`` = (N + O) / all
spells, is no longer computed: saved results that hold only it are refused by name
(:data:`RETIRED`), never read as the fitted share.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from sim.model import facts
from sim.model.ledger import EXIT_ROUTES, HELD_BINS, HELD_EDGES_MONTHS, LOSS_BINS

# The AM7 share every figure, table and analysis reports: the one the calibration fits. Its name is not
# the retired ``am7_share``'s, so saved runs holding that one are never read as this one.
AM7_SHARE = "am7_remaining_share"
AM7_SHARE_LABEL = "AM7 share (N+O)/(N+O+G), the share the fit reads"

# Metrics no longer computed -> (the metric that replaces it, what the retired one was). Saved runs may
# still hold them (results/phase/runs.parquet holds only am7_share); readers say so by name.
RETIRED: dict[str, tuple[str, str]] = {"am7_share": (AM7_SHARE, "(N+O) / all spells in the window")}

# Metric name -> (unit, meaning). Every metric is computed per replicate.
METRICS: dict[str, tuple[str, str]] = {
    "compounds_in_window": (
        "compounds",
        "Site spells (a compound on one site) in the focal jurisdiction overlapping the AM4 window (AM1)",
    ),
    "am7_never": ("compounds", "AM7 category N: of those, never investigated (no raid, no rescue visit)"),
    "am7_operating": ("compounds", "AM7 category O: investigated and operating as before at window end"),
    "am7_gone": ("compounds", "AM7 category G: investigated and gone (moved, wound down, down or emptied)"),
    "am7_shut": ("compounds", "AM7 category S: shut by the authorities (raid closure) by window end"),
    "am7_not_shut": ("compounds", "AM7: N + O + G"),
    "am7_never_or_operating": ("compounds", "AM7: N + O"),
    AM7_SHARE: ("share", "AM7: (N + O) / (N + O + G), the share the fit reads (Amnesty's 'two-thirds')"),
    "am10_raided": ("compounds", "AM10: spells in the window raided at least once by its end"),
    "raids_window": ("raids", "Raids in the focal jurisdiction during the AM4 window"),
    "en1_removed": ("people", "EN1: people found in raids on hub-town compounds in Sept-Oct 2022"),
    "tipoff_share_post_en1": (
        "share",
        "EN1: share of raids in the focal jurisdiction, Nov 2022 - Dec 2023, tipped off",
    ),
    "am11_held_ratio": (
        "ratio",
        "AM11: people held in the focal jurisdiction, mean over the AM4 window's last month (Jun 2025) "
        "over its first (Jan 2024)",
    ),
    "sc3_sites": (
        "sites",
        "SC3: distinct sites in the focal jurisdiction occupied by a compound at some time from 1 Jan 2020 "
        "to 31 Jan 2026, including sites later vacated or sealed",
    ),
    "in3_months_held_median": (
        "months",
        "IN3: median time held of those leaving captivity in the focal jurisdiction in the AM4 window "
        "(linear within the held_at_exit bins; 24 if more than half were held 24 months or more)",
    ),
    "am6_min_route_share": (
        "share",
        "AM6: the smallest of the escape, rescue and ransom shares of exits by those three routes, focal "
        "jurisdiction, AM4 window",
    ),
    "am8_rescue_share": (
        "share",
        "AM8: rescues as a share of exits by escape, rescue or ransom, focal jurisdiction, AM4 window",
    ),
    "raid_rate_per_compound": (
        "1/year",
        "Raids per compound-year in the focal jurisdiction during the AM4 window (an output)",
    ),
    "compounds_active_mid2025": (
        "compounds",
        "Compounds operating in the focal jurisdiction, 30 Jun 2025",
    ),
    "workers_held_mid2025": (
        "people",
        "People held in the focal jurisdiction, 30 Jun 2025 (end of the Amnesty window)",
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
    "compounds_opened": ("compounds", "Compounds opened by bosses already in the business during the run"),
    "entries": ("compounds", "Compounds opened by new syndicates during the run"),
    "retrafficked": ("people", "People released or rescued who were re-trafficked during the run"),
    "detention_extortion": ("USD", "Money extorted from people in detention during the run (EN3)"),
    "relocated_within": ("compounds", "Relocations within a jurisdiction during the run"),
    "relocated_across": ("compounds", "Relocations across a border during the run"),
}


def covers(period: tuple[dt.date, dt.date], window: tuple[dt.date, dt.date]) -> bool:
    """Whether a run's simulated ``period`` (first and last day) contains all of ``window``."""
    return period[0] <= window[0] and window[1] <= period[1]


# The AM7 categories (metric -> label), in the order of Amnesty's sentence.
AM7_CATEGORIES = {"am7_never": "never", "am7_operating": "operating", "am7_gone": "gone", "am7_shut": "shut"}


def am7_categories(spells: pd.DataFrame, focal: str) -> pd.Series:
    """The AM7 category (N, O, G or S) of each spell in the focal jurisdiction overlapping the window.

    Args:
        spells: One replicate's spell table (:func:`sim.runs.results.spells`; dates, NaT if never).
        focal: Name of the jurisdiction the figures refer to.
    """
    w_start, w_end = (pd.Timestamp(d) for d in facts.AMNESTY_WINDOW)
    ended = spells["end"].notna()
    seen = spells[
        (spells["jurisdiction"] == focal) & (spells["start"] <= w_end) & (~ended | (spells["end"] >= w_start))
    ]
    investigated = seen["first_intervention"] <= w_end
    ended_by_end = seen["end"] <= w_end
    shut = investigated & ended_by_end & (seen["reason"] == "closed_raid")
    gone = investigated & ~shut & (ended_by_end | seen["down_end"] | seen["emptied_end"])
    category = np.select([~investigated, shut, gone], ["N", "S", "G"], "O")
    return pd.Series(category, index=seen.index, dtype=object)


def am7(spells: pd.DataFrame, period: tuple[dt.date, dt.date], focal: str) -> dict[str, float]:
    """The AM7 observation model and AM10's count from one replicate's spell table.

    Args:
        spells: One replicate's spell table (:func:`sim.runs.results.spells`).
        period: The run's first and last day. A run that does not cover the whole research window
            cannot judge the statistic: every output is then missing (NaN).
        focal: Name of the jurisdiction the figures refer to.

    Returns:
        ``compounds_in_window``, the category counts ``am7_never``, ``am7_operating``, ``am7_gone``,
        ``am7_shut``, their sums ``am7_not_shut`` and ``am7_never_or_operating``, the share
        ``am7_remaining_share`` (N + O) / (N + O + G), and ``am10_raided``.
    """
    names = (
        "compounds_in_window",
        *("am7_never", "am7_operating", "am7_gone", "am7_shut", "am7_not_shut", "am7_never_or_operating"),
        *(AM7_SHARE, "am10_raided"),
    )
    if not covers(period, facts.AMNESTY_WINDOW):
        return dict.fromkeys(names, np.nan)
    category = am7_categories(spells, focal)
    count = {c: int((category == c).sum()) for c in "NOGS"}
    n = len(category)
    not_shut = count["N"] + count["O"] + count["G"]
    raided = spells.loc[category.index, "first_raid"] <= pd.Timestamp(facts.AMNESTY_WINDOW[1])
    return {
        "compounds_in_window": n,
        "am7_never": count["N"],
        "am7_operating": count["O"],
        "am7_gone": count["G"],
        "am7_shut": count["S"],
        "am7_not_shut": not_shut,
        "am7_never_or_operating": count["N"] + count["O"],
        AM7_SHARE: (count["N"] + count["O"]) / not_shut if not_shut else np.nan,
        "am10_raided": int(raided.sum()),
    }


def binned_median(counts: np.ndarray, edges: tuple[float, ...]) -> float:
    """Median of counts in bins ``[0, e1), [e1, e2), ..., [e_last, inf)``, linear within a closed bin.

    A median in the open last bin is reported as its lower edge ``e_last`` (a lower bound); no count
    gives NaN.
    """
    total = counts.sum()
    if total <= 0:
        return np.nan
    cum = np.cumsum(counts)
    i = int(np.searchsorted(cum, total / 2))
    if i == len(edges):
        return float(edges[-1])
    lo = 0.0 if i == 0 else edges[i - 1]
    below = cum[i - 1] if i > 0 else 0.0
    return float(lo + (edges[i] - lo) * (total / 2 - below) / counts[i])


def over_time(
    focal_rows: pd.DataFrame, spells: pd.DataFrame, period: tuple[dt.date, dt.date], focal: str
) -> dict[str, float]:
    """The validate-only patterns of AM11, SC3, IN3, AM6 and AM8 (see :data:`METRICS`).

    Args:
        focal_rows: The replicate's time series of the focal jurisdiction (people at full scale).
        spells: The replicate's spell table.
        period: The run's first and last day; a pattern whose window the run does not cover is NaN.
        focal: Name of the focal jurisdiction.
    """
    out = dict.fromkeys(
        ("am11_held_ratio", "in3_months_held_median", "am6_min_route_share", "am8_rescue_share", "sc3_sites"),
        np.nan,
    )
    dates = focal_rows["date"]
    if covers(period, facts.AMNESTY_WINDOW):
        start, end = (pd.Timestamp(d) for d in facts.AMNESTY_WINDOW)
        first = focal_rows.loc[(dates >= start) & (dates < start + pd.DateOffset(months=1)), "workers_held"]
        last = focal_rows.loc[(dates > end - pd.DateOffset(months=1)) & (dates <= end), "workers_held"]
        out["am11_held_ratio"] = float(last.mean() / first.mean()) if first.mean() > 0 else np.nan
        window = focal_rows[(dates >= start) & (dates <= end)]
        out["in3_months_held_median"] = binned_median(
            window[list(HELD_BINS)].sum().to_numpy(float), HELD_EDGES_MONTHS
        )
        routes = window[["exits_escape", "exits_rescue", "exits_ransom"]].sum()
        if routes.sum() > 0:
            out["am6_min_route_share"] = float(routes.min() / routes.sum())
            out["am8_rescue_share"] = float(routes["exits_rescue"] / routes.sum())
    if covers(period, facts.SC3_WINDOW):
        occupied = (spells["jurisdiction"] == focal) & (spells["start"] <= pd.Timestamp(facts.SC3_WINDOW[1]))
        out["sc3_sites"] = float(spells.loc[occupied, "site"].nunique())
    return out


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


def workers_held_aug2023(focal_rows: pd.DataFrame, period: tuple[dt.date, dt.date]) -> float:
    """SC1's statistic: the mean number of people held in the focal jurisdiction over August 2023.

    Final once August 2023 is simulated, which lets the calibration judge it before a run ends
    (:mod:`sim.analysis.early_rejection`); NaN if the run does not cover that month.

    Args:
        focal_rows: The focal jurisdiction's rows of the time series (people at full scale); rows of
            steps not yet simulated may follow.
        period: The run's first and last day.
    """
    dates = focal_rows["date"].dt.date
    aug = focal_rows[(dates >= facts.SC1_MONTH[0]) & (dates <= facts.SC1_MONTH[1])]
    defined = covers(period, facts.SC1_MONTH) and len(aug)
    return float(aug["workers_held"].mean()) if defined else np.nan


def replicate_metrics(
    series: pd.DataFrame,
    compounds: pd.DataFrame,
    spells: pd.DataFrame,
    raids: pd.DataFrame,
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
        spells: The replicate's spell table.
        raids: The replicate's raid log.
        loss_counts: Histogram of defrauded targets' losses (bins :data:`sim.model.ledger.LOSS_BINS`).
        loss_total: Sum of those losses (USD, model scale).
        period: The run's first and last day (``time.start``, ``time.end``).
        focal: Name of the jurisdiction the published figures refer to.
    """
    out: dict[str, float] = dict(am7(spells, period, focal))
    dates = series["date"].dt.date
    focal_rows = series[series["jurisdiction"] == focal]
    fdates = focal_rows["date"].dt.date
    mid2025 = facts.AMNESTY_WINDOW[1]
    at_mid2025 = focal_rows[fdates <= mid2025].tail(1)
    defined = covers(period, (mid2025, mid2025)) and len(at_mid2025)
    out["compounds_active_mid2025"] = float(at_mid2025["compounds_active"].sum()) if defined else np.nan
    out["workers_held_mid2025"] = float(at_mid2025["workers_held"].sum()) if defined else np.nan
    last = series[dates == dates.max()]
    out["compounds_active_end"] = float(last["compounds_active"].sum())
    out["workers_held_end"] = float(last["workers_held"].sum())
    out["workers_held_aug2023"] = workers_held_aug2023(focal_rows, period)
    window = focal_rows[(fdates >= facts.AMNESTY_WINDOW[0]) & (fdates <= facts.AMNESTY_WINDOW[1])]
    held = window["workers_held"].sum()
    in_amnesty = covers(period, facts.AMNESTY_WINDOW)
    out["quota_met_share"] = float(window["quota_met"].sum() / held) if in_amnesty and held else np.nan
    raid_dates = raids["date"].dt.date
    in_window = (raid_dates >= facts.AMNESTY_WINDOW[0]) & (raid_dates <= facts.AMNESTY_WINDOW[1])
    focal_raids = raids["jurisdiction"] == focal
    out["raids_window"] = float((in_window & focal_raids).sum()) if in_amnesty else np.nan
    crackdown = (raid_dates >= facts.EN1_CRACKDOWN[0]) & (raid_dates <= facts.EN1_CRACKDOWN[1])
    removed = raids.loc[crackdown & focal_raids & (raids["town"] == 0), "workers_found"].sum()
    out["en1_removed"] = float(removed) if covers(period, facts.EN1_CRACKDOWN) else np.nan
    after = focal_raids & (raid_dates >= facts.EN1_AFTER[0]) & (raid_dates <= facts.EN1_AFTER[1])
    leaked = (
        raids.loc[after, "tipped_off"].mean() if covers(period, facts.EN1_AFTER) and after.any() else np.nan
    )
    out["tipoff_share_post_en1"] = float(leaked)
    out |= over_time(focal_rows, spells, period, focal)
    step_dates = np.unique(series["date"].to_numpy())
    step_days = (step_dates[1] - step_dates[0]) / np.timedelta64(1, "D") if len(step_dates) > 1 else 0.0
    compound_years = float(window["compounds_active"].sum()) * step_days / 365.25
    out["raid_rate_per_compound"] = out["raids_window"] / compound_years if compound_years else np.nan

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
    out["compounds_opened"] = float(totals["compounds_opened"])
    out["entries"] = float(totals["entries"])
    out["retrafficked"] = float(totals["retrafficked"])
    out["detention_extortion"] = float(totals["detention_extortion"])
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


def am7_line(summary: dict[str, dict[str, float]]) -> str:
    """The AM7 categories as one line (means over replicates), for the terminal."""
    mean = {k: (summary.get(k) or {}).get("mean") for k in ("compounds_in_window", *AM7_CATEGORIES)}
    if any(v is None for v in mean.values()):
        return "AM7 categories: n/a"
    parts = " · ".join(f"{label} {mean[k]:.1f}" for k, label in AM7_CATEGORIES.items())
    return f"AM7 categories (of {mean['compounds_in_window']:.1f} site spells, mean): {parts}"


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
