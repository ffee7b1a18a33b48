"""ABC-SMC calibration of the free parameters against the target registry (pyabc).

A particle is a set of values for the free parameters (``calibration.free``, drawn from their declared
ranges in ``configs/uncertainties/``). Its summary statistics
are the end-of-run metrics (:mod:`sim.runs.metrics`) of ``seeds_per_particle`` replicates, averaged.
The default is one: the published figures are one realisation of the world, and a simulated world
compared with it carries the same chance variation, which is what ABC's acceptance step needs to turn
the model's noise into posterior width. Averaging several replicates would compare the observation
with a smoothed statistic and so claim more precision than one observed world gives (and cost more).
The seeds of a particle are derived from its parameter values, so the same particle always gets the
same statistics. The distance is the weighted sum of the fit targets'
discrepancies (:mod:`sim.analysis.observations`); validate targets are never read here.

ABC-SMC itself is pyabc's (adaptive median epsilon, multivariate normal transitions), run one
generation at a time so that each generation is reported as it completes; the sampler is pyabc's
multicore sampler counting the particles it simulates (:mod:`sim.analysis.sampling`), or pyabc's Dask
sampler when ``dask_scheduler`` is set.

The run stops on convergence, not after a fixed number of generations (:func:`stop_rule`): once epsilon
no longer falls and the last generation's effective sample size is large enough; otherwise at the
generation cap or when the wall-clock budget is spent, either of which is reported as "not converged".
pyabc's History can be kept on disk (``history_dir``), one database per run identity
(:func:`history_key`): calling again with the same identity continues from the last complete
generation instead of starting over, and the sampler keeps each accepted particle of the generation in
flight beside it (``abc-<key>.kept/``), so that an interrupted run loses only the simulations in
flight.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import logging
import math
import shutil
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from sim.analysis import observations, uncertainties
from sim.analysis.observations import Target, Use
from sim.analysis.uncertainties import Dist, StudyConfig, Uncertainty
from sim.model.schemas import ConfigError, ModelParams
from sim.model.streams import replicate_seeds
from sim.model.validation import with_values
from sim.runs import metrics, posterior, provenance
from sim.runs.results import atomic_write, write_json
from sim.runs.runner import parallel_map, run_replicate

if TYPE_CHECKING:
    from sim.analysis.sampling import Sampling
    from sim.model.model import ScamModel


@dataclass
class CalibrationSettings:
    """How to calibrate (see ``configs/calibration/default.yaml``)."""

    population_size: int = 500
    generations: int = 30  # a cap: the run stops earlier on convergence (stop_rule)
    seeds_per_particle: int = 1
    min_epsilon: float = 0.5
    epsilon_drop: float = 0.05  # converged once epsilon fell less than this over two generations ...
    min_ess: float = 250.0  # ... and the last generation's effective sample size is at least this
    max_minutes: float = 60.0  # wall-clock budget of one call; a re-run continues from the history
    predictive_draws: int = 40
    n_procs: int = 2
    early_rejection: bool = True  # stop a run once its fit is out of reach (sim.analysis.early_rejection)
    dask_scheduler: str | None = None
    publish: str | None = None  # also save the posterior as configs/posterior_draws/<publish>.csv
    model_overrides: list[str] = field(default_factory=list)
    free: list[str] = field(default_factory=list)
    targets: dict[str, Target] = field(default_factory=dict)


@dataclass
class CalibrateConfig(StudyConfig):
    """Configuration of ``scamsim calibrate``: the model, its uncertainties and the calibration settings."""

    calibration: CalibrationSettings = field(default_factory=CalibrationSettings)


def priors(config: CalibrateConfig) -> dict[str, Uncertainty]:
    """The priors of the free parameters: their declared ranges (``configs/uncertainties/``).

    Raises:
        ConfigError: If a free parameter is not declared uncertain.
    """
    return uncertainties.select(config.uncertainties, config.calibration.free, "calibration.free")


def check(config: CalibrateConfig, params: ModelParams) -> None:
    """Validate the free parameters, their priors and the targets with one-line errors."""
    settings = config.calibration
    if not settings.free:
        raise ConfigError("calibration.free is empty: nothing to calibrate")
    uncertainties.check(priors(config), params)
    for name, target in settings.targets.items():
        target.check(name)
        if target.statistic not in metrics.METRICS:
            raise ConfigError(f"calibration.targets.{name}.statistic={target.statistic!r} is not a metric")
    if not any(t.use is Use.fit for t in settings.targets.values()):
        raise ConfigError("calibration.targets has no fit target")
    for name, value in (
        ("population_size", settings.population_size),
        ("generations", settings.generations),
        ("seeds_per_particle", settings.seeds_per_particle),
        ("predictive_draws", settings.predictive_draws),
        ("n_procs", settings.n_procs),
    ):
        if value < 1:
            raise ConfigError(f"calibration.{name}={value} is outside the allowed range [1, inf)")
    if not 0 <= settings.epsilon_drop < 1:
        raise ConfigError(
            f"calibration.epsilon_drop={settings.epsilon_drop} is outside the allowed range [0, 1)"
        )
    if not 1 <= settings.min_ess <= settings.population_size:  # above it, the run could never converge
        raise ConfigError(
            f"calibration.min_ess={settings.min_ess} is outside the allowed range "
            f"[1, population_size={settings.population_size}]"
        )
    if not settings.max_minutes > 0:
        raise ConfigError(
            f"calibration.max_minutes={settings.max_minutes} is outside the allowed range (0, inf)"
        )


def particle_seed(values: dict[str, float], base_seed: int) -> int:
    """A seed derived from a particle's values: the same particle always gets the same replicates."""
    blob = json.dumps({k: float(v) for k, v in sorted(values.items())} | {"seed": base_seed}).encode()
    return int.from_bytes(hashlib.sha256(blob).digest()[:8], "little")


def statistics(
    params: ModelParams, seed: int, n_seeds: int, abandon: Callable[[ScamModel], bool] | None = None
) -> dict[str, float] | None:
    """End-of-run metrics averaged over ``n_seeds`` replicates (NaN-aware).

    Args:
        params: The model.
        seed: Seed of the replicates (:func:`sim.model.streams.replicate_seeds`).
        n_seeds: How many replicates.
        abandon: Asked after each step of each replicate (:func:`sim.runs.runner.run_replicate`);
            True stops the simulation and returns None.
    """
    rows = []
    for i, s in enumerate(replicate_seeds(seed, n_seeds)):
        output = run_replicate(params, s, i, abandon)
        if output is None:
            return None
        rows.append(output.metrics)
    return {
        k: float(np.nanmean([r[k] for r in rows])) if any(np.isfinite(r[k]) for r in rows) else np.nan
        for k in rows[0]
    }


class Simulator:
    """The model as pyabc sees it: particle values in, summary statistics out (picklable)."""

    def __init__(self, params: ModelParams, base_seed: int, n_seeds: int):
        self.params = params
        self.base_seed = base_seed
        self.n_seeds = n_seeds

    def __call__(
        self, particle: dict[str, float], abandon: Callable[[ScamModel], bool] | None = None
    ) -> dict[str, float] | None:
        """Simulate one particle (None if ``abandon`` stopped it, see :func:`statistics`)."""
        values = dict(particle)
        params = with_values(self.params, values)
        return statistics(params, particle_seed(values, self.base_seed), self.n_seeds, abandon)


class Distance:
    """Weighted discrepancy of the fit targets (picklable)."""

    def __init__(self, registry: dict[str, Target]):
        self.fit = {k: t for k, t in registry.items() if t.use is Use.fit}

    def __call__(self, x: dict[str, float], x0: dict[str, float]) -> float:
        """ABC distance; ``x0`` (pyabc's observed data) is unused: the targets hold the observations."""
        return observations.distance(self.fit, x)


def pyabc_prior(priors: dict[str, Uncertainty]):
    """The priors as a pyabc Distribution (scipy.stats distributions)."""
    import pyabc

    rvs = {}
    for key, p in priors.items():
        if p.dist is Dist.uniform:
            rvs[key] = pyabc.RV("uniform", p.low, p.high - p.low)
        else:
            rvs[key] = pyabc.RV("loguniform", p.low, p.high)
    return pyabc.Distribution(**rvs)


@dataclass(frozen=True)
class Stop:
    """Why a calibration stopped.

    Attributes:
        reason: ``converged`` (epsilon no longer falling, or at ``min_epsilon``, with enough effective
            particles), ``cap`` (``generations`` reached) or ``budget`` (``max_minutes`` spent).
        converged: Whether the reason is ``converged``.
        message: One line for the terminal and the metadata.
    """

    reason: str
    converged: bool
    message: str


@dataclass
class Posterior:
    """Weighted posterior particles, the run's diagnostics and why it stopped."""

    particles: pd.DataFrame  # one column per parameter, plus "weight"
    diagnostics: pd.DataFrame  # one row per generation: epsilon, acceptance rate, ESS, simulations
    stop: Stop | None = None  # None for draws that did not come from calibrate (e.g. a saved posterior)

    def resample(self, n: int, seed: int) -> pd.DataFrame:
        """``n`` draws from the weighted particles (with replacement)."""
        idx = posterior.resample(self.particles["weight"].to_numpy(float), n, np.random.default_rng(seed))
        return self.particles.drop(columns="weight").iloc[idx].reset_index(drop=True)


def stop_rule(
    rows: list[dict[str, float]], settings: CalibrationSettings, elapsed: float | None
) -> Stop | None:
    """Whether to stop after the generations ``rows`` (diagnostics rows, oldest first), and why.

    Converged: epsilon fell by less than ``epsilon_drop`` (relative) over the last two generations, or
    is at most ``min_epsilon``, and the last generation has an effective sample size of at least
    ``min_ess``. Otherwise the run stops at ``generations`` generations, or when another generation
    would overrun ``max_minutes``: the next generation is assumed to take as long as the last one
    (an underestimate, as acceptance falls), so that the budget is spent on whole generations. A run
    whose epsilon reached ``min_epsilon`` with too few effective particles goes on: the next generation
    draws a fresh population from the last one at a lower threshold, which is how a degenerate
    weighting recovers (stopping there instead would leave the run no way to converge).

    Args:
        rows: Diagnostics of the generations so far (at least one).
        settings: The stopping settings.
        elapsed: Seconds spent in this call; None skips the budget (a resumed run always gets one
            generation, even if a single generation takes longer than the budget).

    Returns:
        Why to stop, or None to run another generation.
    """
    last = rows[-1]
    ess = f"ESS {last['ess']:.0f}"
    drop = 1 - last["epsilon"] / rows[-3]["epsilon"] if len(rows) >= 3 else None
    fell = f"epsilon fell {drop:.1%} over the last two generations" if drop is not None else ""
    reached = last["epsilon"] <= settings.min_epsilon
    if last["ess"] >= settings.min_ess and (reached or (drop is not None and drop < settings.epsilon_drop)):
        why = (
            f"epsilon {last['epsilon']:.3g} <= min_epsilon"
            if reached
            else f"{fell} (< {settings.epsilon_drop:.0%})"
        )
        return Stop(
            "converged",
            True,
            f"converged after {len(rows)} generations: {why}, {ess} >= {settings.min_ess:g}",
        )
    if reached:  # only the effective particles are missing: say so if the cap or budget stops the run
        state = f"epsilon {last['epsilon']:.3g} <= min_epsilon but {ess} < {settings.min_ess:g}"
    else:
        state = f"{fell}, {ess}" if fell else ess
    if len(rows) >= settings.generations:
        return Stop(
            "cap",
            False,
            f"not converged: stopped at the generation cap calibration.generations={settings.generations} "
            f"({state})",
        )
    budget = settings.max_minutes * 60
    if elapsed is not None and elapsed + last["seconds"] > budget:
        return Stop(
            "budget",
            False,
            f"not converged: another generation would overrun the budget calibration.max_minutes="
            f"{settings.max_minutes:g} after {len(rows)} generations ({state}); re-run the same command to "
            "continue from the history",
        )
    return None


# Settings that only say when to stop or what to do with the posterior: runs that differ in them
# alone share their generations, so a re-run with a higher cap or budget continues the same history.
NOT_IN_HISTORY_KEY = (
    "generations",
    "min_epsilon",
    "epsilon_drop",
    "min_ess",
    "max_minutes",
    "predictive_draws",
    "n_procs",
    "early_rejection",  # cuts short only runs that are rejected whatever follows: same generations
    "dask_scheduler",
    "publish",
)


def history_key(config: CalibrateConfig, model_params: ModelParams) -> str:
    """The identity of a calibration's pyabc History: a hash of everything its generations depend on.

    That is the model as calibrated (only its model parameters: ``model_params`` may be a whole
    configuration), the seed, the free parameters' priors, and the calibration settings except those
    of :data:`NOT_IN_HISTORY_KEY`.
    """
    model = ModelParams(**{f.name: getattr(model_params, f.name) for f in dataclasses.fields(ModelParams)})
    settings = dataclasses.asdict(config.calibration)
    record = {
        "model": dataclasses.asdict(model),
        "seed": config.seed,
        "priors": {k: dataclasses.asdict(p) for k, p in priors(config).items()},
        "calibration": {k: v for k, v in settings.items() if k not in NOT_IN_HISTORY_KEY},
    }
    return provenance.config_hash(record)


@contextlib.contextmanager
def _pyabc_quiet() -> Iterator[None]:
    """Keep pyabc's log to warnings, and drop numpy's false alarm about pyabc's proposal covariance.

    Our progress lines replace pyabc's per-generation INFO lines. numpy's ``multivariate_normal``
    checks the covariance it is given by rebuilding it from its SVD and comparing with an absolute
    tolerance of 1e-8. The free parameters' scales differ by 13 orders of magnitude (variances of
    ``recruitment.ad_reach`` about 1e9, of ``targets.groom_rate`` about 1e-4), so rounding alone
    (about 2e-7) breaks that tolerance in the small entries, and whole generations warned "covariance
    is not symmetric positive-semidefinite" once per proposal (thousands of lines). It was a false
    alarm: in all 11 generations of the calibration seed 1 the covariance was positive definite, the
    smallest eigenvalue of its correlation matrix 0.11-0.63. The warning is dropped for pyabc's
    transitions only (the sampler's forked processes inherit the filter).
    """
    log = logging.getLogger("ABC")
    level, propagate = log.level, log.propagate
    log.setLevel(logging.WARNING)
    log.propagate = False  # its own handler prints its warnings; the root's would print them twice
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings(
                "ignore",
                message="covariance is not symmetric positive-semidefinite",
                category=RuntimeWarning,
                module=r"pyabc\.transition\.",
            )
            yield
    finally:
        log.setLevel(level)
        log.propagate = propagate


def _generation(history, t: int) -> dict[str, float]:
    """Diagnostics of generation ``t``, read from pyabc's History."""
    populations = history.get_all_populations()
    population = populations[populations["t"] == t].iloc[0]
    _, weights = history.get_distribution(m=0, t=t)
    simulations = int(population["samples"])
    return {
        "generation": t,
        "epsilon": float(population["epsilon"]),
        "simulations": simulations,
        "acceptance_rate": len(weights) / max(simulations, 1),
        "ess": float(weights.sum() ** 2 / (weights**2).sum()),
        "seconds": float(population["wall_time"]),
    }


def history_dir(out_dir: Path) -> Path:
    """Where a calibration writing ``out_dir`` keeps pyabc's History: ``.<name>.history/`` beside it.

    Outside ``out_dir``, which is replaced only once the results are complete; kept after the run, so
    that re-running the same command after an interrupt (or with a higher cap or budget) continues from
    the last complete generation. Hidden, and left alone by :func:`sim.runs.dirs.clean_debris`.
    """
    return out_dir.parent / f".{out_dir.name}.history"


def history_of(results_dir: Path) -> Path:
    """The History a calibration's results directory was made from (in :func:`history_dir`).

    Raises:
        ConfigError: There is none, or several (of other configurations run under the same name), in
            one line naming them.
    """
    found = sorted(history_dir(results_dir).glob("abc-*.db"))
    if len(found) != 1:
        which = ", ".join(p.name for p in found) if found else "none"
        raise ConfigError(
            f"{results_dir}: one calibration history expected in {history_dir(results_dir)}, found {which}"
        )
    return found[0]


def generations(db_path: Path) -> list[pd.DataFrame]:
    """Every generation's weighted particles in a calibration's pyabc History, oldest first.

    Returns:
        One table per generation: a column per free parameter and ``weight`` (summing to 1).

    Raises:
        ConfigError: ``db_path`` is not a calibration's History (one line).
    """
    import pyabc

    try:
        run_id = _stored_run(db_path) if db_path.is_file() else None
    except Exception:  # sqlalchemy's errors for a file that is no database: any of several classes
        run_id = None
    if run_id is None:
        raise ConfigError(f"{db_path}: not a calibration history (pyabc's abc-<key>.db)")
    with _pyabc_quiet():
        history = pyabc.History(f"sqlite:///{db_path}", _id=run_id)
        out = []
        for t in range(history.max_t + 1):
            particles, weights = history.get_distribution(m=0, t=t)
            out.append(particles.reset_index(drop=True).assign(weight=weights / weights.sum()))
    return out


def _stored_run(db: Path) -> int | None:
    """The id of the ABC-SMC run stored in ``db``, if the file holds one (it holds at most one)."""
    import pyabc

    if not db.exists():
        return None
    runs = pyabc.History(f"sqlite:///{db}").all_runs()
    return runs[-1].id if runs else None  # none: killed while pyabc created it


# Particles of a History's last generation that other code must reproduce to continue it.
REPRODUCED = 3
# How far (relative) a reproduced statistic may be from the stored one. The money statistics are sums
# of float32 amounts whose rounding depends on the CPU's vector width: the same code and draws give
# losses that differ by about 4e-8 of their value between two machines (seen on seed 1's History).
# Any change to the model's rules or draws moves them by far more than this.
REPRODUCED_RTOL = 1e-6


def _bind_to_code(db_path: Path, begun: bool, difference: Callable[[], float]) -> None:
    """Record the code that begins a History; continue it only with code that computes the same.

    The History's key covers the configuration, not the code, and a posterior whose generations came
    from two versions of the model would show nothing of it. So a History records the package's sources
    (:func:`sim.runs.provenance.sources_sha256`) and commit when it is begun (``abc-<key>.json`` beside
    it). Other sources, or the same sources on another machine's CPU, may continue it only if they
    reproduce the statistics stored for particles of its last generation (``difference``, the largest
    relative difference, at most :data:`REPRODUCED_RTOL`): a change that leaves every output as it was
    (a faster kernel, a clearer error) does not strand a run of many hours, and the record lists each
    such code under ``continued_by`` with the difference it showed.

    Raises:
        ConfigError: The History holds no record of its code, or other sources compute other
            statistics.
    """
    record = db_path.with_suffix(".json")
    sources = provenance.sources_sha256()
    if begun:
        began = {"sim_sources_sha256": sources, "git": provenance.git_commit()}
        atomic_write(record, lambda tmp: write_json(tmp, began))  # a kill leaves no half-written record
        return
    try:
        began = json.loads(record.read_text())
    except (OSError, ValueError):
        began = {}
    continued = began.get("continued_by", [])
    if began.get("sim_sources_sha256") == sources or sources in [c["sim_sources_sha256"] for c in continued]:
        return
    commit = (began.get("git") or {}).get("commit") or "unrecorded"
    largest = difference() if began else math.inf
    if largest <= REPRODUCED_RTOL:
        continued.append(
            {
                "sim_sources_sha256": sources,
                "git": provenance.git_commit(),
                "reproduced": REPRODUCED,
                "largest_relative_difference": largest,
            }
        )
        began["continued_by"] = continued
        atomic_write(record, lambda tmp: write_json(tmp, began))
        return
    raise ConfigError(
        f"calibration history {db_path} was begun by other code (commit {commit}, {record.name}) that "
        f"computed other statistics: continue it from a checkout of that commit, or delete "
        f"{db_path.parent} to start afresh"
    )


def _difference(db_path: Path, run_id: int, simulate: Simulator) -> float:
    """The largest relative difference between the statistics ``simulate`` gives and those stored.

    Over the first :data:`REPRODUCED` particles of the History's last generation (NaN equals NaN; 0
    equals only 0); infinite if no generation is stored or the statistics have other names.
    """
    import pyabc

    history = pyabc.History(f"sqlite:///{db_path}", _id=run_id)
    if history.max_t < 0:
        return math.inf
    largest = 0.0
    for particle in history.get_population(t=history.max_t).particles[:REPRODUCED]:
        stored, fresh = particle.sum_stat, simulate(dict(particle.parameter))
        if stored.keys() != fresh.keys():
            return math.inf
        for key, value in stored.items():
            old, new = np.asarray(value, float), np.asarray(fresh[key], float)
            if old.shape != new.shape or not np.array_equal(np.isnan(old), np.isnan(new)):
                return math.inf
            old, new = old[~np.isnan(old)], new[~np.isnan(new)]
            with np.errstate(divide="ignore", invalid="ignore"):
                relative = np.where(old == new, 0.0, np.abs(new - old) / np.abs(old))
            largest = max(largest, float(relative.max(initial=0.0)))
    return largest


def calibrate(
    config: CalibrateConfig,
    model_params: ModelParams,
    on_generation: Callable[[dict[str, float]], None] | None = None,
    on_sampling: Callable[[Sampling], None] | None = None,
    history_dir: Path | None = None,
) -> Posterior:
    """Run ABC-SMC one generation at a time until :func:`stop_rule` stops it.

    pyabc runs one generation per call and resumes from its History for the next (its documented way
    to continue a run; the result is the same as one call for all generations), so each
    generation's diagnostics are read from the History as soon as it is complete.

    Args:
        config: The calibration configuration (settings, seed).
        model_params: The model as calibrated (``model_overrides`` already applied).
        on_generation: Called after each generation with its diagnostics (a row of
            :attr:`Posterior.diagnostics`; ``resumed`` is true for a generation read from an earlier
            call's History, reported first).
        on_sampling: Called while a generation (or the first sample from the prior) runs, with the
            particles simulated and accepted so far (:mod:`sim.analysis.sampling`); not on a Dask
            cluster, whose workers simulate out of sight.
        history_dir: Where to keep pyabc's History, as ``abc-<history_key>.db``: a later call with
            the same :func:`history_key` continues from its last complete generation, and from the
            particles kept of the one in flight (``abc-<history_key>.kept/``). None keeps it in a
            temporary directory (every call starts afresh).

    Returns:
        The posterior of the last generation, the diagnostics of all generations and why it stopped.
    """
    import pyabc

    from sim.analysis import sampling

    settings = config.calibration
    started = time.perf_counter()
    with _pyabc_quiet(), contextlib.ExitStack() as stack:
        if history_dir is None:
            history_dir = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        history_dir.mkdir(parents=True, exist_ok=True)
        db_path = history_dir / f"abc-{history_key(config, model_params)}.db"
        run_id = _stored_run(db_path)
        simulate = Simulator(model_params, config.seed, settings.seeds_per_particle)
        _bind_to_code(db_path, run_id is None, lambda: _difference(db_path, run_id, simulate))
        kept_dir = db_path.with_suffix(".kept")  # the accepted particles of the sample in flight
        report = on_sampling or (lambda _: None)
        if settings.dask_scheduler:
            from distributed import Client

            sampler = pyabc.sampler.DaskDistributedSampler(Client(settings.dask_scheduler))
        elif settings.n_procs == 1:  # in one process an uninterrupted calibration is reproducible
            sampler = sampling.SingleCore(report, keep_dir=kept_dir)
        else:
            sampler = sampling.Multicore(report, keep_dir=kept_dir, n_procs=settings.n_procs)

        model = simulate
        # Only with one world per particle: with several, the statistic judged is their mean, which
        # no single world's partial run bounds.
        if settings.early_rejection and settings.seeds_per_particle == 1:
            from sim.analysis.early_rejection import EarlyRejecting

            model = EarlyRejecting(simulate, settings.targets)

        def smc() -> pyabc.ABCSMC:
            return pyabc.ABCSMC(
                model,
                pyabc_prior(priors(config)),
                Distance(settings.targets),
                population_size=settings.population_size,
                sampler=sampler,
            )

        db = f"sqlite:///{db_path}"
        rows: list[dict[str, float]] = []
        if run_id is not None:
            history = pyabc.History(db, _id=run_id)
            for t in range(history.max_t + 1):
                rows.append(_generation(history, t) | {"resumed": True})
                if on_generation:
                    on_generation(rows[-1])
        # pyabc draws its proposals from numpy's legacy global generator; seed it for repeatability. A
        # resumed run is seeded by where it resumes, so that it does not replay generation 0's draws.
        np.random.seed((config.seed + 1_000_003 * len(rows)) % 2**32)  # noqa: NPY002
        if run_id is None:
            run_id = smc().new(db, {"unused": 0.0}).id
        stop = stop_rule(rows, settings, None) if rows else None
        while stop is None:
            abc = smc()
            abc.load(db, run_id)
            history = abc.run(max_nr_populations=1, minimum_epsilon=settings.min_epsilon)
            rows.append(_generation(history, history.max_t) | {"resumed": False})
            if on_generation:
                on_generation(rows[-1])
            stop = stop_rule(rows, settings, time.perf_counter() - started)
        shutil.rmtree(kept_dir, ignore_errors=True)  # stopped: its generations are all stored
        history = pyabc.History(db, _id=run_id)
        particles, weights = history.get_distribution(m=0, t=history.max_t)
    particles = particles.reset_index(drop=True)
    particles["weight"] = weights / weights.sum()
    return Posterior(particles=particles, diagnostics=pd.DataFrame(rows), stop=stop)


def predictive(
    fitted: Posterior,
    model_params: ModelParams,
    n_draws: int,
    seed: int,
    n_jobs: int,
    progress: Callable[[int, int], None] | None = None,
) -> pd.DataFrame:
    """Posterior predictive: one fresh replicate per posterior draw; one row of metrics per draw.

    ``progress(done, total)`` is called after each draw.
    """
    draws = fitted.resample(n_draws, seed)
    simulate = Simulator(model_params, seed + 1, 1)  # seeds differ from the calibration's
    rows = parallel_map(simulate, draws.to_dict(orient="records"), n_jobs, progress)
    return pd.concat([draws, pd.DataFrame(rows)], axis=1)


def fit_report(registry: dict[str, Target], predicted: pd.DataFrame, use: Use) -> pd.DataFrame:
    """Each target of the given use beside its posterior predictive 90% interval."""
    rows = []
    for name, target in registry.items():
        if target.use is not use:
            continue
        values = np.array([target.simulated(r) for r in predicted.to_dict(orient="records")])
        rows.append(
            {
                "target": name,
                **dataclasses.asdict(target) | {"kind": target.kind.value, "use": target.use.value},
                **observations.coverage(target, values),
            }
        )
    return pd.DataFrame(rows)
