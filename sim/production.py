"""Scam work: workers groom targets, targets invest and are drained, compounds take the money.

Workers contact many people a day (IN2) but only a few respond; the responders become target rows
(contacted people are not stored). A worker of productivity ``skill * (1 + effort_per_level * level)``
starts grooming new targets at ``groom_rate`` per month. A groomed target starts investing at rate
``invest_rate * susceptibility`` or breaks off at ``groom_dropout``. An investing target's cumulative
deposits follow ``wealth * (1 - exp(-(tau / drain_months) ** escalation))`` (a Weibull curve: with
``escalation > 1`` deposits escalate, TG4) until ``drain_share`` of their wealth is gone (drained), or
they stop paying at rate ``invest_dropout * (1 - susceptibility)``. What a target loses is what the
compound takes in, to the cent.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sim.population import GROOMED, INVESTING

if TYPE_CHECKING:
    from sim.model import ScamModel


def scam_work(model: ScamModel) -> None:
    """One step of grooming, investing and draining; credits revenue to compounds and workers."""
    revenue_by_worker = _drain_targets(model)
    _groom_new_targets(model)
    _update_performance(model, revenue_by_worker)


def _work_intensity(model: ScamModel) -> np.ndarray:
    w = model.workers
    s = model.sites()
    effort = 1.0 + model.p.workers.effort_per_level * w.level
    return w.skill * effort * s.productivity[w.compound]


def _groom_new_targets(model: ScamModel) -> None:
    """New targets: a Poisson number in total, split among workers in proportion to their intensity."""
    w = model.workers
    if not w.n:
        return
    tp = model.p.targets
    rng = model.streams["grooming"]
    cumulative = np.cumsum(_work_intensity(model))
    total = float(cumulative[-1])
    n_new = int(rng.poisson(tp.groom_rate * model.clock.dt_months * total))
    if n_new == 0:
        return
    owners = np.searchsorted(cumulative, rng.random(n_new) * total, side="right")
    owners = np.minimum(owners, w.n - 1)
    wealth = tp.wealth_median * rng.lognormal(0.0, tp.wealth_sigma, n_new)
    susceptibility = rng.beta(tp.susceptibility_a, tp.susceptibility_b, n_new) * (1 - tp.awareness)
    model.targets.append(
        compound=w.compound[owners],
        worker=w.uid[owners],
        wealth=wealth,
        susceptibility=susceptibility,
        state=np.full(n_new, GROOMED),
        tau=np.zeros(n_new),
        paid=np.zeros(n_new),
    )
    juris = model.sites().juris[w.compound[owners]]
    model.ledger.add_by("targets_groomed", juris)


def _drain_targets(model: ScamModel) -> tuple[np.ndarray, np.ndarray]:
    """Advance every target one step.

    Returns:
        (uids of workers credited, amounts), for the quota performance update.
    """
    t = model.targets
    if not t.n:
        return np.empty(0, np.int32), np.empty(0)
    tp = model.p.targets
    clock = model.clock
    s = model.sites()
    rng = model.streams["targets"]
    dt = clock.dt_months
    operating = s.active[t.compound]
    groomed = t.state == GROOMED
    u = rng.random(t.n)

    # Groomed: start investing or break off (competing hazards).
    h_invest = tp.invest_rate * t.susceptibility
    h_total = h_invest + tp.groom_dropout
    event = groomed & (u < -np.expm1(-h_total * dt))
    starts = event & (rng.random(t.n) * h_total < h_invest)
    broke_off = event & ~starts

    # Investing: deposits along the escalating curve, unless they stop part-way through the step.
    investing = ~groomed
    h_stop = tp.invest_dropout * (1.0 - t.susceptibility)
    stops = investing & (u < -np.expm1(-h_stop * dt))
    tau_old = t.tau
    step_used = np.where(stops, rng.random(t.n), 1.0)
    tau_new = np.where(investing, tau_old + step_used * dt, 0.0)
    curve_old = -np.expm1(-((tau_old / tp.drain_months) ** tp.escalation))
    curve_new = -np.expm1(-((tau_new / tp.drain_months) ** tp.escalation))
    drained = investing & (curve_new >= tp.drain_share)
    curve_new = np.minimum(curve_new, tp.drain_share)
    deposit = np.where(investing & operating, t.wealth * (curve_new - curve_old), 0.0)
    t.paid[:] += deposit
    t.tau[:] = tau_new
    t.state[starts] = INVESTING

    # Money: what targets lose, compounds take in.
    paying = np.flatnonzero(deposit > 0)
    model.credit(t.compound[paying], deposit[paying], scam=True)
    juris = s.juris[t.compound]
    model.ledger.add_by("target_losses", juris[paying], deposit[paying])
    credited = (t.worker[paying], deposit[paying])

    # Targets leave: drained, stopped paying, broke off, or their compound closed.
    done = drained | stops | broke_off | ~operating
    defrauded = done & (t.paid > 0)
    model.ledger.record_losses(t.paid[defrauded])
    model.ledger.add_by("targets_defrauded", juris[defrauded])
    model.ledger.add_by("targets_drained", juris[drained])
    t.keep(~done)
    return credited


def _update_performance(model: ScamModel, credited: tuple[np.ndarray, np.ndarray]) -> None:
    """Exponentially weighted revenue of each worker over about the last month (USD/month).

    With revenue spread evenly over a step, ``perf = perf * e^-dt + revenue * (1 - e^-dt) / dt``
    tracks a steady monthly revenue exactly whatever the step length.
    """
    w = model.workers
    dt = model.clock.dt_months
    memory = np.exp(-dt)
    w.perf[:] *= memory
    uids, amounts = credited
    rows = w.rows_of(uids)
    ok = rows >= 0
    if ok.any():
        w.perf[:] += (np.bincount(rows[ok], amounts[ok], minlength=w.n) * ((1 - memory) / dt)).astype(
            np.float32
        )
