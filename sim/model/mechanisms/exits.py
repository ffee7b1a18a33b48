"""Ways out of a compound: help requests, escape, ransom, resale, and release after raids or closure.

Each held worker faces four competing hazards per step (all per year, turned into one per-step
probability with ``1 - exp(-H dt)``, the route then drawn in proportion to its hazard):

* help request to police (AM8, AM9): with the local corruption probability it is passed back to the
  boss (punishment, possibly resale); otherwise police get the caller, and only the caller, out (AM8);
* escape (AM6), cut by the compound's security;
* ransom paid by family (AM6, RC7), less likely the higher the buy-out price;
* resale of an underperformer at or above the resale punishment level (RC6).

Help requests and escapes rise with punishment (desperation, IN4). Every exit has a route, tallied as
``exits_<route>``; resale moves a worker between compounds and raises the buy-out price (RC6).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from sim.model.model import ScamModel

HELP, ESCAPE, RANSOM, RESALE = 0, 1, 2, 3
MAX_LEVEL = 100  # punishment level cap, keeps int8 levels from overflowing


def worker_events(model: ScamModel) -> None:
    """Draw this step's help requests, escapes, ransoms and resales and carry them out."""
    w = model.workers
    if not w.n:
        return
    p = model.p.workers
    cp = model.p.compounds
    s = model.sites()
    comp = w.compound
    dt = model.clock.dt_years
    rng = model.streams["worker_events"]

    # Thinning (Lewis and Shedler): every worker is a candidate with the probability p_max of the
    # largest hazard anyone can have this step, and a candidate's event happens with probability
    # p_i / p_max. That is exact, and only the few candidates need their hazards computed.
    top_level = int(w.level.max())
    h_max = (p.help_rate + float(s.escape_hazard.max(initial=0.0))) * (1 + p.desperation * top_level)
    h_max += p.ransom_rate + (cp.resale_rate if top_level >= cp.resale_level else 0.0)
    p_max = -np.expm1(-h_max * dt)
    n_candidates = int(rng.binomial(w.n, p_max))
    candidates = rng.choice(w.n, n_candidates, replace=False) if n_candidates else np.empty(0, np.intp)
    candidates.sort()  # row order, so that results do not depend on the sampler's output order

    level = w.level[candidates].astype(np.float64)
    desperation = 1.0 + p.desperation * level
    h_help = p.help_rate * desperation
    h_escape = s.escape_hazard[comp[candidates]] * desperation
    h_ransom = p.ransom_rate * np.exp(-w.debt[candidates] / p.ransom_scale)
    h_resale = (level >= cp.resale_level) * cp.resale_rate
    total = h_help + h_escape + h_ransom + h_resale
    happens = rng.random(n_candidates) * p_max < -np.expm1(-total * dt)
    rows = candidates[happens]

    # The route of each event, in proportion to its hazard (competing risks).
    total = total[happens]
    pick = rng.random(len(rows)) * total
    bound1 = h_help[happens]
    bound2 = bound1 + h_escape[happens]
    bound3 = bound2 + h_ransom[happens]
    route = (pick >= bound1).astype(np.int8) + (pick >= bound2) + (pick >= bound3)

    helpers = rows[route == HELP]
    rescued, leaked = _help_requests(model, helpers)
    sold = rows[route == RESALE]
    resell = leaked[rng.random(len(leaked)) < p.leak_resale]

    ransomed = rows[route == RANSOM]
    ransom = w.debt[ransomed].astype(np.float64)
    model.credit(comp[ransomed], ransom)
    model.ledger.add_by("ransom_paid", model.juris_of(comp[ransomed]), ransom)

    sell_on(model, np.concatenate([sold, resell]))
    remove(model, {"rescue": rescued, "escape": rows[route == ESCAPE], "ransom": ransomed})


def _help_requests(model: ScamModel, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Resolve help requests: leaked ones are punished; the others may end in rescue of the caller.

    Returns:
        (rows rescued, rows whose request was leaked to the boss).
    """
    w = model.workers
    s = model.sites()
    juris = s.juris[w.compound[rows]]
    rng = model.streams["help_requests"]
    u = rng.random(len(rows))
    leaked_mask = u < s.leak[w.compound[rows]]
    leaked = rows[leaked_mask]
    raised = w.level[leaked].astype(np.int16) + model.p.workers.leak_punishment  # no int8 overflow
    w.level[leaked] = np.minimum(raised, MAX_LEVEL)
    not_leaked = rows[~leaked_mask]
    rescued = not_leaked[rng.random(len(not_leaked)) < model.p.police.rescue_success]
    model.ledger.add_by("help_requests", juris)
    model.ledger.add_by("help_leaked", juris[leaked_mask])
    model.ledger.add_by("punishments", juris[leaked_mask])
    return rescued, leaked


def remove(model: ScamModel, by_route: dict[str, np.ndarray]) -> None:
    """Take workers out of captivity, tallying each route, then drop their rows.

    Args:
        model: The model.
        by_route: Row indices of leaving workers for each route in :data:`sim.model.ledger.EXIT_ROUTES`.
    """
    w = model.workers
    if not any(len(rows) for rows in by_route.values()):
        return
    keep = np.ones(w.n, dtype=bool)
    for route, rows in by_route.items():
        juris = model.juris_of(w.compound[rows])
        model.ledger.add_by(f"exits_{route}", juris)
        days = (model.day - w.recruited_day[rows]).astype(np.float64)
        model.ledger.add_by("exit_days_held", juris, days)
        keep[rows] = False
    w.keep(keep)
    model.targets.worker[:] = w.remap(model.targets.worker)


def release(model: ScamModel, rows: np.ndarray) -> int:
    """Release (in practice: detain and deport, EN3) the workers in ``rows``.

    Returns:
        Number of people released.
    """
    remove(model, {"released": rows})
    return len(rows)


def sell_on(model: ScamModel, rows: np.ndarray) -> None:
    """Sell workers to other compounds with free places (RC5, RC6).

    Buyers are drawn among operating compounds in proportion to their free places; a worker whose draw
    falls on their own compound stays. Each sale moves ``resale_price`` from buyer to seller, adds it
    to the worker's buy-out price and resets their punishment (a new boss).
    """
    if not len(rows):
        return
    w = model.workers
    s = model.sites()
    free = np.where(s.active, s.capacity - model.held_by_compound(), 0.0)
    free = np.maximum(np.floor(free), 0).astype(np.int64)
    rng = model.streams["resale"]
    n_sold = min(len(rows), int(free.sum()))
    if n_sold == 0:
        return
    rows = rng.permutation(rows)[:n_sold]
    buyers = np.repeat(np.arange(len(free)), rng.multivariate_hypergeometric(free, n_sold))
    rng.shuffle(buyers)
    moving = buyers != w.compound[rows]
    rows, buyers = rows[moving], buyers[moving]
    sellers = w.compound[rows]
    price = np.full(len(rows), model.p.compounds.resale_price)
    model.credit(sellers, price)
    model.charge(buyers, price)
    model.ledger.add_by("resales", s.juris[sellers])
    w.compound[rows] = buyers
    w.debt[rows] += price
    w.level[rows] = 0
    w.resales[rows] = np.minimum(w.resales[rows] + 1, MAX_LEVEL)
