"""Quotas and punishment (IN2, IN4, AM12, AM13).

A worker whose revenue over about the last month (``perf``) falls short of the compound's monthly quota
is punished: their punishment level rises at ``punish_rate`` per month, once they are past the grace
period new recruits get (IN4: "initially, new recruits wouldn't face physical harm"). Meeting the quota
lets the level fall at ``punish_decay`` per month. Each rise is one punishment event (beating, shocks).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sim.clock import DAYS_PER_MONTH
from sim.exits import MAX_LEVEL

if TYPE_CHECKING:
    from sim.model import ScamModel


def enforce_quotas(model: ScamModel) -> None:
    """Check every worker against the quota and escalate or relax punishment."""
    w = model.workers
    if not w.n:
        return
    cp = model.p.compounds
    s = model.sites()
    meets = w.perf >= s.quota[w.compound]
    liable = w.recruited_day <= model.day - cp.grace_months * DAYS_PER_MONTH
    u = model.streams["discipline"].random(w.n, dtype=np.float32)
    up = (u < model.clock.p_month(cp.punish_rate)) & liable & ~meets & (w.level < MAX_LEVEL)
    down = (u < model.clock.p_month(cp.punish_decay)) & meets & (w.level > 0)
    w.level[:] += up.view(np.int8) - down.view(np.int8)
    juris = s.juris[w.compound]
    model.ledger.add_by("punishments", juris, up)
    model.ledger.add_by("quota_met", juris, meets)
