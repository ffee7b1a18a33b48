"""Where compounds stand: opening, relocation (within and across borders) and closure.

Sites are chosen among towns weighted by each jurisdiction's openness; a site across a border weighs
``police.cross_border_friction`` times one at home (EN1: operations moved to other provinces and over
borders after crackdowns). Within a jurisdiction the hub town takes ``hub_share`` of sites (AM3).

Sites carry state (:class:`SiteTable`). With ``mechanisms.site_state`` a compound takes the lowest-id
free site of its town (paying ``sites.refit_cost``) or builds one (``sites.build_cost``); a site left
within ``sites.cool_months`` of a raid on it cannot be reused for that long, one shut by a raid is
sealed for ``sites.seal_months``; a move costs ``sites.move_cost_per_worker`` a worker and stops work
for ``sites.move_months``. Switched off, every compound gets a new site at no cost and moves are free
and instant. Every occupation of a site is a spell (:class:`sim.model.population.SpellLog`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sim.model.clock import DAYS_PER_MONTH
from sim.model.mechanisms import exits, production
from sim.model.population import CLOSED_BOSS, CLOSED_RAID, MOVED

if TYPE_CHECKING:
    from sim.model.agents import Boss, Compound
    from sim.model.model import ScamModel


def choose_site(model: ScamModel, home: int | None, avoid: tuple[int, int] | None = None) -> tuple[int, int]:
    """Draw a jurisdiction and town for a compound.

    Args:
        model: The model.
        home: Jurisdiction the boss operates from (sites across a border are discounted), or None.
        avoid: A (jurisdiction, town) to avoid, e.g. the town a compound is fleeing. In a one-town
            jurisdiction the compound moves to another site in the same town.

    Returns:
        (jurisdiction index, town index).
    """
    rng = model.streams["sites"]
    weights = model.juris_openness.copy()
    if home is not None:
        weights *= model.p.police.cross_border_friction
        weights[home] = model.juris_openness[home]
    if weights.sum() <= 0:
        weights = np.ones_like(weights)
    juris = int(rng.choice(len(weights), p=weights / weights.sum()))
    town_weights = model.town_weights[juris].copy()
    if avoid is not None and avoid[0] == juris and len(town_weights) > 1:
        town_weights[avoid[1]] = 0.0
        if town_weights.sum() <= 0:  # the town left was the only weighted one: any other will do
            town_weights = np.ones_like(town_weights)
            town_weights[avoid[1]] = 0.0
    town = int(rng.choice(len(town_weights), p=town_weights / town_weights.sum()))
    return juris, town


def offer_protection(compound: Compound) -> None:
    """The boss offers the local police a bribe; corrupt police accept and protect the compound."""
    police = compound.model.police[compound.juris]
    compound.protected = police.accepts_bribe()
    compound.model.sites_changed()


FREE, OCCUPIED, SEALED = 0, 1, 2


class SiteTable:
    """Every site ever used: jurisdiction, town, state, when it is free again, last raid, occupant.

    A few hundred rows at most, so plain growing arrays.
    """

    def __init__(self) -> None:
        self.juris = np.zeros(0, dtype=np.intp)
        self.town = np.zeros(0, dtype=np.intp)
        self.state = np.zeros(0, dtype=np.int8)
        self.blocked_until = np.zeros(0)
        self.last_raid = np.zeros(0)

    def __len__(self) -> int:
        return len(self.juris)

    def add(self, juris: int, town: int) -> int:
        """A new site in ``town`` of ``juris``; returns its id."""
        self.juris = np.append(self.juris, juris)
        self.town = np.append(self.town, town)
        self.state = np.append(self.state, np.int8(OCCUPIED))
        self.blocked_until = np.append(self.blocked_until, -np.inf)
        self.last_raid = np.append(self.last_raid, -np.inf)
        return len(self.juris) - 1

    def raided(self, site: int, day: float) -> None:
        """Note a raid on ``site``."""
        self.last_raid[site] = day

    def free(self, juris: int, town: int, day: float) -> int | None:
        """Lowest-id site of the town that can be taken today, or None."""
        ok = (
            (self.juris == juris)
            & (self.town == town)
            & (self.state != OCCUPIED)
            & (self.blocked_until <= day)
        )
        hits = np.flatnonzero(ok)
        return int(hits[0]) if len(hits) else None

    def leave(self, site: int, day: float, sealed_months: float | None, cool_months: float) -> None:
        """The occupant leaves the site.

        It is sealed for ``sealed_months`` (a raid closure), or free, after a cooling time if it was
        raided in the last ``cool_months``.
        """
        if sealed_months is not None:
            self.state[site] = SEALED
            self.blocked_until[site] = day + sealed_months * DAYS_PER_MONTH
            return
        self.state[site] = FREE
        if day - self.last_raid[site] < cool_months * DAYS_PER_MONTH:
            self.blocked_until[site] = day + cool_months * DAYS_PER_MONTH


def acquire(model: ScamModel, compound: Compound, juris: int, town: int) -> int:
    """The site a compound takes in ``town`` of ``juris``, paying for it once the run has started."""
    table = model.site_table
    sp = model.p.sites
    if not model.p.mechanisms.site_state:
        return table.add(juris, town)
    site = table.free(juris, town, model.day)
    if site is None:
        site, cost = table.add(juris, town), sp.build_cost
    else:
        table.state[site] = OCCUPIED
        cost = sp.refit_cost
    if model.steps > 0:  # the sites of the initial compounds already stand
        model.charge(np.array([compound.cid]), np.array([cost * model.p.scale]))
        model.ledger.add("site_costs", juris, cost * model.p.scale)
    return site


def _leave_site(compound: Compound, sealed: bool) -> None:
    model = compound.model
    sp = model.p.sites
    if model.p.mechanisms.site_state:
        model.site_table.leave(compound.site, model.day, sp.seal_months if sealed else None, sp.cool_months)


def open_compound(model: ScamModel, boss: Boss, near: int | None, juris: int | None = None) -> Compound:
    """Open a new compound for ``boss`` (growth despite raids, AM11), in ``juris`` if given."""
    if juris is None:
        juris, town = choose_site(model, home=near)
    else:
        weights = model.town_weights[juris]
        town = int(model.streams["sites"].choice(len(weights), p=weights))
    compound = model.new_compound(boss, juris, town)
    offer_protection(compound)
    model.ledger.add("compounds_opened", juris)
    return compound


def relocate(compound: Compound, to: int | None = None) -> None:
    """Move a compound (with its workers) to another town, possibly across a border (to ``to`` if given)."""
    model = compound.model
    origin = compound.juris
    if to is None:
        juris, town = choose_site(model, home=origin, avoid=(origin, compound.town))
    else:
        weights = model.town_weights[to]
        juris, town = to, int(model.streams["sites"].choice(len(weights), p=weights))
    model.spells.close(compound.spell, model.day, MOVED)
    _leave_site(compound, sealed=False)
    compound.juris, compound.town = juris, town
    compound.site = acquire(model, compound, juris, town)
    compound.spell = model.spells.open(compound.cid, compound.site, juris, town, model.day)
    if model.p.mechanisms.site_state:
        held = int(model.held_by_compound()[compound.cid])
        cost = model.p.sites.move_cost_per_worker * held
        model.charge(np.array([compound.cid]), np.array([cost]))
        model.ledger.add("relocation_costs", origin, cost)
        until = model.day + model.p.sites.move_months * DAYS_PER_MONTH
        model.accounts.down_until[compound.cid] = max(model.accounts.down_until[compound.cid], until)
    compound.relocations += 1
    if juris == origin:
        model.ledger.add("relocated_within", origin)
    else:
        model.ledger.add("relocated_out", origin)
        model.ledger.add("relocated_in", juris)
    offer_protection(compound)


def close(compound: Compound, reason: str) -> None:
    """Shut a compound down. Its workers are sold on where others have room, else released.

    Args:
        compound: The compound.
        reason: "raid" or "unprofitable".
    """
    model = compound.model
    compound.active = False
    compound.protected = False
    compound.closed_day = model.day
    model.spells.close(compound.spell, model.day, CLOSED_RAID if reason == "raid" else CLOSED_BOSS)
    _leave_site(compound, sealed=reason == "raid")
    model.sites_changed()
    model.ledger.add("compounds_closed", compound.juris)
    production.abandon_targets(model, compound.cid)
    if reason == "raid":
        model.ledger.add("compounds_closed_raid", compound.juris)
    else:
        exits.sell_on(model, np.flatnonzero(model.workers.compound == compound.cid))
    exits.release(model, np.flatnonzero(model.workers.compound == compound.cid))
