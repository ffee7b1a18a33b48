"""Do independent calibrations agree, and which parameters do the targets pin?

Given the posteriors of several calibrations that differ only in their seed, :func:`agreement` reports
for each free parameter the runs' posterior medians and 90% widths, whether the medians agree within
:data:`TOLERANCE` of the widths, and whether the 90% width is still more than :data:`UNIDENTIFIED` of
the prior's width (then the targets do not identify the parameter; :func:`correlations` shows which
combination of parameters they pin instead).

Medians and widths are compared on the prior's scale: logarithmic for a log-uniform prior, so that a
raid capacity of 20 against 22 counts as much as 100 against 110.

Run ``scamsim convergence runs=DIR1,DIR2,DIR3`` (:mod:`sim.cli.convergence`) on the calibration
results directories.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.analysis.calibration import NOT_IN_HISTORY_KEY
from sim.analysis.uncertainties import Dist, Uncertainty
from sim.model.schemas import ConfigError
from sim.runs.posterior import weighted_quantiles

TOLERANCE = 0.1  # the medians agree if they differ by at most this share of the mean 90% width
UNIDENTIFIED = 0.8  # a 90% width above this share of the prior's width: not identified by the targets
CHECK_RUNS = 3  # independent runs the convergence check asks for (issue 13)
MIN_RUNS = 2  # fewer than CHECK_RUNS are compared, but reported as a comparison, not the check
# Settings the stop rule reads: they decide which generation a run ends with, so repeats must share them.
STOP_RULE = ("min_epsilon", "epsilon_drop", "min_ess")
# Settings that independent runs of one calibration may differ in (besides their seed): how a command
# ran, and the calibration settings that change no generation (calibration.NOT_IN_HISTORY_KEY: budget,
# cap, processes, early rejection, publishing) except the stop rule's. So a run continued with another
# budget, or run without early rejection as seed 1 was, is still a repeat.
UNCOMPARED = (
    "seed",
    "name",
    "overwrite",
    "n_jobs",
    "force",
    *(f"calibration.{key}" for key in NOT_IN_HISTORY_KEY if key not in STOP_RULE),
)


@dataclass
class Runs:
    """Calibrations to compare: each run's weighted particles and the priors they share.

    Attributes:
        posteriors: Run name -> particles (one column per free parameter, plus ``weight``).
        priors: The free parameters' priors, in order.
        metadata: Run name -> its ``metadata.json``.
    """

    posteriors: dict[str, pd.DataFrame]
    priors: dict[str, Uncertainty]
    metadata: dict[str, dict[str, Any]]


def on_prior_scale(values: np.ndarray, prior: Uncertainty) -> np.ndarray:
    """Values on the scale their prior is flat on (the logarithm for a log-uniform prior)."""
    return np.log(values) if prior.dist is Dist.loguniform else np.asarray(values, float)


def _quantiles(particles: pd.DataFrame, key: str, prior: Uncertainty) -> np.ndarray:
    """The 5%, 50% and 95% quantiles of ``key`` on the prior's scale."""
    values = on_prior_scale(particles[key].to_numpy(float), prior)
    return weighted_quantiles(values, particles["weight"].to_numpy(float), (0.05, 0.5, 0.95))


def pooled(posteriors: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """All runs' particles in one table, each run weighing the same (weights sum to 1)."""
    frames = [p.assign(weight=p["weight"] / p["weight"].sum() / len(posteriors)) for p in posteriors.values()]
    return pd.concat(frames, ignore_index=True)


def per_run(posteriors: dict[str, pd.DataFrame], priors: dict[str, Uncertainty]) -> pd.DataFrame:
    """Each run's median and central 90% interval of each parameter, in the parameter's unit.

    Returns:
        One row per run and parameter: ``run``, ``parameter``, ``q05``, ``median``, ``q95``.
    """
    rows = []
    for run, particles in posteriors.items():
        for key, prior in priors.items():
            q = _quantiles(particles, key, prior)
            q = np.exp(q) if prior.dist is Dist.loguniform else q
            rows.append({"run": run, "parameter": key, "q05": q[0], "median": q[1], "q95": q[2]})
    return pd.DataFrame(rows)


def agreement(
    posteriors: dict[str, pd.DataFrame],
    priors: dict[str, Uncertainty],
    tolerance: float = TOLERANCE,
    unidentified: float = UNIDENTIFIED,
) -> pd.DataFrame:
    """Whether the runs' medians agree and whether the targets identify each parameter.

    Args:
        posteriors: Run name -> weighted particles.
        priors: The parameters to compare and their priors.
        tolerance: The medians agree if ``max - min`` of the runs' medians is at most this share of the
            runs' mean 90% width (both on the prior's scale).
        unidentified: A parameter whose mean 90% width is more than this share of its prior's width is
            not identified by the targets.

    Returns:
        One row per parameter: ``parameter``, ``scale`` (``log`` or ``linear``), the pooled ``median``,
        ``q05`` and ``q95`` (all runs, each weighing the same; in the parameter's unit),
        ``median_spread`` (of the runs' medians, as a share of the mean 90% width), ``agree``,
        ``width_of_prior`` (mean 90% width as a share of the prior's) and ``identified``.
    """
    everything = pooled(posteriors)
    rows = []
    for key, prior in priors.items():
        q = np.array([_quantiles(p, key, prior) for p in posteriors.values()])
        width = float(np.mean(q[:, 2] - q[:, 0]))
        spread = float(q[:, 1].max() - q[:, 1].min()) / width if width > 0 else np.inf
        prior_width = float(np.diff(on_prior_scale(np.array([prior.low, prior.high]), prior))[0])
        p05, p50, p95 = weighted_quantiles(
            everything[key].to_numpy(float), everything["weight"].to_numpy(float), (0.05, 0.5, 0.95)
        )
        rows.append(
            {
                "parameter": key,
                "scale": "log" if prior.dist is Dist.loguniform else "linear",
                "median": p50,
                "q05": p05,
                "q95": p95,
                "median_spread": spread,
                "agree": spread <= tolerance,
                "width_of_prior": width / prior_width,
                "identified": width / prior_width <= unidentified,
            }
        )
    return pd.DataFrame(rows)


def drift(generations: list[pd.DataFrame], priors: dict[str, Uncertainty]) -> pd.DataFrame:
    """How far the posterior still moves from one generation of a calibration to the next.

    A falling epsilon says the generations fit the targets ever more closely, not that the posterior
    has settled: while its 90% widths keep shrinking, the last generation is still wider than the
    posterior that a smaller epsilon would give.

    Args:
        generations: Each generation's weighted particles, oldest first
            (:func:`sim.analysis.calibration.generations`).
        priors: The parameters to follow and their priors (for their scales).

    Returns:
        One row per generation after the first and parameter: ``generation`` (numbered from 1, as
        ``scamsim calibrate`` reports them), ``parameter``, ``median_shift`` (the change of the median as
        a share of the two generations' mean 90% width) and ``width_ratio`` (this generation's 90%
        width over the previous one's), both on the prior's scale.
    """
    rows = []
    for number in range(2, len(generations) + 1):
        before, after = generations[number - 2], generations[number - 1]
        for key, prior in priors.items():
            (lo0, mid0, hi0), (lo1, mid1, hi1) = _quantiles(before, key, prior), _quantiles(after, key, prior)
            width = (hi0 - lo0 + hi1 - lo1) / 2
            rows.append(
                {
                    "generation": number,
                    "parameter": key,
                    "median_shift": abs(mid1 - mid0) / width if width > 0 else np.inf,
                    "width_ratio": (hi1 - lo1) / (hi0 - lo0) if hi0 > lo0 else np.inf,
                }
            )
    return pd.DataFrame(rows, columns=["generation", "parameter", "median_shift", "width_ratio"])


def correlations(posteriors: dict[str, pd.DataFrame], priors: dict[str, Uncertainty]) -> pd.DataFrame:
    """The weighted posterior correlation matrix of the pooled runs, on the priors' scales.

    A parameter the targets do not identify alone often shows a strong correlation with another: the
    targets pin a combination of the two.
    """
    everything = pooled(posteriors)
    values = np.column_stack([on_prior_scale(everything[k].to_numpy(float), p) for k, p in priors.items()])
    matrix = np.cov(values, rowvar=False, aweights=everything["weight"].to_numpy(float))
    sd = np.sqrt(np.diag(matrix))
    return pd.DataFrame(matrix / np.outer(sd, sd), index=list(priors), columns=list(priors))


def _flat(config: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """A nested configuration as dotted keys (``calibration.max_minutes``), down to its leaves."""
    out: dict[str, Any] = {}
    for key, value in config.items():
        if isinstance(value, dict) and value:
            out |= _flat(value, f"{prefix}{key}.")
        else:
            out[f"{prefix}{key}"] = value
    return out


def _prior(entry: dict[str, Any]) -> Uncertainty:
    return Uncertainty(Dist(entry["dist"]), entry["low"], entry["high"], entry["source"])


def load(paths: list[Path], key: str = "runs") -> Runs:
    """Read calibration results directories that differ only in their seed.

    Args:
        paths: ``results/calibration/<name>`` directories written by ``scamsim calibrate``.
        key: The command-line key that named them (for error messages).

    Raises:
        ConfigError: One line, if fewer than :data:`MIN_RUNS` are given, one is not a calibration,
            two share a seed, or two differ in more than their seed.
    """
    if len(paths) < MIN_RUNS:
        raise ConfigError(
            f"{key}={','.join(map(str, paths))}: {len(paths)} calibration(s); need at least {MIN_RUNS}"
        )
    runs = Runs({}, {}, {})
    seeds: dict[int, Path] = {}
    first: dict[str, Any] = {}
    for path in paths:
        metadata = _metadata(path, key)
        try:
            particles = pd.read_parquet(path / "posterior.parquet")
        except (OSError, ValueError):
            raise ConfigError(f"{key}: {path} is not a calibration results directory") from None
        seed = metadata["config"]["seed"]
        if seed in seeds:
            raise ConfigError(
                f"{key}: {seeds[seed]} and {path} have the same seed={seed}; need different seeds"
            )
        seeds[seed] = path
        config = {k: v for k, v in _flat(metadata["config"]).items() if k not in UNCOMPARED}
        first = first or config
        differ = sorted(k for k in first.keys() | config.keys() if first.get(k) != config.get(k))
        if differ:
            raise ConfigError(f"{key}: {path} differs from {paths[0]} in {differ[0]}, not only in its seed")
        name = path.name if path.name not in runs.posteriors else str(path)
        runs.posteriors[name] = particles
        runs.metadata[name] = metadata
        runs.priors = {k: _prior(v) for k, v in metadata["priors"].items()}
    return runs


def priors_of(path: Path, key: str = "history") -> dict[str, Uncertainty]:
    """The free parameters' priors that a calibration results directory records.

    Raises:
        ConfigError: One line, if ``path`` is not a calibration results directory with its priors.
    """
    return {k: _prior(v) for k, v in _metadata(path, key)["priors"].items()}


def _metadata(path: Path, key: str) -> dict[str, Any]:
    """A calibration results directory's ``metadata.json``, which must record the priors."""
    try:
        metadata = json.loads((path / "metadata.json").read_text())
    except (OSError, ValueError):
        raise ConfigError(f"{key}: {path} is not a calibration results directory") from None
    if "priors" not in metadata:
        raise ConfigError(
            f"{key}: {path} records no priors (written before they were recorded); re-run its calibration"
        )
    return metadata
