"""Reference for the speed benchmark: the worker rules written as one Mesa ``Agent`` per worker.

This is what the vectorised mechanisms (:mod:`sim.model.mechanisms.production`,
:mod:`sim.model.mechanisms.discipline`, :mod:`sim.model.mechanisms.exits`) would look like in the usual Mesa
style: a :class:`WorkerAgent` per trafficked worker holding the same state as a row of
:class:`sim.model.population.Workers` (compound, source, deceived, recruited_day, skill, perf, level, debt,
resales), whose :meth:`WorkerAgent.step` applies, with the same parameters and formulas,

1. scam work: each of the worker's investing targets pays along the same Weibull deposit curve
   (credited to the compound that groomed it, and to the worker's revenue); the worker starts
   grooming a Poisson number of new targets with mean ``groom_rate * dt_months * skill *
   (1 + effort_per_level * level) * productivity`` (the vectorised code draws one Poisson total and
   splits it in proportion to work intensity, which is the same distribution); each new target gets
   the same event-time draws (susceptibility, invest-or-break-off, start, invest day, stop time,
   wealth); then ``perf = perf * e^-dt + revenue * (1 - e^-dt) / dt``;
2. the quota check of :func:`sim.model.mechanisms.discipline.enforce_quotas`: one uniform per worker,
   inverted into a Poisson number of punishment levels added (missing quota, past the grace period) or removed
   (meeting it), the level kept within 0 and ``MAX_LEVEL``;
3. the competing hazards of :func:`sim.model.mechanisms.exits.worker_events` (help request -> leaked with the
   local corruption, then punished and possibly resold, or not leaked and possibly rescued; escape;
   ransom; resale): an event with probability ``1 - exp(-H dt)`` for total hazard ``H``, its route
   in proportion to the hazards (the vectorised code draws the same events by thinning), and resale
   to a compound drawn in proportion to its free places.

Workers who leave are removed at the end of the step (as :func:`sim.model.mechanisms.exits.remove` does after
all events are drawn); their targets keep paying the compound, as in the vectorised model.

Differences from the vectorised model, none of which changes the rules:

* Targets are not a separate table but small lists held by the worker grooming them (orphaned ones,
  whose worker has left, by the model). Their ``state`` column is not stored (it follows from
  ``invest_day``).
* Agents act one after the other in random order (``shuffle_do``), so a resale sees the free places
  left by the sales before it: sequential draws without replacement, the same multivariate
  hypergeometric split the vectorised :func:`sim.model.mechanisms.exits.sell_on` draws at once. (A worker
  whose draw falls on their own compound does not use up a free place here.)
* Targets are the real ones, not a simplified per-worker revenue draw.
* Random numbers come from Mesa's ``model.random`` (:class:`random.Random`), scalar draws; tallies
  go to plain per-jurisdiction lists instead of :class:`sim.model.ledger.Ledger`.

The model is built from the state of a :class:`sim.model.model.ScamModel` (workers, their targets, the
compounds), so both implementations can be timed from the same starting point.
"""

from __future__ import annotations

import bisect
import math

import mesa

from sim.model.clock import DAYS_PER_MONTH
from sim.model.ledger import LOSS_BINS
from sim.model.mechanisms.exits import MAX_LEVEL
from sim.model.mechanisms.production import drain_time
from sim.model.model import ScamModel

TALLIES = (
    "targets_groomed", "targets_defrauded", "targets_drained", "target_losses", "scam_revenue",
    "punishments", "help_requests", "help_leaked", "resales", "ransom_paid",
    "exits_escape", "exits_rescue", "exits_ransom", "exit_days_held",
)  # fmt: skip

# Target fields (a target is a small list, mutated in place).
T_COMPOUND, T_WEALTH, T_INVEST_DAY, T_EXIT_TAU, T_PAID = range(5)


def poisson_thresholds(mean: float) -> list[float]:
    """Cumulative Poisson(mean) probabilities P(K <= k) as in
    :func:`sim.model.mechanisms.discipline.poisson_thresholds`.

    The count drawn from a uniform ``u`` is the number of thresholds below it
    (``bisect_left(thresholds, u)``).
    """
    out: list[float] = []
    cdf, term, k = 0.0, math.exp(-mean), 0
    while k < MAX_LEVEL:
        cdf += term
        if cdf >= 1 - 2**-24:
            break
        out.append(cdf)
        k += 1
        term *= mean / k
    return out


class WorkerAgent(mesa.Agent):
    """One trafficked worker (the state of one row of :class:`sim.model.population.Workers`)."""

    def __init__(
        self,
        model: AgentPerWorkerModel,
        compound: int,
        source: int,
        deceived: bool,
        recruited_day: int,
        skill: float,
        perf: float,
        level: int,
        debt: float,
        resales: int,
    ):
        super().__init__(model)
        self.compound = compound
        self.source = source
        self.deceived = deceived
        self.recruited_day = recruited_day
        self.skill = skill
        self.perf = perf
        self.level = level
        self.debt = debt
        self.resales = resales
        self.targets: list[list] = []
        self.leaving: str | None = None

    def step(self) -> None:
        """Scam work, then the quota check, then this step's help request/escape/ransom/resale."""
        m = self.model
        rnd = m.random
        c = self.compound
        juris = m.juris[c]

        # 1. Scam work: drain own targets, groom new ones, update performance.
        revenue = m.drain(self.targets) if self.targets else 0.0
        effort = 1.0 + m.effort_per_level * self.level
        lam = m.groom_mean * self.skill * effort * m.productivity[c]
        # Poisson draw by inversion (the mean is small, ~0.1).
        u = rnd.random()
        pk = math.exp(-lam)
        cdf = pk
        k = 0
        while u > cdf and pk > 0.0:
            k += 1
            pk *= lam / k
            cdf += pk
        if k:
            m.tally["targets_groomed"][juris] += k
            for _ in range(k):
                m.groom(self.targets, c, rnd)
        self.perf = self.perf * m.memory + revenue * m.perf_gain

        # 2. Quota check and punishment: a Poisson number of levels, by inversion of one uniform.
        u = rnd.random()
        if self.perf >= m.quota[c]:
            if self.level:
                self.level = max(self.level - bisect.bisect_left(m.down_cdf, u), 0)
        elif self.recruited_day <= m.liable_day:
            up = bisect.bisect_left(m.up_cdf, u)
            if up:
                level = min(self.level + up, MAX_LEVEL)
                m.tally["punishments"][juris] += level - self.level
                self.level = level

        # 3. Competing hazards (per year).
        desperation = 1.0 + m.desperation * self.level
        h_help = m.help_rate * desperation
        h_escape = m.escape_hazard[c] * desperation
        h_ransom = m.ransom_rate * math.exp(-self.debt / m.ransom_scale)
        h_resale = m.resale_rate if self.level >= m.resale_level else 0.0
        total = h_help + h_escape + h_ransom + h_resale
        if rnd.random() >= -math.expm1(-total * m.dt_years):
            return
        pick = rnd.random() * total
        if pick < h_help:
            m.tally["help_requests"][juris] += 1
            if rnd.random() < m.leak[c]:
                self.level = min(self.level + m.leak_punishment, MAX_LEVEL)
                m.tally["help_leaked"][juris] += 1
                m.tally["punishments"][juris] += 1
                if rnd.random() < m.leak_resale:
                    m.sell(self)
            elif rnd.random() < m.rescue_success:
                self.leave("rescue")
        elif pick < h_help + h_escape:
            self.leave("escape")
        elif pick < h_help + h_escape + h_ransom:
            m.revenue[c] += self.debt
            m.tally["ransom_paid"][juris] += self.debt
            self.leave("ransom")
        else:
            m.sell(self)

    def leave(self, route: str) -> None:
        """Leave captivity by ``route`` (carried out at the end of the step)."""
        self.leaving = route
        self.model.leavers.append(self)


class AgentPerWorkerModel(mesa.Model):
    """The worker rules of :class:`sim.model.model.ScamModel` with one Mesa agent per worker.

    Args:
        source: A model whose workers, targets and compounds are copied (it is not changed).
        seed: Seed of Mesa's random number generators.
        first_index: Step index (0-based, in ``source``'s calendar) of the first step; by default
            the step after the last one ``source`` ran.
    """

    def __init__(self, source: ScamModel, seed: int = 0, first_index: int | None = None):
        super().__init__(rng=seed)
        p = source.p
        clock = source.clock
        s = source.sites()
        self.step_days = clock.step_days
        self.dt_years = clock.dt_years
        self.first_index = source.steps if first_index is None else first_index
        self.day = source.day
        self.n_juris = source.ledger.n_juris

        # Per compound (plain lists: scalar access from Python is faster than from numpy arrays).
        self.juris = s.juris.tolist()
        self.active = s.active.tolist()
        self.capacity = s.capacity.tolist()
        self.quota = s.quota.tolist()
        self.productivity = s.productivity.tolist()
        self.leak = s.leak.tolist()
        self.escape_hazard = s.escape_hazard.tolist()
        self.held = [0] * len(self.juris)
        self.revenue = [0.0] * len(self.juris)
        self.costs = [0.0] * len(self.juris)

        # Constants of the rules, per step.
        tp, wp, cp = p.targets, p.workers, p.compounds
        dt = clock.dt_months
        self.memory = math.exp(-dt)
        self.perf_gain = (1 - self.memory) / dt
        self.groom_mean = tp.groom_rate * dt
        self.effort_per_level = wp.effort_per_level
        self.up_cdf = poisson_thresholds(cp.punish_rate * dt)
        self.down_cdf = poisson_thresholds(cp.punish_decay * dt)
        self.grace_days = cp.grace_months * DAYS_PER_MONTH
        self.liable_day = self.day - self.grace_days
        self.desperation = wp.desperation
        self.help_rate = wp.help_rate
        self.ransom_rate = wp.ransom_rate
        self.ransom_scale = wp.ransom_scale
        self.resale_rate = cp.resale_rate
        self.resale_level = cp.resale_level
        self.resale_price = cp.resale_price
        self.leak_punishment = wp.leak_punishment
        self.leak_resale = wp.leak_resale
        self.rescue_success = p.police.rescue_success
        self.tp = tp
        self.drain_time = drain_time(source)
        self.drained_tau = self.drain_time * (1 - 1e-6)
        self.skill_sigma = wp.skill_sigma
        self.price = p.recruitment.price

        self.tally = {name: [0.0] * self.n_juris for name in TALLIES}
        self.loss_bins = LOSS_BINS.tolist()
        self.loss_counts = [0] * (len(self.loss_bins) + 1)
        self.leavers: list[WorkerAgent] = []
        self.orphans: list[list] = []
        self.worker_steps = 0

        w = source.workers
        agents = [
            WorkerAgent(self, *row)
            for row in zip(
                w.compound.tolist(), w.source.tolist(), w.deceived.tolist(),
                w.recruited_day.tolist(), w.skill.tolist(), w.perf.tolist(), w.level.tolist(),
                w.debt.tolist(), w.resales.tolist(), strict=True,
            )
        ]  # fmt: skip
        for a in agents:
            self.held[a.compound] += 1
        t = source.targets
        for row in zip(
            t.worker.tolist(), t.compound.tolist(), t.wealth.tolist(), t.invest_day.tolist(),
            t.exit_tau.tolist(), t.paid.tolist(), strict=True,
        ):  # fmt: skip
            owner = row[0]
            (self.orphans if owner < 0 else agents[owner].targets).append(list(row[1:]))

    # ---------------------------------------------------------------------------------------------

    def drain(self, targets: list[list]) -> float:
        """Move the deposits of ``targets`` forward to the end of this step; drop finished ones.

        Returns:
            Money paid by them this step (USD).
        """
        step_end = self.day + self.step_days
        drain_months = self.tp.drain_months
        escalation = self.tp.escalation
        tally = self.tally
        paid_total = 0.0
        finished = False
        for t in targets:
            tau = (step_end - t[T_INVEST_DAY]) / DAYS_PER_MONTH
            if tau <= 0.0:
                continue
            exit_tau = t[T_EXIT_TAU]
            if tau >= exit_tau:
                tau = exit_tau
                finished = True
            paid = t[T_WEALTH] * -math.expm1(-((tau / drain_months) ** escalation))
            deposit = paid - t[T_PAID]
            t[T_PAID] = paid
            c = t[T_COMPOUND]
            self.revenue[c] += deposit
            j = self.juris[c]
            tally["scam_revenue"][j] += deposit
            tally["target_losses"][j] += deposit
            paid_total += deposit
        if finished:
            keep = []
            for t in targets:
                tau = (step_end - t[T_INVEST_DAY]) / DAYS_PER_MONTH
                if tau < t[T_EXIT_TAU]:
                    keep.append(t)
                    continue
                j = self.juris[t[T_COMPOUND]]
                if t[T_PAID] > 0:
                    tally["targets_defrauded"][j] += 1
                    self.loss_counts[bisect.bisect_left(self.loss_bins, t[T_PAID])] += 1
                if t[T_EXIT_TAU] >= self.drained_tau:
                    tally["targets_drained"][j] += 1
            targets[:] = keep
        return paid_total

    def groom(self, targets: list[list], compound: int, rnd) -> None:
        """Start grooming one target; keep it only if it will invest (event times drawn now)."""
        tp = self.tp
        susceptibility = rnd.betavariate(tp.susceptibility_a, tp.susceptibility_b)
        susceptibility *= 1 - tp.awareness
        h_invest = tp.invest_rate * susceptibility
        h_total = h_invest + tp.groom_dropout
        if rnd.random() * h_total >= h_invest:
            return
        start = self.day + rnd.random() * self.step_days
        invest_day = start + rnd.expovariate(1.0) / h_total * DAYS_PER_MONTH
        h_stop = tp.invest_dropout * (1.0 - susceptibility)
        stop_after = rnd.expovariate(1.0) / h_stop if h_stop > 0 else math.inf
        wealth = tp.wealth_median * rnd.lognormvariate(0.0, tp.wealth_sigma)
        targets.append([compound, wealth, invest_day, min(stop_after, self.drain_time), 0.0])

    def sell(self, agent: WorkerAgent) -> None:
        """Sell ``agent`` to a compound drawn in proportion to its free places (may be its own)."""
        free = [
            max(math.floor(cap - held), 0) if active else 0
            for cap, held, active in zip(self.capacity, self.held, self.active, strict=True)
        ]
        if not any(free):
            return
        buyer = self.random.choices(range(len(free)), weights=free)[0]
        seller = agent.compound
        if buyer == seller:
            return
        price = self.resale_price
        self.revenue[seller] += price
        self.costs[buyer] += price
        self.tally["resales"][self.juris[seller]] += 1
        self.held[seller] -= 1
        self.held[buyer] += 1
        agent.compound = buyer
        agent.debt += price
        agent.level = 0
        agent.resales = min(agent.resales + 1, MAX_LEVEL)

    # ---------------------------------------------------------------------------------------------

    def step(self) -> None:
        """One step of the worker rules for every worker, in random order; then leavers go."""
        index = self.first_index + self.steps - 1
        self.day = math.floor(index * self.step_days)
        self.liable_day = self.day - self.grace_days
        self.worker_steps += len(self.agents)
        if self.orphans:
            self.drain(self.orphans)
        self.agents.shuffle_do("step")
        day = self.day
        tally = self.tally
        for a in self.leavers:
            j = self.juris[a.compound]
            tally[f"exits_{a.leaving}"][j] += 1
            tally["exit_days_held"][j] += day - a.recruited_day
            self.held[a.compound] -= 1
            self.orphans.extend(a.targets)
            a.remove()
        self.leavers.clear()

    def refill(self, fill: float = 1.0) -> int:
        """Fill operating compounds up to ``fill`` of capacity (the benchmark's recruitment).

        Recruits get the day of the coming step as recruitment day, like recruits of that step.

        Returns:
            Workers added.
        """
        next_day = math.floor((self.first_index + self.steps) * self.step_days)
        rnd = self.random
        sigma = self.skill_sigma
        added = 0
        for c, (cap, active) in enumerate(zip(self.capacity, self.active, strict=True)):
            free = max(math.floor(fill * cap) - self.held[c], 0) if active else 0
            for _ in range(free):
                skill = rnd.lognormvariate(-0.5 * sigma**2, sigma)
                WorkerAgent(self, c, 0, False, next_day, skill, 0.0, 0, self.price, 0)
            self.held[c] += free
            added += free
        return added
