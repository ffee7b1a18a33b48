"""One Hydra multirun job = one sweep chunk.

``scamsim run -m ...`` (any launcher: basic, joblib, submitit) calls :func:`job` for each grid cell
instead of writing a full results directory: the cell's runs go into one chunk file under
``<hydra.sweep.dir>/chunks/`` (see :mod:`sim.runs.sweep`). The launching process reports the sweep's
progress from the chunk files (:class:`sim.cli.run.SweepProgress`), wherever the jobs run.

Jobs write to the sweep directory as the launching process sees it (made absolute against its working
directory), wherever their own working directory is; see :mod:`sim.runs.launch` for what the launching
process does.
"""

from __future__ import annotations

import logging
from pathlib import Path

from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from sim.model.schemas import ConfigError
from sim.runs.config import to_run_config
from sim.runs.launch import stop_with_launcher
from sim.runs.sweep import Chunk, execute, record_failure

log = logging.getLogger("scamsim.sweep")


def job(cfg: DictConfig) -> str:
    """Run (or skip, if already done) the chunk of the current Hydra multirun job.

    An invalid configuration is recorded as a failed chunk rather than raised, so it does not end
    the sweep: Hydra stops a multirun at the first job that raises.

    Returns:
        ``"done"``, ``"skipped"`` or ``"failed"``.
    """
    stop_with_launcher()
    hydra = HydraConfig.get()
    sweep_dir = Path(hydra.runtime.cwd, hydra.sweep.dir)  # as the launcher sees it
    overrides = list(hydra.overrides.task)
    try:
        config = to_run_config(cfg)
    except ConfigError as exc:
        record_failure(sweep_dir, overrides, str(exc))
        log.warning("chunk failed: %s: %s", ",".join(overrides), exc)
        status = "failed"
    else:
        status = execute(Chunk(overrides, config), sweep_dir)
    if status == "skipped":
        log.info("chunk skipped: %s", ",".join(overrides))
    return status
