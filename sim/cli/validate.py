"""``scamsim validate``: the validate targets, out of sample, against the model's predictions.

With ``posterior=<name or path>`` it re-simulates that posterior's predictive (one fresh replicate per
draw; by default the committed ``calibrated``); with ``posterior=null`` it re-simulates
the configured, hand-tuned parameters with ``calibration.predictive_draws`` fresh seeds. Either way the
runs are extended, if needed, to the end of the latest validate target's window (SC3 ends in January
2026, after the calibration's ``time.end``). Writes ``validation.csv``, ``predictive.parquet``,
``metadata.json`` and ``figures/validation.png`` to ``results/validation/<name>/``.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
from omegaconf import DictConfig

from sim.analysis import calibration
from sim.analysis.calibration import CalibrateConfig
from sim.analysis.observations import Use
from sim.cli.calibrate import config_dict, register, report_table, to_calibrate_config
from sim.cli.common import claim_or_fail, fail, progress_bar, terminal
from sim.cli.hydra_command import hydra_app
from sim.model.schemas import ConfigError, ModelParams, parse_date
from sim.model.validation import with_values
from sim.report import calibration_figures, figures
from sim.runs import posterior, provenance
from sim.runs.config import load_overrides, results_dir
from sim.runs.results import atomic_dir, write_json
from sim.runs.runner import run_replicates

HAND_TUNED = "hand-tuned parameters, no posterior"
POSTERIOR = "posterior predictive"


def validation_params(config: CalibrateConfig) -> ModelParams:
    """The model as calibrated (``calibration.model_overrides``), run at least to the validate windows' end.

    Raises:
        ConfigError: On a bad override or target window (one line).
    """
    params = load_overrides(config, config.calibration.model_overrides)
    ends = [
        parse_date(f"calibration.targets.{name}.window", t.window[-1])
        for name, t in config.calibration.targets.items()
        if t.use is Use.validate and t.window
    ]
    end = parse_date("time.end", params.time.end)
    if ends and max(ends) > end:
        params = with_values(params, {"time.end": max(ends).isoformat()})
    return params


def predict(config: CalibrateConfig, params: ModelParams, particles: pd.DataFrame | None) -> pd.DataFrame:
    """One row of metrics per draw: posterior draws if ``particles`` is given, else fresh seeds."""
    settings = config.calibration
    n = settings.predictive_draws
    if particles is None:
        with progress_bar(f"validate: replicates ({HAND_TUNED})") as report:
            runs = run_replicates(params, n, config.seed, settings.n_procs, report)
        return runs.metrics
    draws = calibration.Posterior(particles=particles, diagnostics=pd.DataFrame())
    with progress_bar("validate: posterior predictive draws") as report:
        return calibration.predictive(draws, params, n, config.seed, settings.n_procs, report)


def _validate(cfg: DictConfig) -> None:
    try:
        config = to_calibrate_config(cfg)
        particles = None if config.posterior is None else posterior.load(config.posterior)
        params = validation_params(config)
    except ConfigError as exc:
        fail(str(exc))
    basis = HAND_TUNED if particles is None else POSTERIOR
    out_dir = results_dir(config, "validation")
    with claim_or_fail(out_dir, provenance.config_hash(config_dict(config)), config.overwrite):
        predicted = predict(config, params, particles)
        report = calibration.fit_report(config.calibration.targets, predicted, Use.validate)
        n_draws = config.calibration.predictive_draws
        metadata = provenance.describe(config_dict(config), config.seed, n_draws, "scamsim validate")
        metadata["parameters"] = basis
        metadata["time_end"] = params.time.end
        metadata["posterior"] = None if particles is None else posterior.provenance(config.posterior)
        figure = calibration_figures.fit(report, metadata, basis)
        with atomic_dir(out_dir) as tmp:
            report.to_csv(tmp / "validation.csv", index=False)
            predicted.to_parquet(tmp / "predictive.parquet", index=False)
            write_json(tmp / "metadata.json", metadata)
            figures.save(tmp / "figures", {"validation": figure})
    console = terminal()
    console.print(report_table(report, f"Validate targets (out of sample; {basis}, to {params.time.end})"))
    console.print(f"results written to {out_dir}")


def main(argv: Sequence[str]) -> None:
    """``scamsim validate [Hydra overrides]``."""
    register()
    hydra_app("validate", _validate, argv)
