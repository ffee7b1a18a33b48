"""Calibration: target discrepancies, the registry, configuration errors, parameter recovery, CLI."""

from __future__ import annotations

import copy
import dataclasses
import io
import json
import math
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sim.analysis import observations
from sim.analysis.calibration import (
    CalibrateConfig,
    CalibrationSettings,
    calibrate,
    check,
    history_key,
    statistics,
    stop_rule,
)
from sim.analysis.calibration import (
    priors as calibration_priors,
)
from sim.analysis.observations import Kind, Target, Use, coverage, distance
from sim.analysis.uncertainties import Dist, Uncertainty
from sim.model.schemas import ConfigError, ModelParams
from sim.model.validation import with_values
from sim.runs import metrics
from sim.runs.config import load_overrides

pytestmark = [
    # pyabc's transition kernel warns about near-singular covariances with tiny populations, and its
    # database layer about SQLAlchemy idioms; neither affects the results checked here.
    pytest.mark.filterwarnings("ignore::RuntimeWarning:pyabc"),
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
    pytest.mark.filterwarnings("ignore::FutureWarning"),
]


# ------------------------------------------------------------------------------- discrepancies
def test_interval_costs_nothing_inside_and_grows_outside():
    t = Target(statistic="x", kind=Kind.interval, low=50, high=100)
    assert t.discrepancy({"x": 75}) == 0
    assert t.discrepancy({"x": 150}) == pytest.approx(1.0)  # one interval width above
    assert t.discrepancy({"x": 25}) == pytest.approx(0.25)


def test_at_least_k_of_n_is_censored():
    t = Target(statistic="share", kind=Kind.binomial_at_least, observed=36, n=53)
    assert t.discrepancy({"share": 0.95}) < 1e-3  # any high share makes ">= 36" near certain
    assert t.discrepancy({"share": 0.5}) > 5  # 36 of 53 is unlikely at p = 0.5


def test_k_of_n_is_a_likelihood_ratio_zero_at_k_over_n():
    t = Target(statistic="k", denominator="n", kind=Kind.binomial, observed=2, n=53)
    assert t.discrepancy({"k": 2, "n": 53}) == pytest.approx(0, abs=1e-9)
    assert t.discrepancy({"k": 20, "n": 53}) > t.discrepancy({"k": 5, "n": 53}) > 0


def test_lognormal_is_squared_log_error_in_sd_units():
    t = Target(statistic="x", kind=Kind.lognormal, observed=100, sd_log=0.5)
    assert t.discrepancy({"x": 100 * math.e**0.5}) == pytest.approx(1.0)


def test_at_least_is_free_above_the_bound_and_lognormal_below():
    t = Target(statistic="x", kind=Kind.at_least, low=250, sd_log=0.5)
    assert t.discrepancy({"x": 250}) == t.discrepancy({"x": 1e6}) == 0
    assert t.discrepancy({"x": 250 * math.e**-0.5}) == pytest.approx(1.0)  # one sd_log below
    assert t.discrepancy({"x": 100}) > t.discrepancy({"x": 200}) > 0
    assert t.discrepancy({"x": math.nan}) == 100.0  # undefined: as bad as 10 standard errors
    with pytest.raises(ConfigError, match=r"calibration.targets.SC3.sd_log is required for kind at_least"):
        Target(kind=Kind.at_least, low=250).check("SC3")


def test_validate_targets_never_enter_the_distance():
    fit = Target(statistic="x", kind=Kind.lognormal, observed=100, sd_log=1.0)
    held_out = Target(statistic="y", kind=Kind.lognormal, observed=1, sd_log=0.01, use=Use.validate)
    stats = {"x": 100 * math.e, "y": 1e6}
    assert distance({"a": fit, "b": held_out}, stats) == pytest.approx(1.0)


def test_coverage_of_intervals_and_points():
    draws = np.linspace(90, 110, 101)
    assert coverage(Target(kind=Kind.lognormal, observed=100, sd_log=0.1), draws)["covered"]
    assert not coverage(Target(kind=Kind.lognormal, observed=200, sd_log=0.1), draws)["covered"]
    assert coverage(Target(kind=Kind.interval, low=105, high=300), draws)["covered"]
    assert coverage(Target(kind=Kind.at_least, low=108, sd_log=0.1), draws)["covered"]  # q95 = 109
    assert not coverage(Target(kind=Kind.at_least, low=110, sd_log=0.1), draws)["covered"]


# ---------------------------------------------------------------------------------- registry
def registry() -> CalibrateConfig:
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    from sim.cli.calibrate import register, to_calibrate_config
    from sim.runs.config import CONFIG_DIR

    register()
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = compose(config_name="calibrate")
    assert OmegaConf.select(cfg, "calibration.targets.AM1.statistic") == "compounds_in_window"
    return to_calibrate_config(cfg)


def test_registry_targets_are_complete_with_a_validate_target():
    config = registry()
    targets = config.calibration.targets
    assert {t.id for t in targets.values()} >= {"AM1", "AM7", "SC1", "TG1", "AM13"}
    assert any(t.use is Use.validate for t in targets.values())
    assert targets["AM13"].weight < targets["SC1"].weight  # W grade weighs little
    # AM7 on the observation model's categories: "only 2 shut" and "36-39 of the 51 not shut".
    assert targets["AM7_shut"].kind is Kind.binomial and targets["AM7_shut"].use is Use.fit
    assert targets["AM7_remaining"].kind is Kind.binomial_between and targets["AM7_remaining"].n == 51
    assert targets["AM10"].use is Use.fit and targets["EN1_removed"].use is Use.validate
    for t in targets.values():
        assert t.statistic in metrics.METRICS and t.definition and t.window


@pytest.mark.parametrize(
    ("share", "expected"),
    [(0.736, 0.0), (0.706, 0.10), (0.765, 0.10), (0.80, 0.53), (0.90, 4.8), (0.96, 13.5)],
)
def test_binomial_between_costs_about_one_per_standard_error(share, expected):
    # "36-39 of 51": best share 0.736; the old model's 0.96 costs 13.5, not the 1e-10 of "at least 36".
    target = Target(statistic="x", kind=Kind.binomial_between, n=51, low=36, high=39)
    assert target.discrepancy({"x": share}) == pytest.approx(expected, abs=0.01 + 0.01 * expected)


def test_every_prior_is_a_declared_uncertainty_with_its_reason():
    config = registry()
    priors = calibration_priors(config)
    assert list(priors) == config.calibration.free
    for key, prior in priors.items():
        assert prior is config.uncertainties[key]  # declared once, in configs/uncertainties/
        # A source id, or an assumption with its reason (not a bare "assumption").
        assert re.search(r"\b(?:AM|SC|TG|RC|IN|EN)\d+\b", prior.source) or re.fullmatch(
            r"assumption: .{10,}", prior.source
        ), (key, prior.source)
        with_values(config, {key: prior.high})  # a valid value for that parameter


def test_calibrated_labels_are_exactly_the_free_parameters():
    """A parameter's source says "calibrated" if and only if the calibration fits it."""
    from sim.report import odd

    labelled = {
        row.key for row in odd.parameter_rows(ModelParams) if re.search(r"\bcalibrated\b", row.source, re.I)
    }
    assert labelled == set(registry().calibration.free)


@pytest.mark.parametrize(
    ("free", "uncertainties", "message"),
    [
        (["police.nope"], {}, "calibration.free: 'police.nope' is not an uncertain parameter"),
        (["police.nope"], {"police.nope": Uncertainty()}, "uncertainties: unknown parameter 'police.nope'"),
        (
            ["police.raid_capacity"],
            {"police.raid_capacity": Uncertainty(low=2.0, high=1.0)},
            "need low < high",
        ),
        ([], {}, "calibration.free is empty"),
    ],
)
def test_bad_priors_are_one_line_errors(free, uncertainties, message):
    config = CalibrateConfig(uncertainties=uncertainties)
    config.calibration = CalibrationSettings(free=free, targets=registry().calibration.targets)
    with pytest.raises(ConfigError, match=message):
        check(config, ModelParams())


# ------------------------------------------------------------------------------- progress
def tiny_calibration(n_procs: int, min_epsilon: float = 0.0) -> tuple[CalibrateConfig, ModelParams]:
    """Two generations of six particles on a tiny model (about a tenth of a second per simulation)."""
    base = load_overrides(ModelParams(), ["scale=0.02", "time.end=2021-06-30"])
    held = statistics(base, seed=1, n_seeds=1)["workers_held_end"]
    targets = {"held": Target(statistic="workers_held_end", kind=Kind.lognormal, observed=held, sd_log=0.2)}
    priors = {"recruitment.ad_reach": Uncertainty(dist=Dist.loguniform, low=30_000.0, high=300_000.0)}
    config = CalibrateConfig(seed=3, uncertainties=priors)
    config.calibration = CalibrationSettings(
        population_size=6,
        generations=2,
        seeds_per_particle=1,
        min_epsilon=min_epsilon,
        n_procs=n_procs,
        free=list(priors),
        targets=targets,
    )
    return config, base


@pytest.mark.parametrize("n_procs", [1, 2])
def test_progress_counts_every_simulation_of_each_sample(n_procs, monkeypatch):
    from sim.analysis import calibration, sampling

    monkeypatch.setattr(sampling, "POLL_SECONDS", 0.01)  # simulations take about 0.1 s each
    config, base = tiny_calibration(n_procs)
    calls = []  # the model's runs in this process (all of them with the single-core sampler)
    simulate = calibration.statistics
    monkeypatch.setattr(calibration, "statistics", lambda *a, **k: calls.append(1) or simulate(*a, **k))
    seen = []
    posterior = calibrate(config, base, on_sampling=seen.append)
    diagnostics = posterior.diagnostics
    final = [s for s in seen if s.complete]
    assert [s.generation for s in final] == [-1, 0, 1]  # the sample from the prior, then each generation
    assert final[0].simulations == final[0].accepted == final[0].size == 6  # all of the prior's accepted
    assert [s.simulations for s in final[1:]] == diagnostics["simulations"].tolist()  # pyabc's own count
    assert all(s.accepted >= s.size == 6 for s in final)
    assert [s.epsilon for s in final[1:]] == pytest.approx(diagnostics["epsilon"].tolist())
    for generation in (-1, 0, 1):
        counts = [(s.simulations, s.accepted) for s in seen if s.generation == generation]
        assert counts[0] == (0, 0) and counts == sorted(counts)  # from zero, never backwards
        assert len(counts) > 2  # counts reported while the sample ran, not only at its ends
    if n_procs == 1:
        assert len(calls) == sum(s.simulations for s in final)
        assert [s.accepted for s in final] == [6, 6, 6]


@pytest.mark.parametrize("min_epsilon", [0.0, 1e9])
def test_generation_by_generation_gives_pyabcs_own_result(min_epsilon, tmp_path):
    import pyabc

    from sim.analysis.calibration import Distance, Simulator, pyabc_prior

    config, base = tiny_calibration(n_procs=1, min_epsilon=min_epsilon)
    config.calibration.min_ess = 1  # converged as soon as epsilon reaches min_epsilon, where pyabc stops
    ours = calibrate(config, base)
    np.random.seed(config.seed)  # noqa: NPY002 (as calibrate seeds pyabc)
    abc = pyabc.ABCSMC(
        Simulator(base, config.seed, 1),
        pyabc_prior(calibration_priors(config)),
        Distance(config.calibration.targets),
        population_size=6,
        sampler=pyabc.sampler.SingleCoreSampler(),
    )
    abc.new(f"sqlite:///{tmp_path / 'abc.db'}", {"unused": 0.0})
    history = abc.run(max_nr_populations=2, minimum_epsilon=min_epsilon)
    particles, weights = history.get_distribution(m=0, t=history.max_t)
    assert len(ours.diagnostics) == history.max_t + 1 == (2 if min_epsilon == 0 else 1)
    assert ours.particles["recruitment.ad_reach"].tolist() == particles["recruitment.ad_reach"].tolist()
    assert ours.particles["weight"].to_numpy() == pytest.approx(weights / weights.sum())


# ---------------------------------------------------------------------------- stopping, resume
def rows(epsilons: list[float], ess: float) -> list[dict[str, float]]:
    """Diagnostics rows of generations with these thresholds, the same ESS, 10 s each."""
    return [{"epsilon": e, "ess": ess, "seconds": 10.0} for e in epsilons]


STOPPING = CalibrationSettings(population_size=500, generations=6, min_epsilon=0.5, epsilon_drop=0.05)


@pytest.mark.parametrize(
    ("epsilons", "ess", "elapsed", "reason", "words"),
    [
        ([10, 5, 4.9], 300, 0, None, ""),  # fell 51% over the last two generations: go on
        ([10, 5, 4.9, 4.8], 300, 0, "converged", "epsilon fell 4.0% over the last two generations"),
        ([10, 5, 4.9, 4.8], 249, 0, None, ""),  # flat, but too few effective particles
        ([10, 9.9], 300, 0, None, ""),  # one generation's drop is not yet "no longer falling"
        ([10, 0.5], 300, 0, "converged", "epsilon 0.5 <= min_epsilon, ESS 300 >= 250"),
        ([10, 0.5], 100, 0, None, ""),  # at min_epsilon with too few effective particles: go on
        ([10, 8, 6, 4, 2, 0.5], 100, 0, "cap", "(epsilon 0.5 <= min_epsilon but ESS 100 < 250)"),
        ([10, 0.5], 100, 3591, "budget", "(epsilon 0.5 <= min_epsilon but ESS 100 < 250)"),
        ([10, 8, 6, 4.5, 3.3, 2.5], 300, 0, "cap", "calibration.generations=6 (epsilon fell 44.4%"),
        ([10, 8, 6, 4.5, 3.3, 2.5], 100, 0, "cap", "ESS 100)"),  # the cap stops an unconverged run
        ([10, 8], 300, 3590, None, ""),  # 3590 s + 10 s for the next generation fits the hour
        ([10, 8], 300, 3591, "budget", "re-run the same command"),
        ([10, 8], 300, None, None, ""),  # resumed: no budget before the first new generation
    ],
)
def test_stop_rule(epsilons, ess, elapsed, reason, words):
    stop = stop_rule(rows(epsilons, ess), STOPPING, elapsed)
    assert (stop and stop.reason) == reason
    if stop:
        assert stop.converged == (reason == "converged")
        assert words in stop.message
        assert stop.message.startswith("converged" if stop.converged else "not converged")


@pytest.mark.parametrize(
    ("setting", "value", "message"),
    [
        ("min_ess", 61.0, "calibration.min_ess=61.0 is outside the allowed range [1, population_size=60]"),
        ("min_ess", 0.0, "calibration.min_ess=0.0 is outside the allowed range"),
        ("epsilon_drop", 1.0, "calibration.epsilon_drop=1.0 is outside the allowed range [0, 1)"),
        ("max_minutes", 0.0, "calibration.max_minutes=0.0 is outside the allowed range (0, inf)"),
    ],
)
def test_bad_stopping_settings_are_one_line_errors(setting, value, message):
    config = registry()
    config.calibration.population_size = config.calibration.min_ess = 60
    check(config, config)  # valid as it is
    setattr(config.calibration, setting, value)
    with pytest.raises(ConfigError, match=re.escape(message)):
        check(config, config)


def test_history_key_ignores_only_when_to_stop():
    config, base = tiny_calibration(n_procs=1)
    key = history_key(config, base)
    for setting, value in (("generations", 9), ("max_minutes", 1.0), ("min_ess", 3.0), ("n_procs", 2)):
        changed = copy.deepcopy(config)
        setattr(changed.calibration, setting, value)
        assert history_key(changed, base) == key, setting
    for setting, value in (("population_size", 7), ("seeds_per_particle", 2)):
        changed = copy.deepcopy(config)
        setattr(changed.calibration, setting, value)
        assert history_key(changed, base) != key, setting
    assert history_key(dataclasses.replace(config, seed=4), base) != key
    assert history_key(config, with_values(base, {"police.raid_capacity": 21.0})) != key
    # As the command calls it, the model is a whole configuration: only its model parameters count.
    whole = dataclasses.replace(
        config, **{f.name: getattr(base, f.name) for f in dataclasses.fields(ModelParams)}
    )
    rerun = dataclasses.replace(whole, overwrite=True, name="other")
    rerun.calibration = dataclasses.replace(config.calibration, generations=9)
    assert history_key(whole, whole) == history_key(rerun, rerun) == key


def test_a_rerun_continues_from_the_history(tmp_path, monkeypatch):
    """Stopped by its budget after one generation, the same calibration re-run continues with generation 2."""
    import pyabc

    from sim.analysis import calibration

    config, base = tiny_calibration(n_procs=1)
    config.calibration.generations = 5
    config.calibration.max_minutes = 1e-6  # spent by the first generation
    first = calibrate(config, base, history_dir=tmp_path)
    assert first.stop.reason == "budget" and not first.stop.converged
    assert first.diagnostics["resumed"].tolist() == [False]
    [db] = tmp_path.glob("abc-*.db")
    generation0 = pyabc.History(f"sqlite:///{db}").get_distribution(m=0, t=0)[0]

    config.calibration.generations = 2
    config.calibration.max_minutes = 60.0
    calls = []  # the model's runs in the second call
    simulate = calibration.statistics
    monkeypatch.setattr(calibration, "statistics", lambda *a, **k: calls.append(1) or simulate(*a, **k))
    seen = []
    second = calibrate(config, base, on_generation=seen.append, history_dir=tmp_path)
    assert second.stop.reason == "cap"
    diagnostics = second.diagnostics
    assert diagnostics["generation"].tolist() == [0, 1] and diagnostics["resumed"].tolist() == [True, False]
    assert diagnostics.iloc[0].to_dict() == first.diagnostics.iloc[0].to_dict() | {"resumed": True}
    assert [row["generation"] for row in seen] == [0, 1]  # the generation read back is reported first
    assert len(calls) == diagnostics["simulations"].iloc[1]  # generation 1 only: no new prior sample
    assert list(tmp_path.glob("abc-*.db")) == [db]
    history = pyabc.History(f"sqlite:///{db}")
    pd.testing.assert_frame_equal(history.get_distribution(m=0, t=0)[0], generation0)
    assert history.max_t == 1
    stored = history.get_distribution(m=0, t=1)[0]["recruitment.ad_reach"].tolist()
    assert second.particles["recruitment.ad_reach"].tolist() == stored


# ------------------------------------------------------------------------------- early rejection
def through_2023() -> tuple[ModelParams, dict[str, Target]]:
    """A tiny model that simulates August 2023 and two months after, and fit targets on SC1's statistic
    and the end (a few tenths of a second a run)."""
    base = load_overrides(ModelParams(), ["scale=0.02", "time.start=2023-03-01", "time.end=2023-10-31"])
    at = statistics(base, seed=1, n_seeds=1)
    targets = {
        "SC1": Target(
            statistic="workers_held_aug2023",
            kind=Kind.lognormal,
            observed=at["workers_held_aug2023"],
            sd_log=0.2,
        ),
        "held": Target(
            statistic="workers_held_end", kind=Kind.lognormal, observed=at["workers_held_end"], sd_log=0.2
        ),
    }
    return base, targets


def test_a_run_is_judged_once_after_august_2023_on_the_value_the_whole_run_reports():
    """OutOfReach stops a run right after its last step in August 2023 iff SC1's term exceeds epsilon,
    with the very term the whole run's statistics give (exact at the boundary)."""
    from sim.analysis.early_rejection import OutOfReach
    from sim.model import facts

    base, targets = through_2023()
    sc1 = {"SC1": dataclasses.replace(targets["SC1"], observed=targets["SC1"].observed * 1.5)}
    whole = statistics(base, seed=7, n_seeds=1)
    term = sum(observations.discrepancies(sc1, whole).values())
    assert term > 0

    stopped_at = []

    def judged(epsilon):
        judge = OutOfReach(sc1, epsilon)

        def abandon(model):
            verdict = judge(model)
            if verdict:
                stopped_at.append((model.steps, model.clock))
            return verdict

        return statistics(base, seed=7, n_seeds=1, abandon=abandon)

    # A distance equal to epsilon is accepted: the run goes on to the same statistics.
    assert pd.Series(judged(term)).equals(pd.Series(whole))
    assert judged(term * (1 - 1e-9)) is None
    [(steps, clock)] = stopped_at
    assert clock.date(steps - 1) <= facts.SC1_MONTH[1] < clock.date(steps) and steps < clock.n_steps


def test_early_rejection_changes_no_generation_and_cuts_rejected_runs_short(monkeypatch):
    """The switch: with early rejection (the default) a calibration's particles, weights, epsilons and
    simulation counts are those without it, while some rejected runs stop in August 2023."""
    from sim.analysis import early_rejection

    base, targets = through_2023()
    priors = {"recruitment.ad_reach": Uncertainty(dist=Dist.loguniform, low=30_000.0, high=300_000.0)}
    config = CalibrateConfig(seed=3, uncertainties=priors)
    config.calibration = CalibrationSettings(
        population_size=6, generations=2, min_epsilon=0.0, n_procs=1, free=list(priors), targets=targets
    )
    verdicts = []  # of every run judged (one process: all of them)
    judge = early_rejection.OutOfReach.__call__

    def recorded(self, model):
        verdicts.append(judge(self, model))
        return verdicts[-1]

    monkeypatch.setattr(early_rejection.OutOfReach, "__call__", recorded)
    early = calibrate(config, base)
    assert True in verdicts  # some runs were cut short

    settings = dataclasses.replace(config.calibration, early_rejection=False)
    without = dataclasses.replace(config, calibration=settings)
    whole = calibrate(without, base)
    pd.testing.assert_frame_equal(early.particles, whole.particles)
    columns = ["epsilon", "simulations", "acceptance_rate", "ess"]
    pd.testing.assert_frame_equal(early.diagnostics[columns], whole.diagnostics[columns])
    assert history_key(config, base) == history_key(without, base)  # one History, either way


class Killed(Exception):
    """Stands for a kill in the middle of a generation."""


def die_after_keeping(n: int, monkeypatch) -> Callable[[], None]:
    """Make each simulating process raise :class:`Killed` once it has kept ``n`` particles.

    Returns:
        What undoes it (the particles are kept as before).
    """
    from sim.analysis import sampling

    keep, kept_here = sampling._keep, []

    def keep_then_die(*args):
        keep(*args)
        kept_here.append(1)
        if len(kept_here) == n:
            raise Killed

    monkeypatch.setattr(sampling, "_keep", keep_then_die)
    return lambda: monkeypatch.setattr(sampling, "_keep", keep)


@pytest.mark.parametrize("n_procs", [1, 2])
def test_a_generation_cut_short_resumes_from_the_particles_it_kept(n_procs, tmp_path, monkeypatch):
    """Each accepted particle is kept as it comes; a re-run's generation starts from those kept, counts
    their simulations, and the kept particles are removed once the calibration stops."""
    import multiprocessing
    import pickle

    import pyabc

    from sim.analysis import calibration

    config, base = tiny_calibration(n_procs)
    config.calibration.generations = 1
    calibrate(config, base, history_dir=tmp_path)
    [db] = tmp_path.glob("abc-*.db")
    kept_dir = db.with_suffix(".kept")
    assert not kept_dir.exists()  # stopped: nothing in flight

    undo = die_after_keeping(2, monkeypatch)  # each simulating process, after 2 of the 6 particles
    config.calibration.generations = 2
    running_before = set(multiprocessing.active_children())
    with pytest.raises(Exception):  # noqa: B017 (Killed in one process; pyabc's dead-worker error in two)
        calibrate(config, base, history_dir=tmp_path)
    assert set(multiprocessing.active_children()) <= running_before  # no simulating process left behind
    assert pyabc.History(f"sqlite:///{db}").max_t == 0
    [folder] = kept_dir.iterdir()
    assert folder.name.startswith("t1-eps")
    kept = [pickle.loads(p.read_bytes()) for p in folder.glob("*.pkl")]
    assert 2 <= len(kept) <= 2 * n_procs < 6 and all(p.accepted for p, _ in kept)

    undo()
    calls = []  # the model's runs in this process (all of them with the single-core sampler)
    simulate = calibration.statistics
    monkeypatch.setattr(calibration, "statistics", lambda *a, **k: calls.append(1) or simulate(*a, **k))
    resumed = calibrate(config, base, history_dir=tmp_path)
    assert resumed.diagnostics["resumed"].tolist() == [True, False]
    stored = pyabc.History(f"sqlite:///{db}").get_distribution(m=0, t=1)[0]["recruitment.ad_reach"]
    assert {p.parameter["recruitment.ad_reach"] for p, _ in kept} <= set(stored)  # the kept ones, resumed
    simulations = int(resumed.diagnostics["simulations"].iloc[1])
    assert simulations >= sum(n for _, n in kept) + 6 - len(kept)  # the kept's simulations counted too
    if n_procs == 1:
        assert len(calls) == simulations - sum(n for _, n in kept)
    assert not kept_dir.exists()


def test_a_history_is_continued_only_by_code_that_computes_what_it_stored(tmp_path, monkeypatch):
    """Other sources continue a History only if they reproduce its last generation's statistics (to
    within float rounding, as on another CPU) and are recorded; other statistics, or no record of the
    code that began it, are refused in one line that says how to go on."""
    import pyabc

    from sim.analysis import calibration
    from sim.runs import provenance

    config, base = tiny_calibration(n_procs=1)
    config.calibration.generations = 1
    calibrate(config, base, history_dir=tmp_path)
    [db] = tmp_path.glob("abc-*.db")
    record = json.loads(db.with_suffix(".json").read_text())
    assert record["sim_sources_sha256"] == provenance.sources_sha256()
    assert record["git"] == provenance.git_commit()

    config.calibration.generations = 2
    monkeypatch.setattr(provenance, "sources_sha256", lambda: "0" * 64)  # the sources were edited...
    simulate = calibration.statistics

    def other_model(*args, **kwargs):
        return simulate(*args, **kwargs) | {"workers_held_end": 1.0}

    def scaled(factor):
        def model(*args, **kwargs):
            return {k: v * factor for k, v in simulate(*args, **kwargs).items()}

        return model

    # Something else, or the same statistics moved by more than rounding: refused, nothing written.
    for model in (other_model, scaled(1 + 10 * calibration.REPRODUCED_RTOL)):
        monkeypatch.setattr(calibration, "statistics", model)
        with pytest.raises(ConfigError, match="begun by other code") as refused:
            calibrate(config, base, history_dir=tmp_path)
        message = str(refused.value)
        assert "\n" not in message and f"delete {tmp_path}" in message
        assert f"commit {record['git']['commit'] or 'unrecorded'}" in message
        assert json.loads(db.with_suffix(".json").read_text()) == record
        assert pyabc.History(f"sqlite:///{db}").max_t == 0  # nothing was added to the refused History

    # Edited sources that give the same statistics up to the rounding of another CPU's float32 sums.
    monkeypatch.setattr(calibration, "statistics", scaled(1 + calibration.REPRODUCED_RTOL / 10))
    assert calibrate(config, base, history_dir=tmp_path).diagnostics["resumed"].tolist() == [True, False]
    continued = json.loads(db.with_suffix(".json").read_text())
    [entry] = continued.pop("continued_by")
    assert continued == record
    assert entry | {"largest_relative_difference": None} == {
        "sim_sources_sha256": "0" * 64,
        "git": provenance.git_commit(),
        "reproduced": 3,
        "largest_relative_difference": None,
    }
    assert entry["largest_relative_difference"] == pytest.approx(calibration.REPRODUCED_RTOL / 10, rel=1e-3)

    monkeypatch.undo()
    db.with_suffix(".json").unlink()  # a History from before records were kept
    with pytest.raises(ConfigError, match="commit unrecorded"):
        calibrate(config, base, history_dir=tmp_path)


def test_the_command_refuses_a_history_of_other_code_in_one_line_and_writes_nothing(
    tmp_path, monkeypatch, capsys
):
    from sim.cli import calibrate as command
    from sim.cli import main

    refusal = "calibration history h/abc-1.db was begun by other code (commit abc, abc-1.json): continue it"

    def begun_by_other_code(*args, **kwargs):
        raise ConfigError(refusal)

    monkeypatch.setattr(command.calibration, "calibrate", begun_by_other_code)
    out = tmp_path / "results" / "calibration" / "mine"
    with pytest.raises(SystemExit) as exit_:
        main(["calibrate", "calibration=quick", f"hydra.run.dir={out}"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == f"scamsim calibrate: error: {refusal}", err
    assert not out.exists()  # no results folder, not even an empty one, for a refused History


# ---------------------------------------------------------------------------------- tables
def test_target_tables_are_readable_in_100_columns():
    from rich.console import Console

    from sim.analysis.calibration import fit_report
    from sim.cli.calibrate import report_table

    targets = registry().calibration.targets
    predicted = pd.DataFrame(
        {
            "compounds_in_window": 60.0 + np.arange(20),
            "am7_shut": np.arange(20) % 4,
            "am7_never_or_operating": 40.0 + np.arange(20) % 3,
            "am7_not_shut": 55.0,
            "workers_held_aug2023": np.linspace(73_555, 135_916, 20),
            "loss_median": np.linspace(43_358, 60_720, 20),
            "loss_mean": np.linspace(134_893, 176_761, 20),
            "quota_met_share": np.linspace(0.011, 0.039, 20),
            "am10_raided": np.nan,  # undefined in every draw: no interval
            "en1_removed": np.linspace(2_000, 9_000, 20),
            "tipoff_share_post_en1": np.linspace(0.4, 0.6, 20),
            "am11_held_ratio": np.linspace(1.0, 1.5, 20),
            "sc3_sites": np.linspace(80, 110, 20),
            "in3_months_held_median": np.linspace(7, 11, 20),
            "am6_min_route_share": np.linspace(0.1, 0.12, 20),
            "am8_rescue_share": np.linspace(0.1, 0.12, 20),
        }
    )
    text = []
    for use, title in ((Use.fit, "Fit targets"), (Use.validate, "Validate targets (out of sample)")):
        frame = fit_report(targets, predicted, use)
        console = Console(width=100, record=True, file=io.StringIO())
        console.print(report_table(frame, title))
        lines = console.export_text().rstrip("\n").splitlines()
        # Title, blank, header, rule, one line per target (no wrapped rows), the closing blank line, and
        # under the fit targets (AM10 undefined) the line that says what n/a means.
        undefined = use is Use.fit
        assert len(lines) == 4 + len(frame) + 1 + undefined, "\n".join(lines)
        assert lines[-1].strip().startswith("n/a: undefined in these runs") == undefined, lines[-1]
        assert all(len(line) <= 100 for line in lines)
        text += lines
    rows = {line.split()[0]: line.split()[1:] for line in text if line.split() and line.split()[0] in targets}
    assert set(rows) == set(targets)  # one line each
    assert rows["SC1"][-5:] == ["people", "105,000", "(76,700-133,000)", "100,000", "yes"]
    assert rows["TG1_mean"][-5:] == ["USD", "156,000", "(137,000-175,000)", "155,000", "yes"]
    assert rows["AM1"][-5:] == ["compounds", "69.5", "(61-78)", "53-98", "yes"]
    assert rows["AM7_shut"][-7:] == ["0.021", "(0-0.045)", "2", "of", "53", "(0.038)", "yes"]  # k of n
    # Between k1 and k2 of n: the counts and the shares they mean; predicted as a share.
    assert rows["AM7_remaining"][-7:] == ["0.75", "(0.73-0.76)", "36-39", "of", "51", "(0.71-0.76)", "yes"]
    assert rows["AM10"][-4:] == ["compounds", "n/a", "14-56", "n/a"]  # undefined: not "missed"
    assert rows["SC3"][-3:] == ["≥", "250", "no"]  # a one-sided bound
    assert rows["AM11"][-3:] == ["≥", "1", "yes"]
    joined = "\n".join(text)
    assert "…" not in joined and "e+" not in joined and "nan" not in joined  # nothing cut, no exponents


# ------------------------------------------------------------------------------------- CLI
def test_quick_calibration_through_the_cli(tmp_path):
    scamsim = str(Path(sys.executable).parent / "scamsim")
    out = tmp_path / "cal"
    command = [
        scamsim,
        "calibrate",
        "calibration=quick",
        "calibration.population_size=8",
        "calibration.predictive_draws=4",
        'calibration.model_overrides=["scale=0.05","time.end=2024-12-31"]',
        f"hydra.run.dir={out}",
    ]
    env = {**os.environ, "SCAMSIM_PROGRESS_SECONDS": "0"}  # every report a line
    proc = subprocess.run(command, capture_output=True, text=True, timeout=600, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    # stderr is not a terminal: progress in plain lines, within each sample and after each generation.
    lines = [line for line in proc.stderr.splitlines() if line.startswith("calibrate: ")]
    assert lines[0].startswith("calibrate: sample from the prior: 0/8 (0%) simulated, to set the first")
    for generation in (1, 2):
        within = [line for line in lines if line.startswith(f"calibrate: generation {generation}/2: ")]
        assert re.match(r".*: 0/8 \(0%\) accepted, 0 simulations, eps [\d.,]+, elapsed 0:00:0\d$", within[0])
        last = re.match(r".*: 8/8 \(100%\) accepted, ([\d,]+) simulations, eps ([\d.,]+),", within[-1])
        assert last, within
        [done] = [line for line in lines if line.startswith(f"calibrate: generation {generation}/2 done: ")]
        assert f"eps {last[2]}, 8 of {last[1]} simulations accepted" in done  # the last counts are pyabc's
        assert ("at most about" in done) == (generation == 1)  # time left after all but the last
        assert lines.index(within[-1]) < lines.index(done)
    # Two generations cannot show epsilon no longer falling: stopped at the cap, and said so.
    stopped = "not converged: stopped at the generation cap calibration.generations=2"
    assert any(line.startswith(f"calibrate: {stopped} (") for line in lines)
    assert f"calibration {stopped} (" in proc.stdout
    assert "\x1b[" not in proc.stderr  # no terminal codes
    # The target tables fit 100 columns (stdout is not a terminal); undefined targets say n/a.
    assert all(len(line) <= 100 for line in proc.stdout.splitlines())
    assert "100,000" in proc.stdout and "n/a" in proc.stdout and "e+" not in proc.stdout
    posterior = pd.read_parquet(out / "posterior.parquet")
    assert posterior["weight"].sum() == pytest.approx(1.0)
    assert set(registry().calibration.free) <= set(posterior.columns)
    diagnostics = pd.read_parquet(out / "diagnostics.parquet")
    assert {"epsilon", "acceptance_rate", "ess"} <= set(diagnostics.columns)
    fit = pd.read_csv(out / "fit.csv")
    assert set(fit["use"]) == {"fit"} and set(pd.read_csv(out / "validation.csv")["use"]) == {"validate"}
    for name in ("marginals", "pairs", "fit"):
        assert (out / "figures" / f"{name}.png").stat().st_size > 10_000
    metadata = json.loads((out / "metadata.json").read_text())
    assert metadata["command"] == "scamsim calibrate"
    assert metadata["stop"]["reason"] == "cap" and metadata["stop"]["converged"] is False

    # Re-run with a higher cap: another configuration, refused unless overwrite=true; then it continues
    # from the History kept beside the results instead of starting over.
    again = [*command, "calibration.generations=3"]
    refused = subprocess.run(again, capture_output=True, text=True, timeout=120)
    assert refused.returncode == 2 and "holds results of another configuration" in refused.stderr
    proc = subprocess.run([*again, "overwrite=true"], capture_output=True, text=True, timeout=600, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    history = tmp_path / ".cal.history"
    for generation in (1, 2):
        assert f"calibrate: generation {generation}/3 (read from the history in {history}): " in proc.stderr
    assert "calibrate: sample from the prior" not in proc.stderr
    assert "calibrate: generation 3/3 done: " in proc.stderr
    resumed = pd.read_parquet(out / "diagnostics.parquet")
    assert resumed["resumed"].tolist() == [True, True, False]
    # The time recorded for the whole calibration spans both sittings, not only this call's.
    record = json.loads((out / "metadata.json").read_text())
    assert record["generations_seconds"] == pytest.approx(resumed["seconds"].sum())
    assert record["generations_seconds"] > diagnostics["seconds"].sum()
    pd.testing.assert_frame_equal(
        resumed.iloc[:2].drop(columns="resumed"), diagnostics.drop(columns="resumed")
    )


def test_calibrate_rejects_bad_settings_in_one_line(tmp_path):
    scamsim = str(Path(sys.executable).parent / "scamsim")
    proc = subprocess.run(
        [scamsim, "calibrate", "calibration.population_size=0", f"hydra.run.dir={tmp_path / 'x'}"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert "calibration.population_size=0 is outside the allowed range" in proc.stderr
    assert "Traceback" not in proc.stderr and not (tmp_path / "x").exists()


def test_only_numpys_false_alarm_about_pyabcs_proposal_covariance_is_dropped():
    """Inside the calibration's quiet context the covariance warning from pyabc's transitions is
    dropped (a false alarm of numpy's absolute tolerance); the same warning from anywhere else, and
    outside the context, still shows."""
    import warnings

    from sim.analysis.calibration import _pyabc_quiet

    def warn(module: str) -> None:
        message = "covariance is not symmetric positive-semidefinite."
        warnings.warn_explicit(message, RuntimeWarning, f"{module}.py", 109, module=module)

    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        with _pyabc_quiet():
            warn("pyabc.transition.multivariatenormal")
            warn("sim.analysis.sampling")
        warn("pyabc.transition.multivariatenormal")
    shown = [w.filename for w in seen]
    assert shown == ["sim.analysis.sampling.py", "pyabc.transition.multivariatenormal.py"]


# ------------------------------------------------------------------------------------- checkpoints
def test_a_checkpoint_restores_the_history_it_saved_and_replaces_nothing(tmp_path, capsys):
    """``save`` then ``restore`` gives back a History with the same rows and its record; ``save`` runs
    while a calibration of that name holds its lock (it copies consistently), ``restore`` does not, and
    ``restore`` never replaces a History, nor unpacks anything but kept particles."""
    import multiprocessing
    import sqlite3
    import tarfile

    from sim.analysis import checkpoint
    from sim.runs import dirs

    root = tmp_path / "calibration"
    config, base = tiny_calibration(n_procs=1)
    config.calibration.generations = 1
    calibrate(config, base, history_dir=checkpoint.history_dir("c", root))
    [db] = checkpoint.history_dir("c", root).glob("abc-*.db")

    def rows(path):
        with sqlite3.connect(path) as connection:
            return list(connection.iterdump())

    with pytest.raises(ConfigError, match=re.escape("name='../c' is not allowed")):
        checkpoint.save("../c", root)
    with pytest.raises(ConfigError, match="holds no checkpoint"):
        checkpoint.restore("c", root)
    # A calibration of that name running (its lock held by another process): saved, not restored.
    ctx = multiprocessing.get_context("fork")
    locked, release = ctx.Event(), ctx.Event()

    def hold():
        with dirs.lock(root / "c"):
            locked.set()
            release.wait(60)

    holder = ctx.Process(target=hold)
    holder.start()
    try:
        assert locked.wait(60)
        packed, kept = checkpoint.save("c", root)
        with pytest.raises(dirs.DirError, match="is being written by another command"):
            checkpoint.restore("c", root)
    finally:
        release.set()
        holder.join()

    assert packed == checkpoint.checkpoint_dir("c", root) / f"{db.name}.xz"
    assert kept == checkpoint.checkpoint_dir("c", root) / f"{db.stem}.kept.tar.xz"
    with tarfile.open(kept) as archive:
        assert archive.getnames() == []  # stopped at a generation's end: nothing in progress
    assert packed.stat().st_size < db.stat().st_size
    record = db.with_suffix(".json").read_text()
    with pytest.raises(ConfigError, match="exists and may hold generations the checkpoint lacks"):
        checkpoint.restore("c", root)
    original = rows(db)
    db.rename(tmp_path / "moved.db")
    # An archive of kept particles holding anything else is refused before anything is written.
    good = kept.read_bytes()
    with tarfile.open(kept, "w:xz") as archive:
        archive.add(packed, arcname="../t1-eps0.5/000000-x.pkl")
    with pytest.raises(ConfigError, match=re.escape("not a kept particle <sample>/<file>.pkl")):
        checkpoint.restore("c", root)
    assert not db.exists()
    kept.write_bytes(good)
    [restored] = checkpoint.restore("c", root)
    assert restored == db and rows(db) == original and db.with_suffix(".json").read_text() == record
    assert not db.with_suffix(".kept").exists()
    # The command: one line and exit 2 on bad input.
    with pytest.raises(SystemExit) as exit_:
        checkpoint.main(["restore", ".hidden"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("checkpoint: error: name='.hidden' is not allowed")


def test_a_checkpoint_saved_mid_generation_resumes_it_from_the_particles_kept(tmp_path, monkeypatch):
    """A checkpoint saved while a generation is in progress holds the particles kept so far, in their
    order; restored where nothing else is, the calibration resumes that generation from them exactly
    as it would have where they were kept (same particles, same counts)."""
    from sim.analysis import checkpoint, sampling

    root = tmp_path / "calibration"
    history = checkpoint.history_dir("c", root)
    config, base = tiny_calibration(n_procs=1)
    config.calibration.generations = 1
    calibrate(config, base, history_dir=history)
    undo = die_after_keeping(3, monkeypatch)  # after 3 of generation 2's 6 particles
    config.calibration.generations = 2
    with pytest.raises(Killed):
        calibrate(config, base, history_dir=history)
    undo()
    [kept_dir] = history.glob("abc-*.kept")
    [sample] = kept_dir.iterdir()
    in_order = [path.read_bytes() for path in sampling.kept_in_order(sample)]
    assert len(in_order) == 3

    _, kept = checkpoint.save("c", root)
    assert kept.name == f"{kept_dir.stem}.kept.tar.xz"
    shutil.copytree(history, tmp_path / "first")  # the first machine, resumed below as it stands
    shutil.rmtree(history)  # another machine: only the checkpoint
    checkpoint.restore("c", root)
    [restored] = (history / kept_dir.name).iterdir()
    assert restored.name == sample.name
    assert [path.read_bytes() for path in sampling.kept_in_order(restored)] == in_order

    there = calibrate(config, base, history_dir=tmp_path / "first")
    here = calibrate(config, base, history_dir=history)
    assert here.diagnostics["resumed"].tolist() == [True, False]
    pd.testing.assert_frame_equal(here.particles, there.particles)
    columns = ["epsilon", "simulations", "acceptance_rate", "ess"]
    pd.testing.assert_frame_equal(here.diagnostics[columns], there.diagnostics[columns])


def test_checkpoints_saved_while_a_calibration_runs_restore_to_a_history_it_can_go_on_from(tmp_path):
    """``save`` runs beside a calibration that writes generations and keeps particles meanwhile: every
    checkpoint restores to a sound History, and its kept particles are never of a generation later than
    the one that History continues with (an older sample's are set aside on resuming)."""
    import multiprocessing
    import sqlite3
    import time

    import pyabc

    from sim.analysis import checkpoint

    root = tmp_path / "calibration"
    config, base = tiny_calibration(n_procs=1)
    config.calibration.generations = 2
    ctx = multiprocessing.get_context("fork")
    running = ctx.Process(
        target=calibrate, args=(config, base), kwargs={"history_dir": checkpoint.history_dir("c", root)}
    )
    running.start()
    saved = mid_generation = 0  # checkpoints saved, and of them those holding kept particles
    try:
        while running.is_alive():
            if not list(checkpoint.history_dir("c", root).glob("abc-*.db")):
                time.sleep(0.05)  # the History is not begun yet
                continue
            try:
                checkpoint.save("c", root)
            except ConfigError as exc:  # caught while pyabc creates the History: nothing to save yet
                assert "holds no calibration run yet" in str(exc) and saved == 0
                assert not checkpoint.checkpoint_dir("c", root).exists()
                continue
            elsewhere = tmp_path / f"elsewhere{saved}"
            shutil.copytree(checkpoint.checkpoint_dir("c", root), checkpoint.checkpoint_dir("c", elsewhere))
            [db] = checkpoint.restore("c", elsewhere)
            with sqlite3.connect(db) as connection:
                assert connection.execute("pragma integrity_check").fetchone() == ("ok",)
            last = pyabc.History(f"sqlite:///{db}").max_t
            for sample in db.with_suffix(".kept").glob("*"):
                generation = -1 if sample.name == "prior" else int(sample.name[1:].split("-")[0])
                assert generation <= last + 1, (sample.name, last)
            saved += 1
            mid_generation += any(db.with_suffix(".kept").glob("*/*.pkl"))
            time.sleep(0.1)
    finally:
        running.join()
    assert running.exitcode == 0 and saved >= 3 and mid_generation >= 1
