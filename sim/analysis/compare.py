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
command that re-creates the comparison) and the figures it is given
(:func:`sim.report.compare_figures.difference_figure`).
"""

from __future__ import annotations

import json
import math
import shlex
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.model.ledger import EXIT_ROUTES
from sim.runs import provenance
from sim.runs.config import RunConfig, as_dict
from sim.runs.metrics import AM7_SHARE
from sim.runs.results import Results, atomic_dir, write_files, write_json
from sim.runs.runner import run_config, run_metadata
from sim.runs.scenarios import BASELINE, configure

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
    AM7_SHARE: Outcome(
        "Of the compounds operating in January 2024 - June 2025 and not shut by the authorities, the share "
        "never investigated or still operating on 30 June 2025",
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

    def write(self, out_dir: str | Path, files: dict[str, bytes] | None = None) -> Path:
        """Write tables, metadata and ``files`` (relative path -> bytes, e.g. encoded figures) atomically."""
        out_dir = Path(out_dir)
        with atomic_dir(out_dir) as tmp:
            for name in ("per_replicate", "differences", "harm", "timeseries"):
                getattr(self, name).to_parquet(tmp / f"{name}.parquet", index=False)
            self.differences.to_csv(tmp / "differences.csv", index=False, float_format="%.6g")
            self.harm.to_csv(tmp / "harm.csv", index=False, float_format="%.6g")
            write_json(tmp / "metadata.json", self.metadata)
            write_files(tmp, files or {})
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
    configs, used = configure(scenarios, overrides, n_seeds=n_seeds, seed=seed, n_jobs=n_jobs)
    return run_comparison(configs, used, progress)


def run_comparison(
    configs: dict[str, RunConfig],
    overrides: Sequence[str],
    progress: Callable[[int, int], None] | None = None,
) -> Comparison:
    """Run configurations composed by :func:`sim.runs.scenarios.configure` and pair their replicates.

    Args:
        configs: The baseline's and each scenario's configuration, baseline first.
        overrides: The overrides they were composed with (for the provenance record).
        progress: Called as ``progress(done, total)`` after each replicate of every run.

    Returns:
        The comparison.
    """
    scenarios = [name for name in configs if name != BASELINE]
    baseline = configs[BASELINE]
    # Posterior draw i for replicate i of every run: the draws depend only on the seed, the posterior and
    # the fixed keys, which every run shares (check_same_world).
    n = baseline.n_seeds
    total, done = n * len(configs), 0
    per_replicate, series = [], []
    for name, config in configs.items():
        report = (lambda k, _n, offset=done: progress(offset + k, total)) if progress else None
        results = run_config(config, progress=report)
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
        metadata=_metadata(configs, scenarios, list(overrides)),
    )
    comparison.harm = harm_ledger(comparison)
    return comparison


def command_line(scenarios: Sequence[str], overrides: Sequence[str]) -> str:
    """The one command that re-creates a comparison."""
    return shlex.join(["scamsim", "compare", f"scenario={','.join(scenarios)}", *overrides])


def comparison_hash(configs: dict[str, RunConfig]) -> str:
    """Hash of what determines a comparison's outputs: every scenario's configuration (names aside)."""
    return provenance.config_hash({name: provenance.config_hash(as_dict(c)) for name, c in configs.items()})


def _metadata(configs: dict[str, RunConfig], scenarios: list[str], overrides: list[str]) -> dict[str, Any]:
    baseline = configs[BASELINE]
    meta = run_metadata(baseline, command_line(scenarios, overrides))
    meta["config_hash"] = comparison_hash(configs)
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
    return meta
