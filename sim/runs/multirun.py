"""One Hydra multirun job = one sweep chunk, with a progress line (chunks done, ETA) after each job.

``scamsim run -m ...`` (any launcher: basic, joblib, submitit) calls :func:`job` for each grid cell
instead of writing a full results directory: the cell's runs go into one chunk file under
``<hydra.sweep.dir>/chunks/`` (see :mod:`sim.runs.sweep`). Jobs run in separate processes, so the progress
line is computed from what is on disk: chunk files present, out of the cells listed by the sweep's
``multirun.yaml``, and the time since Hydra wrote that file when the sweep (or its resumption) started.

Jobs write to the sweep directory as the launching process sees it (made absolute against its working
directory), wherever their own working directory is; see :mod:`sim.runs.launch` for what the launching
process does.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from sim.model.schemas import ConfigError
from sim.runs.config import to_run_config
from sim.runs.launch import stop_with_launcher
from sim.runs.sweep import CHUNK_DIR, FAILED_SUFFIX, Chunk, execute, expected_keys, record_failure

log = logging.getLogger("scamsim.sweep")

BAR_WIDTH = 24


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
        log.warning("chunk %s failed: %s", ",".join(overrides), exc)
        status = "failed"
    else:
        status = execute(Chunk(overrides, config), sweep_dir)
    log.info(progress_line(sweep_dir, status))
    return status


def _clock(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def progress_line(sweep_dir: Path, status: str) -> str:
    """``chunk done | 37/110 [#######.....] 34% | elapsed 4:12 | ETA 7:03`` for a sweep directory."""
    chunks = Path(sweep_dir) / CHUNK_DIR
    files = [p for p in chunks.iterdir() if not p.name.startswith(".")] if chunks.exists() else []
    keys = {p.name.removesuffix(".parquet").removesuffix(FAILED_SUFFIX) for p in files}
    expected = expected_keys(sweep_dir)
    if not expected:
        return f"chunk {status} | {len(keys)} chunks"
    n_done, n_total = len(keys & set(expected)), len(expected)
    filled = round(BAR_WIDTH * n_done / n_total)
    line = f"chunk {status} | {n_done}/{n_total} [{'#' * filled}{'.' * (BAR_WIDTH - filled)}]"
    line += f" {n_done / n_total:.0%}"
    started = (Path(sweep_dir) / "multirun.yaml").stat().st_mtime
    elapsed = time.time() - started
    # Rate from the chunks finished since this (possibly resumed) sweep started, not the skipped ones.
    fresh = sum(1 for p in files if p.stat().st_mtime >= started)
    if fresh and n_done < n_total:
        line += f" | elapsed {_clock(elapsed)} | ETA {_clock(elapsed / fresh * (n_total - n_done))}"
    else:
        line += f" | elapsed {_clock(elapsed)}"
    return line
