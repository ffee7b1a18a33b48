"""Where compounds stand: opening, relocation (within and across borders) and closure.

Sites are chosen among towns weighted by each jurisdiction's openness; a site across a border weighs
``police.cross_border_friction`` times one at home (EN1: operations moved to other provinces and over
borders after crackdowns). Within a jurisdiction the hub town takes ``hub_share`` of sites (AM3).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sim.model.mechanisms import exits, production

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


def open_compound(model: ScamModel, boss: Boss, near: int | None) -> Compound:
    """Open a new compound for ``boss`` (growth despite raids, AM11)."""
    juris, town = choose_site(model, home=near)
    compound = model.new_compound(boss, juris, town)
    offer_protection(compound)
    model.ledger.add("compounds_opened", juris)
    return compound


def relocate(compound: Compound) -> None:
    """Move a compound (with its workers) to another town, possibly across a border."""
    model = compound.model
    origin = compound.juris
    juris, town = choose_site(model, home=origin, avoid=(origin, compound.town))
    compound.juris, compound.town = juris, town
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
    model.sites_changed()
    model.ledger.add("compounds_closed", compound.juris)
    production.abandon_targets(model, compound.cid)
    if reason == "raid":
        model.ledger.add("compounds_closed_raid", compound.juris)
    else:
        exits.sell_on(model, np.flatnonzero(model.workers.compound == compound.cid))
    exits.release(model, np.flatnonzero(model.workers.compound == compound.cid))
