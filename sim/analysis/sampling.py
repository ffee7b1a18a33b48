"""pyabc's local samplers, counting the particles they simulate and keeping those they accept.

pyabc hands a sample back only once it holds every particle it needs, and one generation of the
calibration can take hours. The samplers here count each particle as it is simulated, and
whether it was accepted, in the process that simulates it (the multicore sampler's forked processes
write to shared memory), and a thread of the calling process reports the counts through
``on_sampling``: at the start of a sample, whenever they change (looked at every
:data:`POLL_SECONDS`) and once the sample is complete, with the final counts.

Given a folder (``keep_dir``), they also save each accepted particle there as soon as it is
accepted (one file each, written atomically, with the simulations it took), so that a sample cut
short by a kill is not lost: the same sample begun again (the same generation and threshold, hence
the same proposal, which pyabc fits from the stored generations) starts from the particles kept and
samples only the rest. The kept particles are draws of the same proposal and acceptance as the new
ones, so the sample is as valid; only the few in flight at the kill are lost (the multicore sampler
keeps the first accepted by simulation order, and a resumed sample slightly favours quick
simulations among those in flight). A resumed sample is not the one an uninterrupted run would
have drawn: it draws fresh proposals after the kept ones.

Imports pyabc, which takes seconds: :mod:`sim.analysis.calibration` loads this module only to run.
"""

from __future__ import annotations

import functools
import math
import multiprocessing
import os
import pickle
import shutil
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyabc

from sim.runs.results import atomic_write

POLL_SECONDS = 0.5

# Particles simulated and accepted in the sample in progress. Shared memory made before the sampler
# forks its processes; module-level, so that a simulate function pickled for them refers to it by name.
_counts = multiprocessing.get_context("fork").Array("q", 2)

# Where the sample in progress keeps its accepted particles (None: not kept), the simulations this
# process ran since it last kept one, and the process that called the sampler. Set before the sampler
# forks its processes, which inherit them.
_keeping: dict[str, Any] = {"dir": None, "simulations": 0, "caller": None}


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
        resumed: Of the accepted, those kept by an earlier sitting of the same sample (their
            simulations are in ``simulations``).
    """

    generation: int
    size: int
    epsilon: float
    simulations: int
    accepted: int
    complete: bool
    resumed: int = 0


def _simulate_counted(simulate_one: Callable[[], Any]) -> Any:
    """Simulate one particle with pyabc's ``simulate_one``; count it, and keep it if accepted.

    Runs in whichever process simulates. A forked process whose caller is gone (killed, so that it
    never reaped it) exits instead of simulating or keeping a particle for nobody: it would otherwise
    run on, orphaned, writing into the folder a re-run resumes from.
    """
    _exit_if_orphaned()
    particle = simulate_one()
    _exit_if_orphaned()
    with _counts.get_lock():
        _counts[0] += 1
        _counts[1] += bool(particle.accepted)
    _keeping["simulations"] += 1
    if particle.accepted and _keeping["dir"] is not None:
        _keep(_keeping["dir"], particle, _keeping["simulations"])
        _keeping["simulations"] = 0
    return particle


def _exit_if_orphaned() -> None:
    """Exit at once if this is a process forked by the sampler's caller and the caller has died."""
    caller = _keeping["caller"]
    if caller is not None and caller != os.getpid() and os.getppid() != caller:
        os._exit(1)


def _keep(folder: Path, particle: Any, simulations: int) -> None:
    """Save an accepted particle, with the simulations it took, as one file (written atomically)."""
    data = pickle.dumps((particle, simulations))
    atomic_write(folder / f"{uuid.uuid4().hex}.pkl", lambda tmp: tmp.write_bytes(data))


def _sample_dir(keep_dir: Path, t: int, epsilon: float) -> Path:
    """The folder of the sample of generation ``t`` at threshold ``epsilon`` (``prior`` before the first)."""
    return keep_dir / ("prior" if t < 0 else f"t{t}-eps{epsilon!r}")


def kept_in_order(folder: Path) -> list[Path]:
    """The files of the particles kept in ``folder``, in the order they were saved (their times).

    A resumed sample takes them in this order (the first ``n``), and a checkpoint keeps it.
    """
    return sorted(folder.glob("*.pkl"), key=lambda p: p.stat().st_mtime_ns)


def _kept(folder: Path) -> list[tuple[Any, int]]:
    """The particles kept in ``folder``, each with the simulations it took, in the order they were saved."""
    return [pickle.loads(path.read_bytes()) for path in kept_in_order(folder)]


class _Counting:
    """Mixin for a pyabc sampler: count and report the particles of each sample, keep the accepted."""

    def __init__(self, on_sampling: Callable[[Sampling], None], keep_dir: Path | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        self.on_sampling = on_sampling
        self.keep_dir = keep_dir

    def sample_until_n_accepted(self, n: int, simulate_one: Callable, t: int, **kwargs: Any) -> Any:
        """Sample as pyabc's sampler does; report the counts and keep accepted particles meanwhile.

        A sample begun again after a kill starts from the particles kept in ``keep_dir`` (module
        docstring).
        """
        ana_vars = kwargs.get("ana_vars")
        epsilon = float(ana_vars.eps(t)) if t >= 0 and ana_vars is not None else math.nan
        folder, resumed = None, []
        if self.keep_dir is not None:
            folder = _sample_dir(self.keep_dir, t, epsilon)
            _forget_other_samples(self.keep_dir, folder)
            folder.mkdir(parents=True, exist_ok=True)
            resumed = _kept(folder)[:n]
        kept = [particle for particle, _ in resumed]
        kept_simulations = sum(taken for _, taken in resumed)
        if kept:  # draw fresh proposals, not those of the run that kept these
            np.random.seed((len(kept) * 1_000_003 + kept_simulations) % 2**32)  # noqa: NPY002
        with _counts.get_lock():
            _counts[:] = [kept_simulations, len(kept)]
        _keeping.update(dir=folder, simulations=0, caller=os.getpid())

        def report(complete: bool) -> tuple[int, int]:
            with _counts.get_lock():
                simulations, accepted = _counts[:]
            self.on_sampling(Sampling(t, n, epsilon, simulations, accepted, complete, len(kept)))
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
        running_before = set(multiprocessing.active_children())
        try:
            if len(kept) < n:
                counted = functools.partial(_simulate_counted, simulate_one)
                sample = super().sample_until_n_accepted(n - len(kept), counted, t, **kwargs)
            else:
                sample, self.nr_evaluations_ = self._create_empty_sample(), 0
        except BaseException:
            _stop_processes_started_since(running_before)
            raise
        finally:
            stop.set()
            watcher.join()
            _keeping.update(dir=None, simulations=0, caller=None)
        if kept:
            sample.accepted_particles[:0] = kept
            self.nr_evaluations_ += kept_simulations
        report(complete=True)
        return sample


def _stop_processes_started_since(running_before: set[multiprocessing.process.BaseProcess]) -> None:
    """Terminate and reap the child processes started since ``running_before`` was taken.

    When one of pyabc's multicore processes dies, pyabc raises in the calling process but leaves the
    others running: they would go on simulating, and keeping particles in the sample's folder, behind
    a notebook or any caller that survives the error (and race a re-run that resumes from that folder).
    A process stopped while keeping a particle leaves at most a hidden temporary file, never a
    partial particle (:func:`_keep` writes atomically).
    """
    for process in set(multiprocessing.active_children()) - running_before:
        process.terminate()
        process.join()


def _forget_other_samples(keep_dir: Path, folder: Path) -> None:
    """Remove the kept particles of every sample but ``folder``'s.

    A new sample begins only once the previous generation is stored, so theirs are no longer needed
    (or were of another threshold).
    """
    for other in keep_dir.iterdir() if keep_dir.is_dir() else ():
        if other != folder:
            shutil.rmtree(other, ignore_errors=True)


class SingleCore(_Counting, pyabc.sampler.SingleCoreSampler):
    """pyabc's single-core sampler, counted."""


class Multicore(_Counting, pyabc.sampler.MulticoreEvalParallelSampler):
    """pyabc's multicore sampler (evaluation parallel), counted."""
