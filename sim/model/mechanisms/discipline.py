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

from sim.model import kernels
from sim.model.clock import DAYS_PER_MONTH
from sim.model.mechanisms.exits import MAX_LEVEL

if TYPE_CHECKING:
    from sim.model.model import ScamModel


def poisson_thresholds(mean: float) -> np.ndarray:
    """Thresholds of Poisson(mean) counts by inversion of one float32 uniform each.

    The count drawn from a uniform ``u`` is the number of thresholds it exceeds: the cumulative
    probabilities ``P(K <= k)`` as float32, up to :data:`sim.model.mechanisms.exits.MAX_LEVEL` of them
    and stopping once they exceed what a float32 uniform can reach.
    """
    out = []
    cdf, term, k = 0.0, np.exp(-mean), 0
    while k < MAX_LEVEL:
        cdf += term
        if cdf >= 1 - 2**-24:
            break
        out.append(cdf)
        k += 1
        term *= mean / k
    return np.array(out, dtype=np.float32)


def enforce_quotas(model: ScamModel) -> None:
    """Check every worker against the quota and escalate or relax punishment."""
    w = model.workers
    if not w.n:
        return
    cp = model.p.compounds
    s = model.sites()
    dt = model.clock.dt_months
    u = model.streams["discipline"].random(w.n, dtype=np.float32)
    punishments = kernels.discipline(
        w.level,
        w.perf,
        w.compound,
        w.recruited_day,
        s.quota,
        model.juris_of(np.arange(len(s.quota))),  # of each compound
        u,
        model.day - cp.grace_months * DAYS_PER_MONTH,
        poisson_thresholds(cp.punish_rate * dt),
        poisson_thresholds(cp.punish_decay * dt),
        model.ledger.n_juris,
        MAX_LEVEL,
    )
    model.ledger.add_totals("punishments", punishments)
