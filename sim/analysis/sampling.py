"""pyabc's local samplers, counting the particles they simulate: progress within a generation.

pyabc hands a sample back only once it holds every particle it needs, and one generation of the
calibration can take many minutes. The samplers here count each particle as it is simulated, and
whether it was accepted, in the process that simulates it (the multicore sampler's forked processes
write to shared memory), and a thread of the calling process reports the counts through
``on_sampling``: at the start of a sample, whenever they change (looked at every
:data:`POLL_SECONDS`) and once the sample is complete, with the final counts.

Imports pyabc, which takes seconds: :mod:`sim.analysis.calibration` loads this module only to run.
"""

from __future__ import annotations

import functools
import math
import multiprocessing
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pyabc

POLL_SECONDS = 0.5

# Particles simulated and accepted in the sample in progress. Shared memory made before the sampler
# forks its processes; module-level, so that a simulate function pickled for them refers to it by name.
_counts = multiprocessing.get_context("fork").Array("q", 2)


@dataclass(frozen=True)
class Sampling:
    """The counts of a sample in progress.

    Attributes:
        generation: The generation (0, 1, ...); -1 for the sample from the prior that sets the first
            threshold (every particle of it is accepted).
        size: Particles to accept (the population size).
        epsilon: The generation's acceptance threshold; NaN for the sample from the prior.
        simulations: Particles simulated so far.
        accepted: Of those, the ones accepted (parallel processes may accept a few more than ``size``).
        complete: Whether the sample is complete (then the counts are final).
    """

    generation: int
    size: int
    epsilon: float
    simulations: int
    accepted: int
    complete: bool


def _simulate_counted(simulate_one: Callable[[], Any]) -> Any:
    """Simulate one particle with pyabc's ``simulate_one`` and count it (in whichever process runs it)."""
    particle = simulate_one()
    with _counts.get_lock():
        _counts[0] += 1
        _counts[1] += bool(particle.accepted)
    return particle


class _Counting:
    """Mixin for a pyabc sampler: count the particles of each sample and report them (module docstring)."""

    def __init__(self, on_sampling: Callable[[Sampling], None], **kwargs: Any):
        super().__init__(**kwargs)
        self.on_sampling = on_sampling

    def sample_until_n_accepted(self, n: int, simulate_one: Callable, t: int, **kwargs: Any) -> Any:
        """Sample as pyabc's sampler does, reporting the counts while it runs."""
        with _counts.get_lock():
            _counts[:] = [0, 0]
        ana_vars = kwargs.get("ana_vars")
        epsilon = float(ana_vars.eps(t)) if t >= 0 and ana_vars is not None else math.nan

        def report(complete: bool) -> tuple[int, int]:
            with _counts.get_lock():
                simulations, accepted = _counts[:]
            self.on_sampling(Sampling(t, n, epsilon, simulations, accepted, complete))
            return simulations, accepted

        stop = threading.Event()

        def poll(last: tuple[int, int]) -> None:
            while not stop.wait(POLL_SECONDS):
                if tuple(_counts[:]) != last:
                    last = report(complete=False)

        watcher = threading.Thread(
            target=poll, args=(report(complete=False),), name="scamsim-abc-progress", daemon=True
        )
        watcher.start()
        try:
            counted = functools.partial(_simulate_counted, simulate_one)
            sample = super().sample_until_n_accepted(n, counted, t, **kwargs)
        finally:
            stop.set()
            watcher.join()
        report(complete=True)
        return sample


class SingleCore(_Counting, pyabc.sampler.SingleCoreSampler):
    """pyabc's single-core sampler, counted."""


class Multicore(_Counting, pyabc.sampler.MulticoreEvalParallelSampler):
    """pyabc's multicore sampler (evaluation parallel), counted."""
