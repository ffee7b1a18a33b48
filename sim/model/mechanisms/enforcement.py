"""Police raids and corruption (AM7-AM10, EN1-EN3).

**Capacity** (``mechanisms.raid_capacity``). Police in a jurisdiction can carry out
``police.raid_capacity * raid_capacity_factor`` raids a year (times the multiplier of any dated campaign
in force, EN1). Each step they carry out a Poisson number of them, each on a different operating
compound chosen in proportion to its weight: elite-linked and protection-paying compounds are passed
over (EN2). The rate a compound is raided at is an output: it falls as the industry grows and rises on
the survivors as it shrinks. Switched off, each compound is raided at ``capacity * weight /
police.reference_compounds`` a year, so police effort grows with the industry.

**Tip-offs** (``mechanisms.tipoff_decoupled``). A raid on a protection-paying compound is leaked with
``police.protected_tipoff`` (switched off: always), on any other with the corruption probability. A
leaked raid finds only the workers not moved out beforehand (EN1, EN2); with the switch on, the move
costs ``raids.evacuation_cost`` a worker, loses ``raids.evacuation_loss`` of them and stops work for
``raids.leaked_downtime_months``.

**Raid costs** (``mechanisms.raid_costs``). An un-leaked raid takes out every worker found (release,
usually deportation, EN3). With the switch on it also seizes ``raids.cash_months`` of the compound's
expected takings and ``raids.asset_loss_per_worker`` a worker held, breaks its pipeline (its targets
stop paying) and stops its work for ``raids.downtime_months``; a leaked raid breaks the pipeline of the
workers found. The raid then shuts the compound with ``closure_prob``; otherwise the boss moves it or
carries on (AM7: most compounds kept operating after police interventions).

**Campaigns** (``police.campaigns``, EN1) add extra raids, chosen the same way among the compounds of
their towns, from their own random stream ``policy:<name>``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sim.model.clock import DAYS_PER_MONTH
from sim.model.mechanisms import exits, production, sites
from sim.model.schemas import parse_date

if TYPE_CHECKING:
    from sim.model.agents import Compound, Police
    from sim.model.model import ScamModel


def active_campaigns(model: ScamModel, juris: int) -> list[str]:
    """Names of the campaigns in force today in jurisdiction ``juris``."""
    campaigns = model.p.police.campaigns
    if not campaigns:
        return []
    date = model.clock.date(model.steps - 1)
    name = model.juris_names[juris]
    return [
        key
        for key, c in campaigns.items()
        if c.jurisdiction == name
        and parse_date(f"police.campaigns.{key}.start", c.start) <= date
        and date <= parse_date(f"police.campaigns.{key}.end", c.end)
    ]


def campaign_factor(model: ScamModel, juris: int, attribute: str) -> float:
    """Product of ``attribute`` (capacity_multiplier or leak_factor) over campaigns in force in ``juris``."""
    factor = 1.0
    for name in active_campaigns(model, juris):
        factor *= getattr(model.p.police.campaigns[name], attribute)
    return factor


def plan_raids(police: Police) -> list[tuple[Compound, bool]]:
    """Choose this step's raids in the police unit's jurisdiction.

    Returns:
        (compound, tipped off?) for each raid, in compound order.
    """
    model = police.model
    s = model.sites()
    candidates = np.flatnonzero(s.active & (s.juris == police.juris) & model.up())
    capacity = model.capacity(police.juris)
    if not len(candidates) or capacity <= 0:
        return []
    weight = model.raid_weights()[candidates]
    rng = model.streams["raids"]
    if model.p.mechanisms.raid_capacity:
        k = int(rng.poisson(capacity * model.clock.dt_years))
        if k:  # most steps have no raid: count the weights only when there is one
            k = min(k, int((weight > 0).sum()))
        # Distinct picks, sorted: the raided in compound order, as a mask would give them.
        raided = (
            np.sort(rng.choice(len(candidates), k, replace=False, p=weight / weight.sum()))
            if k
            else np.zeros(0, np.intp)
        )
    else:
        rate = capacity * weight / model.p.police.reference_compounds
        raided = np.flatnonzero(rng.random(len(candidates)) < model.clock.p_year(rate))
    u_leak = rng.random(len(candidates))  # drawn for every candidate, raided or not
    if not len(raided):
        return []
    raided_cids = candidates[raided]
    leak = u_leak[raided] < model.tipoff_prob()[raided_cids]
    return [(model.compounds[c], lk) for c, lk in zip(raided_cids.tolist(), leak.tolist(), strict=True)]


def campaign_raids(police: Police) -> list[tuple[str, Compound, bool]]:
    """The extra raids of the campaigns in force in the police unit's jurisdiction this step (EN1).

    Returns:
        (campaign name, compound, tipped off?) for each raid.
    """
    model = police.model
    out = []
    for name in active_campaigns(model, police.juris):
        c = model.p.police.campaigns[name]
        days = (parse_date("end", c.end) - parse_date("start", c.start)).days + 1
        rng = model.streams[f"policy:{name}"]
        k = int(rng.poisson(c.raids / (days / 365.25) * model.clock.dt_years))
        s = model.sites()
        where = s.active & (s.juris == police.juris) & model.up()
        if c.towns == "hub":
            where &= np.array([cp.town == 0 for cp in model.compounds], dtype=bool)
        candidates = np.flatnonzero(where)
        weight = model.raid_weights()[candidates]
        k = min(k, int((weight > 0).sum()))
        if not k:
            continue
        chosen = np.sort(rng.choice(len(candidates), k, replace=False, p=weight / weight.sum()))
        leak = rng.random(k) < model.tipoff_prob()[candidates[chosen]]
        out += [
            (name, model.compounds[int(candidates[i])], bool(lk)) for i, lk in zip(chosen, leak, strict=True)
        ]
    return out


def raid(compound: Compound, tipped_off: bool, campaign: str = "") -> None:
    """Carry out one raid and log it."""
    model = compound.model
    pp = model.p.police
    mech = model.p.mechanisms
    rp = model.p.raids
    rng = model.streams["raid_outcomes"]
    cid = compound.cid
    compound.raids += 1
    compound.tipoffs += tipped_off
    if compound.first_raid_day is None:
        compound.first_raid_day = model.day
    model.spells.intervened(np.array([compound.spell]), model.day, raid=True)
    model.site_table.raided(compound.site, model.day)
    rows = np.flatnonzero(model.workers.compound == cid)
    u_found = rng.random(len(rows))
    u_close, u_move = rng.random(2)
    found = rows[u_found >= pp.tipoff_evacuation] if tipped_off else rows
    juris, town, protected = compound.juris, compound.town, compound.protected
    ids = np.array([cid])
    if tipped_off and mech.tipoff_decoupled:
        moved = rows[u_found < pp.tipoff_evacuation]
        lost = moved[model.streams["raid_costs"].random(len(moved)) < rp.evacuation_loss]
        found = np.sort(np.concatenate([found, lost]))
        cost = rp.evacuation_cost * len(moved)
        model.charge(ids, np.array([cost]))
        model.ledger.add("evacuation_costs", juris, cost)
        stop_work(model, cid, rp.leaked_downtime_months)
    if mech.raid_costs:
        if tipped_off:  # the targets of the workers found are lost with them
            t = model.targets
            # A mask over worker rows, not np.isin, which sorts both arrays; the extra last entry,
            # picked by the -1 of targets whose worker has left, stays False.
            is_found = np.zeros(model.workers.n + 1, dtype=bool)
            is_found[found] = True
            production.drop_targets(model, is_found[t.worker] & (t.compound == cid))
        else:
            seized = rp.cash_months * model.net_yield() * model.accounts.work[
                cid
            ] + rp.asset_loss_per_worker * len(rows)
            model.charge(ids, np.array([seized]))
            model.ledger.add("raid_seizures", juris, seized)
            production.drop_targets(model, model.targets.compound == cid)
            stop_work(model, cid, rp.downtime_months)
    n_found = exits.release(model, found)

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
        compound=cid,
        juris=juris,
        town=town,
        elite=compound.elite,
        protected=protected,
        tipped_off=tipped_off,
        workers_found=n_found,
        outcome=outcome,
        campaign=campaign,
    )


def stop_work(model: ScamModel, cid: int, months: float) -> None:
    """Stop compound ``cid``'s work for ``months`` from today (or longer, if it is already stopped)."""
    until = model.day + months * DAYS_PER_MONTH
    model.accounts.down_until[cid] = max(model.accounts.down_until[cid], until)
