"""Each mechanism against its analytical expectation, with the tolerance stated in each test.

Everything else is switched off (``QUIET``) so that one process drives the numbers. Tolerances are
three standard errors of the relevant binomial or sample mean: a correct mechanism fails about 0.3% of
the time per check with a fixed seed the outcome is fixed, so a failure means the mechanism is off.
"""

from __future__ import annotations

import math

import numpy as np
from conftest import QUIET, params, run, total

ONE_YEAR = {"time__end": "2020-12-29"}  # 52 weekly steps


def within_3_se_binomial(observed: float, n: float, p: float) -> bool:
    se = math.sqrt(n * p * (1 - p))
    return abs(observed - n * p) <= 3 * se


def quiet(**overrides):
    return params(**{**QUIET, **ONE_YEAR, "scale": 0.3, **overrides})


def test_escape_follows_its_hazard_through_security_and_its_success_chance():
    # Attempts at rate 1.5 * (1 - security), each succeeding with escape_success: escapes are a
    # thinned Poisson process of rate 1.5 * 0.4 * 0.5 (a failed attempt leaves the worker held).
    p = quiet(
        workers__escape_rate=1.5,
        workers__desperation=0.0,
        compounds__security=0.6,
        workers__escape_success=0.5,
        workers__leak_resale=0.0,
    )
    model = run(p, seed=11)
    n0 = model.initial_workers
    years = model.clock.n_steps * model.clock.dt_years
    expected_p = 1 - math.exp(-1.5 * (1 - 0.6) * 0.5 * years)
    assert within_3_se_binomial(total(model, "exits_escape").sum(), n0, expected_p)
    assert total(model, "escape_failed").sum() > 0
    p.mechanisms.exit_routes = False  # every attempt succeeds
    off = run(p, seed=11)
    expected_off = 1 - math.exp(-1.5 * (1 - 0.6) * years)
    assert within_3_se_binomial(total(off, "exits_escape").sum(), n0, expected_off)
    assert total(off, "escape_failed").sum() == 0


def test_ransom_falls_with_buyout_price():
    # Buy-out price = recruit price; the hazard is ransom_rate * exp(-price / ransom_scale).
    p = quiet(workers__ransom_rate=2.0, workers__ransom_scale=2000.0, recruitment__price=2000.0)
    model = run(p, seed=12)
    years = model.clock.n_steps * model.clock.dt_years
    expected_p = 1 - math.exp(-2.0 * math.exp(-1.0) * years)
    assert within_3_se_binomial(total(model, "exits_ransom").sum(), model.initial_workers, expected_p)
    assert total(model, "ransom_paid").sum() == total(model, "exits_ransom").sum() * 2000.0


def test_help_requests_reach_police_leak_and_rescue_along_the_chain():
    # AM8: a request reaches police (0.4), is leaked (corruption 0.35) or acted on (0.5) and the
    # guards hand over the caller (0.7). Without re-trafficking every rescue is an exit.
    p = quiet(
        workers__help_rate=3.0,
        workers__desperation=0.0,
        police__corruption=0.35,
        police__rescue_success=0.7,
        police__rescue_act=0.5,
        workers__help_reach=0.4,
        workers__leak_resale=0.0,
        workers__retraffic_share=0.0,
    )
    model = run(p, seed=13)
    requests = total(model, "help_requests").sum()
    unreached = total(model, "help_unreached").sum()
    leaked = total(model, "help_leaked").sum()
    rescued = total(model, "exits_rescue").sum()
    assert requests > 1000
    assert within_3_se_binomial(requests - unreached, requests, 0.4)
    assert within_3_se_binomial(leaked, requests - unreached, 0.35)
    assert within_3_se_binomial(rescued, requests - unreached - leaked, 0.5 * 0.7)
    assert rescued + total(model, "help_ignored").sum() == requests - unreached - leaked


def test_help_requests_without_the_exit_routes_switch_leak_or_rescue():
    p = quiet(
        workers__help_rate=3.0,
        workers__desperation=0.0,
        police__corruption=0.35,
        police__rescue_success=0.7,
        workers__leak_resale=0.0,
        mechanisms__exit_routes=False,
    )
    model = run(p, seed=13)
    requests = total(model, "help_requests").sum()
    leaked = total(model, "help_leaked").sum()
    rescued = total(model, "exits_rescue").sum()
    assert requests > 1000
    assert within_3_se_binomial(leaked, requests, 0.35)
    assert within_3_se_binomial(rescued, requests - leaked, 0.7)


def test_targets_who_never_quit_are_drained_of_drain_share_of_their_wealth():
    sigma, median, share = 0.4, 50_000.0, 0.9
    p = quiet(
        targets__invest_dropout=0.0,
        targets__wealth_sigma=sigma,
        targets__wealth_median=median,
        targets__drain_share=share,
        targets__groom_rate=1.0,
    )
    model = run(p, seed=14)
    n = model.ledger.loss_counts.sum()
    assert n > 1000
    mean_wealth = median * math.exp(sigma**2 / 2)
    sd_wealth = mean_wealth * math.sqrt(math.exp(sigma**2) - 1)
    observed = model.ledger.loss_total / n
    assert abs(observed - share * mean_wealth) <= 3 * share * sd_wealth / math.sqrt(n)
    assert total(model, "targets_drained").sum() == total(model, "targets_defrauded").sum()


def test_work_intensity_sets_grooming_rate():
    # New targets per step are Poisson with mean groom_rate * dt * sum(skill * effort); with no
    # punishment (quota 0) effort is 1 and skills have mean 1.
    p = quiet(targets__groom_rate=2.0, compounds__quota=0.0)
    model = run(p, seed=15)
    groomed = total(model, "targets_groomed").sum()
    expected = 2.0 * model.clock.dt_months * model.clock.n_steps * model.workers.skill.sum()
    assert abs(groomed - expected) <= 3 * math.sqrt(expected) + 0.02 * expected  # Poisson + skill noise


def test_punishment_escalates_at_its_rate_for_those_below_quota():
    # Nobody can meet an unreachable quota; after the grace period the level rises as a Poisson
    # process, so after t months it is Poisson(rate * t) whatever the step length.
    for step_days in (7.0, 2.0):
        p = quiet(
            compounds__quota=1e12,
            compounds__punish_rate=0.5,
            compounds__grace_months=0.0,
            compounds__resale_rate=0.0,
        )
        p.time.end = "2020-03-31"
        p.time.step_days = step_days
        model = run(p, seed=16)
        w = model.workers
        mean = 0.5 * model.clock.n_steps * model.clock.dt_months
        liable = w.recruited_day <= -1  # initial workers: liable from the first step
        se = math.sqrt(mean / liable.sum())
        assert abs(w.level[liable].mean() - mean) <= 3 * se, step_days


def test_leaked_help_requests_lead_to_resale_and_higher_buyout_price():
    p = quiet(
        workers__help_rate=3.0,
        police__corruption=1.0,
        workers__leak_resale=1.0,
        workers__desperation=0.0,
    )
    model = run(p, seed=17)
    assert total(model, "resales").sum() > 0.5 * total(model, "help_leaked").sum()
    assert np.all(model.workers.debt[model.workers.resales > 0] > p.recruitment.price)
