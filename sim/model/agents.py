"""The decision-makers, as Mesa agents: compounds, their bosses, recruiters and police units.

The people these agents act on (workers and targets) are arrays owned by the model
(:mod:`sim.model.population`); the agents decide, and the mechanism modules carry out the decisions on those
arrays.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import mesa
import numpy as np

from sim.model.clock import DAYS_PER_MONTH
from sim.model.mechanisms import enforcement, entry, sites

if TYPE_CHECKING:
    from sim.model.model import ScamModel


class Compound(mesa.Agent):
    """A scam compound: a guarded site in a town, run by a boss, holding trafficked workers.

    Attributes:
        cid: Index of the compound in ``model.compounds`` (stable for the whole run).
        boss: The boss who runs it.
        juris: Index of the jurisdiction it stands in.
        town: Index of the town within that jurisdiction.
        capacity: Workers it can hold (already multiplied by the population scale).
        security: How much its security cuts escape attempts (0-1).
        quota: Monthly revenue quota per worker (USD).
        productivity: Multiplier on scam work (1 = normal; a hook for interventions such as power cuts).
        active: Whether it is operating.
        protected: Whether it pays police protection (raids leaked, fewer raids planned).
        opened_day, closed_day: Days since the start date (closed_day is None while operating).
        raids, tipoffs, relocations: Counts so far.
        first_raid_day: Day of its first police intervention (None if never raided).
        profit: The boss's trailing estimate of its monthly profit (USD/month).
        site: Id of the site it occupies (:class:`sim.model.mechanisms.sites.SiteTable`).
        spell: Row of its current site spell in ``model.spells``.
        entered: Whether a new syndicate opened it (``mechanisms.entry_exit``).
    """

    def __init__(self, model: ScamModel, boss: Boss, juris: int, town: int, capacity: float):
        super().__init__(model)
        p = model.p.compounds
        self.cid = len(model.compounds)
        model.compounds.append(self)
        self.boss = boss
        boss.books.append(self)
        self.juris = juris
        self.town = town
        self.capacity = capacity
        self.security = p.security
        self.quota = p.quota
        self.productivity = 1.0
        self.active = True
        self.protected = False
        self.opened_day = model.day
        self.closed_day: int | None = None
        self.raids = 0
        self.tipoffs = 0
        self.relocations = 0
        self.first_raid_day: int | None = None
        model.accounts.open(self.cid + 1)  # its money: revenue, costs, scam income (model.accounts)
        self.profit = 0.0
        self.entered = False
        self.site = sites.acquire(model, self, juris, town)
        self.spell = model.spells.open(self.cid, self.site, juris, town, model.day)
        model.sites_changed()

    @property
    def elite(self) -> bool:
        """Whether its boss has elite links (EN2)."""
        return self.boss.elite


@dataclass(frozen=True)
class ManageTerms:
    """What every boss's :meth:`Boss.manage` uses this step, worked out once for all of them.

    Attributes:
        memory: Weight of the old estimate in a compound's trailing profit (per step).
        p_close: Chance a settled loss-making compound is closed (or moved) this step.
        p_expand: Chance a profitable boss opens a compound this step.
        expected: Each compound's expected profit (by id; ``mechanisms.expected_profit``), else None.
    """

    memory: float
    p_close: float
    p_expand: float
    expected: np.ndarray | None

    @classmethod
    def today(cls, model: ScamModel) -> ManageTerms:
        """The terms of the current step."""
        p, clock = model.p.compounds, model.clock
        return cls(
            memory=np.exp(-clock.dt_months / p.profit_months),
            p_close=clock.p_year(p.close_rate),
            p_expand=clock.p_year(p.expansion_rate),
            expected=model.expected_profit() if model.p.mechanisms.expected_profit else None,
        )


class Boss(mesa.Agent):
    """A compound boss (syndicate head) running one or more compounds.

    Each step the boss orders recruits for the free places of its compounds
    (:mod:`sim.model.mechanisms.recruitment` works out all bosses' orders at once), books each compound's
    money, closes compounds that keep losing money and, while the business is profitable, opens new ones
    (AM11).

    Attributes:
        elite: Elite-linked: police steer raids away from this boss's compounds (EN2, EN4).
        books: Compounds whose money the boss still books: those it runs, and closed ones until the
            step after closure (money from workers sold on as a compound closes arrives late).
        wealth: Cumulative profit (USD, scaled population).
    """

    def __init__(self, model: ScamModel, elite: bool):
        super().__init__(model)
        self.elite = elite
        self.books: list[Compound] = []
        self.wealth = 0.0

    @property
    def operating(self) -> list[Compound]:
        """Compounds this boss runs now."""
        return [c for c in self.books if c.active]

    def manage(self, terms: ManageTerms) -> None:
        """Book this step's money, close loss-makers and expand while profitable."""
        model = self.model
        p = model.p.compounds
        clock = model.clock
        memory = terms.memory
        rng = model.streams["bosses"]
        revenue, costs = model.accounts.revenue, model.accounts.costs
        mech = model.p.mechanisms
        expected = terms.expected if self.books else None
        total_profit = 0.0
        for c in self.books:
            step_profit = float(revenue[c.cid] - costs[c.cid])
            self.wealth += step_profit
            revenue[c.cid] = costs[c.cid] = 0.0
            if not c.active:  # money that reached it as it closed (workers sold on) is booked too
                continue
            # Realised money (recruit fees, seizures, moves) is capital; the decision uses expected profit.
            signal = expected[c.cid] if expected is not None else step_profit / clock.dt_months
            c.profit = memory * c.profit + (1 - memory) * signal
            total_profit += c.profit
            settled = model.day - c.opened_day > p.profit_months * DAYS_PER_MONTH
            if settled and c.profit < 0 and rng.random() < terms.p_close:
                elsewhere = entry.better_jurisdiction(model, c.juris) if mech.entry_exit else None
                if elsewhere is None:
                    sites.close(c, reason="unprofitable")
                else:  # the balloon effect: move across the border where the business pays
                    sites.relocate(c, to=elsewhere)
        home = self.books[-1].juris if self.books else 0
        # A compound closed before today has booked its last money: keep the books short.
        self.books = [c for c in self.books if c.active or c.closed_day >= model.day]
        if total_profit > 0 and rng.random() < terms.p_expand:
            near = self.operating[0].juris if self.operating else None
            sites.open_compound(model, self, near=near)
        if mech.entry_exit and not self.books:  # a syndicate with nothing left leaves the business
            model.ledger.add("syndicates_exited", home)
            self.remove()


class Recruiter(mesa.Agent):
    """A recruiter running deceptive job ads in one source country (RC1-RC4).

    Recruiters are many and follow one rule, so :func:`sim.model.mechanisms.recruitment.recruit` draws all
    their deliveries at once from per-source arrays; each recruiter keeps its own tally.

    Attributes:
        source: Index of the source country.
        delivered: People delivered to compounds so far (scaled population).
        earnings: Fees earned so far (USD, scaled population).
    """

    def __init__(self, model: ScamModel, source: int):
        super().__init__(model)
        self.source = source
        self.delivered = 0
        self.earnings = 0.0


class Police(mesa.Agent):
    """The police of one jurisdiction: raids, leaks and bribes (AM7-AM10, EN1-EN4).

    One corruption level governs the three corrupt acts the reports describe: a planned raid on an
    unprotected compound is leaked to it, a worker's help request is passed back to the boss, a bribe
    buys protection. The last two are scaled by ``police.help_leak_factor`` and ``police.bribe_factor``
    (1 in the baseline), the levers of victim protection and kingpin removal
    (:mod:`sim.model.interventions`).

    Attributes:
        juris: Index of the jurisdiction.
        name: Its name.
        raid_capacity: Raids a year the unit can carry out (outside campaigns).
        corruption: Probability of each corrupt act.
    """

    def __init__(self, model: ScamModel, juris: int, name: str, raid_capacity: float, corruption: float):
        super().__init__(model)
        self.juris = juris
        self.name = name
        self.raid_capacity = raid_capacity
        self.corruption = corruption

    def accepts_bribe(self) -> bool:
        """Whether a boss's offer of protection money is accepted."""
        bribe_factor = self.model.p.police.bribe_factor
        return bool(self.model.streams["bribes"].random() < self.corruption * bribe_factor)

    def patrol(self) -> None:
        """Plan this step's raids on compounds in the jurisdiction and carry them out."""
        for compound, tipped_off in enforcement.plan_raids(self):
            enforcement.raid(compound, tipped_off)
        for name, compound, tipped_off in enforcement.campaign_raids(self):
            enforcement.raid(compound, tipped_off, campaign=name)
