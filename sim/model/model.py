"""The scam-compound economy as a Mesa model.

Order of one step (explicit, as in Mesa's examples):

0. interventions (:mod:`sim.model.interventions`) whose window contains the step's start date apply
   their changes; one whose window has just closed restores what it changed;
1. recruitment: bosses order workers, recruiters and captives deliver them (``mechanisms.recruitment``);
2. scam work: targets are drained and new ones groomed (``mechanisms.production``);
3. quotas: punishment escalates for those below quota (``mechanisms.discipline``);
4. worker events: help requests, escapes, ransoms, resales (``mechanisms.exits``);
5. police patrol: raids (and dated campaigns' raids), tip-offs, releases, closures, relocations
   (``mechanisms.enforcement``);
6. running costs and bribes are charged; compounds shed workers who no longer pay
   (``mechanisms.workforce_economics``); each boss books money, closes loss-makers, expands; new
   syndicates enter where a new compound would pay (``mechanisms.entry_exit``);
7. the ledger records the end-of-step state, and the survey observation model what Amnesty's visits
   would have found (it only records, from its own random stream).

The model knows nothing of Hydra, files or plots: it takes :class:`sim.model.schemas.ModelParams` and a seed,
and leaves its record in :attr:`ScamModel.ledger`.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import ClassVar

import mesa
import numpy as np

from sim.model import facts, interventions
from sim.model.agents import Boss, Compound, ManageTerms, Police, Recruiter
from sim.model.clock import Clock
from sim.model.ledger import Ledger
from sim.model.mechanisms import enforcement, entry, sites
from sim.model.mechanisms.discipline import enforce_quotas
from sim.model.mechanisms.exits import shed, survey_visits, worker_events
from sim.model.mechanisms.production import expected_yield, scam_work
from sim.model.mechanisms.recruitment import recruit
from sim.model.mechanisms.sites import offer_protection
from sim.model.population import SpellLog, Targets, Workers
from sim.model.schemas import ModelParams, parse_date
from sim.model.streams import Streams
from sim.model.validation import validate


class Accounts:
    """The money of every compound, as arrays indexed by compound id (USD, scaled population).

    Money moves to and from about a hundred compounds several times a step, so it is kept in arrays
    rather than in attributes of each :class:`Compound`.

    Attributes:
        revenue, costs: Money in and out during the current step, until the boss books it.
        scam_income: Money taken from targets since opening.
        work: Work intensity of its workers in the current step (unit work-months per month).
        down_until: Day until which it does no work (after a raid or a move; -inf: working).
    """

    FILL: ClassVar[dict[str, float]] = {
        "revenue": 0.0,
        "costs": 0.0,
        "scam_income": 0.0,
        "work": 0.0,
        "down_until": -np.inf,
    }

    def __init__(self) -> None:
        for name in self.FILL:
            setattr(self, name, np.zeros(0))

    def open(self, n: int) -> None:
        """Make room for ``n`` compounds (grows geometrically)."""
        if n <= len(self.revenue):
            return
        size = max(n, 2 * len(self.revenue), 64)
        for name, fill in self.FILL.items():
            old = getattr(self, name)
            new = np.full(size, fill)
            new[: len(old)] = old
            setattr(self, name, new)


@dataclass
class SiteArrays:
    """Per-compound values as arrays indexed by compound id, for the vectorised mechanisms."""

    active: np.ndarray
    juris: np.ndarray
    capacity: np.ndarray
    security: np.ndarray
    quota: np.ndarray
    productivity: np.ndarray
    leak: np.ndarray  # probability a help request from here is passed back to the boss
    escape_hazard: np.ndarray  # escape attempts per worker per year that get past security
    protected: np.ndarray
    elite: np.ndarray


class ScamModel(mesa.Model):
    """Agent-based model of scam compounds, their workers and targets, and the police.

    Args:
        params: Model parameters (validated here).
        seed: A replicate's seed sequence or an integer seed. Each random process draws from its own
            stream derived from it (:class:`sim.model.streams.Streams`).
    """

    def __init__(self, params: ModelParams, seed: np.random.SeedSequence | int = 0):
        validate(params)
        self.streams = Streams(seed)
        super().__init__(rng=self.streams["mesa"])
        # A copy: interventions change the model's parameters mid-run, never the caller's.
        self.p = copy.deepcopy(params) if params.policies else params
        self.interventions = interventions.build(self.p)
        self.clock = Clock(
            parse_date("time.start", params.time.start),
            parse_date("time.end", params.time.end),
            params.time.step_days,
        )
        self.day = 0
        self.juris_names = list(params.jurisdictions)
        self.ledger = Ledger(self.clock.n_steps, len(self.juris_names))
        self._setup_geography()
        self._setup_sources()
        self.workers = Workers()
        self.targets = Targets()
        self.compounds: list[Compound] = []
        self.accounts = Accounts()
        self.spells = SpellLog()
        self.site_table = sites.SiteTable()
        self.yield_per_work = expected_yield(self.p.targets)
        self.entry_margin = np.zeros(len(self.juris_names))
        self._next_uid = 0
        self._sites: SiteArrays | None = None
        self._expected: tuple[int, np.ndarray] | None = None
        self.spells_end_day = (facts.AMNESTY_WINDOW[1] - self.clock.start).days

        self.police = [
            Police(self, j, name, *params.police_for(name)) for j, name in enumerate(self.juris_names)
        ]
        self.recruiters = [
            Recruiter(self, source)
            for source in range(len(self.source_names))
            for _ in range(params.recruitment.recruiters_per_source)
        ]
        self._create_initial_compounds()
        self.initial_workers = self.workers.n
        for intervention in self.interventions:
            intervention.initialise(self)

    # ---------------------------------------------------------------------------------------------
    # Set-up
    # ---------------------------------------------------------------------------------------------

    def _setup_geography(self) -> None:
        juris = self.p.jurisdictions.values()
        self.juris_openness = np.array([j.openness for j in juris], dtype=float)
        self.town_weights = []
        for j in juris:
            if j.towns == 1:
                w = np.ones(1)
            else:
                w = np.full(j.towns, (1 - j.hub_share) / (j.towns - 1))
                w[0] = j.hub_share
            self.town_weights.append(w / w.sum())

    def _setup_sources(self) -> None:
        sources = self.p.sources
        self.source_names = list(sources)
        weights = np.array([s.weight for s in sources.values()], dtype=float)
        self.source_weights = weights / weights.sum()
        self.source_awareness = np.array([s.awareness for s in sources.values()])
        ds = self.p.recruitment.deceived_share
        deceived = ds * (1 - self.source_awareness)
        # Recruits per unit of ad reach: deceived jobseekers answer less where awareness is high (RC3).
        self.source_response = deceived + (1 - ds)
        self.source_deceived_share = deceived / np.maximum(self.source_response, 1e-12)

    def _create_initial_compounds(self) -> None:
        cp = self.p.compounds
        rng = self.streams["setup"]
        bosses = [Boss(self, elite=bool(rng.random() < cp.elite_share)) for _ in range(cp.bosses)]
        n_initial = sum(jp.initial_compounds for jp in self.p.jurisdictions.values())
        # Every boss runs at least one compound (while there are enough); the rest go at random.
        owners = iter(rng.permutation(np.resize(np.arange(len(bosses)), max(n_initial, len(bosses)))))
        for j, jp in enumerate(self.p.jurisdictions.values()):
            for _ in range(jp.initial_compounds):
                boss = bosses[int(next(owners))]
                town = int(rng.choice(len(self.town_weights[j]), p=self.town_weights[j]))
                # Initial compounds get the same settling-in time as new ones before their boss
                # judges their profit: the model starts with no targets in the pipeline.
                compound = self.new_compound(boss, j, town)
                offer_protection(compound)
                n = round(cp.initial_fill * compound.capacity)
                source = rng.choice(len(self.source_weights), n, p=self.source_weights).astype(np.int8)
                deceived = rng.random(n) < self.source_deceived_share[source]
                self.add_workers(
                    np.full(n, compound.cid),
                    source,
                    deceived,
                    debt=np.full(n, self.p.recruitment.price),
                    recruited_day=-rng.integers(0, 365, n),
                )

    def new_boss(self, elite: bool) -> Boss:
        """A new syndicate head (a boss with no compound yet)."""
        return Boss(self, elite=elite)

    def new_compound(self, boss: Boss, juris: int, town: int) -> Compound:
        """A new compound of ``boss`` in ``town`` of jurisdiction ``juris``, with a drawn capacity."""
        return Compound(self, boss, juris, town, self.draw_capacity())

    def draw_capacity(self) -> float:
        """Capacity of a new compound (workers, at the model's population scale)."""
        cp = self.p.compounds
        rng = self.streams["sites"]
        return float(cp.capacity_median * self.p.scale * rng.lognormal(0.0, cp.capacity_sigma))

    # ---------------------------------------------------------------------------------------------
    # Services the mechanisms use
    # ---------------------------------------------------------------------------------------------

    def add_workers(
        self,
        compound: np.ndarray,
        source: np.ndarray,
        deceived: np.ndarray,
        debt: np.ndarray,
        recruited_day: np.ndarray | None = None,
    ) -> None:
        """Add newly held workers (recruited today unless ``recruited_day`` is given)."""
        n = len(compound)
        if n == 0:
            return
        sigma = self.p.workers.skill_sigma
        skill = self.streams["skills"].lognormal(-0.5 * sigma**2, sigma, n)  # mean 1
        self.workers.append(
            uid=np.arange(self._next_uid, self._next_uid + n),
            compound=compound,
            source=source,
            deceived=deceived,
            recruited_day=np.full(n, self.day) if recruited_day is None else recruited_day,
            skill=skill,
            perf=np.zeros(n),
            level=np.zeros(n),
            debt=debt,
            resales=np.zeros(n),
        )
        self._next_uid += n

    def sites_changed(self) -> None:
        """Mark the per-compound arrays stale (a compound opened, closed, moved or changed)."""
        self._sites = None

    def parameters_changed(self) -> None:
        """Re-derive everything the model caches from its parameters (after an intervention).

        Police raid rates and corruption, the jurisdictions' openness and towns, the source
        countries' awareness and the per-compound arrays. Security and quota are copied to a compound
        from the parameters when it opens and nothing else changes them, so they are reset on every
        compound.
        """
        for police in self.police:
            police.raid_capacity, police.corruption = self.p.police_for(police.name)
        self._setup_geography()
        self._setup_sources()
        self.yield_per_work = expected_yield(self.p.targets)
        for c in self.compounds:
            c.security, c.quota = self.p.compounds.security, self.p.compounds.quota
        self.sites_changed()

    def sites(self) -> SiteArrays:
        """Per-compound values as arrays indexed by compound id (rebuilt only after changes)."""
        if self._sites is None:
            cs = self.compounds
            juris = np.array([c.juris for c in cs], dtype=np.int64)
            corruption = np.array([p.corruption for p in self.police])
            self._sites = SiteArrays(
                active=np.array([c.active for c in cs], dtype=bool),
                juris=juris,
                capacity=np.array([c.capacity for c in cs]),
                security=np.array([c.security for c in cs]),
                quota=np.array([c.quota for c in cs], dtype=np.float32),
                productivity=np.array([c.productivity for c in cs], dtype=np.float32),
                leak=corruption[juris] * self.p.police.help_leak_factor if len(cs) else np.zeros(0),
                escape_hazard=np.array(
                    [self.p.workers.escape_rate * (1 - c.security) for c in cs], dtype=np.float32
                ),
                protected=np.array([c.protected for c in cs], dtype=bool),
                elite=np.array([c.elite for c in cs], dtype=bool),
            )
        return self._sites

    def up(self) -> np.ndarray:
        """Whether each compound (by id) is working today: not in downtime after a raid or a move."""
        return self.accounts.down_until[: len(self.compounds)] <= self.day

    def capacity(self, juris: int) -> float:
        """Raids a year police can carry out in jurisdiction ``juris`` today (campaigns included)."""
        return self.police[juris].raid_capacity * enforcement.campaign_factor(
            self, juris, "capacity_multiplier"
        )

    def raid_weights(self) -> np.ndarray:
        """Relative chance of each compound (by id) to be chosen for a raid (EN2: steered away)."""
        s = self.sites()
        pp = self.p.police
        return np.where(s.elite, pp.elite_raid_weight, 1.0) * np.where(
            s.protected, pp.protected_raid_weight, 1.0
        )

    def tipoff_prob(self) -> np.ndarray:
        """Chance a raid on each compound (by id) is leaked to it in advance."""
        s = self.sites()
        corruption = np.array([p.corruption for p in self.police])[s.juris]
        protected_tip = self.p.police.protected_tipoff if self.p.mechanisms.tipoff_decoupled else 1.0
        leak = np.array(
            [enforcement.campaign_factor(self, j, "leak_factor") for j in range(len(self.police))]
        )
        return np.where(s.protected, protected_tip, corruption) * leak[s.juris]

    def raid_rates(self) -> np.ndarray:
        """Expected raids a year on each operating compound (by id), today."""
        s = self.sites()
        weight = self.raid_weights() * (s.active & self.up())
        capacity = np.array([self.capacity(j) for j in range(len(self.police))])
        if not self.p.mechanisms.raid_capacity:
            return capacity[s.juris] * weight / self.p.police.reference_compounds
        shares = np.bincount(s.juris, weight, minlength=len(self.police))
        return capacity[s.juris] * weight / np.maximum(shares[s.juris], 1e-12)

    def net_yield(self) -> float:
        """Expected takings a compound keeps per unit work-month (USD), after seizures and laundering."""
        cp = self.p.compounds
        return self.yield_per_work * (1 - cp.seizure_share - cp.laundering_cost)

    def expected_profit(self) -> np.ndarray:
        """Each compound's expected profit this step (USD/month, model scale), the bosses' decision signal.

        Expected takings of its workers' work, less upkeep and protection money, and (with
        ``mechanisms.entry_exit``) less the expected loss from un-leaked raids. It has no target-level
        noise, so decisions do not depend on the population scale. Computed once a step.
        """
        if self._expected is not None and self._expected[0] == self.steps:
            return self._expected[1]
        n = len(self.compounds)
        s = self.sites()
        held = self.held_by_compound().astype(float)
        cp = self.p.compounds
        gross = self.net_yield() * self.accounts.work[:n]
        costs = (
            cp.running_cost * held
            + cp.fixed_cost * self.p.scale
            + s.protected * self.p.police.bribe_per_worker * held
        )
        profit = gross - costs
        if self.p.mechanisms.entry_exit:
            profit -= entry.raid_risk(self, held, np.maximum(profit, 0.0))
        self._expected = (self.steps, profit)
        return profit

    def juris_of(self, compounds: np.ndarray) -> np.ndarray:
        """Jurisdiction index of each compound id (zeros, without a lookup, when there is one)."""
        if len(self.juris_names) == 1:
            # np.zeros is ~50x cheaper than a broadcast view, and this is called ~10 times a step.
            return np.zeros(np.shape(compounds), dtype=np.intp)
        return self.sites().juris[compounds]

    def held_by_compound(self) -> np.ndarray:
        """Workers held in each compound, indexed by compound id."""
        return self.workers.held(len(self.compounds))

    def credit(self, cids: np.ndarray, amounts: np.ndarray, scam: bool = False) -> None:
        """Add money to compounds' revenue this step (``scam``: money taken from targets)."""
        totals = np.bincount(cids, amounts, minlength=len(self.compounds))
        self.accounts.revenue[: len(totals)] += totals
        if scam:
            self.accounts.scam_income[: len(totals)] += totals
        if scam and len(cids):
            juris = self.sites().juris
            self.ledger.add_by("scam_revenue", juris, totals)
            cp = self.p.compounds
            if cp.seizure_share or cp.laundering_cost:  # financial disruption (sim.model.interventions)
                seized, laundering = totals * cp.seizure_share, totals * cp.laundering_cost
                self.charge(np.arange(len(totals)), seized + laundering)
                self.ledger.add_by("revenue_seized", juris, seized)
                self.ledger.add_by("laundering_costs", juris, laundering)

    def charge(self, cids: np.ndarray, amounts: np.ndarray) -> None:
        """Add money to compounds' costs this step."""
        totals = np.bincount(cids, amounts, minlength=len(self.compounds))
        self.accounts.costs[: len(totals)] += totals

    def in_covid_period(self) -> bool:
        """Whether the current step falls in the COVID recruitment boom (FACTS §7)."""
        date = self.clock.date(self.steps - 1)
        return facts.COVID_PERIOD[0] <= date <= facts.COVID_PERIOD[1]

    # ---------------------------------------------------------------------------------------------
    # The step
    # ---------------------------------------------------------------------------------------------

    def step(self) -> None:
        """Advance the model by one step (see the module docstring for the order)."""
        index = self.steps - 1  # Mesa counts steps from 1 inside step()
        self.day = int(np.floor(index * self.clock.step_days))
        self.ledger.step = index
        for intervention in self.interventions:
            intervention.step(self)
        recruit(self)
        scam_work(self)
        enforce_quotas(self)
        worker_events(self)
        self.agents_by_type[Police].shuffle_do("patrol")
        self._charge_running_costs(self.held_by_compound())
        if self.p.mechanisms.workforce_economics:
            shed(self)
        self.agents_by_type[Boss].shuffle_do("manage", ManageTerms.today(self))
        if self.p.mechanisms.entry_exit:
            entry.enter(self)
        held = self.held_by_compound()
        survey_visits(self, held)
        self._record(held)
        if self.steps >= self.clock.n_steps:
            self.running = False

    def _charge_running_costs(self, held: np.ndarray) -> None:
        """Upkeep per worker, fixed costs and protection money, for every operating compound."""
        cp = self.p.compounds
        s = self.sites()
        if not len(s.active):
            return
        dt = self.clock.dt_months
        protected = s.protected
        upkeep = np.where(s.active, (cp.running_cost * held + cp.fixed_cost * self.p.scale) * dt, 0.0)
        bribes = np.where(s.active & protected, self.p.police.bribe_per_worker * held * dt, 0.0)
        ids = np.arange(len(s.active))
        self.charge(ids, upkeep + bribes)
        self.ledger.add_by("operating_costs", s.juris, upkeep)
        self.ledger.add_by("bribes", s.juris, bribes)

    def _record(self, held: np.ndarray) -> None:
        """Record end-of-step stocks; ``held`` is workers per compound."""
        s = self.sites()
        n_j = self.ledger.n_juris
        active, protected = s.active, s.protected
        self.ledger.set("compounds_active", np.bincount(s.juris[active], minlength=n_j))
        self.ledger.set("compounds_protected", np.bincount(s.juris[active & protected], minlength=n_j))
        self.ledger.set("compounds_down", np.bincount(s.juris[active & ~self.up()], minlength=n_j))
        self.ledger.set("workers_held", np.bincount(s.juris, held, minlength=n_j))
        w = self.workers
        meets = w.perf >= s.quota[w.compound]
        self.ledger.step_total("quota_met", self.juris_of(w.compound), meets)
        end = facts.AMNESTY_WINDOW[1]
        last_before_end = self.steps >= self.clock.n_steps or self.clock.date(self.steps) > end
        if self.clock.date(self.steps - 1) <= end and last_before_end:
            self.spells.observe_at_end(self, held)
