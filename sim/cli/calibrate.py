"""``scamsim calibrate``: run ABC-SMC, then write the posterior, diagnostics and figures.

``results/calibration/<name>/`` receives ``posterior.parquet`` (weighted particles),
``diagnostics.parquet`` (epsilon, acceptance rate, effective sample size per generation),
``predictive.parquet`` (posterior predictive metrics, one row per draw), ``fit.csv`` (fit targets) and
``validation.csv`` (validate targets, out of sample), ``metadata.json`` and ``figures/``.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
from hydra.core.config_store import ConfigStore
from omegaconf import DictConfig, OmegaConf
from rich.console import Console
from rich.table import Table

from sim.analysis import calibration
from sim.analysis.calibration import CalibrateConfig
from sim.analysis.observations import Use
from sim.cli.common import claim_or_fail, console, fail, progress_bar
from sim.cli.hydra_command import hydra_app
from sim.model.schemas import ConfigError
from sim.report import calibration_figures, figures
from sim.runs import posterior, provenance
from sim.runs.config import load_overrides, results_dir, to_run_config
from sim.runs.results import atomic_dir, write_json


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


def calibrate_and_write(config: CalibrateConfig, out_dir: Path) -> dict:
    """Calibrate, re-simulate the posterior predictive, and write everything to ``out_dir``."""
    settings = config.calibration
    model_params = load_overrides(config, settings.model_overrides)
    calibration.check(config, model_params)
    started = time.perf_counter()

    def show(row: dict) -> None:
        elapsed = time.perf_counter() - started
        done = int(row["generation"]) + 1
        eta = elapsed / done * (settings.generations - done)
        console.print(
            f"generation {done}/{settings.generations}  epsilon {row['epsilon']:.3g}  "
            f"acceptance {row['acceptance_rate']:.2f}  ESS {row['ess']:.0f}  "
            f"{row['seconds']:.0f} s  ETA {eta:.0f} s"
        )

    fitted = calibration.calibrate(config, model_params, on_generation=show)
    with progress_bar("calibrate: posterior predictive draws") as report:
        predicted = calibration.predictive(
            fitted, model_params, settings.predictive_draws, config.seed, settings.n_procs, report
        )
    fit = calibration.fit_report(settings.targets, predicted, Use.fit)
    validation = calibration.fit_report(settings.targets, predicted, Use.validate)
    metadata = provenance.describe(
        config_dict(config), config.seed, settings.predictive_draws, "scamsim calibrate"
    )
    metadata["seconds"] = time.perf_counter() - started

    priors = calibration.priors(config)
    drawn = {
        "marginals": calibration_figures.marginals(fitted, priors, metadata),
        "pairs": calibration_figures.pairs(fitted, priors, metadata),
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
    return {"fit": fit, "validation": validation, "diagnostics": fitted.diagnostics}


def publish(particles: pd.DataFrame, name: str, metadata: dict, fit: pd.DataFrame) -> None:
    """Save the posterior as the default parameters of runs (configs/posterior_draws/<name>.csv + .json)."""
    record = {
        "created": metadata["created"],
        "git": metadata["git"],
        "config_hash": metadata["config_hash"],
        "settings": metadata["config"]["calibration"] | {"targets": "see configs/calibration_targets"},
        "model_overrides": metadata["config"]["calibration"]["model_overrides"],
        "seconds": metadata.get("seconds"),
        "fit_targets_met": {row.target: bool(row.covered) for row in fit.itertuples()},
    }
    posterior.save(particles, name, record)


def report_table(frame, title: str) -> Table:
    """Targets beside their posterior predictive 90% intervals, for the terminal."""
    table = Table(title=title)
    for column in ("target", "kind", "published", "90% predictive", "meets"):
        table.add_column(column)
    for row in frame.itertuples():
        binomial = row.kind in ("binomial", "binomial_at_least")
        if row.kind == "interval":
            published = f"{row.low:,.4g}-{row.high:,.4g}"
        elif binomial:
            published = f"{row.observed:g}/{row.n} = {row.observed / row.n:.3g}"
        elif row.kind == "binomial_between":
            published = f"{row.low:g}-{row.high:g}/{row.n}"
        elif row.kind == "at_least":
            published = f">= {row.low:,.4g}"
        else:
            published = f"{row.observed:,.4g}"
        table.add_row(
            row.target,
            row.kind,
            published,
            f"{row.q05:,.3g} - {row.q95:,.3g}",
            "yes" if row.covered else "NO",
        )
    return table


def _calibrate(cfg: DictConfig) -> None:
    try:
        config = to_calibrate_config(cfg)
    except ConfigError as exc:
        fail(str(exc))
    out_dir = results_dir(config, "calibration")
    with claim_or_fail(out_dir, provenance.config_hash(config_dict(config)), config.overwrite):
        out = calibrate_and_write(config, out_dir)
    terminal = Console()
    terminal.print(report_table(out["fit"], "Fit targets"))
    terminal.print(report_table(out["validation"], "Validate targets (out of sample)"))
    terminal.print(f"results written to {out_dir}")


def main(argv: Sequence[str]) -> None:
    """``scamsim calibrate [Hydra overrides]``."""
    register()
    hydra_app("calibrate", _calibrate, argv)
