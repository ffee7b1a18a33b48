"""scamsim: an agent-based model of the Southeast Asian scam-compound economy.

Public API (used by the command line and by notebooks)::

    import sim
    config = sim.load_config(["police.raid_rate=1.0", "n_seeds=5"])
    results = sim.run(config)                      # in memory: DataFrames + summary
    results = sim.load_results("results/baseline") # what `scamsim run` wrote
    sweep = sim.load_sweep("results/phase")        # a sweep's runs (one row each) + provenance
    fitted = sim.load_calibration("results/calibration/default")  # posterior, fit, validation
    comparison = sim.compare(["raid_surge"], ["scale=0.2"], n_seeds=5)  # paired scenario runs

See ``docs/ODD.md`` for the model and every parameter.
"""

from sim.collect import Sweep, load_sweep
from sim.compare import Comparison, compare, load_comparison
from sim.config import RunConfig, load_config
from sim.model import ScamModel
from sim.params import ConfigError, ModelParams
from sim.results import CalibrationResults, Results, load_calibration, load_results

__all__ = [
    "CalibrationResults",
    "Comparison",
    "ConfigError",
    "ModelParams",
    "Results",
    "RunConfig",
    "ScamModel",
    "Sweep",
    "compare",
    "load_calibration",
    "load_comparison",
    "load_config",
    "load_results",
    "load_sweep",
    "run",
]


def run(config: RunConfig | None = None, overrides: list[str] | None = None) -> Results:
    """Run ``config`` (or the default configuration with ``overrides``) over its replicates.

    Args:
        config: A configuration from :func:`load_config`; if None, one is composed from ``overrides``.
        overrides: Hydra overrides used when ``config`` is None.

    Returns:
        Results with time series, raid events, compounds and per-replicate metrics as DataFrames.
    """
    from sim import provenance
    from sim.config import as_dict
    from sim.runner import run_replicates

    config = config if config is not None else load_config(overrides)
    results = run_replicates(config, config.n_seeds, config.seed, config.n_jobs)
    results.metadata = provenance.describe(as_dict(config), config.seed, config.n_seeds, "sim.run")
    return results
