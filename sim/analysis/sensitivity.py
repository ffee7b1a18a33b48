"""Global sensitivity analysis: SALib's Morris screening and Sobol indices, for any function or the model.

Two layers:

* :func:`analyse` is generic: a :class:`Problem` (parameter names, ranges, output names) and a
  vectorised function from sample rows to outputs. SALib draws the sample (Morris trajectories, or
  Saltelli's extension of the Sobol sequence) and computes the indices with bootstrap confidence
  intervals; this module only cuts the sample into tasks for the executor
  (:func:`sim.runs.runner.parallel_map`, the same process pool that runs replicates) and arranges SALib's
results as one table. * :class:`ModelFunction` makes the model such a function: a sample row sets the
  uncertain parameters, the model runs ``n_seeds`` replicates, and the row's outputs are the replicates' mean
  metrics (:mod:`sim.runs.metrics`). :func:`run` builds both from a :class:`SensitivityConfig`
  (``configs/sensitivity.yaml``).

**Seeds.** Every sample row runs the same replicate seeds, ``SeedSequence(seed).spawn(n_seeds)``
(common random numbers). Morris' elementary effects are differences between neighbouring rows, and
Sobol's estimators differences between rows that share all but some columns; with independent seeds
those differences would be dominated by Monte Carlo noise, with shared seeds they measure the
parameters. Averaging a few replicates per row keeps the indices from resting on one realisation of the
stochastic model. Sample and bootstrap are seeded from the same base seed, so the same configuration
gives the same tables, serially or in parallel.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import numpy as np
import pandas as pd
from SALib.analyze import morris as morris_analyze
from SALib.analyze import sobol as sobol_analyze
from SALib.sample import morris as morris_sample
from SALib.sample import sobol as sobol_sample

from sim.analysis import uncertainties
from sim.analysis.uncertainties import Dist, StudyConfig, Uncertainty
from sim.model.schemas import ConfigError, ModelParams
from sim.model.streams import replicate_seeds
from sim.model.validation import with_values
from sim.runs import metrics, posterior
from sim.runs.config import load_config
from sim.runs.runner import parallel_map, run_replicate

# SALib's names for our distribution families.
SALIB_DISTS = {Dist.uniform: "unif", Dist.loguniform: "logunif"}
CONF_LEVEL = 0.95
SOBOL_COLUMNS = ["S1", "S1_conf", "ST", "ST_conf"]


class Method(Enum):
    """Sensitivity methods."""

    morris = "morris"
    sobol = "sobol"


@dataclass
class SensitivitySettings:
    """How to analyse (see ``configs/sensitivity/default.yaml``)."""

    method: Method = Method.morris
    n: int = 10
    levels: int = 4
    resamples: int = 1000
    select: list[str] = field(default_factory=list)
    outputs: list[str] = field(default_factory=lambda: [metrics.AM7_SHARE])


@dataclass
class SensitivityConfig(StudyConfig):
    """Configuration of ``scamsim sensitivity``: the model, its uncertainties and the analysis settings."""

    sensitivity: SensitivitySettings = field(default_factory=SensitivitySettings)


@dataclass(frozen=True)
class Problem:
    """Uncertain parameters (independent, each uniform or log-uniform on its range) and named outputs."""

    names: tuple[str, ...]
    bounds: tuple[tuple[float, float], ...]
    dists: tuple[Dist, ...]
    outputs: tuple[str, ...] = ("y",)

    @classmethod
    def from_ranges(cls, ranges: dict[str, Uncertainty], outputs: list[str] | tuple[str, ...]) -> Problem:
        """A problem from parameter ranges (config entries) and output names."""
        return cls(
            names=tuple(ranges),
            bounds=tuple((float(r.low), float(r.high)) for r in ranges.values()),
            dists=tuple(r.dist for r in ranges.values()),
            outputs=tuple(outputs),
        )

    def salib(self) -> dict[str, Any]:
        """The problem as SALib's dictionary."""
        return {
            "num_vars": len(self.names),
            "names": list(self.names),
            "bounds": [list(b) for b in self.bounds],
            "dists": [SALIB_DISTS[d] for d in self.dists],
        }


@dataclass
class Analysis:
    """Result of a sensitivity analysis.

    Attributes:
        method: ``morris`` or ``sobol``.
        indices: One row per output and parameter. Morris: ``mu``, ``mu_star``, ``sigma`` (in output
            units per parameter range, SALib's elementary effects) and ``mu_star_conf``; Sobol: ``S1``,
            ``ST`` and their ``_conf``. A ``_conf`` column is the half-width of the 95% bootstrap
            confidence interval; ``n_used`` counts the trajectories or base samples used (see
            :func:`indices`).
        samples: The sample (one column per parameter) and the outputs of each row.
        problem: The problem analysed.
    """

    method: str
    indices: pd.DataFrame
    samples: pd.DataFrame
    problem: Problem


def sample(problem: Problem, method: Method | str, n: int, seed: int, levels: int = 4) -> np.ndarray:
    """SALib's sample for ``method``: ``n * (k + 1)`` Morris rows or ``n * (k + 2)`` Saltelli rows."""
    method = Method(method)
    if method is Method.morris:
        return morris_sample.sample(problem.salib(), n, num_levels=levels, seed=seed)
    # Second-order indices would double the runs; the first-order and total indices answer our question.
    return sobol_sample.sample(problem.salib(), n, calc_second_order=False, seed=seed)


def analyse(
    problem: Problem,
    model_fn: Callable[[np.ndarray], np.ndarray],
    method: Method | str = Method.sobol,
    n: int = 1024,
    seed: int = 0,
    levels: int = 4,
    resamples: int = 1000,
    n_jobs: int = 1,
    rows_per_task: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Analysis:
    """Sample, evaluate ``model_fn`` on the sample (in parallel) and compute the indices with SALib.

    Args:
        problem: Parameters, ranges and output names.
        model_fn: Maps an ``(rows, parameters)`` array to ``(rows,)`` or ``(rows, outputs)``; picklable
            when ``n_jobs > 1``.
        method: ``morris`` or ``sobol``.
        n: Morris trajectories, or Sobol's base sample size (a power of 2).
        seed: Seeds the sample and the bootstrap.
        levels: Morris grid levels.
        resamples: Bootstrap resamples for the confidence intervals.
        n_jobs: Worker processes (results do not depend on it).
        rows_per_task: Rows per task of the executor; None evaluates all rows in one call (for cheap
            vectorised functions), 1 gives progress per row (for the model).
        progress: Called as ``progress(done, total)`` after each task.

    Returns:
        The indices per output and parameter, and the evaluated sample.
    """
    method = Method(method)
    x = sample(problem, method, n, seed, levels)
    tasks = np.array_split(x, math.ceil(len(x) / (rows_per_task or len(x))))
    y = np.concatenate(parallel_map(model_fn, tasks, n_jobs, progress)).reshape(len(x), -1)
    if y.shape[1] != len(problem.outputs):
        raise ValueError(f"model_fn gave {y.shape[1]} outputs for {len(problem.outputs)} output names")
    table = indices(problem, method, x, y, seed, levels, resamples)
    samples = pd.DataFrame(x, columns=list(problem.names))
    samples[list(problem.outputs)] = y
    return Analysis(method.value, table, samples, problem)


def indices(
    problem: Problem,
    method: Method | str,
    x: np.ndarray,
    y: np.ndarray,
    seed: int = 0,
    levels: int = 4,
    resamples: int = 1000,
) -> pd.DataFrame:
    """SALib's indices of each output, from a sample and its outputs (see :class:`Analysis`).

    An output undefined (NaN) in some rows (the AM7 share when no compound operates in the window) is
    analysed on the Morris trajectories or Saltelli blocks in which it is defined throughout: the
    estimators only ever combine rows of one such group, so dropping whole groups keeps them valid. The
    indices are then conditional on the output being defined; ``n_used`` counts the groups used.
    """
    method = Method(method)
    salib = problem.salib()
    group = len(problem.names) + (1 if method is Method.morris else 2)
    columns = ["mu", "mu_star", "sigma", "mu_star_conf"] if method is Method.morris else SOBOL_COLUMNS
    tables = []
    for j, output in enumerate(problem.outputs):
        complete = ~np.isnan(y[:, j]).reshape(-1, group).any(axis=1)
        rows = np.repeat(complete, group)
        if complete.sum() < 2:  # no spread to estimate from
            result = {c: np.full(len(problem.names), np.nan) for c in columns}
        elif method is Method.morris:
            result = morris_analyze.analyze(
                salib,
                x[rows],
                y[rows, j],
                num_resamples=resamples,
                conf_level=CONF_LEVEL,
                num_levels=levels,
                seed=seed,
            )
        else:
            result = sobol_analyze.analyze(
                salib,
                y[rows, j],
                calc_second_order=False,
                num_resamples=resamples,
                conf_level=CONF_LEVEL,
                seed=seed,
            )
        table = pd.DataFrame({c: np.asarray(result[c], dtype=float) for c in columns})
        table.insert(0, "parameter", list(problem.names))
        table.insert(0, "output", output)
        table["n_used"] = int(complete.sum())
        tables.append(table)
    return pd.concat(tables, ignore_index=True)


# --------------------------------------------------------------------------------------------------
# The model as a function of its uncertain parameters
# --------------------------------------------------------------------------------------------------


@dataclass
class ModelFunction:
    """The model as a vectorised function: sample rows in, mean metrics over replicates out (picklable).

    Attributes:
        params: Parameters of every run, before the row's values are applied.
        names: Parameter key of each sample column.
        outputs: Metrics returned, one column each.
        seed: Base seed of the replicates, shared by all rows (common random numbers).
        n_seeds: Replicates averaged per row.
    """

    params: ModelParams
    names: tuple[str, ...]
    outputs: tuple[str, ...]
    seed: int
    n_seeds: int

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """Outputs of each row of ``x``: an array of shape ``(rows, outputs)``.

        A metric undefined in any replicate of a row (NaN) is NaN for the row: :func:`indices` then
        leaves out the row's trajectory or block rather than mixing replicates.
        """
        seeds = replicate_seeds(self.seed, self.n_seeds)
        y = np.empty((len(x), len(self.outputs)))
        for i, row in enumerate(x):
            params = with_values(self.params, dict(zip(self.names, row, strict=True)))
            runs = [run_replicate(params, s, r).metrics for r, s in enumerate(seeds)]
            y[i] = [np.mean([m[o] for m in runs]) for o in self.outputs]
        return y


def ranges(config: SensitivityConfig) -> dict[str, Uncertainty]:
    """The parameters analysed and their ranges.

    Every declared uncertainty (or those in ``sensitivity.select``); a parameter of the calibrated
    posterior (``posterior``) over the posterior's central 90%, every other over its declared range.

    Raises:
        ConfigError: If ``sensitivity.select`` names a parameter that is not declared uncertain.
    """
    names = config.sensitivity.select or list(config.uncertainties)
    declared = uncertainties.select(config.uncertainties, names, "sensitivity.select")
    return uncertainties.posterior_ranges(declared, config.posterior)


def problem_of(config: SensitivityConfig) -> Problem:
    """The problem of a configuration: its parameter ranges (:func:`ranges`) and outputs."""
    return Problem.from_ranges(ranges(config), config.sensitivity.outputs)


def check(config: SensitivityConfig) -> None:
    """Validate the analysis settings with one-line errors (ranges against the parameters' own ranges)."""
    settings = config.sensitivity
    if not config.uncertainties:
        raise ConfigError("uncertainties is empty: nothing to analyse")
    for name, value, low in (
        ("n", settings.n, 2),
        ("levels", settings.levels, 2),
        ("resamples", settings.resamples, 1),
    ):
        if value < low:
            raise ConfigError(f"sensitivity.{name}={value} is outside the allowed range [{low}, inf]")
    if settings.method is Method.sobol and settings.n & (settings.n - 1):
        raise ConfigError(f"sensitivity.n={settings.n} must be a power of 2 for sobol (Saltelli sampling)")
    for output in settings.outputs:
        if output in metrics.RETIRED:
            new, what = metrics.RETIRED[output]
            raise ConfigError(f"sensitivity.outputs: {output!r} ({what}) is no longer a metric; use {new}")
        if output not in metrics.METRICS:
            raise ConfigError(f"sensitivity.outputs: {output!r} is not a metric of sim/runs/metrics.py")
    if not settings.outputs:
        raise ConfigError("sensitivity.outputs is empty")
    uncertainties.check(config.uncertainties, config)
    uncertainties.check(ranges(config), config, "sensitivity ranges")


def base_params(config: SensitivityConfig) -> ModelParams:
    """The parameters the sample rows are applied to: calibrated ones at their posterior median.

    Calibrated parameters left out of the analysis (``sensitivity.select``) then sit where the
    calibration put them rather than at the uncalibrated defaults of the schemas.
    """
    params: ModelParams = copy.deepcopy(config)
    if not config.posterior:
        return params
    medians = posterior.quantiles(config.posterior, [0.5]).iloc[0]
    return posterior.apply(params, {key: float(value) for key, value in medians.items()})


def run(config: SensitivityConfig, progress: Callable[[int, int], None] | None = None) -> Analysis:
    """Run the sensitivity analysis a configuration describes (one model row per executor task).

    Args:
        config: A validated configuration (``scamsim sensitivity``'s, or :func:`load`'s).
        progress: Called as ``progress(done, rows)`` after each sample row.

    Returns:
        The indices and the evaluated sample.
    """
    check(config)
    settings = config.sensitivity
    problem = problem_of(config)
    model_fn = ModelFunction(base_params(config), problem.names, problem.outputs, config.seed, config.n_seeds)
    return analyse(
        problem,
        model_fn,
        settings.method,
        settings.n,
        seed=config.seed,
        levels=settings.levels,
        resamples=settings.resamples,
        n_jobs=config.n_jobs,
        rows_per_task=1,
        progress=progress,
    )


def register() -> None:
    """Register the sensitivity schema in Hydra's ConfigStore."""
    from hydra.core.config_store import ConfigStore

    ConfigStore.instance().store(name="sensitivity_schema", node=SensitivityConfig)


def load(overrides: list[str] | None = None) -> SensitivityConfig:
    """Compose ``configs/sensitivity.yaml`` with Hydra overrides, as ``scamsim sensitivity`` would.

    Raises:
        ConfigError: On an unknown key or invalid value (one-line message).
    """
    register()
    config = load_config(overrides, config_name="sensitivity", schema=SensitivityConfig)
    check(config)
    return config
