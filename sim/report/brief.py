"""``scamsim brief``: a self-contained policy brief of one scenario against the baseline.

The brief is written from a :class:`sim.Comparison` (paired runs of the baseline and the
scenario with common random numbers over posterior draws x seeds), never from a live model. It holds:

* a plain-language summary: one sentence per outcome with the paired median change and its 90%
  interval, saying "within noise" when that interval includes zero;
* figures (time series with 90% bands, baseline vs scenario; the paired differences of
  :func:`sim.report.compare_figures.difference_figure`), embedded as PNG data URIs so the HTML file
  needs nothing else;
* the harm ledger for both groups of victims, trafficked workers and targets;
* the scenario's interventions and the assumptions table: every model parameter with its value, unit,
  source id and basis (calibrated, published, tuned by hand or assumption), from the schema's metadata
  via :mod:`sim.report.odd`; calibrated parameters show their posterior median and 90% interval;
* calibration status (the target registry and the posterior's record of which fit targets it meets);
* limitations, and a provenance footer with the one command that re-creates the brief.

``scamsim brief scenario=NAME [overrides]`` writes ``results/briefs/<scenario>/``: ``brief.html``,
``brief.pdf`` (laid out by WeasyPrint from the same HTML with its print styles) and
``figures/*.png``, atomically.
"""

from __future__ import annotations

import base64
import contextlib
import io
import logging
import math
import re
import shlex
import struct
from collections.abc import Sequence
from dataclasses import dataclass, fields
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

import jinja2
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from omegaconf import OmegaConf

from sim.analysis.compare import Comparison
from sim.analysis.observations import Target, Use
from sim.model import interventions, keys
from sim.report import figures, odd
from sim.report.compare_figures import difference_figure
from sim.runs import posterior
from sim.runs.config import CONFIG_DIR, RunConfig, to_run_config
from sim.runs.results import atomic_dir
from sim.runs.scenarios import BASELINE

TEMPLATES = Path(__file__).resolve().parent / "templates"
REGISTRY = Path(CONFIG_DIR) / "calibration_targets" / "registry.yaml"

# Time series shown as figures: (variable, title, cumulative?). Losses are a weekly flow whose level
# says little; their running total is what a reader compares.
TIME_FIGURES = (
    ("compounds_active", "Compounds operating (focal jurisdiction)", False),
    ("workers_held", "Trafficked workers held (focal jurisdiction)", False),
    ("target_losses", "Money taken from targets (focal jurisdiction)", True),
)

TIME_CAPTION = (
    "Median over replicates and 90% band, baseline and scenario. The bands are mostly the spread of "
    "parameter draws and seeds, which both runs share; overlapping bands do not mean no effect: the "
    "paired differences below show the effect."
)

GROUP_TITLES = {
    "compounds": "Compounds",
    "workers": "Trafficked workers",
    "targets": "Targets of the scams",
    "displacement": "Displacement",
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


def format_change(x: float, unit: str) -> str:
    """A signed change: shares in percentage points, otherwise as :func:`format_value`."""
    if _missing(x):
        return "n/a"
    if x == 0:
        return "0" + (" pp" if unit == "share" else "")
    sign = "+" if x > 0 else MINUS
    if unit == "share":
        return f"{sign}{_significant(100 * abs(x))} pp"
    return sign + format_value(abs(x), unit)


def sentence(row: Any) -> str:
    """One outcome in words: level before and after, the paired change and its 90% interval.

    Args:
        row: A row of ``Comparison.differences`` (label, unit, baseline_median, scenario_median,
            diff_median, diff_q05, diff_q95, within_noise).

    Returns:
        E.g. "Compounds operating at the end of the Amnesty window: 52 → 47 (-5, 90% interval -9 to -1)",
        with typographic minus signs.
    """
    unit = row.unit
    text = (
        f"{row.label}: {format_value(row.baseline_median, unit)} → {format_value(row.scenario_median, unit)} "
        f"({format_change(row.diff_median, unit)}, 90% interval {_interval(row)})"
    )
    if row.diff_q05 == row.diff_q95 == 0:
        text += ": no change in any pair"
    elif row.within_noise:
        text += ": within noise, the interval includes no change"
    return text


def _interval(row: Any) -> str:
    return f"{format_change(row.diff_q05, row.unit)} to {format_change(row.diff_q95, row.unit)}"


# --------------------------------------------------------------------------------------------------
# Summary, differences, harm ledger
# --------------------------------------------------------------------------------------------------


def summary(differences: pd.DataFrame) -> tuple[str, list[tuple[str, list[dict[str, Any]]]]]:
    """The summary: a lead sentence and, per outcome group, one sentence per outcome."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for row in differences.itertuples(index=False):
        item = {"outcome": row.outcome, "text": sentence(row), "within_noise": bool(row.within_noise)}
        groups.setdefault(GROUP_TITLES.get(row.group, str(row.group)), []).append(item)
    moved = differences.loc[~differences["within_noise"].astype(bool), "label"].tolist()
    n_pairs = int(differences["n_pairs"].max()) if len(differences) else 0
    lead = (
        f"Across {n_pairs} paired runs, {len(moved)} of {len(differences)} outcomes changed beyond noise"
        + (f": {'; '.join(moved)}." if moved else ".")
        + " The others are within noise: these runs cannot tell them apart from no change."
    )
    return lead, list(groups.items())


def _formatted(row: Any) -> dict[str, Any]:
    """A row of the differences table or the harm ledger, formatted for a table."""
    out = {
        "label": row.label,
        "unit": row.unit,
        "baseline": format_value(row.baseline_median, row.unit),
        "diff": format_change(row.diff_median, row.unit),
        "interval": _interval(row),
        "within_noise": bool(row.within_noise),
    }
    if hasattr(row, "scenario_median"):  # the harm ledger shows the change only
        out["scenario"] = format_value(row.scenario_median, row.unit)
    return out


def harm_rows(harm: pd.DataFrame) -> list[tuple[str, list[dict[str, Any]]]]:
    """The harm ledger, one table per group of victims (in the ledger's order)."""
    out: dict[str, list[dict[str, Any]]] = {}
    for row in harm.itertuples(index=False):
        out.setdefault(row.victims, []).append(_formatted(row))
    return list(out.items())


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
        items.append(
            f"The calibrated posterior is small: {len(particles)} weighted particles with an effective "
            f"sample size of about {ess:.0f} (ABC-SMC, {settings.get('population_size', '?')} particles, "
            f"{settings.get('generations', '?')} generations), so the parameter intervals are rough."
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


# --------------------------------------------------------------------------------------------------
# Figures
# --------------------------------------------------------------------------------------------------


def time_figures(comparison: Comparison) -> dict[str, Figure]:
    """Each scenario and the baseline over time: median and 90% band over replicates."""
    wide = comparison.timeseries.pivot_table(
        index=["scenario", "replicate", "date"], columns="variable", values="value", observed=True
    ).reset_index()
    wide["date"] = pd.to_datetime(wide["date"])
    return {
        name: figures.band_plot(wide, name, comparison.metadata, title, cumulative=cumulative, by="scenario")
        for name, title, cumulative in TIME_FIGURES
        if name in wide.columns
    }


def png(fig: Figure) -> bytes:
    """A figure as PNG bytes (no software/date metadata, so reruns are byte-identical); closes it.

    The saved area grows to take in anything drawn outside the figure, such as long outcome labels.
    """
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=120, metadata={"Software": None}, bbox_inches="tight")
    plt.close(fig)
    return buffer.getvalue()


def _png_size(data: bytes) -> tuple[int, int]:
    return struct.unpack(">II", data[16:24])  # width, height: the IHDR chunk follows the 8-byte signature


# --------------------------------------------------------------------------------------------------
# The document
# --------------------------------------------------------------------------------------------------


@dataclass
class Brief:
    """A rendered brief: the HTML document and its figures as PNG bytes."""

    html: str
    images: dict[str, bytes]

    def pdf(self) -> bytes:
        """The brief as PDF, laid out by WeasyPrint from the same HTML with its print styles."""
        # Its progress reports (from the import on, page by page) would drown the command's own output.
        logging.getLogger("weasyprint.progress").setLevel(logging.WARNING)
        import weasyprint  # imported on use: it takes a second to import

        return weasyprint.HTML(string=self.html, base_url=str(TEMPLATES)).write_pdf()

    def write(self, out_dir: Path) -> Path:
        """Write ``brief.html``, ``brief.pdf`` and ``figures/*.png`` to ``out_dir`` atomically."""
        pdf = self.pdf()  # before anything is moved into place: a layout error leaves nothing behind
        with atomic_dir(out_dir) as tmp:
            (tmp / "brief.html").write_text(self.html, encoding="utf-8")
            (tmp / "brief.pdf").write_bytes(pdf)
            (tmp / "figures").mkdir()
            for name, data in self.images.items():
                (tmp / "figures" / f"{name}.png").write_bytes(data)
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
        The brief (HTML and figures as PNG).
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
    figures = {
        **time_figures(comparison),
        "paired_differences": difference_figure(comparison),
    }
    images = {name: png(fig) for name, fig in figures.items()}
    captions = {
        "paired_differences": "Each outcome's paired change (scenario minus baseline, same seeds and "
        "parameter draws) as a percentage of its baseline median, with its 90% interval; hollow markers "
        "are within noise.",
    }
    figure_items = []
    for name, data in images.items():
        width, height = _png_size(data)
        figure_items.append(
            {
                "uri": "data:image/png;base64," + base64.b64encode(data).decode("ascii"),
                "alt": name.replace("_", " "),
                "caption": captions.get(name, TIME_CAPTION),
                "width": width,
                "height": height,
            }
        )
    record = comparison.metadata.get("posterior") or {}
    lead, groups = summary(comparison.differences)
    parameters = assumptions(baseline_config)
    context = {
        "scenario": scenario,
        "description": comparison.scenarios[scenario],
        "lead": lead,
        "summary": groups,
        "interventions": intervention_rows(config_of(comparison, scenario)),
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
        "figures": figure_items,
        "differences": [_formatted(row) for row in comparison.differences.itertuples(index=False)],
        "harm": harm_rows(comparison.harm),
        "calibration": calibration_status(load_registry(), record),
        "limitations": limitations(baseline_config, record),
        "assumptions": parameters,
        "n_calibrated": sum(row.basis == "calibrated" for row in parameters),
        "command": command,
        "provenance": provenance_items(comparison, command),
    }
    html = _environment().get_template("brief.html.j2").render(context)
    return Brief(html=html, images=images)
