"""Large populations as arrays: one row per trafficked worker or per target being groomed.

Decision-makers (bosses, compounds, recruiters, police) are Mesa agents, but there are tens of thousands
of workers and targets, so they are stored as a struct of numpy arrays and updated by vectorised
mechanisms. Rows leave the table when the person leaves the modelled state (a worker exits captivity, a
target is drained or drops out); what they leave behind is tallied by the mechanisms.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from sim.model import kernels

# Target states. "Contacted" people are not stored: only the few who respond become rows.
GROOMED = np.int8(0)
INVESTING = np.int8(1)


class ArrayTable:
    """A growable struct of arrays with compaction.

    Subclasses list their columns and dtypes in ``COLUMNS``; ``table.<column>`` is a view of the live
    rows (write into it, never assign to it). Capacity grows geometrically on append and shrinks after
    large removals, so memory per live row stays within a small factor of the row size.
    """

    COLUMNS: ClassVar[dict[str, str]] = {}

    def __init__(self, capacity: int = 1024):
        self.n = 0
        self._last_move: tuple = ()
        self._cols = {name: np.zeros(capacity, dtype) for name, dtype in self.COLUMNS.items()}
        self._refresh_views()

    def _refresh_views(self) -> None:
        # Plain attributes, re-made whenever the live rows change: column reads happen ~60 times a step,
        # and a computed attribute costs more than the arithmetic on small tables.
        for name, arr in self._cols.items():
            setattr(self, name, arr[: self.n])

    def __len__(self) -> int:
        return self.n

    @property
    def capacity(self) -> int:
        """Rows allocated."""
        return len(next(iter(self._cols.values())))

    @property
    def nbytes(self) -> int:
        """Bytes allocated for all columns."""
        return sum(a.nbytes for a in self._cols.values())

    def _resize(self, capacity: int) -> None:
        for name, arr in self._cols.items():
            new = np.zeros(capacity, arr.dtype)
            new[: self.n] = arr[: self.n]
            self._cols[name] = new
        self._refresh_views()

    def append(self, **values: np.ndarray) -> slice:
        """Append rows; every column must be given, each as an array of the same length.

        Returns:
            The slice of the new rows.
        """
        if set(values) != set(self._cols):
            missing = set(self._cols) ^ set(values)
            raise ValueError(f"append needs exactly the columns {sorted(self._cols)}; off: {missing}")
        k = len(next(iter(values.values())))
        if self.n + k > self.capacity:
            self._resize(max(self.n + k, int(self.capacity * 1.5) + 16))
        rows = slice(self.n, self.n + k)
        for name, v in values.items():
            self._cols[name][rows] = v
        self.n += k
        self._refresh_views()
        return rows

    def keep(self, mask: np.ndarray) -> None:
        """Keep only the live rows where ``mask`` is true.

        Removed rows are filled with kept rows from the end of the table ("swap-remove"), so the cost
        is proportional to the number of rows removed, not to the size of the table. Row order is not
        preserved; :meth:`remap` translates old row indices.
        """
        removed = np.flatnonzero(~mask)
        self._removing(removed)
        k = self.n - len(removed)
        holes = removed[removed < k]
        tail = np.flatnonzero(mask[k:]) + k
        for arr in self._cols.values():
            arr[holes] = arr[tail]
        self.n = k
        self._last_move = (mask, holes, tail, k)
        # Shrink after large removals, so allocated memory stays within 2x of the live rows.
        if self.capacity > 4096 and self.n < self.capacity // 2:
            self._resize(self.n * 5 // 4)
        else:
            self._refresh_views()

    def _removing(self, rows: np.ndarray) -> None:
        """Called by :meth:`keep` with the rows about to be removed, before any row moves."""

    def remap(self, rows: np.ndarray) -> np.ndarray:
        """Translate row indices taken before the last :meth:`keep` into current ones (-1 if removed).

        Args:
            rows: Old row indices; -1 entries stay -1.
        """
        return kernels.remap(rows, *self._last_move)


class Workers(ArrayTable):
    """Trafficked workers currently held in compounds (one row per person).

    Columns: ``uid`` (stable id, in order of recruitment),
    ``compound`` (id of the compound holding them), ``source`` (index of the source country =
    nationality), ``deceived`` (recruited by deception rather than joining knowingly, RC3),
    ``recruited_day`` (day since the start date; negative for people held before it), ``skill``
    (productivity multiplier, mean 1), ``perf`` (revenue brought in over about the last month, USD),
    ``level`` (punishment level; 0 = spared), ``debt`` (buy-out price, USD) and ``resales`` (times sold
    on between compounds).

    The table also keeps the number of workers in each compound up to date (:meth:`held`): the
    mechanisms ask for it several times a step, and recounting would cost a pass over every worker.
    Workers change compound only through :meth:`move`.
    """

    COLUMNS: ClassVar[dict[str, str]] = {
        "uid": "int32",
        "compound": "intp",
        "source": "int8",
        "deceived": "bool",
        "recruited_day": "int32",
        "skill": "float32",
        "perf": "float32",
        "level": "int8",
        "debt": "float32",
        "resales": "int8",
    }

    def __init__(self, capacity: int = 1024):
        super().__init__(capacity)
        self._held = np.zeros(0, dtype=np.intp)

    def _grow(self, compounds: np.ndarray) -> int:
        """Make room in the counts for every compound in ``compounds`` (not empty); returns their size."""
        size = max(len(self._held), int(compounds.max()) + 1)
        if size > len(self._held):
            self._held = np.concatenate([self._held, np.zeros(size - len(self._held), np.intp)])
        return size

    def _count(self, compounds: np.ndarray, sign: int) -> None:
        """Add ``sign`` to the count of each compound in ``compounds``."""
        if not len(compounds):
            return
        counts = np.bincount(compounds, minlength=self._grow(compounds))
        if sign > 0:
            self._held += counts
        else:
            self._held -= counts

    def held(self, n_compounds: int) -> np.ndarray:
        """Workers held in each of compounds ``0 .. n_compounds - 1`` (a copy)."""
        out = np.zeros(n_compounds, dtype=np.intp)
        k = min(n_compounds, len(self._held))
        out[:k] = self._held[:k]
        return out

    def append(self, **values: np.ndarray) -> slice:
        """Append rows (see :meth:`ArrayTable.append`) and count them in their compounds."""
        rows = super().append(**values)
        self._count(self.compound[rows], 1)
        return rows

    def _removing(self, rows: np.ndarray) -> None:
        """Uncount the workers about to leave (:meth:`ArrayTable.keep` has already found their rows)."""
        self._count(self.compound[rows], -1)

    def move(self, rows: np.ndarray, compounds: np.ndarray) -> None:
        """Move the workers in ``rows`` (distinct) to ``compounds``."""
        if len(rows):
            self._grow(compounds)
            kernels.move(rows, compounds, self.compound, self._held)


class Targets(ArrayTable):
    """Targets being groomed or drained who will lose money (one row per person).

    Columns: ``compound`` and ``worker`` (row of the worker grooming them in :class:`Workers`, kept up
    to date when workers leave, or -1 once that worker is gone), ``wealth`` (USD that could be taken),
    ``susceptibility`` (0-1), ``state`` (GROOMED or INVESTING), ``invest_day`` (day of the first
    deposit, since the start date), ``exit_tau`` (months of investing until they stop paying or are
    drained) and ``paid`` (USD lost so far). Targets who break off before investing never get a row;
    they are only counted (see :mod:`sim.model.mechanisms.production`).
    """

    COLUMNS: ClassVar[dict[str, str]] = {
        "compound": "intp",
        "worker": "intp",
        "wealth": "float32",
        "susceptibility": "float32",
        "state": "int8",
        "invest_day": "float32",
        "exit_tau": "float32",
        "paid": "float64",
    }


# Why a spell ended (SpellLog.reason).
OPEN, MOVED, CLOSED_RAID, CLOSED_BOSS = 0, 1, 2, 3
SPELL_REASONS = ("open", "moved", "closed_raid", "closed_boss")


class SpellLog(ArrayTable):
    """Site spells: one row per compound occupying one site, from moving in to moving out or closing.

    Amnesty identified places (AM1, AM7), so the survey observation model counts spells: a compound that
    moves yields two, the site it left (found gone) and the one it moved to. Rows are only appended.

    Columns: ``cid``, ``site``, ``juris``, ``town``, ``start`` and ``end`` (days since the start date;
    ``end`` NaN while open), ``reason`` (index into :data:`SPELL_REASONS`), ``first_intervention`` and
    ``first_raid`` (day of the first raid or rescue visit, and of the first raid; NaN if none),
    ``held_share_end`` (workers held over capacity at the end of the Amnesty window, NaN if the spell
    was not open then), ``down_end`` (in downtime then) and ``emptied_end`` (holding less than
    ``survey.empty_share`` of capacity then).
    """

    COLUMNS: ClassVar[dict[str, str]] = {
        "cid": "intp",
        "site": "intp",
        "juris": "intp",
        "town": "intp",
        "start": "float64",
        "end": "float64",
        "reason": "int8",
        "first_intervention": "float64",
        "first_raid": "float64",
        "held_share_end": "float64",
        "down_end": "bool",
        "emptied_end": "bool",
    }

    def open(self, cid: int, site: int, juris: int, town: int, day: float) -> int:
        """Append an open spell and return its row."""
        nan = np.array([np.nan])
        rows = self.append(
            cid=[cid],
            site=[site],
            juris=[juris],
            town=[town],
            start=[day],
            end=nan,
            reason=[OPEN],
            first_intervention=nan,
            first_raid=nan,
            held_share_end=nan,
            down_end=[False],
            emptied_end=[False],
        )
        return rows.start

    def close(self, row: int, day: float, reason: int) -> None:
        """End spell ``row`` on ``day`` for ``reason``."""
        self.end[row] = day
        self.reason[row] = reason

    def intervened(self, rows: np.ndarray, day: float, raid: bool) -> None:
        """Record a police intervention (a raid, or a rescue visit if not ``raid``) at spells ``rows``."""
        self.first_intervention[rows] = np.fmin(self.first_intervention[rows], day)
        if raid:
            self.first_raid[rows] = np.fmin(self.first_raid[rows], day)

    def observe_at_end(self, model, held: np.ndarray) -> None:
        """Record what a visit at the end of the Amnesty window would see at every open spell."""
        rows = np.array([c.spell for c in model.compounds if c.active], dtype=np.intp)
        if not len(rows):
            return
        cids = self.cid[rows]
        share = held[cids] / np.maximum(model.sites().capacity[cids], 1e-12)
        self.held_share_end[rows] = share
        self.down_end[rows] = ~model.up()[cids]
        self.emptied_end[rows] = share < model.p.survey.empty_share
