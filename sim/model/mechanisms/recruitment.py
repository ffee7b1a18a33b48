"""Recruitment: bosses order workers, recruiters deliver them (RC1-RC5, RC9), captives recruit too.

Each step every boss orders enough people to fill the free places of its compounds. Each recruiter can
deliver a Poisson number of people with mean ``reach * response * dt``, where ``reach`` is the source
country's share (RC9 weight) of ``ad_reach`` split among its recruiters, and the response falls with
the country's awareness among would-be deceived jobseekers (RC3); captives forced to recruit add
``captive_recruit_rate`` recruits per held worker per year (RC1). Orders are filled from this supply
without replacement, so no compound gets more than it ordered and no recruiter delivers more than it
found. Compounds pay each recruiter ``price`` per head (RC4, RC5); the price starts the recruit's
buy-out debt.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from sim.model.model import ScamModel


def recruit(model: ScamModel) -> None:
    """Fill this step's orders from recruiters' and captives' supply and add the recruits."""
    held = model.held_by_compound()
    s = model.sites()
    # Every boss orders enough people to fill the free places of its working compounds; the orders
    # of all bosses are worked out at once from the per-site arrays.
    ordering = np.flatnonzero(s.active & (held < s.capacity) & model.up() & worth_recruiting(model))
    recruiters = model.recruiters
    recruiter_source = np.fromiter((r.source for r in recruiters), np.intp, len(recruiters))
    rng = model.streams["recruitment"]
    supply = rng.poisson(supply_means(model, recruiter_source))
    captive_supply = int(
        rng.poisson(model.p.recruitment.captive_recruit_rate * model.workers.n * model.clock.dt_years)
    )
    if not len(ordering):
        return
    wanted = (s.capacity[ordering] - held[ordering]).astype(np.int64)
    slots = np.append(supply, captive_supply)
    n = int(min(slots.sum(), wanted.sum()))
    if n == 0:
        return
    from_slot = rng.multivariate_hypergeometric(slots, n)
    to_compound = np.repeat(ordering, rng.multivariate_hypergeometric(wanted, n))
    rng.shuffle(to_compound)

    price = model.p.recruitment.price
    for recruiter, k in zip(recruiters, from_slot[:-1].tolist(), strict=True):
        recruiter.delivered += k
        recruiter.earnings += k * price
    n_captive = int(from_slot[-1])
    # Captives recruit among their own networks: source countries in proportion to their weight.
    by_captives = rng.multinomial(n_captive, model.source_weights)
    source = np.concatenate(
        [np.repeat(recruiter_source, from_slot[:-1]), np.repeat(np.arange(len(by_captives)), by_captives)]
    )
    deceived = rng.random(n) < model.source_deceived_share[source]
    source = source.astype(np.int8)
    paid = np.zeros(n)
    paid[: n - n_captive] = price  # captives' recruits cost no fee
    model.charge(to_compound, paid)
    model.add_workers(to_compound, source, deceived, debt=np.full(n, price))
    juris = s.juris[to_compound]
    model.ledger.add_by("recruited", juris)
    model.ledger.add_by("recruited_deceived", juris[deceived])
    model.ledger.add_by("recruit_fees", juris, paid)


def worth_recruiting(model: ScamModel) -> np.ndarray | bool:
    """Whether a new recruit pays for their price at each compound (``mechanisms.workforce_economics``).

    A recruit of skill 1 and no punishment is worth ``net yield * productivity - running_cost - bribe``
    a month over ``workforce.tenure_months``; compounds where that is below ``recruitment.price`` stop
    ordering. Switched off, every compound orders.
    """
    if not model.p.mechanisms.workforce_economics:
        return True
    s = model.sites()
    cp = model.p.compounds
    value = (
        model.net_yield() * s.productivity - cp.running_cost - s.protected * model.p.police.bribe_per_worker
    )
    return value * model.p.workforce.tenure_months > model.p.recruitment.price


def supply_means(model: ScamModel, recruiter_source: np.ndarray) -> np.ndarray:
    """Mean number of people each recruiter can deliver this step.

    Args:
        model: The model.
        recruiter_source: Source country of each recruiter.
    """
    rp = model.p.recruitment
    covid = rp.covid_multiplier if model.in_covid_period() else 1.0
    reach = rp.ad_reach * model.source_weights[recruiter_source] / rp.recruiters_per_source
    return reach * model.p.scale * covid * model.source_response[recruiter_source] * model.clock.dt_years
