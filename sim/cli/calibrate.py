"""``scamsim calibrate``: run ABC-SMC, then write the posterior, diagnostics and figures.

``results/calibration/<name>/`` receives ``posterior.parquet`` (weighted particles),
``diagnostics.parquet`` (epsilon, acceptance rate, effective sample size per generation),
``predictive.parquet`` (posterior predictive metrics, one row per draw), ``fit.csv`` (fit targets) and
``validation.csv`` (validate targets, out of sample), ``metadata.json`` (with ``stop``: why the run
stopped and whether it converged) and ``figures/``. pyabc's History is kept beside it
(:func:`sim.analysis.calibration.history_dir`), so that an interrupted calibration continues when re-run.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from hydra.core.config_store import ConfigStore
from omegaconf import DictConfig, OmegaConf
from rich.table import Table

from sim.analysis import calibration
from sim.analysis.calibration import CalibrateConfig
from sim.analysis.observations import Use
from sim.cli.common import (
    Report,
    claim_or_fail,
    duration,
    fail,
    number,
    progress_bar,
    say,
    table,
    terminal,
)
from sim.cli.hydra_command import hydra_app
from sim.model.schemas import ConfigError
from sim.report import calibration_figures, figures
from sim.runs import posterior, provenance
from sim.runs.config import load_overrides, results_dir, to_run_config
from sim.runs.metrics import METRICS
from sim.runs.results import atomic_dir, write_json

if TYPE_CHECKING:
    from sim.analysis.sampling import Sampling


def register() -> None:
    """Register the calibration schema in Hydra's ConfigStore."""
    ConfigStore.instance().store(name="calibrate_schema", node=CalibrateConfig)


def to_calibrate_config(cfg: DictConfig) -> CalibrateConfig:
    """Validated calibration configuration (one-line ConfigError on bad input)."""
    config = to_run_config(cfg, CalibrateConfig)
    calibration.check(config, config)
    return config


def config_dict(config: CalibrateConfig) -> dict:
    """The configuration as recorded in ``metadata.json`` (and hashed)."""
    return OmegaConf.to_container(OmegaConf.structured(config), resolve=True)


@contextlib.contextmanager
def sampling_progress(generations: int) -> Iterator[Callable[[Sampling], None]]:
    """Progress within each generation of ``generations``: yields the ``on_sampling`` of calibrate.

    One progress display (:func:`sim.cli.common.progress_bar`) per sample: the first sample from the
    prior, then each generation's particles accepted, with the simulations so far and the threshold.
    """
    with contextlib.ExitStack() as stack:
        reports: list[Report] = []  # the report of the sample in progress, if any

        def show(sampling: Sampling) -> None:
            prior = sampling.generation < 0
            if not reports:
                label = f"generation {sampling.generation + 1}/{generations}"
                label = "sample from the prior" if prior else label
                reports.append(stack.enter_context(progress_bar(f"calibrate: {label}")))
            if prior:
                reports[0](sampling.simulations, sampling.size, "simulated, to set the first threshold")
            else:
                note = f"accepted, {sampling.simulations:,} simulations, eps {number(sampling.epsilon, '')}"
                accepted = min(sampling.accepted, sampling.size)
                reports[0](accepted, sampling.size, note, already=sampling.resumed)
            if sampling.complete:
                stack.close()  # the last line of the sample; a terminal's bar goes
                reports.clear()

        yield show


def calibrate_and_write(config: CalibrateConfig, out_dir: Path) -> dict:
    """Calibrate, re-simulate the posterior predictive, and write everything to ``out_dir``.

    The calibration continues from the History beside ``out_dir``
    (:func:`sim.analysis.calibration.history_dir`) if it holds generations of the same
    :func:`sim.analysis.calibration.history_key`.
    """
    settings = config.calibration
    model_params = load_overrides(config, settings.model_overrides)
    calibration.check(config, model_params)
    started = time.perf_counter()
    history = calibration.history_dir(out_dir)
    computed = 0  # generations run by this call (not read from the history)

    def show(row: dict) -> None:
        nonlocal computed
        done = int(row["generation"]) + 1
        head = f"calibrate: generation {done}/{settings.generations}"
        if row["resumed"]:
            head += f" (read from the history in {history})"
        else:
            computed += 1
            head += " done"
        # The cap and the budget bound what is left; convergence may come sooner.
        elapsed = time.perf_counter() - started
        by_cap = elapsed / max(computed, 1) * (settings.generations - done)
        left = max(0.0, min(by_cap, settings.max_minutes * 60 - elapsed))
        say(
            f"{head}: eps {number(row['epsilon'], '')}, "
            f"{settings.population_size:,} of {row['simulations']:,} simulations accepted "
            f"({row['acceptance_rate']:.0%}), "
            f"ESS {row['ess']:.0f}, {duration(row['seconds'])}"
            + (f"; at most about {duration(left)} left" if computed and done < settings.generations else "")
        )

    with sampling_progress(settings.generations) as on_sampling:
        fitted = calibration.calibrate(config, model_params, show, on_sampling, history)
    say(f"calibrate: {fitted.stop.message}")
    with progress_bar("calibrate: posterior predictive draws") as report:
        predicted = calibration.predictive(
            fitted, model_params, settings.predictive_draws, config.seed, settings.n_procs, report
        )
    fit = calibration.fit_report(settings.targets, predicted, Use.fit)
    validation = calibration.fit_report(settings.targets, predicted, Use.validate)
    metadata = provenance.describe(
        config_dict(config), config.seed, settings.predictive_draws, "scamsim calibrate"
    )
    metadata["seconds"] = time.perf_counter() - started  # this call's, which may have resumed a History
    # The whole calibration's, over every sitting: the generations' wall times as the History stores them.
    metadata["generations_seconds"] = float(fitted.diagnostics["seconds"].sum())
    metadata["stop"] = dataclasses.asdict(fitted.stop)
    priors = calibration.priors(config)
    # As plain values, for sim.analysis.convergence to compare runs against the priors they used.
    metadata["priors"] = {k: dataclasses.asdict(p) | {"dist": p.dist.value} for k, p in priors.items()}
    drawn = {
        "marginals": calibration_figures.marginals(fitted, priors, metadata),
        "pairs": calibration_figures.pairs({"posterior": fitted.particles}, priors, metadata),
        "fit": calibration_figures.fit(pd.concat([fit, validation], ignore_index=True), metadata),
    }
    with atomic_dir(out_dir) as tmp:
        fitted.particles.to_parquet(tmp / "posterior.parquet", index=False)
        fitted.diagnostics.to_parquet(tmp / "diagnostics.parquet", index=False)
        predicted.to_parquet(tmp / "predictive.parquet", index=False)
        fit.to_csv(tmp / "fit.csv", index=False)
        validation.to_csv(tmp / "validation.csv", index=False)
        write_json(tmp / "metadata.json", metadata)
        figures.save(tmp / "figures", drawn)
    if settings.publish:
        publish(fitted.particles, settings.publish, metadata, fit)
    return {"fit": fit, "validation": validation, "diagnostics": fitted.diagnostics, "stop": fitted.stop}


def publish(particles: pd.DataFrame, name: str, metadata: dict, fit: pd.DataFrame) -> None:
    """Save the posterior as the default parameters of runs (configs/posterior_draws/<name>.csv + .json)."""
    record = {
        "created": metadata["created"],
        "git": metadata["git"],
        "config_hash": metadata["config_hash"],
        "settings": metadata["config"]["calibration"] | {"targets": "see configs/calibration_targets"},
        "model_overrides": metadata["config"]["calibration"]["model_overrides"],
        "seconds": metadata.get("seconds"),
        "generations_seconds": metadata.get("generations_seconds"),
        "stop": metadata.get("stop"),
        "fit_targets_met": {row.target: bool(row.covered) for row in fit.itertuples()},
    }
    posterior.save(particles, name, record)


def report_table(frame: pd.DataFrame, title: str) -> Table:
    """Targets beside their posterior predictive median and 90% interval, for a terminal of 100 columns.

    Args:
        frame: Rows of :func:`sim.analysis.calibration.fit_report`.
        title: What the targets are (e.g. ``Fit targets``).
    """
    out = table(
        f"{title}: predicted median (90% interval) vs published",
        # The target id names the statistic (its definition is in the registry): a statistic column
        # would push the table past 100 columns.
        ("target", "unit", "predicted", "published", "met"),
        right=("predicted", "published"),
    )
    for row in frame.itertuples():
        # Compared as the share k / n.
        share = row.kind in ("binomial", "binomial_at_least")
        unit = "share" if share or row.kind == "binomial_between" else METRICS[row.statistic][0]
        if row.kind == "interval":
            published = f"{number(row.low, unit)}-{number(row.high, unit)}"
        elif share:
            at_least = "≥ " if row.kind == "binomial_at_least" else ""
            published = f"{at_least}{row.observed:g} of {row.n:g} ({number(row.observed / row.n, unit)})"
        elif row.kind == "binomial_between":
            low, high = (number(v / row.n, unit) for v in (row.low, row.high))
            published = f"{row.low:g}-{row.high:g} of {row.n:g} ({low}-{high})"
        elif row.kind == "at_least":
            published = f"≥ {number(row.low, unit)}"
        else:
            published = number(row.observed, unit)
        # Undefined (e.g. a window past the runs' end): neither met nor missed, so both columns say n/a.
        predicted, met = "n/a", "n/a"
        if np.isfinite(row.median):
            predicted = f"{number(row.median, unit)} ({number(row.q05, unit)}-{number(row.q95, unit)})"
            met = "yes" if row.covered else "no"
        out.add_row(row.target, unit, predicted, published, met)
    if not np.isfinite(frame["median"]).all():
        # Otherwise an n/a reads as a failure of the fit; most often it is SC3, whose window (to January
        # 2026) lies past a calibration's runs (to July 2025; scamsim validate runs to the windows' end).
        out.caption = "n/a: undefined in these runs (e.g. a window past their end)"
    return out


def _calibrate(cfg: DictConfig) -> None:
    try:
        config = to_calibrate_config(cfg)
    except ConfigError as exc:
        fail(str(exc))
    out_dir = results_dir(config, "calibration")
    with claim_or_fail(out_dir, provenance.config_hash(config_dict(config)), config.overwrite):
        try:
            out = calibrate_and_write(config, out_dir)
        except ConfigError as exc:  # e.g. a History begun by other code
            fail(str(exc))
    console = terminal()
    console.print(report_table(out["fit"], "Fit targets"))
    console.print(report_table(out["validation"], "Validate targets (out of sample)"))
    console.print(f"calibration {out['stop'].message}")
    console.print(f"results written to {out_dir}")


def main(argv: Sequence[str]) -> None:
    """``scamsim calibrate [Hydra overrides]``."""
    register()
    hydra_app("calibrate", _calibrate, argv)
