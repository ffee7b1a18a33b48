"""Quotas and punishment (IN2, IN4, AM12, AM13).

A worker whose revenue over about the last month (``perf``) falls short of the compound's monthly quota
is punished: their punishment level rises as a Poisson process at ``punish_rate`` per month, once they
are past the grace period new recruits get (IN4: "initially, new recruits wouldn't face physical
harm"). Meeting the quota lets the level fall at ``punish_decay`` per month. Each rise is one
punishment event (beating, shocks). Counting Poisson increments (rather than at most one per step)
keeps the rates independent of the step length.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sim.model.clock import DAYS_PER_MONTH
from sim.model.mechanisms.exits import MAX_LEVEL

if TYPE_CHECKING:
    from sim.model.model import ScamModel


def poisson_counts(u: np.ndarray, mean: float) -> np.ndarray:
    """Poisson(mean) counts by inversion of one uniform each (the same mean for every element).

    Args:
        u: Uniform draws in [0, 1) (float32).
        mean: Expected count per element.

    Returns:
        int8 counts (capped at :data:`sim.model.mechanisms.exits.MAX_LEVEL`).
    """
    counts = np.zeros(len(u), dtype=np.int8)
    cdf, term, k = 0.0, np.exp(-mean), 0
    # Thresholds P(K <= k); stop once they exceed what a float32 uniform can reach.
    while k < MAX_LEVEL:
        cdf += term
        if cdf >= 1 - 2**-24:
            break
        counts += u > np.float32(cdf)
        k += 1
        term *= mean / k
    return counts


def enforce_quotas(model: ScamModel) -> None:
    """Check every worker against the quota and escalate or relax punishment."""
    w = model.workers
    if not w.n:
        return
    cp = model.p.compounds
    s = model.sites()
    dt = model.clock.dt_months
    meets = w.perf >= s.quota[w.compound]
    liable = w.recruited_day <= model.day - cp.grace_months * DAYS_PER_MONTH
    u = model.streams["discipline"].random(w.n, dtype=np.float32)
    # One uniform per worker: the rise applies to those missing quota, the fall to those meeting it
    # (few, so handled as a subset).
    up = poisson_counts(u, cp.punish_rate * dt)
    up *= ~meets & liable
    up = np.minimum(up, MAX_LEVEL - w.level)  # no int8 overflow past the cap
    w.level[:] += up
    model.ledger.add_by("punishments", model.juris_of(w.compound), up)
    relieved = np.flatnonzero(meets)
    down = poisson_counts(u[relieved], cp.punish_decay * dt)
    w.level[relieved] = np.maximum(w.level[relieved] - down, 0)
