"""What the model records: per-step tallies by jurisdiction, the raid event log and the loss histogram.

The model writes into a :class:`Ledger`; it never writes files. Each variable is documented here with
its unit and whether it counts people or money (those are divided by the population scale when results
are reported, so a run at reduced scale reports full-scale figures).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Variable:
    """A recorded time-series variable."""

    unit: str
    doc: str
    kind: str  # "stock" (value at the end of the step) or "flow" (total during the step)
    scaled: bool  # counts people or money, so is divided by the population scale on output


VARIABLES: dict[str, Variable] = {
    "compounds_active": Variable("compounds", "Compounds operating at the end of the step", "stock", False),
    "compounds_protected": Variable(
        "compounds", "Operating compounds paying police protection", "stock", False
    ),
    "compounds_opened": Variable("compounds", "Compounds opened by bosses", "flow", False),
    "compounds_closed": Variable("compounds", "Compounds shut down (raid or unprofitable)", "flow", False),
    "compounds_closed_raid": Variable("compounds", "Compounds shut down by a raid", "flow", False),
    "relocated_within": Variable(
        "compounds", "Moves to another town in the same jurisdiction", "flow", False
    ),
    "relocated_out": Variable("compounds", "Moves across a border, counted where they left", "flow", False),
    "relocated_in": Variable("compounds", "Moves across a border, counted where they arrived", "flow", False),
    "raids": Variable("raids", "Police raids carried out", "flow", False),
    "raids_tipped_off": Variable("raids", "Raids leaked to the compound in advance", "flow", False),
    "workers_held": Variable("people", "Trafficked workers held at the end of the step", "stock", True),
    "quota_met": Variable("people", "Held workers whose last-month revenue meets the quota", "stock", True),
    "recruited": Variable("people", "People delivered to compounds by recruiters or captives", "flow", True),
    "recruited_deceived": Variable("people", "Recruits who were deceived by fake job ads", "flow", True),
    "exits_escape": Variable("people", "Workers who escaped", "flow", True),
    "exits_rescue": Variable("people", "Workers rescued after an un-leaked help request", "flow", True),
    "exits_ransom": Variable("people", "Workers freed by a ransom paid by family", "flow", True),
    "exits_released": Variable("people", "Workers released/deported after a raid or closure", "flow", True),
    "exit_days_held": Variable(
        "days", "Total time held by those exiting (mean = this / exits)", "flow", True
    ),
    "resales": Variable("people", "Workers sold on to another compound", "flow", True),
    "help_requests": Variable("requests", "Help requests made to police", "flow", True),
    "help_leaked": Variable("requests", "Help requests passed back to the boss", "flow", True),
    "punishments": Variable("events", "Punishment escalations (beatings, shocks)", "flow", True),
    "targets_groomed": Variable("people", "Targets who began to be groomed", "flow", True),
    "targets_defrauded": Variable(
        "people", "Targets who finished losing money (drained or quit)", "flow", True
    ),
    "targets_drained": Variable("people", "Targets drained of their wealth", "flow", True),
    "target_losses": Variable("USD", "Money lost by targets", "flow", True),
    "scam_revenue": Variable("USD", "Scam money taken in by compounds (booked by bosses)", "flow", True),
    "ransom_paid": Variable("USD", "Ransoms paid by families", "flow", True),
    "bribes": Variable("USD", "Protection paid to police", "flow", True),
    "recruit_fees": Variable("USD", "Fees paid to recruiters", "flow", True),
    "operating_costs": Variable("USD", "Running and fixed costs of compounds", "flow", True),
    "revenue_seized": Variable("USD", "Scam takings seized by financial authorities", "flow", True),
    "laundering_costs": Variable("USD", "Scam takings spent on laundering them", "flow", True),
    "exits_abandoned": Variable(
        "people", "Workers let go by a compound they no longer paid for (workforce economics)", "flow", True
    ),
    "workers_shed_sold": Variable("people", "Workers shed and sold on (workforce economics)", "flow", True),
    "escape_failed": Variable("people", "Escape attempts caught and punished (exit routes)", "flow", True),
    "help_unreached": Variable(
        "requests", "Help requests that never reached police (exit routes)", "flow", True
    ),
    "help_ignored": Variable("requests", "Help requests police did not act on (exit routes)", "flow", True),
    "retrafficked": Variable(
        "people", "People released or rescued who were re-trafficked (EN3)", "flow", True
    ),
    "extorted": Variable(
        "people", "People extorted in detention after release or rescue (EN3)", "flow", True
    ),
    "detention_extortion": Variable("USD", "Money extorted from them in detention (EN3)", "flow", True),
    "raid_seizures": Variable(
        "USD", "Cash and equipment seized in un-leaked raids (raid costs)", "flow", True
    ),
    "targets_broken": Variable(
        "people", "Targets who stopped paying because a raid broke the pipeline", "flow", True
    ),
    "evacuation_costs": Variable("USD", "Cost of moving workers out before leaked raids", "flow", True),
    "relocation_costs": Variable(
        "USD", "Cost of moving compounds' workers to new sites (site state)", "flow", True
    ),
    "site_costs": Variable("USD", "Cost of refitting or building sites (site state)", "flow", True),
    "entries": Variable("compounds", "Compounds opened by new syndicates (entry and exit)", "flow", False),
    "syndicates_exited": Variable(
        "syndicates", "Syndicates with nothing left to run that left", "flow", False
    ),
    "entry_margin": Variable(
        "-", "Margin of a standard new compound (entry and exit; 0 when off)", "stock", False
    ),
    "compounds_down": Variable(
        "compounds", "Operating compounds not working (after a raid or move)", "stock", False
    ),
}

# Time held at exit: bin edges in months of the "held_at_exit_*" counts (IN3: "weeks to over a year",
# cases of 3, 4, 7 and 12 months), and the bins' names, shortest first.
HELD_EDGES_MONTHS = (1, 3, 6, 12, 24)
_HELD_RANGES = tuple(zip((0, *HELD_EDGES_MONTHS), (*HELD_EDGES_MONTHS, None), strict=True))
HELD_BINS = tuple(f"held_at_exit_{lo}_{hi}m" if hi else f"held_at_exit_{lo}m_up" for lo, hi in _HELD_RANGES)
VARIABLES |= {
    name: Variable(
        "people",
        f"People who left captivity after {f'{lo} to {hi}' if hi else f'{lo} or more'} months held (IN3)",
        "flow",
        True,
    )
    for name, (lo, hi) in zip(HELD_BINS, _HELD_RANGES, strict=True)
}

# Routes out of captivity; each has its own "exits_<route>" variable.
EXIT_ROUTES = ("escape", "rescue", "ransom", "released", "abandoned")

# Raid outcomes in the event log.
RAID_OUTCOMES = ("closed", "relocated", "continued")

# Loss histogram: log-spaced bins from $1 to $1bn, fine enough for medians to within about 1%.
LOSS_BINS = np.logspace(0, 9, 1801)


class Ledger:
    """Accumulates per-step, per-jurisdiction tallies and the raid log of one run.

    Args:
        n_steps: Steps in the run.
        n_juris: Number of jurisdictions.
    """

    def __init__(self, n_steps: int, n_juris: int):
        self.n_juris = n_juris
        self.series = {name: np.zeros((n_steps, n_juris)) for name in VARIABLES}
        self.step = 0
        self.raids: list[dict] = []
        self.loss_counts = np.zeros(len(LOSS_BINS) + 1, dtype=np.int64)
        self.loss_total = 0.0

    def add(self, name: str, juris: int, amount: float = 1.0) -> None:
        """Add ``amount`` to variable ``name`` of jurisdiction ``juris`` in the current step."""
        self.series[name][self.step, juris] += amount

    def add_by(self, name: str, juris: np.ndarray, weights: np.ndarray | None = None) -> None:
        """Add one (or ``weights``) per element to ``name``, grouped by jurisdiction index."""
        if self.n_juris == 1:  # fast path: no grouping needed
            self.series[name][self.step, 0] += len(juris) if weights is None else weights.sum()
        elif len(juris):
            self.series[name][self.step] += np.bincount(juris, weights, minlength=self.n_juris)

    def add_counts(self, names: tuple[str, ...] | list[str], group: np.ndarray, juris: np.ndarray) -> None:
        """Add one per element to variable ``names[group]``, grouped by jurisdiction index.

        The same tallies as one :meth:`add_by` per name on the elements of its group, in one
        ``bincount``: counts are whole numbers, so the sums are the same whichever way they are taken.

        Args:
            names: Variables, one per group.
            group: Index into ``names`` of each element.
            juris: Jurisdiction index of each element.
        """
        k = len(names)
        if self.n_juris == 1:  # Python numbers: a row of one costs several times more to add
            for name, count in zip(names, np.bincount(group, minlength=k).tolist(), strict=True):
                if count:  # adding no one changes nothing
                    self.series[name][self.step, 0] += count
            return
        counts = np.bincount(group * self.n_juris + juris, minlength=k * self.n_juris)
        for name, row in zip(names, counts.reshape(k, self.n_juris), strict=True):
            self.series[name][self.step] += row

    def add_totals(self, name: str, totals: np.ndarray) -> None:
        """Add per-jurisdiction totals (one per jurisdiction, already grouped) to ``name``."""
        self.series[name][self.step] += totals

    def step_total(self, name: str, juris: np.ndarray, weights: np.ndarray | None = None) -> None:
        """Set a stock variable to the count (or ``weights`` total) per jurisdiction."""
        self.series[name][self.step] = 0.0
        self.add_by(name, juris, weights)

    def set(self, name: str, values: np.ndarray) -> None:
        """Set a stock variable for all jurisdictions in the current step."""
        self.series[name][self.step] = values

    def record_losses(self, losses: np.ndarray) -> None:
        """Add completed losses (USD, > 0) of defrauded targets to the histogram."""
        if len(losses):
            self.loss_counts += np.bincount(
                np.searchsorted(LOSS_BINS, losses), minlength=len(self.loss_counts)
            )
            self.loss_total += float(losses.sum())

    def log_raid(self, **row) -> None:
        """Append one row to the raid event log."""
        self.raids.append(row)
