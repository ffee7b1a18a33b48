"""Syndicates entering and leaving the business (``mechanisms.entry_exit``; AM11, EN1).

Each step, in each jurisdiction, the margin of a standard new compound (``entry.fill`` of the median
capacity, at unit work intensity) is

    A_j = (g - rho / 12 * L) / (y * h),

with ``y`` the net expected takings per unit work-month, ``h`` its workers, ``g`` its gross margin a
month after upkeep, fixed costs and the protection money it expects to pay (with the chance it is
accepted), ``rho`` the un-leaked raids a year it expects (its share of the police's capacity, once
leaks are taken off) and ``L`` what an un-leaked raid costs it (:func:`raid_loss`). New syndicates enter
at ``entry.rate * openness_j * clip(A_j, 0, 1)`` a year, each opening one compound there. Every term is
proportional to the population scale, so ``A_j`` is not.

Incumbents weigh the same expected raid loss (:func:`raid_risk`) in their expected profit; a boss who
would close a loss-making compound moves it across the border instead when a neighbouring
jurisdiction's margin is positive (the balloon effect), and a syndicate with nothing left to run leaves.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sim.model.mechanisms import sites

if TYPE_CHECKING:
    from sim.model.model import ScamModel


def raid_loss(model: ScamModel, margin: np.ndarray | float, held: np.ndarray | float) -> np.ndarray | float:
    """Expected cost of one un-leaked raid (USD): margin lost while shut or down, and the workers taken."""
    pp, rp = model.p.police, model.p.raids
    months = pp.closure_prob * model.p.entry.horizon_months + (1 - pp.closure_prob) * rp.downtime_months
    return months * margin + held * model.p.recruitment.price


def raid_risk(model: ScamModel, held: np.ndarray, margin: np.ndarray) -> np.ndarray:
    """Expected loss a month from un-leaked raids of each compound (by id; USD/month)."""
    rho = model.raid_rates() * (1 - model.tipoff_prob())
    return rho / 12 * raid_loss(model, margin, held)


def margins(model: ScamModel) -> np.ndarray:
    """The entry margin ``A_j`` of each jurisdiction (see the module docstring)."""
    cp, pp = model.p.compounds, model.p.police
    y = model.net_yield()
    h = cp.capacity_median * model.p.scale * model.p.entry.fill
    s = model.sites()
    working = s.active & model.up()
    out = np.zeros(len(model.police))
    protected_tip = pp.protected_tipoff if model.p.mechanisms.tipoff_decoupled else 1.0
    for j, police in enumerate(model.police):
        p_protected = police.corruption * pp.bribe_factor
        gross = (y - cp.running_cost - p_protected * pp.bribe_per_worker) * h - cp.fixed_cost * model.p.scale
        tip = p_protected * protected_tip + (1 - p_protected) * police.corruption
        n = int((working & (s.juris == j)).sum())
        if model.p.mechanisms.raid_capacity:
            rate = model.capacity(j) / (n + 1)
        else:
            rate = model.capacity(j) / pp.reference_compounds
        loss = raid_loss(model, max(gross, 0.0), h)
        out[j] = (gross - rate * (1 - tip) / 12 * loss) / (y * h) if y * h > 0 else -np.inf
    return out


def enter(model: ScamModel) -> None:
    """This step's new syndicates, each opening one compound in the jurisdiction it enters."""
    model.entry_margin = margins(model)
    rate = model.p.entry.rate * model.juris_openness * np.clip(model.entry_margin, 0.0, 1.0)
    rng = model.streams["entry"]
    model.ledger.set("entry_margin", model.entry_margin)
    for j, k in enumerate(rng.poisson(rate * model.clock.dt_years).tolist()):
        for _ in range(k):
            boss = model.new_boss(elite=bool(rng.random() < model.p.compounds.elite_share))
            compound = sites.open_compound(model, boss, near=j, juris=j)
            compound.entered = True
            model.ledger.add("entries", j)


def better_jurisdiction(model: ScamModel, juris: int) -> int | None:
    """The other jurisdiction with the best positive entry margin, or None."""
    margin = margins(model) if len(model.police) > 1 else np.zeros(1)
    margin[juris] = -np.inf
    best = int(np.argmax(margin))
    return best if margin[best] > 0 else None
