"""``scamsim validate``: the validate targets, out of sample, against the calibrated posterior.

Re-simulates the posterior predictive of ``configs/posterior_draws/<posterior>.csv`` and writes
``validation.csv``, ``predictive.parquet``, ``metadata.json`` and ``figures/validation.png`` to the
Hydra output directory.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
from omegaconf import DictConfig

from sim.analysis import calibration
from sim.analysis.observations import Use
from sim.cli.calibrate import config_dict, register, report_table, to_calibrate_config
from sim.cli.common import claim_or_fail, fail, progress_bar, terminal
from sim.cli.hydra_command import hydra_app
from sim.model.schemas import ConfigError
from sim.report import calibration_figures, figures
from sim.runs import posterior, provenance
from sim.runs.config import load_overrides, results_dir
from sim.runs.results import atomic_dir, write_json


def _validate(cfg: DictConfig) -> None:
    try:
        config = to_calibrate_config(cfg)
        if config.posterior is None:
            raise ConfigError(
                "posterior=null: validation re-simulates a posterior; give posterior=<name in "
                "configs/posterior_draws/ or path to a CSV> (none is fitted to this model yet)"
            )
        particles = posterior.load(config.posterior)
    except ConfigError as exc:
        fail(str(exc))
    out_dir = results_dir(config, "validation")
    with claim_or_fail(out_dir, provenance.config_hash(config_dict(config)), config.overwrite):
        settings = config.calibration
        model_params = load_overrides(config, settings.model_overrides)
        draws = calibration.Posterior(particles=particles, diagnostics=pd.DataFrame())
        with progress_bar("validate: posterior predictive draws") as report:
            predicted = calibration.predictive(
                draws, model_params, settings.predictive_draws, config.seed, settings.n_procs, report
            )
        report = calibration.fit_report(settings.targets, predicted, Use.validate)
        n_draws = settings.predictive_draws
        metadata = provenance.describe(config_dict(config), config.seed, n_draws, "scamsim validate")
        metadata["posterior"] = posterior.provenance(config.posterior)
        with atomic_dir(out_dir) as tmp:
            report.to_csv(tmp / "validation.csv", index=False)
            predicted.to_parquet(tmp / "predictive.parquet", index=False)
            write_json(tmp / "metadata.json", metadata)
            figures.save(tmp / "figures", {"validation": calibration_figures.fit(report, metadata)})
    console = terminal()
    console.print(report_table(report, "Validate targets (out of sample)"))
    console.print(f"results written to {out_dir}")


def main(argv: Sequence[str]) -> None:
    """``scamsim validate [Hydra overrides]``."""
    register()
    hydra_app("validate", _validate, argv)
