"""Police raids and corruption (AM7-AM10, EN1-EN3).

Each police unit plans raids on the compounds of its jurisdiction at ``raid_rate`` per compound per
year, steered away from elite-linked and protection-paying compounds (EN2). A planned raid is leaked
(tipped off) if the compound pays protection or, otherwise, with the corruption probability. A leaked
raid finds only the workers not moved out beforehand (EN1, EN2); the compound carries on, perhaps in
another town. An un-leaked raid takes out every worker found (release, usually deportation, EN3) and
shuts the compound with ``closure_prob``; otherwise the boss moves it or simply carries on (AM7: most
compounds kept operating after police interventions).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sim.model.mechanisms import exits, sites

if TYPE_CHECKING:
    from sim.model.agents import Compound, Police


def plan_raids(police: Police) -> list[tuple[Compound, bool]]:
    """Choose this step's raids in the police unit's jurisdiction.

    Returns:
        (compound, tipped off?) for each raid, in compound order.
    """
    model = police.model
    pp = model.p.police
    candidates = [c for c in model.compounds if c.active and c.juris == police.juris]
    if not candidates or police.raid_rate <= 0:
        return []
    weight = np.array(
        [
            (pp.elite_raid_weight if c.elite else 1.0) * (pp.protected_raid_weight if c.protected else 1.0)
            for c in candidates
        ]
    )
    rng = model.streams["raids"]
    hit = rng.random(len(candidates)) < model.clock.p_year(police.raid_rate * weight)
    leak = rng.random(len(candidates)) < police.corruption
    return [(c, bool(c.protected or lk)) for c, h, lk in zip(candidates, hit, leak, strict=True) if h]


def raid(compound: Compound, tipped_off: bool) -> None:
    """Carry out one raid and log it."""
    model = compound.model
    pp = model.p.police
    rng = model.streams["raid_outcomes"]
    compound.raids += 1
    compound.tipoffs += tipped_off
    if compound.first_raid_day is None:
        compound.first_raid_day = model.day
    rows = np.flatnonzero(model.workers.compound == compound.cid)
    u_found = rng.random(len(rows))
    u_close, u_move = rng.random(2)
    found = rows[u_found >= pp.tipoff_evacuation] if tipped_off else rows
    n_found = exits.release(model, found)

    juris, town, protected = compound.juris, compound.town, compound.protected
    if not tipped_off and u_close < pp.closure_prob:
        outcome = "closed"
        sites.close(compound, reason="raid")
    elif u_move < (pp.relocate_after_tipoff if tipped_off else pp.relocate_after_raid):
        outcome = "relocated"
        sites.relocate(compound)
    else:
        outcome = "continued"
        if not compound.protected:
            sites.offer_protection(compound)
    model.ledger.add("raids", juris)
    model.ledger.add("raids_tipped_off", juris, float(tipped_off))
    model.ledger.log_raid(
        step=model.steps - 1,
        day=model.day,
        compound=compound.cid,
        juris=juris,
        town=town,
        elite=compound.elite,
        protected=protected,
        tipped_off=tipped_off,
        workers_found=n_found,
        outcome=outcome,
    )
