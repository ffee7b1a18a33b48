"""Global sensitivity analysis: near the fitted state (PAWN), over the box of ranges, and the levers.

Near the fitted state is the default; Morris and Sobol screen the whole box of declared ranges; the
policy levers are analysed apart, at the fitted state.

Three studies, one per ``sensitivity.method``:

* ``pawn`` (the default): which uncertain parameters matter *among the worlds consistent with the
  published figures*. The calibrated parameters are drawn jointly from the posterior's weighted
  particles (keeping their correlations), every other uncertain parameter by Latin hypercube over its
  declared range (:mod:`sim.analysis.uncertainties`). Each row is one simulated world, judged as the
  calibration judges a particle: a row is kept only if every fit target's weighted discrepancy
  (:func:`sim.analysis.observations.discrepancies`, the terms of the ABC distance) is at most
  ``fit_tolerance``. The indices are PAWN's (Pianosi and Wagener 2015, 2018; SALib), computed from the
  kept rows as given data: a structured design (Morris trajectories, Saltelli blocks) would not survive
  the filter, and the filter makes the kept inputs dependent, which PAWN, comparing the output's
  distribution within slices of one input with its distribution over all rows, allows. A column of
  independent noise (``dummy``) is analysed with them: its index is what PAWN gives a parameter with no
  influence at this sample size (Khorashadi Zadeh et al. 2017). Without a posterior the calibrated
  parameters come from their priors like the rest, and the filter alone selects (rejection ABC).
* ``morris`` and ``sobol``: SALib's screening and variance-based indices over the whole box of
  declared ranges (a calibrated parameter over the posterior's central 90%), with a structured design.
  They say what matters anywhere in the box, including worlds no published figure allows.
* ``levers``: the policy levers (:data:`sim.model.levers.LEVERS`) are choices, not uncertainties. Each
  named lever is set, from ``levers.start`` on, to evenly spaced values over its declared range
  (:class:`~sim.model.levers.Lever` ``low`` to ``high``), in each of ``n`` draws of the fitted state
  (posterior draws; the hand-tuned defaults without a posterior); each value is compared with the same
  draw and seed without the change (paired, common random numbers: interventions draw no random
  numbers), and the effects are summarised over draws with intervals (:func:`lever_effects`).

Two layers: :func:`analyse` and :func:`pawn_indices` are generic (any function, any given data); the
model enters as :class:`RowFunction`, which runs a list of :class:`Row` (parameter values, seed,
interventions) and returns their mean metrics. :func:`run` builds the study a
:class:`SensitivityConfig` (``configs/sensitivity.yaml``) describes.

**Seeds.** Morris and Sobol give every row the same replicate seeds,
``SeedSequence(seed).spawn(n_seeds)`` (common random numbers): their estimators are differences
between rows, which independent seeds would fill with Monte Carlo noise. PAWN's rows each get their
own seed, like the calibration's particles: a row is one simulated world, and the output's spread
includes the model's chance variation, as the observed world's does. The lever study shares a seed
between the values of one draw and gives each draw its own. Every sample and bootstrap is seeded from
the base seed, so the same configuration gives the same tables, serially or in parallel.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
from SALib.analyze import morris as morris_analyze
from SALib.analyze import pawn as pawn_analyze
from SALib.analyze import sobol as sobol_analyze
from SALib.sample import latin as latin_sample
from SALib.sample import morris as morris_sample
from SALib.sample import sobol as sobol_sample
from scipy import stats

from sim.analysis import observations, uncertainties
from sim.analysis.observations import Target, Use
from sim.analysis.uncertainties import Dist, StudyConfig, Uncertainty
from sim.model import keys
from sim.model.levers import LEVERS, Lever
from sim.model.schemas import ConfigError, ModelParams, parse_date
from sim.model.streams import replicate_seeds
from sim.model.validation import with_values
from sim.runs import metrics, posterior
from sim.runs.config import load_config
from sim.runs.runner import parallel_map, run_replicate

# SALib's names for our distribution families (ranges reach SALib resolved: never Dist.relative).
SALIB_DISTS = {Dist.uniform: "unif", Dist.loguniform: "logunif"}
CONF_LEVEL = 0.95
SOBOL_COLUMNS = ["S1", "S1_conf", "ST", "ST_conf"]
DUMMY = "dummy"  # PAWN's reference column: independent noise that no run reads
# Entropy mixed into the base seed for each sample, so that the samples are independent of one another
# and of the replicate streams (any fixed distinct numbers would do).
ROW_SEEDS, DUMMY_SEEDS, BOOTSTRAP_SEEDS, LEVER_SEEDS = 0x5EED, 0xD0, 0xB007, 0x1E7E


class Method(Enum):
    """Sensitivity studies (see the module docstring)."""

    pawn = "pawn"
    morris = "morris"
    sobol = "sobol"
    levers = "levers"


@dataclass
class LeverSettings:
    """The lever study: which levers, how many values over each one's range, and from when."""

    names: list[str] = field(default_factory=list)
    points: int = 5
    start: str = "2024-01-01"


@dataclass
class SensitivitySettings:
    """How to analyse (see ``configs/sensitivity/``)."""

    method: Method = Method.pawn
    n: int = 10
    levels: int = 4
    resamples: int = 1000
    slices: int = 10
    fit_tolerance: float = 4.0
    select: list[str] = field(default_factory=list)
    outputs: list[str] = field(default_factory=lambda: [metrics.AM7_SHARE])
    targets: dict[str, Target] = field(default_factory=dict)
    levers: LeverSettings = field(default_factory=LeverSettings)


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
        """A problem from parameter ranges (resolved config entries) and output names."""
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
    """Result of a sensitivity study.

    Attributes:
        method: ``pawn``, ``morris``, ``sobol`` or ``levers``.
        indices: One row per output and parameter (per output, lever and value for ``levers``).
            PAWN: ``pawn`` (the median over slices of the Kolmogorov-Smirnov distance between the
            output's distribution within a slice of the parameter and over all kept rows, 0 to 1),
            ``pawn_max`` (the largest), ``influential`` (the 95% interval of ``pawn`` lies above the
            dummy's); Morris: ``mu``, ``mu_star``, ``sigma`` (in output units per parameter range, SALib's
            elementary effects) and ``mu_star_conf``; Sobol: ``S1``, ``ST`` and their ``_conf``;
            levers: see :func:`lever_effects`. A ``_conf`` column is the half-width of the 95%
            bootstrap confidence interval; ``n_used`` counts the kept rows, trajectories or base samples
            used (see :func:`indices`).
        samples: Every row: parameter values (and for PAWN the dummy, the fit statistics, each fit
            target's weighted discrepancy and ``kept``; for levers ``draw``, ``lever`` and ``value``)
            and the outputs.
        problem: The problem analysed (for levers: the outputs only).
    """

    method: str
    indices: pd.DataFrame
    samples: pd.DataFrame
    problem: Problem


# --------------------------------------------------------------------------------------------------
# Structured designs: Morris and Sobol (any vectorised function)
# --------------------------------------------------------------------------------------------------


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
    """Sample, evaluate ``model_fn`` on the sample (in parallel) and compute Morris or Sobol indices.

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
    y = evaluate(model_fn, x, len(problem.outputs), n_jobs, rows_per_task, progress)
    table = indices(problem, method, x, y, seed, levels, resamples)
    samples = pd.DataFrame(x, columns=list(problem.names))
    samples[list(problem.outputs)] = y
    return Analysis(method.value, table, samples, problem)


def evaluate(
    model_fn: Callable[[Any], np.ndarray],
    rows: Sequence[Any],
    n_outputs: int,
    n_jobs: int = 1,
    rows_per_task: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> np.ndarray:
    """``model_fn`` over ``rows`` cut into tasks for the executor: an array ``(rows, n_outputs)``."""
    size = rows_per_task or len(rows)
    tasks = [rows[i : i + size] for i in range(0, len(rows), size)]
    y = np.concatenate(parallel_map(model_fn, tasks, n_jobs, progress)).reshape(len(rows), -1)
    if y.shape[1] != n_outputs:
        raise ValueError(f"model_fn gave {y.shape[1]} outputs for {n_outputs} output names")
    return y


def indices(
    problem: Problem,
    method: Method | str,
    x: np.ndarray,
    y: np.ndarray,
    seed: int = 0,
    levels: int = 4,
    resamples: int = 1000,
) -> pd.DataFrame:
    """SALib's Morris or Sobol indices of each output, from a sample and its outputs (see :class:`Analysis`).

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
# Given data: PAWN
# --------------------------------------------------------------------------------------------------


def _pawn(task: tuple[tuple[str, ...], np.ndarray, np.ndarray, int, list[np.ndarray]]) -> np.ndarray:
    """SALib's PAWN median and maximum for each row subset of a task: ``(subsets, 2, parameters)``."""
    names, x, y, slices, subsets = task
    problem = {"num_vars": len(names), "names": list(names)}
    out = []
    for rows in subsets:
        # A column with fewer distinct values than slices (posterior draws repeat particles; a
        # bootstrap resample may hold one value) leaves slices empty, and one with every slice empty
        # has no index: SALib returns NaN for it, and numpy warns about the all-NaN slice.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            result = pawn_analyze.analyze(problem, x[rows], y[rows], S=slices)
        out.append([result["median"], result["maximum"]])
    return np.asarray(out, dtype=float)


def pawn_indices(
    names: Sequence[str],
    x: np.ndarray,
    y: np.ndarray,
    outputs: Sequence[str],
    slices: int = 10,
    resamples: int = 100,
    seed: int = 0,
    n_jobs: int = 1,
) -> pd.DataFrame:
    """PAWN indices (SALib) of each output from given data, with a dummy column as reference.

    The inputs may be dependent and come from any design (posterior draws, a filtered sample). A
    column of independent uniform noise, :data:`DUMMY`, is analysed with the parameters: PAWN's
    Kolmogorov-Smirnov distances are biased upwards at finite samples, and the dummy's index is that
    bias for a parameter with no influence. The 95% confidence half-width (``pawn_conf``) comes from
    ``resamples`` bootstrap resamples of the rows (normal approximation, as SALib's other methods).

    Args:
        names: Parameter names, one per column of ``x``.
        x: Inputs, ``(rows, parameters)``.
        y: Outputs, ``(rows, outputs)``; a row where an output is NaN is left out of that output's
            analysis.
        outputs: Output names, one per column of ``y``.
        slices: Conditioning intervals per parameter (equal-count slices of its values).
        resamples: Bootstrap resamples.
        seed: Seeds the dummy column and the bootstrap.
        n_jobs: Worker processes for the bootstrap (results do not depend on it).

    Returns:
        One row per output and parameter (the dummy last): ``pawn``, ``pawn_conf``, ``pawn_max``,
        ``influential`` and ``n_used`` (rows where the output is defined; fewer than two per slice
        gives NaN indices).
    """
    rng = np.random.default_rng([seed, DUMMY_SEEDS])
    columns = (*names, DUMMY)
    x = np.column_stack([x, rng.random(len(x))])
    tables = []
    for j, output in enumerate(outputs):
        defined = np.isfinite(y[:, j])
        m = int(defined.sum())
        table = pd.DataFrame({"output": output, "parameter": columns})
        if m < 2 * slices:
            table[["pawn", "pawn_conf", "pawn_max"]] = np.nan
        else:
            boot = np.random.default_rng([seed, BOOTSTRAP_SEEDS, j])
            subsets = [np.arange(m)] + [boot.integers(0, m, m) for _ in range(resamples)]
            size = math.ceil(len(subsets) / max(n_jobs, 1))
            tasks = [
                (columns, x[defined], y[defined, j], slices, subsets[i : i + size])
                for i in range(0, len(subsets), size)
            ]
            results = np.concatenate(parallel_map(_pawn, tasks, n_jobs))
            table["pawn"] = results[0, 0]
            table["pawn_max"] = results[0, 1]
            z = stats.norm.ppf(0.5 + CONF_LEVEL / 2)
            # Resamples without an index (NaN, see _pawn) are left out of the spread.
            spread = [
                np.std(c[np.isfinite(c)], ddof=1) if np.isfinite(c).sum() > 1 else np.nan
                for c in results[1:, 0].T
            ]
            table["pawn_conf"] = z * np.asarray(spread)
        dummy = table.iloc[-1]
        table["influential"] = (table["pawn"] - table["pawn_conf"]) > (dummy["pawn"] + dummy["pawn_conf"])
        table["n_used"] = m
        tables.append(
            table[["output", "parameter", "pawn", "pawn_conf", "pawn_max", "influential", "n_used"]]
        )
    return pd.concat(tables, ignore_index=True)


def fit_filter(targets: dict[str, Target], statistics: pd.DataFrame, tolerance: float) -> pd.DataFrame:
    """Each row's weighted discrepancy per fit target, and whether every one is within ``tolerance``.

    A row is consistent with the fit targets when no target adds more than ``tolerance`` to the ABC
    distance (:func:`sim.analysis.observations.discrepancies`): each target is bounded on its own, so
    that one badly missed figure cannot hide behind others that fit well. A statistic that cannot be
    computed (no compound in the window) costs the discrepancy of a miss by 10 standard errors.

    Args:
        targets: The target registry (validate targets are ignored).
        statistics: One row per simulated world, a column per statistic the fit targets read.
        tolerance: Largest weighted discrepancy allowed for any fit target.

    Returns:
        ``discrepancy_<target>`` for each fit target, and ``kept``.
    """
    rows = [observations.discrepancies(targets, row) for row in statistics.to_dict(orient="records")]
    table = pd.DataFrame(rows, index=statistics.index).add_prefix("discrepancy_")
    table["kept"] = (table <= tolerance).all(axis=1)
    return table


def fit_statistics(targets: dict[str, Target]) -> list[str]:
    """The metrics the fit targets read (statistics and denominators), in registry order."""
    names = [s for t in targets.values() if t.use is Use.fit for s in (t.statistic, t.denominator) if s]
    return list(dict.fromkeys(names))


# --------------------------------------------------------------------------------------------------
# The model as a function of its parameters
# --------------------------------------------------------------------------------------------------


class Row(NamedTuple):
    """One model evaluation: parameter values, the base seed of its replicates, interventions.

    Attributes:
        values: Dotted parameter keys (``*`` allowed) and values, applied to the base parameters.
        seed: Base seed: the row runs ``replicate_seeds(seed, n_seeds)``.
        policies: Interventions in force (``policies`` of :class:`~sim.model.schemas.ModelParams`).
    """

    values: dict[str, float]
    seed: int
    policies: dict[str, dict[str, Any]] | None = None


@dataclass
class RowFunction:
    """The model on a list of rows: mean metrics over each row's replicates (picklable).

    Attributes:
        params: Parameters of every run, before a row's values and interventions are applied.
        outputs: Metrics returned, one column each.
        n_seeds: Replicates averaged per row.
    """

    params: ModelParams
    outputs: tuple[str, ...]
    n_seeds: int

    def __call__(self, rows: Sequence[Row]) -> np.ndarray:
        """Outputs of each row: an array of shape ``(rows, outputs)``.

        A metric undefined in any replicate of a row (NaN) is NaN for the row: the analyses then leave
        out the row (or its trajectory or block) rather than mix replicates.
        """
        y = np.empty((len(rows), len(self.outputs)))
        for i, row in enumerate(rows):
            base = self.params
            if row.policies:  # on top of any the configuration has (a scenario)
                base = dataclasses.replace(base, policies={**base.policies, **row.policies})
            params = with_values(base, row.values)
            seeds = replicate_seeds(row.seed, self.n_seeds)
            runs = [run_replicate(params, s, r).metrics for r, s in enumerate(seeds)]
            y[i] = [np.mean([m[o] for m in runs]) for o in self.outputs]
        return y


@dataclass
class ModelFunction:
    """The model as a vectorised function for Morris and Sobol: sample rows in, mean metrics out.

    Every row runs the same replicate seeds (common random numbers).

    Attributes:
        params: Parameters of every run, before the row's values are applied.
        names: Parameter key of each sample column.
        outputs: Metrics returned, one column each.
        seed: Base seed of the replicates, shared by all rows.
        n_seeds: Replicates averaged per row.
    """

    params: ModelParams
    names: tuple[str, ...]
    outputs: tuple[str, ...]
    seed: int
    n_seeds: int

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """Outputs of each row of ``x``: an array of shape ``(rows, outputs)`` (:class:`RowFunction`)."""
        rows = [Row(dict(zip(self.names, map(float, r), strict=True)), self.seed) for r in x]
        return RowFunction(self.params, self.outputs, self.n_seeds)(rows)


def row_seeds(seed: int, n: int, stream: int) -> list[int]:
    """``n`` independent base seeds derived from ``seed`` (one per row or draw of a study)."""
    return [int(s) for s in np.random.SeedSequence([seed, stream]).generate_state(n, np.uint64)]


# --------------------------------------------------------------------------------------------------
# The studies of a configuration
# --------------------------------------------------------------------------------------------------


def ranges(config: SensitivityConfig) -> dict[str, Uncertainty]:
    """The parameters analysed and their ranges.

    Every declared uncertainty (or those in ``sensitivity.select``), with its range
    (:func:`sim.analysis.uncertainties.select`); a parameter of the calibrated posterior
    (``posterior``) over the posterior's central 90%.

    Raises:
        ConfigError: If ``sensitivity.select`` names a parameter that is not declared uncertain.
    """
    names = config.sensitivity.select or list(config.uncertainties)
    declared = uncertainties.select(config.uncertainties, names, "sensitivity.select")
    return uncertainties.posterior_ranges(declared, config.posterior)


def problem_of(config: SensitivityConfig) -> Problem:
    """The problem of a configuration: its parameter ranges (:func:`ranges`) and outputs."""
    return Problem.from_ranges(ranges(config), config.sensitivity.outputs)


def design(config: SensitivityConfig) -> str:
    """What the study draws its parameters from, in one line for the terminal and the metadata."""
    settings = config.sensitivity
    if settings.method is Method.levers:
        if config.posterior:
            return f"levers at the fitted state: {settings.n} draws of posterior {config.posterior!r}"
        return (
            "posterior=null: no fitted posterior, so the levers are analysed at the hand-tuned defaults "
            f"(sim/model/schemas.py); intervals over {settings.n} seeds only"
        )
    if settings.method is not Method.pawn:
        where = f"posterior {config.posterior!r}'s central 90%" if config.posterior else "declared ranges"
        return f"{settings.method.value} over the box of declared ranges (calibrated parameters: {where})"
    kept = f"rows kept if every fit target's weighted discrepancy <= {settings.fit_tolerance:g}"
    if config.posterior:
        return (
            f"calibrated parameters drawn jointly from posterior {config.posterior!r}, the rest by Latin "
            f"hypercube; {kept}"
        )
    return (
        "posterior=null: no fitted posterior, so the calibrated parameters are drawn from their priors "
        "(configs/uncertainties/default.yaml) by Latin hypercube like the rest, and the fit filter alone "
        f"selects; {kept}"
    )


def check(config: SensitivityConfig) -> None:
    """Validate the analysis settings with one-line errors (ranges against the parameters' own ranges)."""
    settings = config.sensitivity
    if not config.uncertainties:
        raise ConfigError("uncertainties is empty: nothing to analyse")
    minimum = {"n": 2, "levels": 2, "resamples": 1, "slices": 2}
    for name, low in minimum.items():
        value = getattr(settings, name)
        if value < low:
            raise ConfigError(f"sensitivity.{name}={value} is outside the allowed range [{low}, inf)")
    if settings.method is Method.sobol and settings.n & (settings.n - 1):
        raise ConfigError(f"sensitivity.n={settings.n} must be a power of 2 for sobol (Saltelli sampling)")
    if not settings.outputs:
        raise ConfigError("sensitivity.outputs is empty")
    for output in settings.outputs:
        if output in metrics.RETIRED:
            new, what = metrics.RETIRED[output]
            raise ConfigError(f"sensitivity.outputs: {output!r} ({what}) is no longer a metric; use {new}")
        if output not in metrics.METRICS:
            raise ConfigError(f"sensitivity.outputs: {output!r} is not a metric of sim/runs/metrics.py")
    uncertainties.check(
        uncertainties.select(config.uncertainties, list(config.uncertainties), "uncertainties"), config
    )
    uncertainties.check(ranges(config), config, "sensitivity ranges")
    if settings.method is Method.pawn:
        _check_fit(config)
    if settings.method is Method.levers:
        _check_levers(config)


def _check_fit(config: SensitivityConfig) -> None:
    settings = config.sensitivity
    if settings.n < settings.slices:
        raise ConfigError(
            f"sensitivity.n={settings.n} is below sensitivity.slices={settings.slices}: PAWN needs at least "
            "one row per slice"
        )
    if not settings.fit_tolerance > 0:
        raise ConfigError(
            f"sensitivity.fit_tolerance={settings.fit_tolerance} is outside the allowed range (0, inf)"
        )
    if not any(t.use is Use.fit for t in settings.targets.values()):
        raise ConfigError("sensitivity.targets has no fit target: nothing to filter the rows by")
    for name, target in settings.targets.items():
        target.check(name)
        if target.statistic not in metrics.METRICS:
            raise ConfigError(f"sensitivity.targets.{name}.statistic={target.statistic!r} is not a metric")


def _check_levers(config: SensitivityConfig) -> None:
    lever = config.sensitivity.levers
    if not lever.names:
        raise ConfigError("sensitivity.levers.names is empty: no lever to analyse")
    for name in lever.names:
        if name not in LEVERS:
            raise ConfigError(f"sensitivity.levers.names: {name!r} is not a lever; allowed: {sorted(LEVERS)}")
    if lever.points < 2:
        raise ConfigError(f"sensitivity.levers.points={lever.points} is outside the allowed range [2, inf)")
    first, last = (parse_date(f"time.{k}", getattr(config.time, k)) for k in ("start", "end"))
    if not first < parse_date("sensitivity.levers.start", lever.start) <= last:
        raise ConfigError(
            f"sensitivity.levers.start={lever.start!r} is outside the run ({config.time.start}, "
            f"{config.time.end}]: the levers must change within it"
        )
    for end in ("low", "high"):  # both ends of every lever valid interventions (one-line errors)
        policies = {
            k: v for n in lever.names for k, v in lever_policies(config, n, getattr(LEVERS[n], end)).items()
        }
        with_values(dataclasses.replace(config, policies=policies), {})


def base_params(config: SensitivityConfig) -> ModelParams:
    """The parameters Morris and Sobol rows are applied to: calibrated ones at their posterior median.

    Calibrated parameters left out of the analysis (``sensitivity.select``) then sit where the
    calibration put them rather than at the uncalibrated defaults of the schemas.
    """
    params: ModelParams = copy.deepcopy(config)
    if not config.posterior:
        return params
    medians = posterior.quantiles(config.posterior, [0.5]).iloc[0]
    return posterior.apply(params, {key: float(value) for key, value in medians.items()})


def posterior_columns(config: SensitivityConfig) -> list[str]:
    """The parameters the PAWN study draws jointly from the posterior (none without one)."""
    if not config.posterior:
        return []
    return [c for c in posterior.load(config.posterior).columns if c != "weight" and c not in config.fixed]


def given_sample(config: SensitivityConfig) -> pd.DataFrame:
    """The rows of the PAWN study: every parameter it sets, one row per simulated world.

    The posterior's columns (all of them, analysed or not, so that each row is one joint draw) come
    from ``n`` weighted draws of its particles; every analysed parameter it does not cover from a Latin
    hypercube over its declared range. Without a posterior, all analysed parameters come from the
    Latin hypercube.
    """
    n = config.sensitivity.n
    drawn = pd.DataFrame(
        posterior.draws(config.posterior, n, config.seed, config.fixed) if config.posterior else {}
    )
    rest = {k: r for k, r in ranges(config).items() if k not in drawn.columns}
    hypercube = (
        latin_sample.sample(Problem.from_ranges(rest, ()).salib(), n, seed=config.seed) if rest else None
    )
    return pd.concat([drawn, pd.DataFrame(hypercube, columns=list(rest))], axis=1)


def run_pawn(config: SensitivityConfig, progress: Callable[[int, int], None] | None = None) -> Analysis:
    """The PAWN study of the fit-consistent rows (see the module docstring)."""
    settings = config.sensitivity
    problem = problem_of(config)
    values = given_sample(config)
    statistics = [s for s in fit_statistics(settings.targets) if s not in problem.outputs]
    columns = (*problem.outputs, *statistics)
    seeds = row_seeds(config.seed, len(values), ROW_SEEDS)
    rows = [Row(v, s) for v, s in zip(values.to_dict(orient="records"), seeds, strict=True)]
    model_fn = RowFunction(copy.deepcopy(config), columns, config.n_seeds)
    y = evaluate(model_fn, rows, len(columns), config.n_jobs, 1, progress)
    samples = pd.concat([values, pd.DataFrame(y, columns=list(columns))], axis=1)
    samples = pd.concat([samples, fit_filter(settings.targets, samples, settings.fit_tolerance)], axis=1)
    kept = samples[samples["kept"]]
    table = pawn_indices(
        problem.names,
        kept[list(problem.names)].to_numpy(float),
        kept[list(problem.outputs)].to_numpy(float),
        problem.outputs,
        settings.slices,
        settings.resamples,
        config.seed,
        config.n_jobs,
    )
    return Analysis(Method.pawn.value, table, samples, problem)


# --------------------------------------------------------------------------------------------------
# The policy levers at the fitted state
# --------------------------------------------------------------------------------------------------


def lever_values(lever: Lever, points: int) -> np.ndarray:
    """``points`` evenly spaced values over the lever's declared range, both ends included."""
    return np.linspace(lever.low, lever.high, points)


def lever_policies(config: SensitivityConfig, name: str, value: float) -> dict[str, dict[str, Any]]:
    """Interventions setting every key of lever ``name`` to ``value`` from ``levers.start`` on."""
    concrete = [k for key in LEVERS[name].keys for k in keys.expand(config, key)]
    start = config.sensitivity.levers.start
    return {
        f"lever_{name}_{i}": {"kind": "parameter", "key": key, "value": float(value), "start": start}
        for i, key in enumerate(concrete)
    }


def lever_rows(config: SensitivityConfig) -> pd.DataFrame:
    """The runs of the lever study, one row each (``draw``, ``seed``, ``lever``, ``value``, draw values).

    For each of ``n`` draws of the fitted state (posterior draws, or the configured parameters without
    a posterior), one run without a change (``lever`` empty) and one per lever and value, all with
    the draw's seed.
    """
    settings = config.sensitivity
    n = settings.n
    draws = posterior.draws(config.posterior, n, config.seed, config.fixed) if config.posterior else [{}] * n
    seeds = row_seeds(config.seed, n, LEVER_SEEDS)
    plan = [("", math.nan)] + [
        (name, float(v))
        for name in settings.levers.names
        for v in lever_values(LEVERS[name], settings.levers.points)
    ]
    records = [
        {"draw": d, "seed": seeds[d], "lever": lever, "value": value, **draws[d]}
        for d in range(n)
        for lever, value in plan
    ]
    return pd.DataFrame(records)


def lever_effects(samples: pd.DataFrame, outputs: Sequence[str], fitted: dict[str, float]) -> pd.DataFrame:
    """Each lever value's effect on each output: the paired difference from the same draw unchanged.

    Args:
        samples: The lever study's rows (:func:`lever_rows`) with their outputs; ``lever`` is empty for
            the unchanged run of each draw.
        outputs: The outputs to summarise.
        fitted: Each lever's value in force before the change (median over draws).

    Returns:
        One row per lever, value and output: ``fitted`` (the lever's value before the change),
        ``level_median`` (the output at that value), the paired effect's ``effect_median`` and 90%
        interval over draws (``effect_q05``, ``effect_q95``: how the effect varies with the fitted state
        and chance), ``effect_mean`` and ``effect_mean_conf`` (half-width of its 95% confidence
        interval, normal approximation), and ``n_used`` (draws where the output is defined both ways).
    """
    base = samples[samples["lever"] == ""].set_index("draw")
    z = stats.norm.ppf(0.5 + CONF_LEVEL / 2)
    rows = []
    changed = samples[samples["lever"] != ""]
    for (lever, value), group in changed.groupby(["lever", "value"], sort=False):
        group = group.set_index("draw")
        for output in outputs:
            effect = (group[output] - base[output].reindex(group.index)).dropna()
            n = len(effect)
            rows.append(
                {
                    "lever": lever,
                    "value": value,
                    "fitted": fitted[lever],
                    "output": output,
                    "level_median": group[output].median(),
                    "effect_median": effect.median(),
                    "effect_q05": effect.quantile(0.05),
                    "effect_q95": effect.quantile(0.95),
                    "effect_mean": effect.mean(),
                    "effect_mean_conf": z * effect.std(ddof=1) / math.sqrt(n) if n > 1 else np.nan,
                    "n_used": n,
                }
            )
    return pd.DataFrame(rows)


def fitted_levers(config: SensitivityConfig, draws: list[dict[str, float]]) -> dict[str, float]:
    """Each lever's value in force before the change: the median over the study's ``draws``."""
    states = [with_values(config, draw) for draw in draws]
    return {
        name: float(np.median([LEVERS[name].value(p) for p in states]))
        for name in config.sensitivity.levers.names
    }


def run_levers(config: SensitivityConfig, progress: Callable[[int, int], None] | None = None) -> Analysis:
    """The lever study (see the module docstring and :func:`lever_effects`)."""
    settings = config.sensitivity
    plan = lever_rows(config)
    parameters = [c for c in plan.columns if c not in ("draw", "seed", "lever", "value")]
    values = plan[parameters].to_dict(orient="records")
    rows = [
        Row(v, int(seed), lever_policies(config, lever, value) if lever else None)
        for v, seed, lever, value in zip(values, plan["seed"], plan["lever"], plan["value"], strict=True)
    ]
    outputs = tuple(settings.outputs)
    y = evaluate(
        RowFunction(copy.deepcopy(config), outputs, config.n_seeds),
        rows,
        len(outputs),
        config.n_jobs,
        1,
        progress,
    )
    samples = pd.concat([plan, pd.DataFrame(y, columns=list(outputs))], axis=1)
    unchanged = [v for v, lever in zip(values, plan["lever"], strict=True) if not lever]
    table = lever_effects(samples, outputs, fitted_levers(config, unchanged))
    return Analysis(Method.levers.value, table, samples, Problem((), (), (), outputs))


def run(config: SensitivityConfig, progress: Callable[[int, int], None] | None = None) -> Analysis:
    """Run the study a configuration describes (one model row per executor task).

    Args:
        config: A validated configuration (``scamsim sensitivity``'s, or :func:`load`'s).
        progress: Called as ``progress(done, rows)`` after each row.

    Returns:
        The indices (or lever effects) and the evaluated rows.
    """
    check(config)
    settings = config.sensitivity
    if settings.method is Method.pawn:
        return run_pawn(config, progress)
    if settings.method is Method.levers:
        return run_levers(config, progress)
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
