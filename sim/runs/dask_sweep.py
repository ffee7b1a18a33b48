"""``scamsim sweep``: the chunks of a Hydra-style sweep, mapped over a Dask distributed cluster.

For sweeps of 10^4 runs and more, Hydra's launchers start one job per grid cell from one process; a
Dask cluster instead keeps its workers (and their imported modules) alive and schedules chunks as they
free up. The run specs are the same: the grid is expanded exactly as Hydra's basic sweeper does it
(experiment configs included), each cell is one :class:`sim.runs.sweep.Chunk`, written by the worker that
runs it to the same ``<sweep dir>/chunks/<key>.parquet``; resume, failure recording and
``scamsim collect`` work unchanged, and the table is identical to the one from ``scamsim run -m``.

Usage::

    scamsim sweep scheduler=tcp://10.0.0.5:8786 experiment=phase
    scamsim sweep police.raid_capacity=0,20 police.corruption=0.2,0.8 n_seeds=50  # local cluster, 2 workers

The sweep directory is made absolute as the client sees it, and the client checks at the start that
every worker sees it (a file the client writes there must be readable by each worker), so a cluster's
workers, whose working directory is their own, never write chunks where ``scamsim collect`` does not
look; a chunk counts as done only once the client finds its file. The client holds the sweep
directory's lock while the sweep runs, and chunks of another grid are refused or, with
``overwrite=true``, set aside (:func:`sim.runs.sweep.prepare`).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hydra import compose, initialize_config_dir
from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import DictConfig, OmegaConf, open_dict

from sim.model.schemas import ConfigError
from sim.runs import dirs
from sim.runs.config import CONFIG_DIR, one_line, register, to_run_config
from sim.runs.sweep import CHUNK_DIR, Chunk, cell_runs, execute, expand, prepare, record_failure

WORKER_WAIT = 120  # seconds to wait for a cluster's first worker


def _is_hydra(override: str) -> bool:
    return override.lstrip("+~").startswith(("hydra.", "hydra/"))


def _compose_base(overrides: list[str]) -> DictConfig:
    """The configuration composed with the overrides that are not sweeps, Hydra's own node included."""
    parsed = OverridesParser.create().parse_overrides(overrides)
    fixed = [o.input_line for o in parsed if not o.is_sweep_override()]
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        return compose(config_name="run", overrides=fixed, return_hydra_config=True)


def plan(overrides: list[str]) -> tuple[Path, list[list[str]], DictConfig]:
    """The sweep directory and grid cells of a sweep given as Hydra overrides (sweep syntax allowed).

    As in a Hydra multirun, the cells come from the experiment's ``hydra.sweeper.params`` and the
    overrides that are not ``hydra.*`` settings.

    Returns:
        The sweep directory (absolute), the grid cells and the configuration to save as the sweep's
        ``multirun.yaml`` (so ``scamsim collect`` knows which chunks to expect).

    Raises:
        ConfigError: On a malformed override, an unknown key or a run name that is not plain.
    """
    register()
    task = [o for o in overrides if not _is_hydra(o)]
    try:
        cfg = _compose_base(overrides)
        params = [f"{k}={v}" for k, v in (cfg.hydra.sweeper.params or {}).items()]
        cells = expand(params + task)
    except Exception as exc:
        raise ConfigError(one_line(exc)) from None
    dirs.check_name(cfg.name)
    sweep_dir = Path(str(cfg.hydra.sweep.dir)).absolute()
    with open_dict(cfg):
        cfg.hydra.overrides.task = task
    return sweep_dir, cells, cfg


def _sees(path: str, token: str) -> bool:
    """On a worker: whether it reads ``token`` in the file ``path`` (the client's probe)."""
    try:
        return Path(path).read_text() == token
    except OSError:
        return False


def check_workers_see(client: Any, sweep_dir: Path) -> None:
    """Check that every worker of ``client``'s cluster sees ``sweep_dir`` as the client does.

    Raises:
        ConfigError: Naming the workers that do not (one line).
        TimeoutError: If the cluster has no worker within ``WORKER_WAIT`` seconds.
    """
    client.wait_for_workers(1, timeout=WORKER_WAIT)
    token = secrets.token_hex(8)
    probe = sweep_dir / f".probe-{token}"
    probe.write_text(token)
    try:
        seen = client.run(_sees, str(probe), token)
    finally:
        probe.unlink(missing_ok=True)
    blind = sorted(worker for worker, ok in seen.items() if not ok)
    if not seen or blind:
        raise ConfigError(
            f"the sweep directory {sweep_dir} is not visible to worker(s) {', '.join(blind) or '(none)'}; "
            "put it on a file system every worker shares (hydra.sweep.dir=/shared/path)"
        )


def chunk_of(cell: list[str]) -> Chunk:
    """The chunk of a grid cell: its overrides and validated configuration.

    Raises:
        ConfigError: If the cell's configuration is invalid.
    """
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = compose(config_name="run", overrides=cell)
    return Chunk(cell, to_run_config(cfg))


def local_cluster(n_workers: int) -> Any:
    """A Dask cluster on this machine whose scheduler, workers and dashboard listen on 127.0.0.1 only."""
    from distributed import LocalCluster

    return LocalCluster(
        n_workers=n_workers,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address="127.0.0.1:0",
    )


def run(
    overrides: list[str],
    scheduler: str | None,
    n_workers: int = 2,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, int]:
    """Run a sweep on a Dask cluster (a local one with ``n_workers`` processes if no scheduler).

    Args:
        overrides: Hydra overrides with sweep syntax (comma lists are swept).
        scheduler: Address of a Dask scheduler, e.g. ``tcp://host:8786``; None starts a local cluster.
        n_workers: Processes of the local cluster.
        progress: Called as ``progress(done, total)`` after each chunk, in runs (chunks done before
            and skipped are left out of both).

    Returns:
        How many chunks were done, skipped and failed.
    """
    from distributed import Client, as_completed

    sweep_dir, cells, cfg = plan(overrides)
    counts = {"done": 0, "skipped": 0, "failed": 0}
    with dirs.lock(sweep_dir):
        prepare(sweep_dir, cells, bool(cfg.get("overwrite", False)))
        sweep_dir.mkdir(parents=True, exist_ok=True)
        OmegaConf.save(cfg, sweep_dir / "multirun.yaml", resolve=False)
        chunks = []
        for cell in cells:
            try:
                chunks.append(chunk_of(cell))
            except ConfigError as exc:
                record_failure(sweep_dir, cell, str(exc))
                counts["failed"] += 1
        cluster = None if scheduler else local_cluster(n_workers)
        try:
            with Client(scheduler or cluster) as client:
                check_workers_see(client, sweep_dir)
                futures = client.map(execute, chunks, sweep_dir=str(sweep_dir), pure=False)
                of = {future.key: chunk for future, chunk in zip(futures, chunks, strict=True)}
                runs = {chunk.key: cell_runs(chunk.overrides, cfg) for chunk in chunks}
                done, total = 0, sum(runs.values())
                for future in as_completed(futures):
                    status, key = future.result(), of[future.key].key
                    if not (sweep_dir / CHUNK_DIR / f"{key}.parquet").exists():
                        status = "failed"  # written where the client cannot see it: not done
                    counts[status] += 1
                    if status == "skipped":  # done before: not work of this sweep
                        total -= runs[key]
                    else:
                        done += runs[key]
                    if progress:
                        progress(done, total)
        finally:
            if cluster is not None:
                cluster.close()
    return counts
