"""scamsim: an agent-based model of the Southeast Asian scam-compound economy.

Public API (used by the command line and by notebooks)::

    import sim
    config = sim.load_config(["police.raid_capacity=60", "n_seeds=5"])
    results = sim.run(config)                      # in memory: DataFrames + summary
    results = sim.load_results("results/baseline") # what `scamsim run` wrote
    sweep = sim.load_sweep("results/phase")        # a sweep's runs (one row each) + provenance
    fitted = sim.load_calibration("results/calibration/default")  # posterior, fit, validation
    comparison = sim.compare(["raid_surge"], ["scale=0.2"], n_seeds=5)  # paired scenario runs
    analysis = sim.sensitivity_analysis(["sensitivity=morris", "sensitivity.n=4"])  # analysis.indices
    saved = sim.load_sensitivity("results/sensitivity/morris")  # what `scamsim sensitivity` wrote

Names load on first use (``import sim`` loads neither Hydra, pandas nor matplotlib). See
``docs/ODD.md`` for the model and every parameter.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sim.analysis.compare import Comparison, compare, load_comparison
    from sim.analysis.sensitivity import Analysis, SensitivityConfig
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

# Public name -> the module that defines it.
_LAZY = {
    "CalibrationResults": "sim.runs.results",
    "Comparison": "sim.analysis.compare",
    "ConfigError": "sim.model.schemas",
    "ModelParams": "sim.model.schemas",
    "Results": "sim.runs.results",
    "RunConfig": "sim.runs.config",
    "ScamModel": "sim.model.model",
    "SensitivityResults": "sim.runs.results",
    "Sweep": "sim.runs.collect",
    "compare": "sim.analysis.compare",
    "load_calibration": "sim.runs.results",
    "load_comparison": "sim.analysis.compare",
    "load_config": "sim.runs.config",
    "load_results": "sim.runs.results",
    "load_sensitivity": "sim.runs.results",
    "load_sweep": "sim.runs.collect",
}

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


def __getattr__(name: str) -> Any:
    """Load a public name from its module on first use."""
    if name not in _LAZY:
        raise AttributeError(f"module 'sim' has no attribute {name!r}")
    value = getattr(importlib.import_module(_LAZY[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


def run(config: RunConfig | None = None, overrides: list[str] | None = None) -> Results:
    """Run ``config`` (or the default configuration with ``overrides``) as ``scamsim run`` does.

    Each replicate runs with its own posterior draw (``posterior``; keys in ``fixed`` and, with
    ``overrides``, every key they set keep their configured value), and the results carry provenance.

    Args:
        config: A configuration from :func:`load_config`; if None, one is composed from ``overrides``.
        overrides: Hydra overrides used when ``config`` is None.

    Returns:
        Results with time series, raid events, compounds and per-replicate metrics as DataFrames.
    """
    if config is None:
        config = importlib.import_module("sim.runs.config").load_config(overrides)
    return importlib.import_module("sim.runs.runner").run_config(config, command="sim.run")


def sensitivity_analysis(
    overrides: list[str] | None = None, config: SensitivityConfig | None = None
) -> Analysis:
    """Run the sensitivity analysis of ``configs/sensitivity.yaml``, as ``scamsim sensitivity`` does.

    Args:
        overrides: Hydra overrides, e.g. ``["sensitivity=sobol", "sensitivity.n=64"]`` or
            ``["sensitivity=levers", "posterior=<name>"]``; none runs the default PAWN study.
        config: A configuration from :func:`sim.analysis.sensitivity.load`, used instead of ``overrides``.

    Returns:
        A :class:`sim.analysis.sensitivity.Analysis`: ``indices`` (PAWN, Morris mu*, sigma or Sobol S1,
        ST with 95% confidence half-widths, one row per output and parameter; for the lever study each
        lever value's effect) and ``samples`` (each row and its outputs). For any other function, use
        :func:`sim.analysis.sensitivity.analyse` or :func:`sim.analysis.sensitivity.pawn_indices`.
    """
    sensitivity = importlib.import_module("sim.analysis.sensitivity")
    return sensitivity.run(config if config is not None else sensitivity.load(overrides))
