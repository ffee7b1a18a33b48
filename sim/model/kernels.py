"""The per-worker arithmetic of the hot mechanisms, as vectorised numpy or as loops compiled by numba.

The mechanisms (:mod:`sim.model.mechanisms`) draw every random number themselves, with the same calls in
the same order whichever implementation runs, and hand the draws to the kernels here, which do only
deterministic work: hazards, masks, tallies, per-compound sums, row remapping and the updates of
workers sold or moved. Each kernel has two implementations with the same signature:

* numpy (:data:`NUMPY`): the reference, the vectorised code the mechanisms always had;
* numba: the same operations as plain loops compiled to machine code, one pass over the rows instead
  of one per numpy operation and its temporary array.

Both give the same results bit for bit: the loops do the same float32 and float64 operations in the
same order as numpy (numba compiles without fast-math, so nothing is reordered or fused), sums run in
the order ``np.bincount``, ``np.cumsum`` and ``np.add.at`` use, and whatever numpy computes with its own
SIMD maths (``exp``, ``expm1``, ``**``) or pairwise summation (``sum``) stays in numpy in the
mechanisms, since libm's results differ from those in the last bit.

The implementation is chosen by the environment variable ``SCAMSIM_KERNELS`` (``numba``, the default
where numba is installed, or ``numpy``) when a kernel is first used, or by :func:`select`. numba is
imported only then, so importing the model (or ``scamsim --help``) does not pay for it; its compiled
code is cached on disk (``cache=True``: next to this file, or in ``NUMBA_CACHE_DIR``), so only the
first run on a machine compiles (seconds); a later process loads it (under a second, once).
"""

from __future__ import annotations

import os
from collections.abc import Callable

import numpy as np

from sim.model.schemas import ConfigError

BACKENDS = ("numba", "numpy")
KERNELS = (
    "chosen_rows",
    "exit_hazards",
    "exit_events",
    "exit_routes",
    "resell",
    "move",
    "discipline",
    "work_intensity",
    "invert_cumulative",
    "update_performance",
    "remap",
)
backend: str | None = None  # the implementation in use, set by select() at the first kernel call


# -------------------------------------------------------------------------------------------------
# numpy: the reference
# -------------------------------------------------------------------------------------------------


def _np_chosen_rows(n: int, picks: np.ndarray) -> np.ndarray:
    """Rows ``picks`` (distinct, any order) of a table of ``n`` rows, in row order.

    A mask is several times cheaper than sorting tens of thousands of picks.
    """
    chosen = np.zeros(n, dtype=bool)
    chosen[picks] = True
    return np.flatnonzero(chosen)


def _np_exit_hazards(
    candidates: np.ndarray,
    level: np.ndarray,
    compound: np.ndarray,
    escape_hazard: np.ndarray,
    h_ransom: np.ndarray,
    help_rate: float,
    desperation: float,
    resale_level: int,
    resale_rate: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Help, escape and total exit hazards (per year) of the workers in rows ``candidates``.

    Args:
        candidates: Worker rows.
        level: Punishment level of every worker.
        compound: Compound of every worker.
        escape_hazard: Escape hazard of each compound (float32).
        h_ransom: Ransom hazard of each candidate (float32, computed by numpy's ``exp``).
        help_rate: Help requests per year at punishment level 0.
        desperation: Relative rise of help requests and escapes per punishment level.
        resale_level: Punishment level from which a worker can be sold on.
        resale_rate: Resale hazard from that level.

    Returns:
        (help hazard, escape hazard, sum of the four hazards), float64, one per candidate.
    """
    lv = level[candidates].astype(np.float64)
    factor = 1.0 + desperation * lv
    h_help = help_rate * factor
    h_escape = escape_hazard[compound[candidates]] * factor
    h_resale = (lv >= resale_level) * resale_rate
    return h_help, h_escape, h_help + h_escape + h_ransom + h_resale


def _np_exit_events(
    candidates: np.ndarray,
    u: np.ndarray,
    p_max: float,
    p_event: np.ndarray,
    h_help: np.ndarray,
    h_escape: np.ndarray,
    h_ransom: np.ndarray,
    total: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The candidates whose event happens (a thinning draw), with what their route draw needs.

    Args:
        candidates: Worker rows of the candidates.
        u: One uniform per candidate.
        p_max: Probability with which every worker was made a candidate.
        p_event: Each candidate's probability of an event this step (computed by numpy's ``expm1``).
        h_help: Help hazard of each candidate (float64).
        h_escape: Escape hazard of each candidate (float64).
        h_ransom: Ransom hazard of each candidate (float32).
        total: Sum of the four hazards of each candidate (float64).

    Returns:
        (rows with an event, their total hazard, and the upper bounds of the help, escape and ransom
        routes on the scale of the total: cumulative sums of the hazards in route order).
    """
    happens = np.flatnonzero(u * p_max < p_event)
    bound1 = h_help[happens]
    bound2 = bound1 + h_escape[happens]
    bound3 = bound2 + h_ransom[happens]
    return candidates[happens], total[happens], bound1, bound2, bound3


def _np_exit_routes(
    rows: np.ndarray,
    u: np.ndarray,
    total: np.ndarray,
    bound1: np.ndarray,
    bound2: np.ndarray,
    bound3: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Rows of each route (help, escape, ransom, resale), drawn in proportion to the hazards.

    Args:
        rows: Worker rows with an event.
        u: One uniform per row.
        total: Total hazard of each row (from :func:`_np_exit_events`, as are the bounds).
        bound1: Upper bound of the help route.
        bound2: Upper bound of the escape route.
        bound3: Upper bound of the ransom route (resale takes the rest, up to the total).

    Returns:
        The rows of each route, in row order.
    """
    pick = u * total
    route = (pick >= bound1).astype(np.int8) + (pick >= bound2) + (pick >= bound3)
    return rows[route == 0], rows[route == 1], rows[route == 2], rows[route == 3]


def _np_resell(
    rows: np.ndarray,
    buyers: np.ndarray,
    compound: np.ndarray,
    debt: np.ndarray,
    level: np.ndarray,
    resales: np.ndarray,
    price: float,
    cap: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The workers' side of their sale: buy-out price up, punishment reset, one more resale (in place).

    A worker whose buyer is their own compound stays and is left alone.

    Args:
        rows: Worker rows sold (distinct).
        buyers: Compound drawn to buy each.
        compound: Compound of every worker (read only: the caller moves the workers).
        debt: Buy-out price of every worker (float32, updated).
        level: Punishment level of every worker (int8, updated).
        resales: Times each worker was sold on (int8, updated, capped at ``cap``).
        price: Resale price (USD).
        cap: Highest count of resales.

    Returns:
        (rows that change compound, their buyers, their sellers).
    """
    moving = buyers != compound[rows]
    rows, buyers = rows[moving], buyers[moving]
    debt[rows] += np.full(len(rows), price)  # float64 sums, rounded to float32 once
    level[rows] = 0
    resales[rows] = np.minimum(resales[rows] + 1, cap)
    return rows, buyers, compound[rows]


def _np_move(rows: np.ndarray, compounds: np.ndarray, compound: np.ndarray, held: np.ndarray) -> None:
    """Move the workers in ``rows`` (distinct) to ``compounds``, keeping the count held by each up to date.

    Args:
        rows: Worker rows.
        compounds: New compound of each.
        compound: Compound of every worker (updated).
        held: Workers held by each compound (updated; long enough for every compound in ``compounds``).
    """
    np.subtract.at(held, compound[rows], 1)
    compound[rows] = compounds
    np.add.at(held, compounds, 1)


def _np_discipline(
    level: np.ndarray,
    perf: np.ndarray,
    compound: np.ndarray,
    recruited_day: np.ndarray,
    quota: np.ndarray,
    juris: np.ndarray,
    u: np.ndarray,
    liable_until: float,
    up: np.ndarray,
    down: np.ndarray,
    n_juris: int,
    cap: int,
) -> np.ndarray:
    """Raise or lower every worker's punishment level in place, by Poisson counts from one uniform each.

    Args:
        level: Punishment level of every worker (int8, updated).
        perf: Revenue over about the last month of every worker (float32).
        compound: Compound of every worker.
        recruited_day: Day each worker was recruited.
        quota: Monthly quota of each compound (float32).
        juris: Jurisdiction of each compound.
        u: One float32 uniform per worker.
        liable_until: Workers recruited on or before this day are past their grace period.
        up: Thresholds of the rise count of those missing quota (:func:`poisson_thresholds`).
        down: Thresholds of the fall count of those meeting it.
        n_juris: Number of jurisdictions.
        cap: Highest punishment level.

    Returns:
        Punishment events (level rises) per jurisdiction.
    """
    meets = perf >= quota[compound]
    liable = recruited_day <= liable_until
    # One uniform per worker: the rise applies to those missing quota, the fall to those meeting it
    # (few, so handled as a subset).
    rise = _np_counts(u, up)
    rise *= ~meets & liable
    rise = np.minimum(rise, cap - level)  # no int8 overflow past the cap
    level += rise
    relieved = np.flatnonzero(meets)
    fall = _np_counts(u[relieved], down)
    level[relieved] = np.maximum(level[relieved] - fall, 0)
    if n_juris == 1:  # no grouping, which would cost a pass over every worker
        return np.array([rise.sum()], dtype=np.int64)
    return np.bincount(juris[compound], rise, minlength=n_juris).astype(np.int64)


def _np_counts(u: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """How many of ``thresholds`` each of ``u`` exceeds (int8)."""
    counts = np.zeros(len(u), dtype=np.int8)
    for t in thresholds:
        counts += u > t
    return counts


def _np_work_intensity(
    skill: np.ndarray,
    level: np.ndarray,
    compound: np.ndarray,
    productivity: np.ndarray,
    effort_per_level: float,
    n_compounds: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Work of each worker this step (float32) and its sum over each compound's workers (float64).

    Args:
        skill: Skill of every worker (float32).
        level: Punishment level of every worker (coerced effort).
        compound: Compound of every worker.
        productivity: Productivity of each compound, 0 when down (float32).
        effort_per_level: Extra effort per punishment level.
        n_compounds: Number of compounds.
    """
    effort = 1.0 + np.float32(effort_per_level) * level
    intensity = skill * effort * productivity[compound]
    # float64 even with no workers, when bincount would give integers
    return intensity, np.bincount(compound, intensity, minlength=n_compounds).astype(np.float64, copy=False)


def _np_invert_cumulative(weights: np.ndarray, u_sorted: np.ndarray) -> np.ndarray:
    """Indices drawn in proportion to ``weights`` by inverting their cumulative sum at sorted uniforms."""
    cumulative = np.cumsum(weights, dtype=np.float64)
    keys = u_sorted * cumulative[-1]
    return np.minimum(np.searchsorted(cumulative, keys, side="right"), len(weights) - 1)


def _np_update_performance(
    perf: np.ndarray, rows: np.ndarray, amounts: np.ndarray, memory: float, gain: float
) -> None:
    """Decay every worker's ``perf`` by ``memory`` and add ``gain`` times each positive amount, in place.

    Args:
        perf: Performance of every worker (float32, updated).
        rows: Worker of each amount (-1: a worker who has left).
        amounts: Money (USD).
        memory: Decay factor over the step.
        gain: Performance per USD.
    """
    np.multiply(perf, np.float32(memory), out=perf)
    paid = (rows >= 0) & (amounts > 0)
    np.add.at(perf, rows[paid], (amounts[paid] * gain).astype(np.float32))


def _np_remap(rows: np.ndarray, mask: np.ndarray, holes: np.ndarray, tail: np.ndarray, k: int) -> np.ndarray:
    """Row indices taken before a swap-remove compaction translated to after it.

    Args:
        rows: Old row indices; -1 entries stay -1.
        mask: The rows kept.
        holes: Removed rows below the new length ``k``, filled by ...
        tail: ... the kept rows at or above it.
        k: Rows kept.

    Returns:
        New row indices, -1 where removed.
    """
    alive = np.append(mask, False)[rows]  # index -1 picks the appended False
    out = np.where(alive, rows, -1)
    moved = np.flatnonzero(alive & (rows >= k))
    lookup = np.empty(len(mask) - k, dtype=np.intp)
    lookup[tail - k] = holes
    out[moved] = lookup[rows[moved] - k]
    return out


# -------------------------------------------------------------------------------------------------
# Loops compiled by numba (compiled()), each doing what its numpy reference above does
# -------------------------------------------------------------------------------------------------


def _nb_chosen_rows(n, picks):
    chosen = np.zeros(n, dtype=np.bool_)
    for i in range(len(picks)):
        chosen[picks[i]] = True
    # Branch-free: about half the rows are chosen, at random, so a branch would be mispredicted often.
    out = np.empty(len(picks) + 1, dtype=np.intp)
    j = 0
    for row in range(n):
        out[j] = row
        j += chosen[row]
    return out[:j]


def _nb_exit_hazards(
    candidates, level, compound, escape_hazard, h_ransom, help_rate, desperation, resale_level, resale_rate
):
    m = len(candidates)
    h_help = np.empty(m)
    h_escape = np.empty(m)
    total = np.empty(m)
    for i in range(m):
        row = candidates[i]
        lv = np.float64(level[row])
        factor = 1.0 + desperation * lv
        hh = help_rate * factor
        he = np.float64(escape_hazard[compound[row]]) * factor
        hs = resale_rate if lv >= resale_level else 0.0
        h_help[i] = hh
        h_escape[i] = he
        total[i] = ((hh + he) + np.float64(h_ransom[i])) + hs
    return h_help, h_escape, total


def _nb_exit_events(candidates, u, p_max, p_event, h_help, h_escape, h_ransom, total):
    m = 0
    for i in range(len(u)):
        m += u[i] * p_max < p_event[i]
    rows = np.empty(m, dtype=candidates.dtype)
    total_out = np.empty(m)
    bound1 = np.empty(m)
    bound2 = np.empty(m)
    bound3 = np.empty(m)
    j = 0
    for i in range(len(u)):
        if u[i] * p_max < p_event[i]:
            rows[j] = candidates[i]
            total_out[j] = total[i]
            b1 = h_help[i]
            b2 = b1 + h_escape[i]
            bound1[j] = b1
            bound2[j] = b2
            bound3[j] = b2 + np.float64(h_ransom[i])
            j += 1
    return rows, total_out, bound1, bound2, bound3


def _nb_exit_routes(rows, u, total, bound1, bound2, bound3):
    m = len(rows)
    route = np.empty(m, dtype=np.int8)
    counts = np.zeros(4, dtype=np.intp)
    for i in range(m):
        pick = u[i] * total[i]
        r = np.int8(pick >= bound1[i]) + np.int8(pick >= bound2[i]) + np.int8(pick >= bound3[i])
        route[i] = r
        counts[r] += 1
    out = (
        np.empty(counts[0], dtype=rows.dtype),
        np.empty(counts[1], dtype=rows.dtype),
        np.empty(counts[2], dtype=rows.dtype),
        np.empty(counts[3], dtype=rows.dtype),
    )
    filled = np.zeros(4, dtype=np.intp)
    for i in range(m):
        r = route[i]
        out[r][filled[r]] = rows[i]
        filled[r] += 1
    return out


def _nb_resell(rows, buyers, compound, debt, level, resales, price, cap):
    m = 0
    for i in range(len(rows)):
        m += buyers[i] != compound[rows[i]]
    moved = np.empty(m, dtype=rows.dtype)
    to = np.empty(m, dtype=buyers.dtype)
    sellers = np.empty(m, dtype=compound.dtype)
    j = 0
    for i in range(len(rows)):
        row = rows[i]
        if buyers[i] != compound[row]:
            moved[j] = row
            to[j] = buyers[i]
            sellers[j] = compound[row]
            debt[row] = np.float32(np.float64(debt[row]) + price)
            level[row] = 0
            resales[row] = min(np.int64(resales[row]) + 1, cap)
            j += 1
    return moved, to, sellers


def _nb_move(rows, compounds, compound, held):
    for i in range(len(rows)):
        row = rows[i]
        held[compound[row]] -= 1
        compound[row] = compounds[i]
        held[compounds[i]] += 1


def _nb_discipline(
    level, perf, compound, recruited_day, quota, juris, u, liable_until, up, down, n_juris, cap
):
    # In blocks that stay in the L1 cache, each step its own loop over the block: with no branch on a
    # row's (random) values and no look-up by compound, LLVM vectorises them; the quota look-up is a
    # loop of its own, since vectorised together with the rest it ran five times slower. Slices, not
    # start + i, as indices: numba cannot tell that start + i is not negative, and its wraparound
    # check keeps loops from being vectorised.
    events = np.zeros(n_juris, dtype=np.int64)
    block = 1024
    rise = np.empty(block, dtype=np.int8)
    fall = np.empty(block, dtype=np.int8)
    q = np.empty(block, dtype=np.float32)
    total = 0
    for start in range(0, len(level), block):
        m = min(block, len(level) - start)
        x = u[start : start + m]
        lv = level[start : start + m]
        pf = perf[start : start + m]
        rd = recruited_day[start : start + m]
        cp = compound[start : start + m]
        rise[:m] = 0
        fall[:m] = 0
        for t in up:
            for i in range(m):
                rise[i] += x[i] > t
        for t in down:
            for i in range(m):
                fall[i] += x[i] > t
        for i in range(m):
            q[i] = quota[cp[i]]
        for i in range(m):
            old = np.int64(lv[i])
            meets = np.int64(pf[i] >= q[i])
            liable = np.int64(rd[i] <= liable_until)
            r = min(np.int64(rise[i]), cap - old) * (1 - meets) * liable
            new = old + r - np.int64(fall[i]) * meets
            lv[i] = max(new, 0)
            rise[i] = r
            total += r
        if n_juris > 1:
            for i in range(m):
                events[juris[cp[i]]] += rise[i]
    if n_juris == 1:
        events[0] = total
    return events


def _nb_work_intensity(skill, level, compound, productivity, effort_per_level, n_compounds):
    n = len(skill)
    e = np.float32(effort_per_level)
    intensity = np.empty(n, dtype=np.float32)
    work = np.zeros(n_compounds)
    for row in range(n):
        c = compound[row]
        x = skill[row] * (np.float32(1.0) + e * np.float32(level[row])) * productivity[c]
        intensity[row] = x
        work[c] += np.float64(x)
    return intensity, work


def _nb_invert_cumulative(weights, u_sorted):
    n = len(weights)
    cumulative = np.empty(n)
    acc = 0.0
    for i in range(n):
        acc += np.float64(weights[i])
        cumulative[i] = acc
    out = np.empty(len(u_sorted), dtype=np.intp)
    j = 0
    # The keys are sorted, so the search for each goes on from where the last one stopped.
    for i in range(len(u_sorted)):
        key = u_sorted[i] * acc
        while j < n and cumulative[j] <= key:
            j += 1
        out[i] = min(j, n - 1)
    return out


def _nb_update_performance(perf, rows, amounts, memory, gain):
    m = np.float32(memory)
    for row in range(len(perf)):
        perf[row] *= m
    for i in range(len(rows)):
        if rows[i] >= 0 and amounts[i] > 0:
            perf[rows[i]] += np.float32(amounts[i] * gain)


def _nb_remap(rows, mask, holes, tail, k):
    n = len(mask)
    lookup = np.empty(n - k, dtype=np.intp)
    for i in range(len(tail)):
        lookup[tail[i] - k] = holes[i]
    out = np.empty(len(rows), dtype=np.intp)
    for i in range(len(rows)):
        row = rows[i]
        if row < 0 or not mask[row]:
            out[i] = -1
        elif row >= k:
            out[i] = lookup[row - k]
        else:
            out[i] = row
    return out


NUMPY: dict[str, Callable] = {name: globals()[f"_np_{name}"] for name in KERNELS}
LOOPS: dict[str, Callable] = {name: globals()[f"_nb_{name}"] for name in KERNELS}
_compiled: dict[str, Callable] = {}


def compiled() -> dict[str, Callable]:
    """The numba-compiled kernels (compiled, or loaded from the cache, on their first call)."""
    if not _compiled:
        import numba  # here, not at import: it takes about half a second

        _compiled.update({name: numba.njit(cache=True)(loop) for name, loop in LOOPS.items()})
    return _compiled


def requested() -> str | None:
    """The implementation that ``SCAMSIM_KERNELS`` names, or None where it is unset or empty.

    Raises:
        ConfigError: It names no implementation (one line, for the command line to print).
    """
    name = os.environ.get("SCAMSIM_KERNELS", "").strip() or None
    if name is not None and name not in BACKENDS:
        raise ConfigError(f"SCAMSIM_KERNELS={name!r} is not allowed; choose {' or '.join(BACKENDS)}")
    return name


def select(name: str | None = None) -> str:
    """Use the kernels of ``name``: ``numba`` or ``numpy``.

    Args:
        name: The implementation; by default the one ``SCAMSIM_KERNELS`` names (:func:`requested`),
            and where that is unset numba if it is installed, else numpy.

    Returns:
        The name of the implementation now in use.

    Raises:
        ConfigError: ``name`` (or ``SCAMSIM_KERNELS``) names no implementation.
    """
    global backend
    name = requested() if name is None else name
    if name is None:
        try:
            kernels = compiled()
            name = "numba"
        except ImportError:
            kernels, name = NUMPY, "numpy"
    elif name == "numba":
        kernels = compiled()
    elif name == "numpy":
        kernels = NUMPY
    else:
        raise ConfigError(f"kernels {name!r} is not allowed; choose {' or '.join(BACKENDS)}")
    globals().update(kernels)
    backend = name
    return name


def __getattr__(name: str) -> Callable:
    # The first use of a kernel chooses the implementation, which binds every kernel as a module
    # attribute: later look-ups find it directly and never come here.
    if name in KERNELS:
        select()
        return globals()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
