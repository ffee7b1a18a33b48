"""Scam work: workers groom targets, targets invest and are drained, compounds take the money.

Workers contact many people a day (IN2) but few respond; responders start being groomed. A worker of
productivity ``skill * (1 + effort_per_level * level)`` starts grooming new targets at ``groom_rate``
per month (TG5: the response rate is a free parameter). A groomed target starts investing at rate
``invest_rate * susceptibility`` or breaks off at ``groom_dropout`` (competing hazards). Once investing,
cumulative deposits follow ``wealth * (1 - exp(-(tau / drain_months) ** escalation))`` (a Weibull
curve: with ``escalation > 1`` deposits escalate, TG4) until ``drain_share`` of the wealth is gone
(drained), unless the target stops paying first, at rate ``invest_dropout * (1 - susceptibility)``.

The hazards of a target do not change while it is groomed or drained, so the time of each event is
drawn once, when grooming starts (event-time sampling, exact in continuous time): targets who will
break off are only counted, and rows are kept just for those who will invest. Each step then only
moves the deposit curves forward, with no random draws. What a target loses is what the compound
takes in, to the cent.
"""

from __future__ import annotations

import functools
from dataclasses import astuple
from typing import TYPE_CHECKING

import numpy as np
from scipy import stats

from sim.model import kernels
from sim.model.clock import DAYS_PER_MONTH
from sim.model.population import GROOMED, INVESTING
from sim.model.resources import QUADRATURE_S, QUADRATURE_T
from sim.model.schemas import TargetParams

if TYPE_CHECKING:
    from sim.model.model import ScamModel


def scam_work(model: ScamModel) -> None:
    """One step of draining and grooming; credits revenue to compounds and workers."""
    revenue_by_worker = _drain_targets(model)
    _groom_new_targets(model)
    _update_performance(model, revenue_by_worker)


def drain_time(model: ScamModel) -> float:
    """Months of investing after which a target is drained (``drain_share`` of wealth gone)."""
    tp = model.p.targets
    return float(tp.drain_months * (-np.log1p(-tp.drain_share)) ** (1.0 / tp.escalation))


def expected_yield(tp: TargetParams) -> float:
    """Expected takings (USD) per unit work-month (:func:`quadrature_yield`), cached by parameter values.

    Every run computes it when it starts, and the quadrature costs as much as tens of model steps; a
    sweep or calibration runs the same target parameters many times in one process.
    """
    return _cached_yield(astuple(tp))


@functools.lru_cache(maxsize=256)
def _cached_yield(values: tuple) -> float:
    return quadrature_yield(TargetParams(*values))


def quadrature_yield(tp: TargetParams) -> float:
    """Expected takings (USD) per unit work-month: what one month of a unit-productivity worker brings in.

    ``groom_rate * E[wealth] * E_S[P(invest | S) * E F(min(T, D))]``, with susceptibility ``S`` of the
    Beta law (times ``1 - awareness``), ``P(invest | S) = h / (h + groom_dropout)`` for ``h = invest_rate
    * S``, ``T`` the exponential time to stopping (rate ``invest_dropout * (1 - S)``), ``D`` the drain
    time and ``F`` the Weibull deposit curve. By quadrature (801 points in S, 401 in time); no draws.
    """
    s = np.linspace(1e-6, 1 - 1e-6, QUADRATURE_S)
    density = stats.beta.pdf(s, tp.susceptibility_a, tp.susceptibility_b)
    density /= np.trapezoid(density, s)
    susceptibility = s * (1 - tp.awareness)
    h = tp.invest_rate * susceptibility
    p_invest = h / (h + tp.groom_dropout) if tp.groom_dropout > 0 else np.ones_like(s)
    drain = tp.drain_months * (-np.log1p(-tp.drain_share)) ** (1 / tp.escalation)
    t = np.linspace(0.0, drain, QUADRATURE_T)
    curve = -np.expm1(-((t / tp.drain_months) ** tp.escalation))
    stop = tp.invest_dropout * (1 - susceptibility)[:, None]
    paid = np.trapezoid(stop * np.exp(-stop * t) * curve, t, axis=1) + np.exp(-stop[:, 0] * drain) * curve[-1]
    mean_wealth = tp.wealth_median * np.exp(tp.wealth_sigma**2 / 2)
    return float(tp.groom_rate * mean_wealth * np.trapezoid(density * p_invest * paid, s))


def _work_intensity(model: ScamModel) -> tuple[np.ndarray, np.ndarray]:
    """Work of each held worker this step, and its sum over each compound's workers.

    A worker's work is their skill times their coerced effort times the compound's productivity (0 when
    the compound is down).
    """
    w = model.workers
    s = model.sites()
    productivity = s.productivity * model.up() if len(s.productivity) else s.productivity
    return kernels.work_intensity(
        w.skill,
        w.level,
        w.compound,
        productivity,
        float(model.p.workers.effort_per_level),
        len(model.compounds),
    )


def pick_by_weight(rng: np.random.Generator, weights: np.ndarray, total: float, k: int) -> np.ndarray:
    """``k`` indices drawn with replacement in proportion to ``weights`` (sorted).

    Rejection sampling (propose uniformly, accept with weight / max) costs O(k * max / mean) and
    avoids a pass over all weights; when the weights are very uneven, inversion of the cumulative
    sum is cheaper. Both are exact.
    """
    n = len(weights)
    top = float(weights.max())
    ratio = top * n / total
    if k * ratio > n / 4:  # rejection would touch more than a quarter of the weights: invert instead
        return kernels.invert_cumulative(weights, np.sort(rng.random(k)))
    picked: list[np.ndarray] = []
    needed = k
    while needed > 0:
        proposed = rng.integers(0, n, int(needed * ratio * 1.2) + 16)
        accepted = proposed[rng.random(len(proposed)) * top < weights[proposed]]
        picked.append(accepted[:needed])
        needed -= len(picked[-1])
    return np.sort(np.concatenate(picked))


def _groom_new_targets(model: ScamModel) -> None:
    """Start grooming a Poisson number of targets, split among workers by their work intensity."""
    w = model.workers
    if not w.n:
        model.accounts.work[:] = 0.0
        return
    tp = model.p.targets
    rng = model.streams["grooming"]
    intensity, work = _work_intensity(model)
    model.accounts.work[: len(model.compounds)] = work
    total = float(intensity.sum(dtype=np.float64))
    n_new = int(rng.poisson(tp.groom_rate * model.clock.dt_months * total))
    if n_new == 0:
        return
    owners = pick_by_weight(rng, intensity, total, n_new)
    model.ledger.add_by("targets_groomed", model.juris_of(w.compound[owners]))

    # Event times, drawn once: grooming starts at a uniform time in this step; then investing or
    # breaking off after an exponential time with the summed hazard.
    susceptibility = rng.beta(tp.susceptibility_a, tp.susceptibility_b, n_new) * (1 - tp.awareness)
    h_invest = tp.invest_rate * susceptibility
    h_total = h_invest + tp.groom_dropout
    invests = rng.random(n_new) * h_total < h_invest
    owners, susceptibility = owners[invests], susceptibility[invests]
    k = len(owners)
    start = model.day + rng.random(k) * model.clock.step_days
    invest_day = start + rng.standard_exponential(k) / h_total[invests] * DAYS_PER_MONTH
    h_stop = tp.invest_dropout * (1.0 - susceptibility)
    with np.errstate(divide="ignore"):
        stop_after = rng.standard_exponential(k) / h_stop
    model.targets.append(
        compound=w.compound[owners],
        worker=owners,
        wealth=tp.wealth_median * rng.lognormal(0.0, tp.wealth_sigma, k),
        susceptibility=susceptibility,
        state=np.full(k, GROOMED),
        invest_day=invest_day,
        exit_tau=np.minimum(stop_after, drain_time(model)),
        paid=np.zeros(k),
    )


def _drain_targets(model: ScamModel) -> tuple[np.ndarray, np.ndarray]:
    """Move every target's deposits forward to the end of this step.

    Returns:
        (row of the worker grooming each target, amount paid this step), for quota performance.
    """
    t = model.targets
    tp = model.p.targets
    step_end = model.day + model.clock.step_days
    tau = np.clip((step_end - t.invest_day) * np.float32(1 / DAYS_PER_MONTH), 0.0, t.exit_tau)
    curve = -np.expm1(-((tau * np.float32(1 / tp.drain_months)) ** np.float32(tp.escalation)))
    paid = t.wealth * curve
    deposit = paid.astype(np.float64) - t.paid
    t.paid[:] = paid
    t.state[:] = np.where(tau > 0, INVESTING, GROOMED)

    # Money: what targets lose, compounds take in.
    model.credit(t.compound, deposit, scam=True)
    model.ledger.add_by("target_losses", model.juris_of(t.compound), deposit)
    credited = (t.worker.copy(), deposit)

    # Targets leave once they have stopped paying or been drained.
    done = tau >= t.exit_tau
    drained = done & (t.exit_tau >= np.float32(drain_time(model) * (1 - 1e-6)))
    _finish(model, done, drained)
    t.keep(~done)
    return credited


def _finish(model: ScamModel, done: np.ndarray, drained: np.ndarray) -> None:
    """Tally targets leaving (masks over target rows): the defrauded (lost money) and the drained."""
    t = model.targets
    defrauded = done & (t.paid > 0)
    model.ledger.record_losses(t.paid[defrauded])
    model.ledger.add_by("targets_defrauded", model.juris_of(t.compound[defrauded]))
    model.ledger.add_by("targets_drained", model.juris_of(t.compound[drained]))


def abandon_targets(model: ScamModel, cid: int) -> None:
    """A compound has shut down: its targets are no longer groomed or drained."""
    t = model.targets
    mine = t.compound == cid
    _finish(model, mine, np.zeros_like(mine))
    t.keep(~mine)


def drop_targets(model: ScamModel, mask: np.ndarray) -> None:
    """A raid broke these targets' pipeline (mask over target rows): they stop paying, losses so far stand."""
    t = model.targets
    model.ledger.add_by("targets_broken", model.juris_of(t.compound[mask]))
    _finish(model, mask, np.zeros_like(mask))
    t.keep(~mask)


def _update_performance(model: ScamModel, credited: tuple[np.ndarray, np.ndarray]) -> None:
    """Exponentially weighted revenue of each worker over about the last month (USD/month).

    With revenue spread evenly over a step, ``perf = perf * e^-dt + revenue * (1 - e^-dt) / dt``
    tracks a steady monthly revenue exactly whatever the step length.
    """
    dt = model.clock.dt_months
    memory = float(np.exp(-dt))
    rows, amounts = credited
    # Amounts of workers who have left (row -1) are dropped: they no longer have a quota.
    kernels.update_performance(model.workers.perf, rows, amounts, memory, (1 - memory) / dt)
