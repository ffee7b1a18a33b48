"""The process that launches a sweep's jobs (``scamsim run -m``) and the worker processes it starts.

:class:`SweepGuard` is a Hydra callback (``hydra.callbacks`` in ``configs/run.yaml``): in the launching
process it checks the sweep's name, holds the sweep directory's lock while the sweep runs and prepares
the directory for the grid (:func:`sim.runs.sweep.prepare`: killed workers' temporaries removed, chunks
of another grid refused or set aside). A job running in a worker process of the launching process
(joblib, submitit's local executor) calls :func:`stop_with_launcher`, so killing the sweep stops its
workers instead of leaving them running and writing chunks.

With the default launcher (joblib), the workers start by fork from a *forkserver* that has imported
what a job runs (:data:`PRELOAD`): :class:`SweepGuard` starts it before Hydra composes every job's
configuration to check it, so the imports (seconds) overlap that check and are paid once per sweep,
not once per worker.

Light on purpose: Hydra instantiates the callback for every ``scamsim run``.
"""

from __future__ import annotations

import contextlib
import multiprocessing.util
import os
import socket
import threading
import time
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from sim.model.schemas import ConfigError
from sim.runs import dirs

_watching: list[int] = []  # the launcher this worker process watches (at most one)
# The sweep directory's lock, held by the launching process (not by the callback: launchers pickle it).
_held = contextlib.ExitStack()

LAUNCHER_ENV = "SCAMSIM_SWEEP_LAUNCHER"  # environment: host:pid of the process launching the jobs
# What a joblib worker imports to run a job: the launcher's job function (and its process pool), the
# task function Hydra pickles (sim.cli.run) and the job itself with the model.
PRELOAD = (
    "joblib.externals.loky.process_executor",
    "hydra_plugins.hydra_joblib_launcher._core",
    "sim.cli.run",
    "sim.runs.multirun",
    "sim.runs.runner",
)


class Refused(BaseException):
    """A :class:`ConfigError` in a callback, raised past Hydra (which only warns about Exceptions there)."""


class SweepGuard(Callback):
    """Hydra callback of ``scamsim run -m``, in the launching process: the sweep directory's guard."""

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        """Check the name, take the sweep directory's lock and prepare it for this grid.

        Raises:
            Refused: For a name that is not plain, a busy directory or chunks of another grid.
        """
        from sim.runs.sweep import expand, multirun_overrides, prepare  # loads pandas: sweeps only

        try:
            dirs.check_name(config.name)
            sweep_dir = Path(str(config.hydra.sweep.dir))
            _held.enter_context(dirs.lock(sweep_dir))
            saved = OmegaConf.to_container(config, resolve=False)
            prepare(sweep_dir, expand(multirun_overrides(saved)), bool(config.get("overwrite", False)))
        except ConfigError as exc:
            _held.close()
            raise Refused(str(exc)) from None
        os.environ[LAUNCHER_ENV] = f"{socket.gethostname()}:{os.getpid()}"
        if str(config.hydra.launcher.get("_target_", "")).endswith(".JoblibLauncher"):
            start_forkserver()

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        """Release the sweep directory's lock."""
        _held.close()


def start_forkserver() -> None:
    """Make joblib's workers start by fork from a forkserver that imports :data:`PRELOAD`; start it now.

    The forkserver is a fresh, single-threaded process (forking the launching process itself would copy
    its threads' locks), so every worker starts with the imports done, in milliseconds. It exits with
    the launching process.
    """
    import multiprocessing.forkserver  # here: the callback stays light for runs that are no sweep

    from joblib.externals.loky.backend.context import set_start_method

    multiprocessing.set_forkserver_preload(list(PRELOAD))
    set_start_method("forkserver", force=True)
    multiprocessing.forkserver.ensure_running()


def _parent_of(pid: int) -> int | None:
    """The parent process of ``pid`` (from ``/proc``), or None where that cannot be read."""
    try:
        # The command name (field 2) is in parentheses and may hold spaces: the fields after it count.
        return int(Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[1])
    except (OSError, ValueError, IndexError):
        return None


def _alive(pid: int) -> bool:
    """Whether process ``pid`` exists."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def stop_with_launcher(poll: float = 0.5) -> None:
    """In a worker process of the sweep's launching process: exit as soon as that process dies.

    Does nothing in the launching process itself, nor in jobs on other machines (e.g. SLURM's). A job
    that starts after the launcher died (a worker still importing when the sweep was killed) exits at
    once.
    """
    host, _, pid = os.environ.get(LAUNCHER_ENV, "").rpartition(":")
    if host != socket.gethostname() or not pid.isdigit() or int(pid) == os.getpid() or _watching:
        return
    launcher = int(pid)
    parent = os.getppid()
    # A child of the launching process, or of its forkserver (which exits when the launcher does).
    if launcher not in (parent, _parent_of(parent)):
        if not _alive(launcher):
            os._exit(1)  # the sweep was killed while this worker started
        return  # started by someone else (a scheduler on this machine): not ours to stop

    def watch() -> None:
        while os.getppid() == parent and _alive(launcher):
            time.sleep(poll)
        os._exit(1)  # the launcher (or its forkserver) is gone: the chunk in progress is re-run on resume

    threading.Thread(target=watch, name="scamsim-launcher-watch", daemon=True).start()
    _watching.append(launcher)


# A worker forked from the forkserver watches the launcher from its start, not only once it has a job:
# an idle worker does not notice that the launcher is gone (one was seen left running after its sweep
# was killed before it got a job). Elsewhere (no sweep launcher in the environment) this does nothing.
multiprocessing.util.register_after_fork(stop_with_launcher, lambda watch: watch())
