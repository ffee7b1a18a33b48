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

With ``mechanisms.exit_routes`` (AM8, AM9, seed article, EN3): a help request first has to reach police
at all (``workers.help_reach``: phones are confiscated), then not be leaked, then be acted on
(``police.rescue_act``: police often stayed outside), before the guards hand over the caller; an escape
succeeds with ``workers.escape_success``, and a failed one is punished like a leaked request; a person
released or rescued is re-trafficked with ``workers.retraffic_share`` (sold on to a compound with room,
staying held) and otherwise extorted in detention with ``workers.extorted_share``.

With ``mechanisms.workforce_economics`` compounds shed workers whose expected value is negative
(:func:`shed`): some are sold on, the rest abandoned (route ``abandoned``).

:func:`survey_visits` is the observation side of rescues: the chance that police came to a compound's
gate for a caller, recorded for the AM7 categories and read by nothing else.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sim.model import kernels
from sim.model.clock import DAYS_PER_MONTH
from sim.model.ledger import HELD_BINS, HELD_EDGES_MONTHS

if TYPE_CHECKING:
    from sim.model.model import ScamModel

HELP, ESCAPE, RANSOM, RESALE = 0, 1, 2, 3
MAX_LEVEL = 100  # punishment level cap, keeps int8 levels from overflowing
HELD_EDGES_DAYS = np.array(HELD_EDGES_MONTHS) * DAYS_PER_MONTH


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
    picks = rng.choice(w.n, n_candidates, replace=False) if n_candidates else np.zeros(0, np.intp)
    # Row order, so that results do not depend on the sampler's output order.
    candidates = kernels.chosen_rows(w.n, picks)

    # numpy's exp, not the kernel's: the two can differ in the last bit, and the kernels must not change
    # a single draw's outcome.
    h_ransom = p.ransom_rate * np.exp(-w.debt[candidates] / p.ransom_scale)
    h_help, h_escape, total = kernels.exit_hazards(
        candidates,
        w.level,
        comp,
        s.escape_hazard,
        h_ransom,
        float(p.help_rate),  # floats, so that numba compiles one version whatever the configuration
        float(p.desperation),
        float(cp.resale_level),
        float(cp.resale_rate),
    )
    # numpy's expm1 for the same reason; the kernel keeps the candidates whose event happens.
    rows, total, *bounds = kernels.exit_events(
        candidates, rng.random(n_candidates), p_max, -np.expm1(-total * dt), h_help, h_escape, h_ransom, total
    )

    # The route of each event, in proportion to its hazard (competing risks).
    by_route = kernels.exit_routes(rows, rng.random(len(rows)), total, *bounds)  # indexed by route code
    helpers, escapes, ransomed, sold = (by_route[r] for r in (HELP, ESCAPE, RANSOM, RESALE))

    rescued, leaked = _help_requests(model, helpers)
    if model.p.mechanisms.exit_routes:
        caught = rng.random(len(escapes)) >= p.escape_success
        failed, escapes = escapes[caught], escapes[~caught]
        model.ledger.add_by("escape_failed", model.juris_of(comp[failed]))
        w.level[failed] = np.minimum(w.level[failed].astype(np.int16) + p.leak_punishment, MAX_LEVEL)
        leaked = np.concatenate([leaked, failed])
        rescued = _retraffic(model, rescued)
        _extort(model, rescued)
    resell = leaked[rng.random(len(leaked)) < p.leak_resale]

    ransom = w.debt[ransomed].astype(np.float64)
    model.credit(comp[ransomed], ransom)
    model.ledger.add_by("ransom_paid", model.juris_of(comp[ransomed]), ransom)

    sell_on(model, np.concatenate([sold, resell]))
    remove(model, {"rescue": rescued, "escape": escapes, "ransom": ransomed})


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
    act = model.p.police.rescue_success
    if model.p.mechanisms.exit_routes:
        reached = rng.random(len(rows)) < model.p.workers.help_reach
        leaked_mask &= reached
        act *= model.p.police.rescue_act
        model.ledger.add_by("help_unreached", juris[~reached])
    else:
        reached = np.ones(len(rows), dtype=bool)
    leaked = rows[leaked_mask]
    raised = w.level[leaked].astype(np.int16) + model.p.workers.leak_punishment  # no int8 overflow
    w.level[leaked] = np.minimum(raised, MAX_LEVEL)
    not_leaked = rows[~leaked_mask & reached]
    rescued_mask = rng.random(len(not_leaked)) < act
    rescued = not_leaked[rescued_mask]
    model.ledger.add_by("help_requests", juris)
    model.ledger.add_by("help_leaked", juris[leaked_mask])
    model.ledger.add_by("punishments", juris[leaked_mask])
    if model.p.mechanisms.exit_routes:
        model.ledger.add_by("help_ignored", s.juris[w.compound[not_leaked[~rescued_mask]]])
    return rescued, leaked


def remove(model: ScamModel, by_route: dict[str, np.ndarray]) -> None:
    """Take workers out of captivity, tallying each route, then drop their rows.

    Args:
        model: The model.
        by_route: Row indices of leaving workers for each route in :data:`sim.model.ledger.EXIT_ROUTES`.
    """
    w = model.workers
    sizes = [len(rows) for rows in by_route.values()]
    if not any(sizes):
        return
    # All routes at once: this runs after every raid and every step's worker events, and a tally per
    # route and bin cost dozens of calls on a few rows each.
    rows = np.concatenate(list(by_route.values()))
    juris = model.juris_of(w.compound[rows])
    route = np.repeat(np.arange(len(sizes)), sizes)
    model.ledger.add_counts([f"exits_{name}" for name in by_route], route, juris)
    # Days are whole numbers, so their float sum is exact and one sum over every route equals the sum
    # of the routes' sums.
    days = (model.day - w.recruited_day[rows]).astype(np.float64)
    model.ledger.add_by("exit_days_held", juris, days)
    model.ledger.add_counts(HELD_BINS, np.searchsorted(HELD_EDGES_DAYS, days, side="right"), juris)
    keep = np.ones(w.n, dtype=bool)
    keep[rows] = False
    w.keep(keep)
    model.targets.worker[:] = w.remap(model.targets.worker)


def release(model: ScamModel, rows: np.ndarray) -> int:
    """Release (in practice: detain and deport, EN3) the workers in ``rows``.

    With ``mechanisms.exit_routes`` some are re-trafficked instead and some of the rest extorted.

    Returns:
        Number of people found (released or re-trafficked).
    """
    found = len(rows)
    if model.p.mechanisms.exit_routes:
        rows = _retraffic(model, rows)
        _extort(model, rows)
    remove(model, {"released": rows})
    return found


def _retraffic(model: ScamModel, rows: np.ndarray) -> np.ndarray:
    """Re-traffic ``workers.retraffic_share`` of people about to leave; returns those who still leave."""
    if not len(rows):
        return rows
    w = model.workers
    before = w.compound[rows].copy()
    back = model.streams["retraffic"].random(len(rows)) < model.p.workers.retraffic_share
    sell_on(model, rows[back], to_seller=False)
    moved = w.compound[rows] != before
    model.ledger.add_by("retrafficked", model.juris_of(w.compound[rows[moved]]))
    return rows[~moved]


def _extort(model: ScamModel, rows: np.ndarray) -> None:
    """Detention extortion of people leaving by release or rescue (EN3): harm only, no compound's money."""
    extorted = rows[model.streams["retraffic"].random(len(rows)) < model.p.workers.extorted_share]
    juris = model.juris_of(model.workers.compound[extorted])
    model.ledger.add_by("extorted", juris)
    model.ledger.add_by("detention_extortion", juris, np.full(len(extorted), model.p.workers.detention_bribe))


def shed(model: ScamModel) -> None:
    """Compounds let go of workers whose expected value is negative (``mechanisms.workforce_economics``).

    A worker's expected value a month is ``net yield * skill * effort * productivity - running_cost -
    bribe``; those below zero in working compounds leave at ``workforce.shed_rate``: ``sell_share`` of
    them are offered for resale, the rest (and those no buyer takes) are abandoned. Only compounds whose
    skill threshold lies above the lowest skill anyone plausibly has are scanned, so in the baseline no
    worker is looked at.
    """
    w = model.workers
    if not w.n:
        return
    s = model.sites()
    cp = model.p.compounds
    cost = cp.running_cost + s.protected * model.p.police.bribe_per_worker
    value_per_skill = model.net_yield() * s.productivity
    with np.errstate(divide="ignore"):
        threshold = np.where(value_per_skill > 0, cost / value_per_skill, np.inf)
    sigma = model.p.workers.skill_sigma
    skill_floor = np.exp(-0.5 * sigma**2 - 3.72 * sigma)  # the 1e-4 quantile of the skill law
    scan = s.active & model.up() & (threshold > skill_floor)
    if not scan.any():
        return
    # effort >= 1, so only workers below their compound's skill threshold can be worth less than they cost
    rows = np.flatnonzero(w.skill < np.where(scan, threshold, 0.0)[w.compound])
    effort = 1.0 + model.p.workers.effort_per_level * w.level[rows]
    value = value_per_skill[w.compound[rows]] * w.skill[rows] * effort - cost[w.compound[rows]]
    rows = rows[value < 0]
    rng = model.streams["workforce"]
    rows = rows[rng.random(len(rows)) < model.clock.p_year(model.p.workforce.shed_rate)]
    if not len(rows):
        return
    before = w.compound[rows].copy()
    offered = rng.random(len(rows)) < model.p.workforce.sell_share
    sell_on(model, rows[offered])
    sold = w.compound[rows] != before
    model.ledger.add_by("workers_shed_sold", model.juris_of(w.compound[rows[sold]]))
    remove(model, {"abandoned": rows[~sold]})


def survey_visits(model: ScamModel, held: np.ndarray) -> None:
    """Mark spells where police came to the gate for a caller this step (AM8): observation only.

    The chance is ``1 - exp(-E / scale)`` with ``E`` the expected rescues at the compound this step at
    full scale, so that it does not depend on the population scale; drawn from stream ``survey``.
    """
    n = len(model.compounds)
    if not n or model.day > model.spells_end_day:
        return
    p = model.p.workers
    s = model.sites()
    chain = (1 - s.leak) * model.p.police.rescue_success
    if model.p.mechanisms.exit_routes:
        chain = chain * p.help_reach * model.p.police.rescue_act
    level = float(model.workers.level.mean()) if model.workers.n else 0.0
    expected = held * p.help_rate * (1 + p.desperation * level) * chain * model.clock.dt_years
    visited = model.streams["survey"].random(n) < -np.expm1(-expected / model.p.scale)
    cids = np.flatnonzero(visited & s.active)
    if len(cids):
        model.spells.intervened(
            np.array([model.compounds[c].spell for c in cids.tolist()]), model.day, raid=False
        )


def sell_on(model: ScamModel, rows: np.ndarray, to_seller: bool = True) -> None:
    """Sell workers to other compounds with free places (RC5, RC6).

    Buyers are drawn among operating compounds in proportion to their free places; a worker whose draw
    falls on their own compound stays. Each sale moves ``resale_price`` from the buyer to the seller
    (to brokers and police if not ``to_seller``: re-trafficking after release), adds it to the worker's
    buy-out price and resets their punishment (a new boss).
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
    price = float(model.p.compounds.resale_price)
    # Debt, punishment and resale count of those who change compound, in one pass.
    rows, buyers, sellers = kernels.resell(
        rows, buyers, w.compound, w.debt, w.level, w.resales, price, MAX_LEVEL
    )
    amounts = np.full(len(rows), price)
    if to_seller:
        model.credit(sellers, amounts)
    model.charge(buyers, amounts)
    model.ledger.add_by("resales", s.juris[sellers])
    w.move(rows, buyers)
