"""Memory a run needs, estimated from its parameters before it starts, and a guard against too much.

Every parameter has a declared range, but some in-range values make populations no machine can hold
(``targets.groom_rate=1e6`` draws hundreds of millions of targets in the first step). The estimate is
deliberately on the high side, from the rows the population tables (:mod:`sim.model.population`) can
reach:

* workers ``W = C * capacity_median * scale * exp(capacity_sigma**2 / 2)``: every compound full, with
  ``C = sum(initial_compounds) + B * years + (bosses + B * years / 2) * expansion_rate * years``
  compounds: every boss always profitable, no compound ever closed, and (``mechanisms.entry_exit``) new
  syndicates entering at their highest rate ``B = entry.rate * sum(openness)`` (a margin of 1 everywhere),
  each opening a compound and expanding like the others;
* targets drawn per step ``G = groom_rate * dt_months * W * (1 + effort_per_level * (resale_level +
  leak_punishment))``: every worker coerced to the resale level and beyond;
* target rows ``T = G * q * min(steps, L / dt_months)``: only targets who will invest become rows, a
  share ``q = h / (groom_dropout + h)`` with ``h = invest_rate * E[susceptibility]`` (the mean
  susceptibility gives the higher share), and a row lives ``L = 1 / (groom_dropout + h) + drain_time``
  months at most on average (grooming, then drained to the end).

At :data:`BYTES_PER_ROW` bytes per worker or target row (columns of 32 and 41 bytes, grown 1.5-fold and
copied while a table is re-allocated, and the arrays of a step's draws) and :data:`BYTES_PER_DRAW` per
target drawn in one step, a run needs ``BYTES_PER_ROW * (W + T) + BYTES_PER_DRAW * G + FIXED`` bytes;
runs in parallel need that each. ``FIXED`` (:func:`fixed_bytes`) is what a run allocates whatever its
population: the expected-yield quadrature that sets the entry and shedding decisions (issue 12; a
few ``QUADRATURE_S x QUADRATURE_T`` float64 grids alive at once, counted as :data:`QUADRATURE_GRIDS`), and
the per-step ledger and the empty population tables (:data:`FIXED_TABLES`). :func:`check_memory`
refuses a configuration above :data:`MEMORY_BUDGET`.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

from sim.model.clock import DAYS_PER_MONTH, DAYS_PER_YEAR
from sim.model.ledger import VARIABLES
from sim.model.schemas import ConfigError, ModelParams

MEMORY_BUDGET = 4 * 2**30  # bytes, for all the runs of one command running at once
BYTES_PER_ROW = 128
BYTES_PER_DRAW = 96
# Points of the expected-yield quadrature (sim.model.mechanisms.production.expected_yield) in
# susceptibility and in time; defined here so that the memory guard need not import the model.
QUADRATURE_S = 801
QUADRATURE_T = 401
QUADRATURE_GRIDS = 4  # grids of the expected-yield quadrature alive at once (3 measured), high side
FIXED_TABLES = 2 * 2**20  # ledger series, empty population tables, spell and site logs (bytes, high side)


def fixed_bytes(steps: int, jurisdictions: int) -> float:
    """Bytes a run allocates whatever its population (module docstring)."""
    ledger = len(VARIABLES) * 8 * steps * jurisdictions  # float64 series per step and jurisdiction
    return QUADRATURE_GRIDS * QUADRATURE_S * QUADRATURE_T * 8 + FIXED_TABLES + ledger


@dataclass(frozen=True)
class Estimate:
    """Populations a run can reach and the memory they take.

    Attributes:
        workers: Workers held at the peak (``W``).
        groomed: Targets drawn in one step at the peak (``G``).
        targets: Target rows at the peak (``T``).
        fixed: Bytes allocated whatever the population (``FIXED``).
    """

    workers: float
    groomed: float
    targets: float
    fixed: float = 0.0

    @property
    def nbytes(self) -> float:
        """Bytes one run needs at the peak."""
        return BYTES_PER_ROW * (self.workers + self.targets) + BYTES_PER_DRAW * self.groomed + self.fixed


def estimate(params: ModelParams) -> Estimate:
    """High-side estimate of the populations of a run of validated ``params`` (module docstring)."""
    cp, tp = params.compounds, params.targets
    days = (dt.date.fromisoformat(params.time.end) - dt.date.fromisoformat(params.time.start)).days + 1
    years = days / DAYS_PER_YEAR
    steps = math.ceil(days / params.time.step_days)
    dt_months = params.time.step_days / DAYS_PER_MONTH
    compounds = sum(j.initial_compounds for j in params.jurisdictions.values())
    entering = 0.0  # syndicates a year at most
    if params.mechanisms.entry_exit:
        entering = params.entry.rate * sum(j.openness for j in params.jurisdictions.values())
    compounds += entering * years + (cp.bosses + entering * years / 2) * cp.expansion_rate * years
    fixed = fixed_bytes(steps, len(params.jurisdictions))
    workers = compounds * cp.capacity_median * params.scale * math.exp(cp.capacity_sigma**2 / 2)
    effort = 1 + params.workers.effort_per_level * (cp.resale_level + params.workers.leak_punishment)
    groomed = tp.groom_rate * dt_months * workers * effort
    susceptibility = tp.susceptibility_a / (tp.susceptibility_a + tp.susceptibility_b) * (1 - tp.awareness)
    invest = tp.invest_rate * susceptibility
    if invest == 0:
        return Estimate(workers, groomed, 0.0, fixed)  # nobody invests: no target becomes a row
    hazard = tp.groom_dropout + invest
    drain = tp.drain_months * (-math.log1p(-tp.drain_share)) ** (1 / tp.escalation)
    targets = groomed * invest / hazard * min(steps, (1 / hazard + drain) / dt_months)
    return Estimate(workers, groomed, targets, fixed)


def check_memory(params: ModelParams, runs: int = 1, budget: float = MEMORY_BUDGET) -> Estimate:
    """Refuse a configuration whose ``runs`` runs at once would need more than ``budget`` bytes.

    Returns:
        The estimate, if within the budget.

    Raises:
        ConfigError: One line naming the parameters that drive the population, the memory needed and
            the budget.
    """
    e = estimate(params)
    if runs * e.nbytes <= budget:
        return e
    if BYTES_PER_ROW * e.workers >= BYTES_PER_ROW * e.targets + BYTES_PER_DRAW * e.groomed:
        keys = f"compounds.capacity_median={params.compounds.capacity_median:g}, scale={params.scale:g}"
        population = f"~{e.workers:,.0f} workers"
    else:
        keys = f"targets.groom_rate={params.targets.groom_rate:g}"
        population = f"~{e.groomed:,.0f} targets drawn per step, ~{e.targets:,.0f} held"
    raise ConfigError(
        f"{keys}: {runs} run(s) at once of {population} need about {runs * e.nbytes / 2**30:,.1f} GiB, "
        f"over the memory budget of {budget / 2**30:g} GiB; lower them, or add force=true to run anyway"
    )
