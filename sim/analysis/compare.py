"""``scamsim compare``: scenarios against the baseline, paired by common random numbers.

Replicate ``i`` of the baseline and of every scenario runs with the same seed
(``SeedSequence(seed).spawn(n_seeds)[i]``) and the same posterior draw ``i`` (:mod:`sim.runs.posterior`),
and every random process draws from its own named stream (:mod:`sim.model.streams`); no intervention
draws random numbers (:mod:`sim.model.interventions`). Until an intervention starts, a scenario's replicate
is the baseline's, step for step; after, they differ because the mechanisms differ, not because the dice
did. The effect of a scenario is therefore measured replicate by replicate, as the paired difference
scenario - baseline, whose spread over replicates (posterior draws x seeds) is far narrower than the
spread of either run: ``paired_sd`` against ``unpaired_sd`` in the differences table.

An effect is **within noise** when the 90% interval of its paired differences (5th to 95th
percentile over replicates) contains zero. Outcomes that are undefined in every replicate (the AM7
statistic when the run ends before the Amnesty window) are left out.

The harm ledger (:func:`harm_ledger`) sets out the outcomes for both groups of victims, trafficked
workers and the targets of the scams, because a policy can help one and hurt the other.

``results/compare/<name>/`` (written atomically) holds ``per_replicate.parquet``,
``differences.parquet`` and ``differences.csv``, ``harm.parquet`` and ``harm.csv``,
``timeseries.parquet`` (focal jurisdiction), ``metadata.json`` (provenance of every scenario and the
command that re-creates the comparison) and ``figures/paired_differences.png``.
"""

from __future__ import annotations

import json
import math
import shlex
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.model.ledger import EXIT_ROUTES
from sim.model.schemas import ConfigError
from sim.runs import posterior, provenance
from sim.runs.config import CONFIG_DIR, RunConfig, as_dict, compose_config, load_config, overridden_keys
from sim.runs.results import Results, atomic_dir, save_figures, write_json
from sim.runs.runner import run_replicates

SCENARIO_DIR = Path(CONFIG_DIR) / "scenario"
BASELINE = "baseline"

# Configuration keys in which a scenario may differ from the baseline: everything else must match, or
# the paired difference would measure more than the interventions.
SCENARIO_KEYS = ("name", "scenario", "description", "policies")

# Focal-jurisdiction time series kept for figures (people and money at full scale).
TIMESERIES = (
    "compounds_active",
    "compounds_protected",
    "workers_held",
    "recruited",
    "raids",
    "target_losses",
)

VICTIMS = {"workers": "trafficked workers", "targets": "targets"}


@dataclass(frozen=True)
class Outcome:
    """An outcome compared between scenario and baseline, per replicate.

    Attributes:
        label: What it is, for tables and figures.
        unit: Unit of measure (people and money at full scale).
        group: "compounds", "workers", "targets" or "displacement".
        harm: Whether it belongs in the harm ledger (for the victims of its group).
    """

    label: str
    unit: str
    group: str
    harm: bool = False


OUTCOMES: dict[str, Outcome] = {
    "compounds_operating": Outcome("Compounds operating on 30 June 2025", "compounds", "compounds"),
    "am7_share": Outcome(
        "Share of compounds operating in January 2024 - June 2025 never investigated or still operating "
        "on 30 June 2025",
        "share",
        "compounds",
    ),
    "compounds_active_end": Outcome("Compounds operating at the end of the run", "compounds", "compounds"),
    "raids": Outcome("Raids during the run", "raids", "compounds"),
    "workers_held_end": Outcome("Workers held at the end of the run", "people", "workers"),
    "person_years_held": Outcome("Time held in compounds", "person-years", "workers", harm=True),
    "trafficked": Outcome("People trafficked into compounds", "people", "workers", harm=True),
    "punishments": Outcome("Abuse: punishment events (beatings, shocks)", "events", "workers", harm=True),
    "resales": Outcome("Re-trafficked: sold on to another compound", "people", "workers", harm=True),
    "help_leaked": Outcome("Help requests passed back to the boss", "requests", "workers", harm=True),
    "exits_released": Outcome(
        "Released after raids or closures (stranded, deported)", "people", "workers", harm=True
    ),
    **{
        f"exits_{route}": Outcome(f"Exits by {route}", "people", "workers")
        for route in EXIT_ROUTES
        if route != "released"
    },
    "targets_defrauded": Outcome("Targets defrauded", "people", "targets", harm=True),
    "target_losses": Outcome("Money lost by targets", "USD", "targets", harm=True),
    "relocated_within": Outcome("Compounds relocated within a jurisdiction", "compounds", "displacement"),
    "relocated_across": Outcome("Compounds relocated across a border", "compounds", "displacement"),
    "compounds_closed": Outcome("Compounds closed (raid or unprofitable)", "compounds", "displacement"),
}

# Outcomes taken from the run's metrics (sim.runs.metrics) under another name; the rest are metric names
# or totals of time-series variables over the run.
FROM_METRICS = {"compounds_operating": "compounds_active_mid2025"}
FROM_TIMESERIES = ("punishments", "help_leaked", "targets_defrauded")


@dataclass
class Comparison:
    """Paired runs of the baseline and scenarios, and their differences.

    Attributes:
        scenarios: Scenario name -> one-line description (baseline not included).
        per_replicate: Columns scenario ("baseline" for baseline rows), replicate, then one column per
            outcome of :data:`OUTCOMES`.
        differences: One row per (scenario, outcome): scenario, outcome, label, unit, group,
            baseline_median, scenario_median, diff_median, diff_q05, diff_q95, paired_sd, unpaired_sd,
            within_noise, n_pairs.
        harm: The harm ledger (:func:`harm_ledger`).
        timeseries: scenario, replicate, date, variable, value (focal jurisdiction) for the variables
            of :data:`TIMESERIES`.
        metadata: Provenance: commit, versions, date, seeds, posterior, each scenario's configuration
            and hash, and the command line that re-creates the comparison.
    """

    scenarios: dict[str, str]
    per_replicate: pd.DataFrame
    differences: pd.DataFrame
    harm: pd.DataFrame
    timeseries: pd.DataFrame
    metadata: dict[str, Any]

    def figure(self) -> Any:
        """The paired-difference figure (:func:`difference_figure`)."""
        return difference_figure(self)

    def write(self, out_dir: str | Path) -> Path:
        """Write tables, metadata and the paired-difference figure to ``out_dir`` atomically."""
        out_dir = Path(out_dir)
        figures = {"paired_differences": self.figure()}
        with atomic_dir(out_dir) as tmp:
            for name in ("per_replicate", "differences", "harm", "timeseries"):
                getattr(self, name).to_parquet(tmp / f"{name}.parquet", index=False)
            self.differences.to_csv(tmp / "differences.csv", index=False, float_format="%.6g")
            self.harm.to_csv(tmp / "harm.csv", index=False, float_format="%.6g")
            write_json(tmp / "metadata.json", self.metadata)
            save_figures(tmp / "figures", figures)
        return out_dir


def load_comparison(path: str | Path) -> Comparison:
    """Read a comparison written by :meth:`Comparison.write`."""
    path = Path(path)
    if not (path / "metadata.json").exists() or not (path / "differences.parquet").exists():
        raise FileNotFoundError(f"{path} is not a scamsim comparison (no metadata.json, differences.parquet)")
    metadata = json.loads((path / "metadata.json").read_text())
    tables = {
        name: pd.read_parquet(path / f"{name}.parquet")
        for name in ("per_replicate", "differences", "harm", "timeseries")
    }
    scenarios = {
        name: entry["description"] for name, entry in metadata["scenarios"].items() if name != BASELINE
    }
    return Comparison(scenarios=scenarios, metadata=metadata, **tables)


# --------------------------------------------------------------------------------------------------
# Configurations
# --------------------------------------------------------------------------------------------------


def available_scenarios() -> list[str]:
    """Names of the scenarios in ``configs/scenario/``."""
    return sorted(p.stem for p in SCENARIO_DIR.glob("*.yaml"))


def policy_of(override: str) -> str | None:
    """The intervention a ``policies.<name>.<key>=value`` override sets (None for other overrides)."""
    parts = override.split("=", 1)[0].lstrip("+~").split(".")
    return parts[1] if parts[0] == "policies" and len(parts) > 1 else None


def scenario_config(name: str, overrides: Sequence[str] = ()) -> RunConfig:
    """The composed configuration of scenario ``name`` (or ``"baseline"``) with ``overrides``.

    An override of an intervention (``policies.<policy>.<key>=value``) applies only to scenarios that
    have that intervention, so one command line can tune a policy and still share every other setting
    with the baseline. Other keys set in ``overrides`` keep their value in every posterior draw (``fixed``),
    as on the ``scamsim run`` command line.

    Raises:
        ConfigError: Unknown scenario, unknown key or invalid value (one line).
    """
    if name != BASELINE and name not in available_scenarios():
        raise ConfigError(
            f"scenario={name!r} not found; available: {', '.join([BASELINE, *available_scenarios()])}"
        )
    group = [] if name == BASELINE else [f"scenario={name}"]
    shared = [o for o in overrides if policy_of(o) is None]
    ours = [o for o in overrides if policy_of(o) is not None]
    if ours:
        # The scenario's own interventions, before the overrides move their windows into the run.
        policies = compose_config(group + shared).get("policies") or {}
        ours = [o for o in ours if policy_of(o) in policies]
    config = load_config(group + shared + ours)
    config.fixed = sorted(set(config.fixed) | overridden_keys(shared))
    return config


def _flatten(tree: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(tree, dict):
        out: dict[str, Any] = {}
        for key, value in tree.items():
            out.update(_flatten(value, f"{prefix}{key}."))
        return out
    return {prefix.rstrip("."): tree}


def _check_same_world(name: str, config: RunConfig, baseline: RunConfig) -> None:
    """A scenario may differ from the baseline only in its interventions (:data:`SCENARIO_KEYS`)."""
    ours, theirs = (
        _flatten({k: v for k, v in as_dict(c).items() if k not in SCENARIO_KEYS}) for c in (config, baseline)
    )
    changed = sorted(k for k in ours.keys() | theirs.keys() if ours.get(k) != theirs.get(k))
    if changed:
        raise ConfigError(
            f"scenario={name!r} changes {', '.join(changed)} as well as interventions; put such settings "
            "on the command line so the baseline shares them"
        )


# --------------------------------------------------------------------------------------------------
# Running and pairing
# --------------------------------------------------------------------------------------------------


def replicate_outcomes(results: Results, config: RunConfig) -> pd.DataFrame:
    """One row per replicate, one column per outcome of :data:`OUTCOMES`."""
    out = results.metrics[["replicate"]].copy()
    ts = results.timeseries
    totals = ts.groupby("replicate")[list(FROM_TIMESERIES)].sum()
    years_per_step = config.time.step_days / 365.25
    held = ts.groupby("replicate")["workers_held"].sum() * years_per_step
    for name in OUTCOMES:
        if name in FROM_TIMESERIES:
            out[name] = out["replicate"].map(totals[name]).to_numpy(float)
        elif name == "person_years_held":
            out[name] = out["replicate"].map(held).to_numpy(float)
        else:
            out[name] = results.metrics[FROM_METRICS.get(name, name)].to_numpy(float)
    return out


def focal_timeseries(results: Results, config: RunConfig) -> pd.DataFrame:
    """The focal jurisdiction's :data:`TIMESERIES` in long form (replicate, date, variable, value)."""
    focal = results.timeseries[results.timeseries["jurisdiction"] == config.focal]
    return focal.melt(
        id_vars=["replicate", "date"], value_vars=list(TIMESERIES), var_name="variable", value_name="value"
    )


def paired_differences(
    per_replicate: pd.DataFrame, scenarios: Sequence[str], outcomes: dict[str, Outcome] = OUTCOMES
) -> pd.DataFrame:
    """The differences table: paired (scenario - baseline, same replicate) summaries per outcome.

    Args:
        per_replicate: Columns scenario, replicate and one per outcome.
        scenarios: Scenarios to pair with the baseline.
        outcomes: The outcomes to summarise (columns of ``per_replicate``).
    """
    base = per_replicate[per_replicate["scenario"] == BASELINE].set_index("replicate")
    rows = []
    for scenario in scenarios:
        ours = per_replicate[per_replicate["scenario"] == scenario].set_index("replicate")
        for name, outcome in outcomes.items():
            pair = pd.DataFrame({"b": base[name], "s": ours[name]}).dropna()
            if pair.empty:
                continue
            diff = pair["s"] - pair["b"]
            q05, q95 = np.quantile(diff, [0.05, 0.95])
            rows.append(
                {
                    "scenario": scenario,
                    "outcome": name,
                    "label": outcome.label,
                    "unit": outcome.unit,
                    "group": outcome.group,
                    "baseline_median": float(pair["b"].median()),
                    "scenario_median": float(pair["s"].median()),
                    "diff_median": float(diff.median()),
                    "diff_q05": float(q05),
                    "diff_q95": float(q95),
                    "paired_sd": float(diff.std()),
                    "unpaired_sd": float(math.sqrt(pair["s"].var() + pair["b"].var())),
                    "within_noise": bool(q05 <= 0 <= q95),
                    "n_pairs": len(pair),
                }
            )
    return pd.DataFrame(rows)


def harm_ledger(comparison: Comparison) -> pd.DataFrame:
    """The harm ledger: for trafficked workers and for targets, each harm's paired change.

    Returns:
        scenario, victims ("trafficked workers" or "targets"), outcome, label, unit, baseline_median,
        diff_median, diff_q05, diff_q95, within_noise.
    """
    harmful = [name for name, o in OUTCOMES.items() if o.harm]
    d = comparison.differences
    table = d[d["outcome"].isin(harmful)].copy()
    table.insert(1, "victims", table["group"].map(VICTIMS))
    columns = ["scenario", "victims", "outcome", "label", "unit", "baseline_median"]
    columns += ["diff_median", "diff_q05", "diff_q95", "within_noise"]
    order = {name: i for i, name in enumerate(harmful)}
    table = table.sort_values(
        ["scenario", "outcome"], key=lambda c: c.map(order) if c.name == "outcome" else c
    )
    return table[columns].reset_index(drop=True)


def compare(
    scenarios: Sequence[str],
    overrides: Sequence[str] = (),
    *,
    n_seeds: int | None = None,
    seed: int | None = None,
    n_jobs: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Comparison:
    """Run the baseline and each scenario with common random numbers and pair their replicates.

    Args:
        scenarios: Scenario names (``configs/scenario/<name>.yaml``).
        overrides: Hydra overrides applied to the baseline and every scenario alike.
        n_seeds: Replicates (posterior draws x seeds); default: the configuration's ``n_seeds``.
        seed: Base seed; default: the configuration's ``seed``.
        n_jobs: Worker processes; default: the configuration's ``n_jobs``.
        progress: Called as ``progress(done, total)`` after each replicate of every run.

    Returns:
        The comparison.

    Raises:
        ConfigError: No or duplicate scenarios, an unknown scenario, an invalid override, or a scenario
            that changes more than interventions (one line).
    """
    scenarios = list(scenarios)
    if not scenarios or BASELINE in scenarios or len(set(scenarios)) != len(scenarios):
        raise ConfigError(
            f"scenario={','.join(scenarios)!r} must name distinct scenarios other than the baseline; "
            f"available: {', '.join(available_scenarios())}"
        )
    settings = [
        f"{k}={v}" for k, v in (("n_seeds", n_seeds), ("seed", seed), ("n_jobs", n_jobs)) if v is not None
    ]
    configs = {name: scenario_config(name, [*overrides, *settings]) for name in [BASELINE, *scenarios]}
    baseline = configs[BASELINE]
    for name in scenarios:
        _check_same_world(name, configs[name], baseline)
    known = {policy for config in configs.values() for policy in config.policies}
    for override in overrides:
        if policy_of(override) is not None and policy_of(override) not in known:
            raise ConfigError(
                f"{override!r} sets policies.{policy_of(override)}, which none of the scenarios has; "
                f"they have: {', '.join(sorted(known)) or 'none'}"
            )
    # Posterior draw i for replicate i of every run: the draws depend only on what the runs share.
    draws = posterior.for_run(baseline)
    n = baseline.n_seeds
    total, done = n * len(configs), 0
    per_replicate, series = [], []
    for name, config in configs.items():
        report = (lambda k, _n, offset=done: progress(offset + k, total)) if progress else None
        results = run_replicates(config, n, config.seed, config.n_jobs, progress=report, draws=draws)
        done += n
        per_replicate.append(replicate_outcomes(results, config).assign(scenario=name))
        series.append(focal_timeseries(results, config).assign(scenario=name))
    table = pd.concat(per_replicate, ignore_index=True)
    table = table[["scenario", *table.columns.drop("scenario")]]
    timeseries = pd.concat(series, ignore_index=True)
    timeseries = timeseries[["scenario", "replicate", "date", "variable", "value"]]
    comparison = Comparison(
        scenarios={name: configs[name].description for name in scenarios},
        per_replicate=table,
        differences=paired_differences(table, scenarios),
        harm=pd.DataFrame(),
        timeseries=timeseries,
        metadata=_metadata(configs, scenarios, [*overrides, *settings]),
    )
    comparison.harm = harm_ledger(comparison)
    return comparison


def command_line(scenarios: Sequence[str], overrides: Sequence[str]) -> str:
    """The one command that re-creates a comparison."""
    return shlex.join(["scamsim", "compare", f"scenario={','.join(scenarios)}", *overrides])


def _metadata(configs: dict[str, RunConfig], scenarios: list[str], overrides: list[str]) -> dict[str, Any]:
    baseline = configs[BASELINE]
    meta = provenance.describe(
        as_dict(baseline), baseline.seed, baseline.n_seeds, command_line(scenarios, overrides)
    )
    meta["overrides"] = list(overrides)
    meta["scenarios"] = {
        name: {
            "description": config.description,
            "config": as_dict(config),
            "config_hash": provenance.config_hash(as_dict(config)),
        }
        for name, config in configs.items()
    }
    meta["seeds"]["pairing"] = "replicate i of every scenario: the same seed and posterior draw i"
    meta["posterior_name"] = baseline.posterior
    if baseline.posterior:
        meta["posterior"] = posterior.provenance(baseline.posterior)
    return meta


# --------------------------------------------------------------------------------------------------
# Figure and terminal table
# --------------------------------------------------------------------------------------------------


def difference_figure(comparison: Comparison) -> Any:
    """Paired differences of every outcome, as % of the baseline median, one marker per scenario.

    Hollow markers are effects within noise. Outcomes whose baseline median is zero have no relative
    change and are left out.
    """
    import matplotlib.pyplot as plt  # imported on use: `import sim` stays light

    from sim.report.figures import footer

    d = comparison.differences
    d = d[d["baseline_median"].abs() > 0]
    outcomes = [name for name in OUTCOMES if name in set(d["outcome"])]
    names = list(comparison.scenarios)
    # Constrained layout makes room for the long outcome labels (tight_layout clipped them).
    fig, ax = plt.subplots(figsize=(12, 1.8 + 0.32 * len(outcomes)), layout="constrained")
    height = 0.8 / max(len(names), 1)
    for k, scenario in enumerate(names):
        part = d[d["scenario"] == scenario].set_index("outcome").reindex(outcomes)
        scale = 100 / part["baseline_median"].abs()
        y = np.arange(len(outcomes)) + (k - (len(names) - 1) / 2) * height
        mid = part["diff_median"] * scale
        err = [mid - part["diff_q05"] * scale, part["diff_q95"] * scale - mid]
        colour = f"C{k}"
        ax.errorbar(mid, y, xerr=err, fmt="none", ecolor=colour, elinewidth=1.2, capsize=2)
        noise = part["within_noise"].fillna(True).astype(bool).to_numpy()
        ax.plot(mid[~noise], y[~noise], "o", color=colour, label=scenario)
        ax.plot(mid[noise], y[noise], "o", mfc="white", color=colour)
    ax.plot([], [], "o", mfc="white", color="0.3", label="hollow: within noise")
    labels = [f"{OUTCOMES[o].label} [{OUTCOMES[o].unit}]" for o in outcomes]
    ax.set_yticks(np.arange(len(outcomes)), labels, fontsize=7.5)
    ax.invert_yaxis()
    ax.axvline(0, color="0.2", linewidth=0.8)
    ax.set_xlabel("paired difference, scenario - baseline [% of the baseline median]")
    ax.set_title("Scenarios vs baseline: paired difference, median and 90% interval over replicates")
    ax.grid(axis="x", alpha=0.3)
    ax.legend(fontsize=7, loc="best")
    footer(fig, comparison.metadata, note="paired median and 90% interval; hollow: within noise")
    fig.get_layout_engine().set(rect=(0, 0.03, 1, 0.97))
    return fig


def _number(x: float, unit: str, sign: str = "+") -> str:
    """``x`` to 3 significant digits (shares to 3 decimals), thousands grouped, never in exponent form."""
    if unit == "share" or x == 0 or not math.isfinite(x):
        return f"{x:{sign}.3f}" if unit == "share" else f"{x:{sign}g}"
    digits = 2 - math.floor(math.log10(abs(x)))
    return f"{round(x, digits):{sign},.{max(digits, 0)}f}"


def summary_table(comparison: Comparison) -> Any:
    """The differences as a rich table for the terminal."""
    from rich.table import Table

    table = Table(title="Paired differences, scenario - baseline: median [90% interval] over replicates")
    for column in ("scenario", "outcome [unit]", "baseline", "difference", "verdict"):
        table.add_column(column)
    for row in comparison.differences.itertuples():
        baseline = _number(row.baseline_median, row.unit, sign="-")
        diff = (
            f"{_number(row.diff_median, row.unit)} "
            f"[{_number(row.diff_q05, row.unit)}, {_number(row.diff_q95, row.unit)}]"
        )
        verdict = "within noise" if row.within_noise else ("up" if row.diff_median > 0 else "down")
        table.add_row(row.scenario, f"{row.outcome} [{row.unit}]", baseline, diff, verdict)
    return table


# --------------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------------

USAGE = """usage: scamsim compare scenario=NAME[,NAME...] [name=OUT] [Hydra overrides]

Run the baseline and each scenario with common random numbers (replicate i: the same seed and
posterior draw in every run) and report paired differences with 90% intervals, saying when an
effect is within noise. Writes results/compare/<name>/ (default name: the scenario names joined by
'+'). Overrides apply to the baseline and every scenario alike.

scenarios: {scenarios}

Examples:
  scamsim compare scenario=raid_surge,anti_corruption,crackdown
  scamsim compare scenario=cross_border jurisdictions=mekong n_seeds=10
  scamsim compare scenario=raid_surge policies.raid_surge.multiplier=5 name=raids-x5
"""


def parse_args(argv: Sequence[str]) -> tuple[list[str], list[str], str | None]:
    """(scenarios, overrides, output name) from ``scamsim compare`` arguments.

    Raises:
        ConfigError: If no ``scenario=`` is given.
    """
    scenarios: list[str] = []
    overrides: list[str] = []
    name = None
    for arg in argv:
        key, _, value = arg.partition("=")
        if key == "scenario":
            scenarios = [s for s in value.split(",") if s]
        elif key == "name":
            name = value
        else:
            overrides.append(arg)
    if not scenarios:
        raise ConfigError(
            f"scenario= is required, e.g. scenario=raid_surge; available: {', '.join(available_scenarios())}"
        )
    return scenarios, overrides, name


def main(argv: Sequence[str] | None = None) -> None:
    """``scamsim compare``: run, write ``results/compare/<name>/`` and print the differences."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    argv = list(sys.argv[1:] if argv is None else argv)
    if any(a in ("-h", "--help") for a in argv):
        print(USAGE.format(scenarios=", ".join(available_scenarios())))
        return
    scenarios, overrides, name = parse_args(argv)
    out_dir = Path("results") / "compare" / (name or "+".join(scenarios))
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
    )
    bar = Progress(*columns, console=Console(stderr=True), transient=True)
    task = bar.add_task("compare: runs", total=None)

    def report(done: int, total: int) -> None:
        bar.start()  # on the first replicate: a configuration error leaves the terminal untouched
        bar.update(task, completed=done, total=total)

    try:
        comparison = compare(scenarios, overrides, progress=report)
    finally:
        if bar.live.is_started:  # stopping a bar never started still prints a newline
            bar.stop()
    comparison.write(out_dir)
    console = Console()
    console.print(summary_table(comparison))
    console.print(f"comparison written to {out_dir}")
