"""Simulation-based calibration (SBC; Talts et al. 2018): does the posterior cover the truth as claimed?

The check: draw a parameter set ("truth") from the prior of the free parameters (``calibration.free``,
ranges in ``configs/uncertainties/``), simulate the fit targets' statistics at that truth, calibrate
against those synthetic observations exactly as ``scamsim calibrate`` does (at a small budget), and
see where the truth falls in its posterior. If the calibration returns the true posterior, the truth
is a draw from it, so over many truths

* the **rank** of the truth among ``posterior_draws`` posterior draws (how many draws are below it,
  0 to ``posterior_draws``) is uniform: a U-shaped rank histogram means posteriors too narrow
  (overconfident), a hump too wide, a slope a bias;
* the central 50% and 90% posterior intervals contain the truth in 50% and 90% of the truths
  (**coverage**, reported with the binomial standard error it would have if the intervals were
  exact, ``sqrt(level (1 - level) / truths)``).

ABC returns an approximation (a finite epsilon, few particles): SBC measures how far that
approximation, applied to this model and this target set, is from the posterior it stands for.

**Synthetic observations.** Each fit target of the registry becomes a target of the same kind whose
observation is the truth's simulated statistic ``x`` (the same statistics a particle gets: the mean of
``seeds_per_particle`` replicates, :func:`sim.analysis.calibration.statistics`), with no noise added:
ABC with a small epsilon conditions on the statistics themselves, and the truth's own replicates
already carry the model's noise. The rest of each target (weight, ``sd_log``, ``n``, the width of a
range) is the registry's, so the synthetic fit is as informative as the real one:

* ``lognormal``: ``observed = x``; ``at_least``: ``low = x`` (on a log scale a zero counts as
  :data:`~sim.analysis.observations.FLOOR`, as it does for the simulations);
* ``interval``: the published range moved to centre on ``x``: the same width, or, for a ``log``
  range, the same ratio ``high / low`` around ``x``;
* ``binomial`` and ``binomial_at_least``: ``observed = round(x n)`` of the registry's ``n``;
  ``binomial_between``: a range of the published width (a vague reading stays as vague) placed around
  ``round(x n)`` within ``[0, n]``;
* a statistic undefined at the truth (a share of no compounds once the industry died out, NaN) drops
  its target from that truth's fit: the target cannot say "undefined", and the counts it would divide
  by are themselves fitted (AM1's compounds, AM7's shut of them, SC1's people held), which say much
  the same.

**Seeds and resume.** Truth ``i`` draws everything from ``SeedSequence(seed, spawn_key=(SBC_STREAM,
i))``: its values, then the seeds of its synthetic data, its calibration and its posterior draws; so
truth ``i`` is the same whatever the number of truths, and more truths extend a report. Each truth's
result is saved as soon as it is complete (``truth-0007.json`` in the work folder, written
atomically, with the hash of the settings it answers); a re-run skips every truth saved with the
same hash, so an interrupted report loses only the truth in flight.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from omegaconf import OmegaConf
from scipy import stats

from sim.analysis import calibration
from sim.analysis.calibration import CalibrateConfig, Posterior
from sim.analysis.observations import FLOOR, Kind, Target, Use
from sim.analysis.uncertainties import Dist, Uncertainty
from sim.model.schemas import ConfigError, ModelParams
from sim.model.validation import with_values
from sim.runs import posterior, provenance
from sim.runs.results import atomic_write

if TYPE_CHECKING:
    from sim.analysis.sampling import Sampling

SBC_STREAM = 0x5BC  # first spawn key of the truths' seed sequences: apart from every model stream
LEVELS = {50: (0.25, 0.75), 90: (0.05, 0.95)}  # central posterior intervals and their quantiles
QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
# Settings that do not change what a truth's result means: left out of the hash that resume compares.
NOT_HASHED = ("truths",)  # of sbc.*
CALIBRATION_NOT_HASHED = ("predictive_draws", "n_procs", "dask_scheduler", "publish")


@dataclass
class SbcSettings:
    """How to check the calibration by simulation (``configs/sbc.yaml``)."""

    truths: int = 20  # synthetic truths drawn from the prior
    posterior_draws: int = 39  # posterior draws each truth is ranked among: ranks 0..39
    bins: int = 5  # rank histogram bins; must divide posterior_draws + 1 (equal bins)


@dataclass
class SbcConfig(CalibrateConfig):
    """Configuration of ``scamsim sbc``: a calibration (as ``scamsim calibrate``) plus the SBC settings."""

    sbc: SbcSettings = field(default_factory=SbcSettings)


def check(config: SbcConfig, params: ModelParams) -> None:
    """Validate the calibration (:func:`sim.analysis.calibration.check`) and the SBC settings.

    Raises:
        ConfigError: One line naming the key, its value and what is allowed.
    """
    calibration.check(config, params)
    settings = config.sbc
    for name, value in (("truths", settings.truths), ("posterior_draws", settings.posterior_draws)):
        if value < 1:
            raise ConfigError(f"sbc.{name}={value} is outside the allowed range [1, inf)")
    ranks = settings.posterior_draws + 1
    if not 1 <= settings.bins <= ranks or ranks % settings.bins:
        divisors = [d for d in range(1, ranks + 1) if ranks % d == 0]
        raise ConfigError(
            f"sbc.bins={settings.bins} does not divide the {ranks} possible ranks (posterior_draws + 1) "
            f"into equal bins; allowed: {', '.join(map(str, divisors))}"
        )


def settings_hash(config: SbcConfig) -> str:
    """Hash of everything that determines a truth's result (not the number of truths, nor processes)."""
    plain = OmegaConf.to_container(OmegaConf.structured(config), resolve=True)
    for key in NOT_HASHED:
        plain["sbc"].pop(key)
    for key in CALIBRATION_NOT_HASHED:
        plain["calibration"].pop(key)
    return provenance.config_hash(plain)


# ---------------------------------------------------------------------------------------- truths
@dataclass(frozen=True)
class Truth:
    """One synthetic truth: parameter values drawn from the prior and the seeds of its check."""

    index: int
    values: dict[str, float]
    data_seed: int  # the synthetic observations' replicates
    calibration_seed: int  # the calibration's (pyabc's proposals, the particles' replicates)
    draws_seed: int  # the posterior draws the truth is ranked among


def draw(priors: dict[str, Uncertainty], rng: np.random.Generator) -> dict[str, float]:
    """One draw from the priors: uniform, or uniform in the logarithm for a log-uniform prior."""
    out = {}
    for key, p in priors.items():
        if p.dist is Dist.loguniform:
            out[key] = float(math.exp(rng.uniform(math.log(p.low), math.log(p.high))))
        else:
            out[key] = float(rng.uniform(p.low, p.high))
    return out


def truth(priors: dict[str, Uncertainty], seed: int, index: int) -> Truth:
    """Truth ``index`` of a report with base seed ``seed`` (the same whatever the number of truths)."""
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(SBC_STREAM, index)))
    values = draw(priors, rng)
    data, fit, draws = (int(s) for s in rng.integers(0, 2**63 - 1, size=3))
    return Truth(index, values, data, fit, draws)


def observe(target: Target, stats_: dict[str, float]) -> Target | None:
    """``target`` with its observation replaced by the simulated statistics (module docstring).

    Returns:
        The synthetic target, or None if its statistic is undefined (NaN) in ``stats_``.
    """
    x = target.simulated(stats_)
    if not math.isfinite(x):
        return None
    kind = target.kind
    if kind is Kind.lognormal:
        return replace(target, observed=max(x, FLOOR))
    if kind is Kind.at_least:
        return replace(target, low=max(x, FLOOR))
    if kind is Kind.interval:
        if target.log:
            ratio = math.sqrt(target.high / target.low)
            centre = max(x, FLOOR)
            return replace(target, low=centre / ratio, high=centre * ratio)
        half = (target.high - target.low) / 2
        return replace(target, low=x - half, high=x + half)
    k = round(x * target.n)
    if kind is Kind.binomial_between:
        width = target.high - target.low
        low = min(max(k - width // 2, 0), target.n - width)
        return replace(target, low=low, high=low + width)
    return replace(target, observed=k)  # binomial, binomial_at_least


def synthetic_targets(registry: dict[str, Target], stats_: dict[str, float]) -> dict[str, Target]:
    """The fit targets of ``registry`` observed at ``stats_`` (validate targets are never fitted)."""
    out = {}
    for name, target in registry.items():
        if target.use is Use.fit and (synthetic := observe(target, stats_)) is not None:
            out[name] = synthetic
    return out


# ---------------------------------------------------------------------------------- arithmetic
def rank(value: float, draws: np.ndarray) -> int:
    """The rank statistic: how many of ``draws`` are below ``value`` (0 to ``len(draws)``)."""
    return int(np.sum(np.asarray(draws, dtype=float) < value))


def truth_rows(
    truth_values: dict[str, float], fitted: Posterior, posterior_draws: int, seed: int
) -> list[dict[str, Any]]:
    """One row per parameter: the truth, its rank among posterior draws and the posterior quantiles.

    The rank is among ``posterior_draws`` draws from the weighted particles (resampled with ``seed``);
    the quantiles are the weighted particles' (:func:`sim.runs.posterior.weighted_quantiles`), and
    ``inside50`` / ``inside90`` say whether the truth lies in the central 50% / 90% interval.
    """
    draws = fitted.resample(posterior_draws, seed)
    weights = fitted.particles["weight"].to_numpy(float)
    rows = []
    for key, value in truth_values.items():
        q = posterior.weighted_quantiles(fitted.particles[key].to_numpy(float), weights, QUANTILES)
        quantiles = dict(zip(QUANTILES, (float(v) for v in q), strict=True))
        rows.append(
            {
                "parameter": key,
                "truth": value,
                "rank": rank(value, draws[key].to_numpy()),
                **{f"q{round(p * 100):02d}": v for p, v in quantiles.items()},
                **{
                    f"inside{level}": bool(quantiles[lo] <= value <= quantiles[hi])
                    for level, (lo, hi) in LEVELS.items()
                },
            }
        )
    return rows


def rank_histogram(ranks: np.ndarray, posterior_draws: int, bins: int) -> np.ndarray:
    """Counts of ``ranks`` (0 to ``posterior_draws``) in ``bins`` equal bins of consecutive ranks."""
    ranks = np.asarray(ranks, dtype=int)
    return np.bincount(ranks * bins // (posterior_draws + 1), minlength=bins)


def _width(low: np.ndarray, high: np.ndarray, prior: Uncertainty) -> np.ndarray:
    """Interval widths on the prior's own scale (of the logarithm for a log-uniform prior)."""
    return np.log(high / low) if prior.dist is Dist.loguniform else high - low


def summary(
    rows: pd.DataFrame, priors: dict[str, Uncertainty], posterior_draws: int, bins: int
) -> pd.DataFrame:
    """Per parameter: coverage of the 50% and 90% intervals with standard errors, ranks, contraction.

    Columns: ``truths``; ``coverage50`` and ``coverage90`` (fraction of truths inside the central
    interval) with ``se50`` and ``se90``, the binomial standard error at the nominal level
    (``sqrt(level (1 - level) / truths)``: how far chance alone moves an exact posterior's coverage);
    ``rank_p``, the chi-square p-value of the rank histogram against uniform (approximate with few
    truths per bin); ``width90``, the mean ratio of the posterior's central 90% width to the prior's
    (on the prior's scale): near 1 the targets say little about the parameter.

    Args:
        rows: :func:`truth_rows` of every truth (with a ``truth_index`` column).
        priors: The free parameters' priors, in report order.
        posterior_draws: The number of draws each truth is ranked among.
        bins: Rank histogram bins.
    """
    out = []
    for key, prior in priors.items():
        mine = rows[rows["parameter"] == key]
        n = len(mine)
        # The prior is flat on its own scale, so its central 90% is 0.9 of the full width there.
        prior_width = 0.9 * _width(np.array(prior.low), np.array(prior.high), prior)
        counts = rank_histogram(mine["rank"].to_numpy(), posterior_draws, bins)
        row = {"parameter": key, "truths": n}
        for level in LEVELS:
            nominal = level / 100
            row[f"coverage{level}"] = float(mine[f"inside{level}"].mean())
            row[f"se{level}"] = math.sqrt(nominal * (1 - nominal) / n)
        row["rank_p"] = float(stats.chisquare(counts).pvalue) if bins > 1 else 1.0
        widths = _width(mine["q05"].to_numpy(float), mine["q95"].to_numpy(float), prior)
        row["width90"] = float(np.mean(widths) / prior_width)
        out.append(row)
    return pd.DataFrame(out)


def coverage_by_fit(
    rows: pd.DataFrame, diagnostics: pd.DataFrame, permutations: int = 10_000, seed: int = 0
) -> pd.DataFrame:
    """Coverage of the truths whose calibration came closer to its targets, against the others'.

    A small calibration per truth is ended by its cap on generations, not by converging, so some truths
    end far from their synthetic targets (a large final epsilon). If the posteriors are too narrow
    because those fits stopped early, the truths with the closer fits are covered nearer the nominal
    rate. The truths are split at the median of their last generation's epsilon (``closer``: at or
    below it).

    Args:
        rows: :func:`truth_rows` of every truth (with ``truth_index``).
        diagnostics: The calibrations' diagnostics (``truth_index``, ``generation``, ``epsilon``,
            ``ess``), one row per generation.
        permutations: Random relabellings of the truths for the p-value.
        seed: Seed of the relabellings.

    Returns:
        One row per half (``fit``: ``closer``, ``further``): ``truths``, the final epsilons' range
        (``epsilon_min``, ``epsilon_max``), the median final ``ess``, ``coverage50`` and ``coverage90``
        over every parameter of those truths, and ``p90``: the one-sided permutation p-value of the
        closer half's 90% coverage exceeding the other's by as much by chance (truths relabelled,
        their parameters kept together, since one truth's intervals are not independent). If every
        fit ended at the same epsilon, ``further`` is empty and its figures and ``p90`` are NaN.
    """
    last = diagnostics.sort_values("generation").groupby("truth_index").tail(1).set_index("truth_index")
    inside = rows.groupby("truth_index")[["inside50", "inside90"]]
    hits, counts = inside.sum().astype(float), inside.count()["inside90"].to_numpy(float)
    last = last.loc[hits.index]
    closer = (last["epsilon"] <= last["epsilon"].median()).to_numpy()

    def coverage(level: int, masks: np.ndarray) -> np.ndarray:
        """Pooled coverage of the truths each mask (the last axis: truths) selects."""
        return (masks @ hits[f"inside{level}"].to_numpy()) / (masks @ counts)

    p90 = math.nan  # no split when every fit ended at the same epsilon
    if 0 < closer.sum() < len(closer):
        rng = np.random.default_rng(seed)
        shuffled = np.array([rng.permutation(closer) for _ in range(permutations)])
        differences = coverage(90, shuffled) - coverage(90, ~shuffled)
        observed = coverage(90, closer) - coverage(90, ~closer)
        p90 = (np.sum(differences >= observed - 1e-12) + 1) / (permutations + 1)
    out = []
    for name, mask in (("closer", closer), ("further", ~closer)):
        eps, ess = last["epsilon"].to_numpy()[mask], last["ess"].to_numpy()[mask]
        half = {"fit": name, "truths": int(mask.sum()), "p90": float(p90)}
        if mask.any():
            half |= {
                "epsilon_min": float(eps.min()),
                "epsilon_max": float(eps.max()),
                "ess": float(np.median(ess)),
                "coverage50": float(coverage(50, mask)),
                "coverage90": float(coverage(90, mask)),
            }
        out.append(half)
    columns = ["fit", "truths", "epsilon_min", "epsilon_max", "ess", "coverage50", "coverage90", "p90"]
    return pd.DataFrame(out, columns=columns)  # an empty half's figures are NaN


# ------------------------------------------------------------------------------------- running
@dataclass
class TruthResult:
    """What one truth's check leaves (saved as ``truth-<index>.json``)."""

    settings_hash: str
    index: int
    values: dict[str, float]
    seeds: dict[str, int]
    targets: dict[str, dict[str, Any]]  # the synthetic targets (observed, low, high, n per target)
    rows: list[dict[str, Any]]  # :func:`truth_rows`
    diagnostics: list[dict[str, float]]  # the calibration's, one per generation
    seconds: float

    def to_json(self) -> str:
        """As JSON (the saved form)."""
        return json.dumps(asdict(self), indent=1, sort_keys=True) + "\n"


def truth_file(work_dir: Path, index: int) -> Path:
    """Where truth ``index``'s result is saved."""
    return work_dir / f"truth-{index:04d}.json"


def load_truth(path: Path, settings_hash: str) -> TruthResult | None:
    """The saved result at ``path`` if it answers the settings ``settings_hash``, else None."""
    try:
        data = json.loads(path.read_text())
        saved = TruthResult(**data)
    except (OSError, ValueError, TypeError):
        return None  # missing, cut short or foreign: computed again
    return saved if saved.settings_hash == settings_hash else None


def check_truth(
    config: SbcConfig,
    params: ModelParams,
    the_truth: Truth,
    on_generation: Callable[[dict[str, float]], None] | None = None,
    on_sampling: Callable[[Sampling], None] | None = None,
) -> TruthResult:
    """Simulate one truth's synthetic observations, calibrate against them, rank the truth.

    Args:
        config: The SBC configuration (its registry's fit targets are observed anew).
        params: The model as calibrated (``calibration.model_overrides`` applied).
        the_truth: The truth (:func:`truth`).
        on_generation: As for :func:`sim.analysis.calibration.calibrate`.
        on_sampling: As for :func:`sim.analysis.calibration.calibrate`.
    """
    started = time.perf_counter()
    settings = config.calibration
    at_truth = with_values(params, the_truth.values)
    observed = calibration.statistics(at_truth, the_truth.data_seed, settings.seeds_per_particle)
    targets = synthetic_targets(settings.targets, observed)
    fit_config = replace(
        config, seed=the_truth.calibration_seed, calibration=replace(settings, targets=targets)
    )
    fitted = calibration.calibrate(fit_config, params, on_generation, on_sampling)
    return TruthResult(
        settings_hash=settings_hash(config),
        index=the_truth.index,
        values=the_truth.values,
        seeds={
            "data": the_truth.data_seed,
            "calibration": the_truth.calibration_seed,
            "draws": the_truth.draws_seed,
        },
        targets={
            name: {"kind": t.kind.value, "observed": t.observed, "low": t.low, "high": t.high, "n": t.n}
            for name, t in targets.items()
        },
        rows=truth_rows(the_truth.values, fitted, config.sbc.posterior_draws, the_truth.draws_seed),
        diagnostics=fitted.diagnostics.to_dict(orient="records"),
        seconds=time.perf_counter() - started,
    )


def run(
    config: SbcConfig,
    params: ModelParams,
    work_dir: Path,
    on_truth: Callable[[TruthResult, bool], None] | None = None,
    on_generation: Callable[[dict[str, float]], None] | None = None,
    on_sampling: Callable[[Sampling], None] | None = None,
) -> list[TruthResult]:
    """Check every truth, skipping those already saved in ``work_dir`` with the same settings.

    Each truth's result is saved (atomically) as soon as it is complete, so a killed run loses only
    the truth in flight.

    Args:
        config: The SBC configuration (checked: :func:`check`).
        params: The model as calibrated (``calibration.model_overrides`` applied).
        work_dir: Where each truth's result is saved (made if missing).
        on_truth: Called after each truth with its result and whether it was saved before (skipped).
        on_generation: Passed to each truth's calibration.
        on_sampling: Passed to each truth's calibration.

    Returns:
        The results of truths 0 to ``sbc.truths - 1``.
    """
    key = settings_hash(config)
    priors = calibration.priors(config)
    results = []
    for index in range(config.sbc.truths):
        path = truth_file(work_dir, index)
        result = load_truth(path, key)
        saved = result is not None
        if result is None:
            result = check_truth(
                config, params, truth(priors, config.seed, index), on_generation, on_sampling
            )
            atomic_write(path, lambda tmp, r=result: tmp.write_text(r.to_json()))
        results.append(result)
        if on_truth:
            on_truth(result, saved)
    return results


def rows_of(results: list[TruthResult]) -> pd.DataFrame:
    """Every truth's rows as one table (``truth_index`` first)."""
    return pd.DataFrame([{"truth_index": r.index, **row} for r in results for row in r.rows])
