"""``scamsim brief``: a brief of one scenario against the same world without it, read in two minutes.

The brief is written from a :class:`sim.Comparison` (paired runs of the baseline and the scenario with
common random numbers over posterior draws x seeds), never from a live model. Printed on A4 it holds:

* page 1: a plain-words title (the scenario's description), the bottom line in three sentences (the
  paired change over the policy period, with unit and period, of the time people are held, the money
  taken from targets and the compounds operating: :func:`headline`), one chart of the people held with
  and without the policy with its start marked, and a limitations box;
* the body (at most four pages in all): what was simulated, every other outcome's paired change stated
  once, per group of victims (trafficked workers and targets) and for the compounds, two more charts, and
  how to read the numbers;
* the appendix: the scenario's settings, every model parameter with its value, unit, source and basis
  (calibrated, published, tuned by hand or assumption, via :mod:`sim.report.odd`), the calibration
  status, the limitations in detail, and the provenance with the one command that re-creates the brief.

Page 1 and the body use no code names or internal ids (scenario names, fact ids, jargon); those are
in the appendix. Figures are embedded as PNG data URIs, so the HTML file needs nothing else.

``scamsim brief scenario=NAME [overrides]`` writes ``results/briefs/<scenario>/``: ``brief.html``,
``brief.pdf`` (laid out by WeasyPrint from the same HTML with its print styles) and ``figures/``
(each figure as PNG and SVG), atomically.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import logging
import math
import re
import shlex
import struct
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

import jinja2
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from omegaconf import OmegaConf

from sim.analysis.compare import Comparison, Outcome, paired_differences
from sim.analysis.observations import Target, Use
from sim.model import interventions, keys
from sim.model.schemas import parse_date
from sim.report import figures, odd
from sim.runs import posterior
from sim.runs.config import CONFIG_DIR, RunConfig, to_run_config
from sim.runs.results import atomic_dir, write_json
from sim.runs.scenarios import BASELINE

TEMPLATES = Path(__file__).resolve().parent / "templates"
REGISTRY = Path(CONFIG_DIR) / "calibration_targets" / "registry.yaml"

WITHOUT, WITH = "without the policy", "with the policy"  # the two runs of each pair, in plain words

# Page 1: each outcome over the policy period (from its start to the end of the run), from the
# comparison's time series: variable -> (how it is summed up, outcome).
# The labels name the period where "{period}" stands.
HEADLINE: dict[str, tuple[str, Outcome]] = {
    "person_years_held": (
        "person-years",
        Outcome("People held in the compounds, {period}", "person-years", "workers"),
    ),
    "target_losses": (
        "total",
        Outcome("Money taken from the targets of the scams, {period}", "USD", "targets"),
    ),
    "compounds_active": (
        "average",
        Outcome("Compounds operating, {period} average", "compounds", "compounds"),
    ),
}
# Outcomes of the comparison (whole run) whose paired change is a headline's: the paired runs are the
# same until the policy starts, so the change is the same number. Page 1 states it; the body does not.
STATED_ON_PAGE_ONE = ("person_years_held", "target_losses")

# Charts of the body: (variable, title, cumulative?). Losses are a weekly flow whose level says little;
# their running total is what a reader compares.
TIME_FIGURES = (
    ("compounds_active", "Compounds operating", False),
    ("target_losses", "Money taken from targets since January 2020", True),
)

TIME_CAPTION = (
    "Median over the pairs of runs and 90% band. The bands are mostly the spread of parameter sets "
    "and chance, which both runs of a pair share: overlapping bands do not mean no effect, the "
    "tables give each paired change."
)

# Tables of the body, in this order: group of outcomes -> heading.
GROUP_TITLES = {
    "workers": "Trafficked workers",
    "targets": "Targets of the scams",
    "compounds": "Compounds and police",
    "displacement": "Where compounds went",
}

# Model simplifications a reader of any brief should weigh (docs/ODD.md gives the details).
SIMPLIFICATIONS = (
    "Space is not explicit: towns have no capacity and compounds do not compete for sites (ODD section 2).",
    "A single corruption probability per police unit governs leaking raids, passing help requests back "
    "to bosses and accepting bribes (ODD section 2).",
    "Apart from the interventions, raid rates and all other parameters are constant over time: the 2022 "
    "crackdown and the later growth in compound numbers are not forced (ODD section 6).",
    "Bosses follow fixed profit rules; no agent learns or anticipates a policy (ODD section 4).",
    "Common random numbers align the paired runs exactly only until their states diverge; after that "
    "the pairing is partial, which widens the intervals (ODD section 4).",
)

# Known from the calibration's out-of-sample check (README, "Calibration"); not recomputed here.
VALIDATION_NOTE = (
    "AM10 (the government's 28 locations cracked down on) is a validation target only, never fitted; "
    "the calibrated model meets it only at the edge of its 90% interval, because its compounds are "
    "raided less often than reported (README, Calibration)."
)

# Settings of a run (source "-" in the schema) and the choice of posterior do not describe the
# simulated world; the scenario's interventions get their own table.
NOT_MODEL_PARAMETERS = (*odd.RUN_SETTINGS, "posterior", "policies")

FACTS_ID = re.compile(r"\b[A-Z]{2,3}\d+\b|FACTS §\d+")


# --------------------------------------------------------------------------------------------------
# Numbers in words
# --------------------------------------------------------------------------------------------------

MINUS = "\u2212"  # the typographic minus sign, wider than a hyphen
DASH = "\u2013"  # between the two ends of a period

# Unit -> words for a decrease and an increase (counts of anything else: "fewer", "more").
DIRECTIONS = {"USD": ("less", "more"), "share": ("percentage points lower", "percentage points higher")}


def _missing(x: Any) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def _significant(x: float, digits: int = 3) -> str:
    """``x`` rounded to ``digits`` significant digits, thousands grouped, never in exponent form."""
    if x == 0 or not math.isfinite(x):
        return "0" if x == 0 else str(x)
    decimals = digits - 1 - math.floor(math.log10(abs(x)))
    rounded = round(x, decimals)
    if decimals <= 0:
        return f"{int(rounded):,}"
    return f"{rounded:,.{decimals}f}".rstrip("0").rstrip(".")


def format_value(x: float, unit: str) -> str:
    """A level for reading: shares as percentages, dollars with $ (and m/bn), counts to 3 digits."""
    if _missing(x):
        return "n/a"
    sign = MINUS if x < 0 else ""
    x = abs(x)
    if unit == "share":
        return f"{sign}{_significant(100 * x)}%"
    if unit == "USD":
        for size, suffix in ((1e9, " bn"), (1e6, " m")):
            if x >= size:
                return f"{sign}${_significant(x / size)}{suffix}"
        return f"{sign}${_significant(x)}"
    return sign + _significant(x)


def format_level(x: float, unit: str) -> str:
    """A level with its unit in words: "117,000 people", "$8.37 bn", "98.1%"."""
    text = format_value(x, unit)
    return text if unit in ("USD", "share") or text == "n/a" else f"{text} {unit}"


def _amount(x: float, unit: str) -> str:
    """The size of a change, without sign or direction (shares in percentage points)."""
    return _significant(100 * abs(x)) if unit == "share" else format_value(abs(x), unit)


def _direction(x: float, unit: str) -> str:
    down, up = DIRECTIONS.get(unit, ("fewer", "more"))
    return down if x < 0 else up


def change_words(median: float, q05: float, q95: float, unit: str) -> str:
    """A paired change in words, with its unit and 90% interval.

    Args:
        median: Median over the pairs of runs of the paired difference (with minus without the policy).
        q05: Its 5th percentile.
        q95: Its 95th percentile.
        unit: Unit of measure ("people", "USD", "share", ...).

    Returns:
        E.g. "19,900 fewer people (90% interval 10,300 to 37,600 fewer)", "$96.1 m less (90% interval
        $2 m less to $40 m more)", "no change in any pair of runs".
    """
    if any(_missing(x) for x in (median, q05, q95)):
        return "n/a"
    if q05 == q95 == 0:
        return "no change in any pair of runs"
    if median == 0:
        head = "no change"
    elif unit in ("USD", "share"):
        head = f"{_amount(median, unit)} {_direction(median, unit)}"
    else:
        head = f"{_amount(median, unit)} {_direction(median, unit)} {unit}"
    if q05 < 0 < q95 or 0 in (q05, q95):  # the ends differ in direction: each says its own
        ends = [("no change" if x == 0 else f"{_amount(x, unit)} {_direction(x, unit)}") for x in (q05, q95)]
        interval = " to ".join(ends)
    else:  # both ends the same way: smaller change first, the direction once
        near, far = sorted((q05, q95), key=abs)
        interval = f"{_amount(near, unit)} to {_amount(far, unit)} {_direction(far, unit)}"
    return f"{head} (90% interval {interval})"


def change_of(row: Any) -> str:
    """:func:`change_words` of a row of a differences table (diff_median, diff_q05, diff_q95, unit)."""
    return change_words(row.diff_median, row.diff_q05, row.diff_q95, row.unit)


def period(start: dt.date, end: dt.date) -> str:
    """A period in words, by months: "January 2024 to December 2026"."""
    return f"{start:%B %Y} to {end:%B %Y}"


def short_period(start: dt.date, end: dt.date) -> str:
    """A period in few characters: "2024\u20132026" for whole years, else "Jan 2024\u2013Jun 2025"."""
    if (start.month, start.day, end.month, end.day) == (1, 1, 12, 31):
        return f"{start.year}{DASH}{end.year}" if start.year != end.year else str(start.year)
    return f"{start:%b %Y}{DASH}{end:%b %Y}"


# --------------------------------------------------------------------------------------------------
# Page 1: the bottom line over the policy period
# --------------------------------------------------------------------------------------------------


def policy_window(config: RunConfig) -> tuple[dt.date, dt.date]:
    """The policy period: the first day any intervention is in force, and the last simulated day."""
    first = parse_date("time.start", config.time.start)
    last = parse_date("time.end", config.time.end)
    starts = [parse_date("start", i.start) if i.start else first for i in interventions.build(config)]
    return min(starts, default=first), last


def period_outcomes(timeseries: pd.DataFrame, start: dt.date, step_days: float) -> pd.DataFrame:
    """Per run and replicate, the :data:`HEADLINE` outcomes over the steps from ``start`` on.

    Args:
        timeseries: The comparison's time series (scenario, replicate, date, variable, value).
        start: First day of the policy period.
        step_days: Length of a step, to turn people held per step into person-years.

    Returns:
        Columns scenario, replicate and one per headline outcome.
    """
    ts = timeseries[pd.to_datetime(timeseries["date"]) >= pd.Timestamp(start)]
    grouped = ts.groupby(["scenario", "replicate", "variable"], observed=True)["value"]
    sums, means = grouped.sum().unstack(), grouped.mean().unstack()
    summed = {
        "person-years": lambda v: sums[v] * step_days / 365.25,
        "total": lambda v: sums[v],
        "average": lambda v: means[v],
    }
    variables = {"person_years_held": "workers_held"}
    return pd.DataFrame(
        {name: summed[how](variables.get(name, name)) for name, (how, _) in HEADLINE.items()}
    ).reset_index()


def headline(comparison: Comparison, scenario: str) -> pd.DataFrame:
    """The paired changes of the :data:`HEADLINE` outcomes over the policy period (a differences table)."""
    config = config_of(comparison, scenario)
    start, _ = policy_window(config)
    table = period_outcomes(comparison.timeseries, start, config.time.step_days)
    if table.empty:  # the run ends before the policy starts
        return pd.DataFrame()
    outcomes = {name: outcome for name, (_, outcome) in HEADLINE.items()}
    return paired_differences(table, [scenario], outcomes)


def bottom_line(changes: pd.DataFrame, start: dt.date, end: dt.date) -> list[dict[str, Any]]:
    """One sentence per headline outcome: what, over which period, the paired change in its unit."""
    when = short_period(start, end)
    return [
        {
            "outcome": row.outcome,
            "text": f"{row.label.format(period=when)}: {change_of(row)}"
            + (", within noise." if row.within_noise and row.diff_q05 != row.diff_q95 else "."),
            "within_noise": bool(row.within_noise),
        }
        for row in changes.itertuples(index=False)
    ]


# --------------------------------------------------------------------------------------------------
# The body: every other outcome, once
# --------------------------------------------------------------------------------------------------


def outcome_tables(differences: pd.DataFrame) -> list[tuple[str, list[dict[str, Any]]]]:
    """The body's tables, one per group of :data:`GROUP_TITLES`: level without the policy, paired change.

    Outcomes whose change page 1 states (:data:`STATED_ON_PAGE_ONE`) are left out.
    """
    tables: dict[str, list[dict[str, Any]]] = {title: [] for title in GROUP_TITLES.values()}
    for row in differences.itertuples(index=False):
        if row.outcome in STATED_ON_PAGE_ONE:
            continue
        tables.setdefault(GROUP_TITLES.get(row.group, str(row.group)), []).append(
            {
                "outcome": row.outcome,
                "label": row.label,
                "without": format_level(row.baseline_median, row.unit),
                "change": change_of(row),
                "within_noise": bool(row.within_noise),
            }
        )
    return [(title, rows) for title, rows in tables.items() if rows]


# --------------------------------------------------------------------------------------------------
# Assumptions
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Assumption:
    """One parameter as the brief shows it.

    Attributes:
        key: Dotted configuration key (``sources.<name>.weight`` for per-entry fields).
        value: Value in the runs (per entry for dict-valued groups); for calibrated parameters the
            posterior median and 90% interval.
        unit: Unit of measure.
        basis: "calibrated", "published", "tuned" or "assumption".
        source: The schema's source text (FACTS ids and notes).
        doc: One-line meaning.
    """

    key: str
    value: str
    unit: str
    basis: str
    source: str
    doc: str


def basis_of(source: str, calibrated: bool) -> str:
    """Where a parameter's value comes from, judged from its schema source text.

    Args:
        source: The ``source`` metadata of the parameter.
        calibrated: Whether the posterior the runs draw from includes the parameter.
    """
    if calibrated:
        return "calibrated"
    if "assumption" in source or not FACTS_ID.search(source):
        return "assumption"  # "EN1; value assumption": the mechanism is published, its value is not
    if "calibrated" in source:
        return "tuned"  # fitted by hand before the ABC calibration; the same in every run
    return "published"


def _values(config: Any, key: str) -> list[tuple[str, Any]]:
    """The value(s) of a dotted key; ``<name>`` expands to every entry of a dict-valued group."""
    if "<name>" not in key:
        return [("", keys.get(config, key))]
    position = key.split(".").index("<name>")
    return [
        (concrete.split(".")[position], keys.get(config, concrete))
        for concrete in keys.expand(config, key.replace("<name>", keys.WILDCARD))
    ]


def _format_values(values: list[tuple[str, Any]]) -> str:
    def one(value: Any) -> str:
        if isinstance(value, dict):
            return ", ".join(value) or "none"
        if isinstance(value, list):
            return ", ".join(map(str, value)) or "all"
        return odd.format_default(value).strip("`")

    if len(values) == 1 and not values[0][0]:
        return one(values[0][1])
    return "; ".join(f"{label}: {one(value)}" for label, value in values)


def assumptions(config: RunConfig) -> list[Assumption]:
    """Every model parameter of the schema with its value in the runs and its basis."""
    calibrated = posterior.quantiles(config.posterior, (0.05, 0.5, 0.95)) if config.posterior else None
    drawn = set() if calibrated is None else set(calibrated.columns) - set(config.fixed)
    rows = []
    for row in odd.parameter_rows(type(config)):
        if row.key in NOT_MODEL_PARAMETERS or row.source == "-":
            continue
        if row.key in drawn:
            q05, q50, q95 = calibrated[row.key]
            value = f"{_significant(q50)} [{_significant(q05)}, {_significant(q95)}]"
        else:
            value = _format_values(_values(config, row.key))
        basis = basis_of(row.source, row.key in drawn)
        rows.append(Assumption(row.key, value, row.unit, basis, row.source, row.doc))
    return rows


def intervention_rows(config: RunConfig) -> list[Assumption]:
    """The scenario's interventions, one row per setting, documented like the model's parameters."""
    rows = []
    for intervention in interventions.build(config):
        rows.append(
            Assumption(
                f"policies.{intervention.name}.kind",
                intervention.kind,
                "-",
                "assumption",
                "configs/policy/",
                (type(intervention).__doc__ or "").strip().splitlines()[0],
            )
        )
        for f in fields(intervention):
            if f.name == "name":
                continue
            meta = f.metadata
            value = _format_values([("", getattr(intervention, f.name))])
            source = meta.get("source", "")
            rows.append(
                Assumption(
                    f"policies.{intervention.name}.{f.name}",
                    value,
                    meta.get("unit", ""),
                    basis_of(source, False),
                    source,
                    meta.get("doc", ""),
                )
            )
    return rows


def policy_items(config: RunConfig) -> list[str]:
    """Each intervention in plain words with its window: "More raids: ... From January 2024 to the end"."""
    last = parse_date("time.end", config.time.end)
    items = []
    for intervention in interventions.build(config):
        doc = (type(intervention).__doc__ or "").strip().splitlines()[0]
        doc = re.sub(r",?\s*(e\.g\. )?\b[A-Z]{2,3}\d+\b", "", doc)  # fact ids: the appendix cites them
        doc = re.sub(r"\s*\(\s*\)", "", doc)
        starts = parse_date("start", intervention.start) if intervention.start else None
        ends = parse_date("end", intervention.end) if intervention.end else last
        window = f"from {starts:%B %Y}" if starts else "from the start of the run"
        items.append(f"{doc} In force {window} to {ends:%B %Y}.")
    return items


# --------------------------------------------------------------------------------------------------
# Calibration status and limitations
# --------------------------------------------------------------------------------------------------


def load_registry(path: Path = REGISTRY) -> dict[str, Target]:
    """The calibration target registry, typed."""
    raw = OmegaConf.load(path)
    return {
        name: OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(Target), entry))
        for name, entry in raw.items()
    }


def _published(target: Target) -> str:
    """The published figure a target is compared with, in short."""
    if target.low is not None and target.high is not None:
        return f"{_significant(target.low)} to {_significant(target.high)}"
    if target.n:
        return f"{_significant(target.observed)} of {target.n}"
    return _significant(target.observed)


def calibration_status(registry: dict[str, Target], record: dict[str, Any]) -> list[dict[str, str]]:
    """Each registry target: whether it is fitted or only validates, and whether the posterior meets it.

    Args:
        registry: The calibration targets.
        record: The posterior's provenance (``fit_targets_met``, written by ``scamsim calibrate``).
    """
    met = record.get("fit_targets_met", {})
    rows = []
    for name, target in registry.items():
        if target.use is Use.fit:
            status = {True: "fitted; met", False: "fitted; NOT met"}.get(
                met.get(name), "fitted; not recorded"
            )
        else:
            status = "validation only (never fitted)"
        rows.append(
            {
                "target": name,
                "id": target.id,
                "definition": target.definition,
                "published": _published(target),
                "use": target.use.value,
                "status": status,
            }
        )
    return rows


def effective_sample_size(weights: np.ndarray) -> float:
    """Kish's effective sample size of weighted particles: (sum w)^2 / sum w^2."""
    return float(weights.sum() ** 2 / (weights**2).sum())


def limitations(config: RunConfig, record: dict[str, Any]) -> list[str]:
    """A short honest list: the posterior's size, validation, the runs' own settings, simplifications."""
    items = []
    if config.posterior:
        particles = posterior.load(config.posterior)
        settings = record.get("settings", {})
        ess = effective_sample_size(particles["weight"].to_numpy(float))
        # `generations` is a cap since issue 13; the record's `stop` says how the run ended.
        ended = (
            record["stop"]["message"]
            if record.get("stop")
            else f"{settings.get('generations', '?')} generations"
        )
        items.append(
            f"The calibrated posterior is small: {len(particles)} weighted particles with an effective "
            f"sample size of about {ess:.0f} (ABC-SMC, {settings.get('population_size', '?')} particles, "
            f"{ended}), so the parameter intervals are rough."
        )
        if record.get("model_overrides"):
            items.append(
                f"The calibration ran at reduced settings ({', '.join(record['model_overrides'])}); "
                "these runs carry its posterior over to their own scale and dates."
            )
    else:
        items.append("These runs use the default parameters, not the calibrated posterior (posterior=null).")
    items.append(VALIDATION_NOTE)
    if config.scale < 1:
        items.append(
            f"Simulated at {config.scale:g} of the real population (people and money are scaled back up), "
            "which adds noise to small counts."
        )
    items.append(
        f"{config.n_seeds} paired replicates: the 90% intervals of so few pairs are themselves uncertain."
    )
    items.extend(SIMPLIFICATIONS)
    return items


def key_limitations(config: RunConfig, record: dict[str, Any]) -> list[str]:
    """Page 1's limitations box: the few a reader must weigh, in plain words (the appendix has them all)."""
    items = [
        "A model, not a forecast: it shows how the policy changes a simplified world in which no one "
        "learns or anticipates the policy and compounds never run out of space.",
    ]
    if config.posterior:
        n_fit = sum(name is True for name in record.get("fit_targets_met", {}).values())
        items.append(
            "Its uncertain settings were fitted to a handful of published figures "
            f"({n_fit} met), so the ranges are wide; a figure it was not fitted to (the places the "
            "government raided) it meets only at the edge of its range."
        )
    else:
        items.append("These runs use hand-set parameters, not the ones fitted to published figures.")
    scale = f" at {config.scale:.0%} of the real population" if config.scale < 1 else ""
    items.append(
        f"{config.n_seeds} pairs of runs{scale}: the 90% intervals are themselves uncertain, more so "
        "for small numbers."
    )
    return items


# --------------------------------------------------------------------------------------------------
# Figures
# --------------------------------------------------------------------------------------------------


def _with_and_without(comparison: Comparison, scenario: str) -> pd.DataFrame:
    """The comparison's time series, wide (one column per variable), runs named in plain words."""
    wide = comparison.timeseries.pivot_table(
        index=["scenario", "replicate", "date"], columns="variable", values="value", observed=True
    ).reset_index()
    wide["date"] = pd.to_datetime(wide["date"])
    runs = wide["scenario"].map({BASELINE: WITHOUT, scenario: WITH})
    wide["policy"] = pd.Categorical(runs, categories=[WITHOUT, WITH])  # this order in every legend
    return wide


def headline_figure(comparison: Comparison, scenario: str, start: dt.date, place: str) -> Figure:
    """Page 1's chart: people held with and without the policy (top) and the paired change (below).

    Both panels show the median over the pairs of runs and the 90% band, and mark the policy's start.
    """
    wide = _with_and_without(comparison, scenario)
    paired = wide.pivot_table(index=["replicate", "date"], columns="policy", values="workers_held")
    change = (paired[WITH] - paired[WITHOUT]).rename("change").reset_index()
    fig, (top, bottom) = plt.subplots(
        2, 1, figsize=(8, 5.2), sharex=True, height_ratios=(3, 2), layout="constrained"
    )
    for k, name in enumerate((WITHOUT, WITH)):
        figures.band(top, figures.quantiles(wide[wide["policy"] == name], "workers_held"), k, label=name)
    figures.time_axes(top, "people held [people]", f"Trafficked people held in compounds in {place}")
    top.set_xlabel("")
    top.legend(loc="upper left")
    figures.band(bottom, figures.quantiles(change, "change"), 2, label="paired change")
    bottom.axhline(0, color=figures.PALETTE["black"], linewidth=0.8)
    figures.date_axis(bottom)
    bottom.yaxis.set_major_formatter(figures.GROUPED)
    bottom.set_xlabel("date")
    bottom.set_ylabel("with minus without\nthe policy [people]")
    figures.mark_policy(top, start)
    figures.mark_policy(bottom, start, label=None)
    figures.footer(fig, comparison.metadata, note="median and 90% band over pairs of runs")
    fig.get_layout_engine().set(rect=(0, 0.03, 1, 0.97))
    return fig


def time_figures(comparison: Comparison, scenario: str, start: dt.date, place: str) -> dict[str, Figure]:
    """The body's charts: each :data:`TIME_FIGURES` variable with and without the policy over time."""
    wide = _with_and_without(comparison, scenario)
    return {
        name: figures.band_plot(
            wide,
            name,
            comparison.metadata,
            f"{title} in {place}",
            cumulative=cumulative,
            by="policy",
            start=start,
        )
        for name, title, cumulative in TIME_FIGURES
        if name in wide.columns
    }


def _png_size(data: bytes) -> tuple[int, int]:
    return struct.unpack(">II", data[16:24])  # width, height: the IHDR chunk follows the 8-byte signature


def _embedded(name: str, data: bytes, alt: str, caption: str) -> dict[str, Any]:
    """A figure for the template: PNG data URI, size, alt text and caption."""
    width, height = _png_size(data)
    return {
        "name": name,
        "uri": "data:image/png;base64," + base64.b64encode(data).decode("ascii"),
        "alt": alt,
        "caption": caption,
        "width": width,
        "height": height,
    }


# --------------------------------------------------------------------------------------------------
# The document
# --------------------------------------------------------------------------------------------------


@dataclass
class Brief:
    """A rendered brief: its HTML, figures (name -> format -> bytes) and provenance (``metadata.json``)."""

    html: str
    images: dict[str, dict[str, bytes]]
    metadata: dict[str, Any] = field(default_factory=dict)

    def pdf(self) -> bytes:
        """The brief as PDF, laid out by WeasyPrint from the same HTML with its print styles."""
        return self.layout().write_pdf()

    def layout(self) -> Any:
        """The brief laid out for print by WeasyPrint (its ``pages`` are the PDF's pages)."""
        # Its progress reports (from the import on, page by page) would drown the command's own output.
        logging.getLogger("weasyprint.progress").setLevel(logging.WARNING)
        import weasyprint  # imported on use: it takes a second to import

        return weasyprint.HTML(string=self.html, base_url=str(TEMPLATES)).render()

    def write(self, out_dir: Path) -> Path:
        """Write ``brief.html``, ``brief.pdf``, ``metadata.json`` and ``figures/*.png|svg`` atomically."""
        pdf = self.pdf()  # before anything is moved into place: a layout error leaves nothing behind
        with atomic_dir(out_dir) as tmp:
            write_json(tmp / "metadata.json", self.metadata)
            (tmp / "brief.html").write_text(self.html, encoding="utf-8")
            (tmp / "brief.pdf").write_bytes(pdf)
            (tmp / "figures").mkdir()
            for name, files in self.images.items():
                for fmt, data in files.items():
                    (tmp / "figures" / f"{name}.{fmt}").write_bytes(data)
        return out_dir


def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,  # scenario names, descriptions and overrides are user text
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def command_line(scenario: str, overrides: Sequence[str]) -> str:
    """The one command that re-creates a brief."""
    return shlex.join(["scamsim", "brief", f"scenario={scenario}", *overrides])


def provenance_items(comparison: Comparison, command: str) -> list[tuple[str, str]]:
    """The provenance footer's entries (date, commit, config hashes, seeds, posterior, versions)."""
    meta = comparison.metadata
    git = meta.get("git", {})
    commit = str(git.get("commit") or "unknown") + (" (with uncommitted changes)" if git.get("dirty") else "")
    seeds = meta.get("seeds", {})
    hashes = ", ".join(f"{name} {entry['config_hash']}" for name, entry in meta["scenarios"].items())
    record = meta.get("posterior") or {}
    posterior_text = str(meta.get("posterior_name"))
    if "created" in record:
        commit_of_fit = str(record.get("git", {}).get("commit"))[:10]
        posterior_text += f" (calibrated {record['created']}, commit {commit_of_fit})"
    versions = {**meta.get("versions", {}), **_renderer_versions()}
    return [
        ("created", str(meta.get("created", "?"))),
        ("commit", commit),
        ("config hashes", hashes),
        (
            "seeds",
            f"base seed {seeds.get('base_seed', '?')}, {seeds.get('n_seeds', '?')} paired replicates; "
            f"{seeds.get('pairing', '')}",
        ),
        ("posterior", posterior_text),
        ("versions", ", ".join(f"{k} {v}" for k, v in versions.items() if v)),
        ("comparison command", str(meta.get("command", ""))),
        ("brief command", command),
    ]


def _renderer_versions() -> dict[str, str]:
    out = {}
    for name in ("jinja2", "weasyprint"):
        with contextlib.suppress(importlib_metadata.PackageNotFoundError):
            out[name] = importlib_metadata.version(name)
    return out


def config_of(comparison: Comparison, name: str) -> RunConfig:
    """The validated configuration a run of the comparison was made with (from its provenance)."""
    return to_run_config(OmegaConf.create(comparison.metadata["scenarios"][name]["config"]))


def render(comparison: Comparison, scenario: str, command: str | None = None) -> Brief:
    """Render the brief of ``scenario`` from a comparison of it with the baseline.

    Args:
        comparison: Paired runs of the baseline and this scenario (other scenarios are ignored).
        scenario: Name of the scenario to brief.
        command: The command line that re-creates the brief (default: from the comparison's overrides).

    Returns:
        The brief (HTML and figures as PNG and SVG).
    """
    keep = [BASELINE, scenario]
    comparison = Comparison(
        scenarios={scenario: comparison.scenarios[scenario]},
        per_replicate=comparison.per_replicate[comparison.per_replicate["scenario"].isin(keep)],
        differences=comparison.differences[comparison.differences["scenario"] == scenario],
        harm=comparison.harm[comparison.harm["scenario"] == scenario],
        timeseries=comparison.timeseries[comparison.timeseries["scenario"].isin(keep)],
        metadata=comparison.metadata,
    )
    overrides = comparison.metadata.get("overrides", [])
    command = command or command_line(scenario, overrides)
    baseline_config = config_of(comparison, BASELINE)
    scenario_config = config_of(comparison, scenario)
    start, end = policy_window(scenario_config)
    place = baseline_config.focal.replace("_", " ").title()
    first = parse_date("time.start", baseline_config.time.start)
    drawn = {
        "people_held": headline_figure(comparison, scenario, start, place),
        **time_figures(comparison, scenario, start, place),
    }
    images = {name: figures.encode(fig) for name, fig in drawn.items()}
    chart = _embedded(
        "people_held",
        images["people_held"]["png"],
        f"People held in compounds in {place} with and without the policy, and the change; "
        f"the policy starts in {start:%B %Y}",
        "Top: people held with and without the policy (median over the pairs of runs, 90% band); until "
        f"{start:%B %Y} the two are the same. Bottom: the change within each pair of runs, which isolates "
        "the policy's effect.",
    )
    body_figures = [
        _embedded(name, images[name]["png"], f"{title} in {place}, with and without the policy", TIME_CAPTION)
        for name, title, _ in TIME_FIGURES
        if name in images
    ]
    record = comparison.metadata.get("posterior") or {}
    parameters = assumptions(baseline_config)
    context = {
        "scenario": scenario,
        "title": comparison.scenarios[scenario],
        "place": place,
        "start": f"{start:%B %Y}",
        "period": period(start, end),
        "run_period": period(first, end),
        "bottom_line": bottom_line(headline(comparison, scenario), start, end),
        "chart": chart,
        "key_limitations": key_limitations(baseline_config, record),
        "n_pairs": baseline_config.n_seeds,
        "scale": baseline_config.scale,
        "calibrated": bool(baseline_config.posterior),
        "policies": policy_items(scenario_config),
        "tables": outcome_tables(comparison.differences),
        "figures": body_figures,
        "interventions": intervention_rows(scenario_config),
        "overrides": overrides,
        "run_note": (
            f"{baseline_config.n_seeds} paired replicates from {baseline_config.time.start} to "
            f"{baseline_config.time.end} at population scale {baseline_config.scale:g}; "
            + (
                f"pair i uses draw i from the posterior '{baseline_config.posterior}' in both runs."
                if baseline_config.posterior
                else "every replicate uses the default parameters."
            )
        ),
        "calibration": calibration_status(load_registry(), record),
        "limitations": limitations(baseline_config, record),
        "assumptions": parameters,
        "n_calibrated": sum(row.basis == "calibrated" for row in parameters),
        "command": command,
        "provenance": provenance_items(comparison, command),
    }
    html = _environment().get_template("brief.html.j2").render(context)
    return Brief(html=html, images=images, metadata=comparison.metadata)
