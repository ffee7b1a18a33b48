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

from sim.agents import Boss, Recruiter

if TYPE_CHECKING:
    from sim.model import ScamModel


def recruit(model: ScamModel) -> None:
    """Fill this step's orders from recruiters' and captives' supply and add the recruits."""
    held = model.held_by_compound()
    orders: dict[int, int] = {}
    for boss in model.agents_by_type[Boss]:
        orders.update(boss.orders(held))
    recruiters = list(model.agents_by_type[Recruiter])
    supply = [r.supply() for r in recruiters]
    rng = model.streams["recruitment"]
    captive_supply = int(
        rng.poisson(model.p.recruitment.captive_recruit_rate * model.workers.n * model.clock.dt_years)
    )
    if not orders:
        return
    wanted = np.fromiter(orders.values(), np.int64)
    slots = np.array([*supply, captive_supply], dtype=np.int64)
    n = int(min(slots.sum(), wanted.sum()))
    if n == 0:
        return
    from_slot = rng.multivariate_hypergeometric(slots, n)
    to_compound = np.repeat(np.fromiter(orders.keys(), np.int64), rng.multivariate_hypergeometric(wanted, n))
    rng.shuffle(to_compound)

    price = model.p.recruitment.price
    sources, deceived_p = [], []
    for recruiter, k in zip(recruiters, from_slot[:-1], strict=True):
        if k:
            recruiter.delivered += int(k)
            recruiter.earnings += k * price
            sources.append(np.full(k, recruiter.source))
            deceived_p.append(np.full(k, recruiter.deceived_share()))
    n_captive = int(from_slot[-1])
    captive_sources = rng.choice(len(model.source_weights), n_captive, p=model.source_weights)
    sources.append(captive_sources)
    deceived_p.append(model.source_deceived_share[captive_sources])
    source = np.concatenate(sources).astype(np.int8)
    deceived = rng.random(n) < np.concatenate(deceived_p)
    paid = np.zeros(n)
    paid[: n - n_captive] = price  # captives' recruits cost no fee
    model.charge(to_compound, paid)
    model.add_workers(to_compound, source, deceived, debt=np.full(n, price))
    juris = model.sites().juris[to_compound]
    model.ledger.add_by("recruited", juris)
    model.ledger.add_by("recruited_deceived", juris[deceived])
    model.ledger.add_by("recruit_fees", juris, paid)
