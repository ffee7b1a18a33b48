"""Calibration targets: the published figures, how each is compared with the model, and its weight.

The registry lives in ``configs/calibration_targets/registry.yaml``; each entry names its source id
(docs/SOURCES.md), the exact definition, the observation window, the model statistic (a metric of
:mod:`sim.runs.metrics`), the observed value with its denominator or range, how it enters the fit (its
``kind``), a weight from its grade, and whether it is used to **fit** or only to **validate**
(calibration never reads validate targets).

Each kind turns a simulated statistic into a non-negative discrepancy, zero at a perfect match and
about 1 at "one standard error off", so that weighted discrepancies add up into the ABC distance:

* ``interval``: inside [low, high] costs nothing; outside, the squared distance to the nearest bound in
  units of the interval width (on a log scale if ``log``) — for ranges such as AM1 or SC2;
* ``lognormal``: ``((log sim - log observed) / sd_log) ** 2`` — for a point figure with a relative
  uncertainty, such as SC1 or TG1;
* ``at_least``: a one-sided bound (AM11's "growing", SC3's "more than 250"): nothing at or above
  ``low``; below it ``((log low - log sim) / sd_log) ** 2``, as ``lognormal`` on the short side only;
* ``binomial_at_least``: "at least k of n" (AM7): ``-log P(K >= k)`` for ``K ~ Binomial(n, p)``, with
  ``p`` the simulated share; censored, so any share that makes k likely costs almost nothing;
* ``binomial``: "k of n" (AM7 closures, AM13): the log-likelihood ratio of ``Binomial(n, p)`` at k
  against the best possible p = k / n;
* ``binomial_between``: "between low and high of n" (AM7's "more than two-thirds", read as 36-39 of
  the 51 not shut): ``log max_q P(low <= K <= high) - log P(low <= K <= high | p)`` for
  ``K ~ Binomial(n, p)``, the maximum taken on a grid of q in steps of 1e-4; about 1 at one standard
  error from the best share.

Shares are ratios of means: with a ``denominator``, the statistic and the denominator are averaged over
a particle's replicates before they are divided (:meth:`Target.simulated` is given the averages).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from enum import Enum

import numpy as np
from scipy import stats

from sim.model.schemas import ConfigError


class Kind(Enum):
    """How a target enters the fit."""

    interval = "interval"
    lognormal = "lognormal"
    at_least = "at_least"
    binomial_at_least = "binomial_at_least"
    binomial = "binomial"
    binomial_between = "binomial_between"


class Use(Enum):
    """Whether calibration reads the target."""

    fit = "fit"
    validate = "validate"


# The smallest value compared on a log scale: a zero statistic counts as this (log 0 is undefined).
FLOOR = 1e-12

# Weights by grade of evidence (docs/SOURCES.md): W-grade figures weigh little.
GRADE_WEIGHT = {"V": 1.0, "S": 0.5, "W": 0.2}


@dataclass
class Target:
    """One calibration target (a Hydra structured-config schema; see the module docstring)."""

    id: str = "?"
    definition: str = ""
    window: list[str] = field(default_factory=list)
    statistic: str = ""
    denominator: str | None = None  # statistic giving n for binomial kinds (the observed n is `n`)
    kind: Kind = Kind.interval
    observed: float = 0.0
    low: float | None = None
    high: float | None = None
    n: int | None = None
    sd_log: float | None = None
    log: bool = False
    grade: str = "V"
    use: Use = Use.fit

    @property
    def weight(self) -> float:
        """Weight of the target in the ABC distance, from its grade."""
        return GRADE_WEIGHT[self.grade]

    def check(self, name: str) -> None:
        """Raise a one-line ConfigError if the target is incompletely specified."""
        need = {
            Kind.interval: ("low", "high"),
            Kind.lognormal: ("sd_log",),
            Kind.at_least: ("low", "sd_log"),
            Kind.binomial_at_least: ("n",),
            Kind.binomial: ("n",),
            Kind.binomial_between: ("n", "low", "high"),
        }[self.kind]
        for key in need:
            if getattr(self, key) is None:
                raise ConfigError(f"calibration.targets.{name}.{key} is required for kind {self.kind.value}")
        if self.grade not in GRADE_WEIGHT:
            raise ConfigError(
                f"calibration.targets.{name}.grade={self.grade!r}; allowed: {sorted(GRADE_WEIGHT)}"
            )

    def simulated(self, stats_: dict[str, float]) -> float:
        """The model's value of this target's statistic (a share for binomial kinds)."""
        value = float(stats_[self.statistic])
        if self.denominator is not None:
            n = float(stats_[self.denominator])
            value = value / n if n > 0 else math.nan
        return value

    def discrepancy(self, stats_: dict[str, float]) -> float:
        """Non-negative discrepancy between model statistics and this target (see module docstring)."""
        sim = self.simulated(stats_)
        if not math.isfinite(sim):
            return 100.0  # e.g. no compound in the window: as bad as 10 standard errors
        if self.kind is Kind.interval:
            lo, hi, x = self.low, self.high, sim
            if self.log:
                lo, hi, x = math.log(lo), math.log(hi), math.log(max(sim, FLOOR))
            outside = max(lo - x, 0.0, x - hi)
            return (outside / (hi - lo)) ** 2
        if self.kind is Kind.lognormal:
            return ((math.log(max(sim, FLOOR)) - math.log(self.observed)) / self.sd_log) ** 2
        if self.kind is Kind.at_least:
            return (max(math.log(self.low) - math.log(max(sim, FLOOR)), 0.0) / self.sd_log) ** 2
        p = min(max(sim, 1e-6), 1 - 1e-6)
        if self.kind is Kind.binomial_between:
            return _between_best(self.n, self.low, self.high) - _log_between(self.n, self.low, self.high, p)
        if self.kind is Kind.binomial_at_least:
            return float(-stats.binom.logsf(self.observed - 1, self.n, p))
        k, n = self.observed, self.n
        best = min(max(k / n, 1e-6), 1 - 1e-6)
        return float(stats.binom.logpmf(k, n, best) - stats.binom.logpmf(k, n, p))


def _log_between(n: int, low: float, high: float, p: float | np.ndarray) -> float | np.ndarray:
    """``log P(low <= K <= high)`` for ``K ~ Binomial(n, p)``."""
    return np.log(np.maximum(stats.binom.cdf(high, n, p) - stats.binom.cdf(low - 1, n, p), 1e-300))


@functools.cache
def _between_best(n: int, low: float, high: float) -> float:
    """``max_q log P(low <= K <= high | q)`` on a grid of q in steps of 1e-4."""
    return float(_log_between(n, low, high, np.linspace(1e-4, 1 - 1e-4, 9999)).max())


def discrepancies(targets: dict[str, Target], stats_: dict[str, float]) -> dict[str, float]:
    """Each fit target's weighted discrepancy: what it adds to the ABC distance (:func:`distance`)."""
    return {name: t.weight * t.discrepancy(stats_) for name, t in targets.items() if t.use is Use.fit}


def distance(targets: dict[str, Target], stats_: dict[str, float]) -> float:
    """Weighted sum of the fit targets' discrepancies (the ABC distance)."""
    return float(sum(discrepancies(targets, stats_).values()))


def coverage(target: Target, draws: np.ndarray) -> dict[str, float | bool]:
    """Posterior predictive 90% interval of a target's statistic and whether it meets the published value.

    For interval targets "meets" means the intervals overlap, for a one-sided bound that the 90%
    interval reaches it; for point and binomial targets it means the 90% interval contains the
    observed value (as a share for binomial kinds). A statistic
    undefined in every draw (judged over a window the runs do not cover) has no interval and does not
    meet it.
    """
    values = np.asarray(draws, dtype=float)
    values = values[np.isfinite(values)]
    if not len(values):
        return {"q05": np.nan, "median": np.nan, "q95": np.nan, "covered": False}
    q05, q50, q95 = (float(np.quantile(values, q)) for q in (0.05, 0.5, 0.95))
    if target.kind is Kind.interval:
        covered = q05 <= target.high and q95 >= target.low
    elif target.kind is Kind.binomial_at_least:
        covered = q95 >= target.observed / target.n
    elif target.kind is Kind.at_least:
        covered = q95 >= target.low
    elif target.kind is Kind.binomial_between:
        covered = q05 <= target.high / target.n and q95 >= target.low / target.n
    else:
        observed = target.observed / target.n if target.kind is Kind.binomial else target.observed
        covered = q05 <= observed <= q95
    return {"q05": q05, "median": q50, "q95": q95, "covered": bool(covered)}
