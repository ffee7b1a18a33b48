"""scamsim: an agent-based model of the Southeast Asian scam-compound economy.

Public API (used by the command line and by notebooks)::

    import sim
    config = sim.load_config(["police.raid_rate=1.0", "n_seeds=5"])
    results = sim.run(config)                      # in memory: DataFrames + summary
    results = sim.load_results("results/baseline") # what `scamsim run` wrote
    sweep = sim.load_sweep("results/phase")        # a sweep's runs (one row each) + provenance
    fitted = sim.load_calibration("results/calibration/default")  # posterior, fit, validation
    comparison = sim.compare(["raid_surge"], ["scale=0.2"], n_seeds=5)  # paired scenario runs
    analysis = sim.sensitivity_analysis(["sensitivity.n=4"])  # Morris/Sobol indices: analysis.indices
    saved = sim.load_sensitivity("results/sensitivity/morris")  # what `scamsim sensitivity` wrote

See ``docs/ODD.md`` for the model and every parameter.
"""

from typing import TYPE_CHECKING

from sim.analysis.compare import Comparison, compare, load_comparison
from sim.model.model import ScamModel
from sim.model.schemas import ConfigError, ModelParams
from sim.runs.collect import Sweep, load_sweep
from sim.runs.config import RunConfig, load_config
from sim.runs.results import (
    CalibrationResults,
    Results,
    SensitivityResults,
    load_calibration,
    load_results,
    load_sensitivity,
)

if TYPE_CHECKING:
    from sim.analysis.sensitivity import Analysis, SensitivityConfig

__all__ = [
    "CalibrationResults",
    "Comparison",
    "ConfigError",
    "ModelParams",
    "Results",
    "RunConfig",
    "ScamModel",
    "SensitivityResults",
    "Sweep",
    "compare",
    "load_calibration",
    "load_comparison",
    "load_config",
    "load_results",
    "load_sensitivity",
    "load_sweep",
    "run",
    "sensitivity_analysis",
]


def run(config: RunConfig | None = None, overrides: list[str] | None = None) -> Results:
    """Run ``config`` (or the default configuration with ``overrides``) over its replicates.

    Args:
        config: A configuration from :func:`load_config`; if None, one is composed from ``overrides``.
        overrides: Hydra overrides used when ``config`` is None.

    Returns:
        Results with time series, raid events, compounds and per-replicate metrics as DataFrames.
    """
    from sim.runs import provenance
    from sim.runs.config import as_dict
    from sim.runs.runner import run_replicates

    config = config if config is not None else load_config(overrides)
    results = run_replicates(config, config.n_seeds, config.seed, config.n_jobs)
    results.metadata = provenance.describe(as_dict(config), config.seed, config.n_seeds, "sim.run")
    return results


def sensitivity_analysis(
    overrides: list[str] | None = None, config: "SensitivityConfig | None" = None
) -> "Analysis":
    """Run the sensitivity analysis of ``configs/sensitivity.yaml``, as ``scamsim sensitivity`` does.

    Args:
        overrides: Hydra overrides, e.g. ``["sensitivity.method=sobol", "sensitivity.n=64"]``.
        config: A configuration from :func:`sim.analysis.sensitivity.load`, used instead of ``overrides``.

    Returns:
        A :class:`sim.analysis.sensitivity.Analysis`: ``indices`` (Morris mu*, sigma or Sobol S1, ST with 95%
        confidence half-widths, one row per output and parameter) and ``samples`` (each sample row and
        its outputs). For any other function, use :func:`sim.analysis.sensitivity.analyse`.
    """
    from sim.analysis import sensitivity  # imported on use: SALib pulls in scipy's statistics

    return sensitivity.run(config if config is not None else sensitivity.load(overrides))
