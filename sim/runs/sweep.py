"""Sweep chunks: the runs of one grid cell (posterior draws x seeds), written as one parquet file.

A sweep is a grid of configurations, each given by a list of Hydra overrides (one Hydra multirun job,
or one task of ``scamsim sweep`` on Dask). Each grid cell is one *chunk*: its ``n_draws x n_seeds``
runs execute in one process, one after the other, and produce one table with one row per run: the
cell's override values, ``seed`` (the base seed), ``draw`` (posterior draw), ``replicate``, ``status``
(``ok`` or ``error``), ``error`` (the exception, for failed runs) and every metric of
:data:`sim.runs.metrics.METRICS`. Batching runs this way keeps the launcher's per-job cost (about 0.2 s for
Hydra) small next to the runs themselves.

Chunks are what makes a sweep resumable:

* a chunk is written to ``<sweep dir>/chunks/<key>.parquet`` under a temporary name and renamed into
  place, so a killed sweep leaves only complete chunk files (plus temporaries nobody reads);
* the file carries the hash of the chunk's configuration; re-running the sweep skips every chunk whose
  file exists with the same hash, and re-runs chunks whose configuration changed;
* a run that raises becomes a row with ``status="error"`` and the exception text, and the chunk goes on;
  a chunk whose configuration is invalid leaves ``<key>.failed.json`` instead, and the sweep goes on.

Run ``(draw d, replicate r)`` of every chunk uses ``SeedSequence(seed).spawn(n_draws * n_seeds)[d *
n_seeds + r]``: every run of a cell has its own stream; all cells of a sweep share their streams (common
random numbers); with ``n_seeds=1`` draw ``d`` runs exactly as replicate ``d`` of ``scamsim run``; and a
sweep gives the same table whichever launcher, process or order runs its chunks.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import yaml
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import Override
from hydra.errors import HydraException

from sim.model import keys
from sim.model.schemas import ConfigError, ModelParams
from sim.model.streams import replicate_seeds
from sim.runs import dirs, posterior, provenance
from sim.runs.config import RunConfig, as_dict, fix_overridden, one_line
from sim.runs.metrics import METRICS
from sim.runs.results import atomic_write

CHUNK_DIR = "chunks"
FAILED_SUFFIX = ".failed.json"
META_KEY = b"scamsim"  # parquet key-value metadata of a chunk file
RUN_COLUMNS = ("seed", "draw", "replicate", "status", "error")
# Overrides that change neither the runs nor their outputs: not recorded as columns.
NOT_RECORDED = ("name", "n_jobs", "overwrite")
SET_ASIDE = "set-aside"  # chunks of another grid, moved here by overwrite=true


def draw_params(config: RunConfig, draw: int) -> ModelParams:
    """Parameters of posterior draw ``draw`` (the same draw as replicate ``draw`` of ``scamsim run``).

    Without a posterior (``posterior=null``) the only draw is 0: the configuration itself.

    Raises:
        LookupError: For another draw without a posterior.
    """
    if config.posterior:
        values = posterior.draws(config.posterior, draw + 1, config.seed, config.fixed)[draw]
        return posterior.apply(config, values)
    if draw == 0:
        return config
    raise LookupError(f"posterior draw {draw} needs a posterior (posterior=null gives only draw 0)")


def chunk_key(overrides: Iterable[str]) -> str:
    """File name stem of the chunk of a grid cell: its overrides, sorted, made safe for file names."""
    text = ",".join(sorted(o for o in overrides if not o.startswith("overwrite="))) or "default"
    key = quote(text, safe="=,.-_+~:")
    if len(key) > 180:  # file names are limited to 255 bytes
        key = key[:160] + "-" + hashlib.sha256(text.encode()).hexdigest()[:12]
    return key


def expand(overrides: list[str]) -> list[list[str]]:
    """The grid cells of a sweep: one list of overrides per cell, as Hydra's basic sweeper makes them.

    Args:
        overrides: Overrides with sweep syntax, e.g. ``["police.raid_capacity=0,20", "n_seeds=5"]``.

    Raises:
        HydraException: On a malformed override or an unsupported sweep type.
    """
    # Imported here: the sweeper module pulls in Hydra's plugin machinery, which workers never need.
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper

    parsed: list[Override] = OverridesParser.create().parse_overrides(overrides)
    return BasicSweeper.split_arguments(parsed, max_batch_size=None)[0]


def recorded_values(config: RunConfig, overrides: Iterable[str]) -> dict[str, Any]:
    """Column values of a cell's overrides.

    The typed value from the configuration where it is a scalar (``police.raid_capacity=20`` gives 1.0),
    otherwise the override text (``jurisdictions=mekong``).
    """
    values: dict[str, Any] = {}
    for override in overrides:
        key, _, text = override.lstrip("+~").partition("=")
        if key in NOT_RECORDED or key in RUN_COLUMNS or key.startswith("hydra."):
            continue
        try:
            value = keys.get(config, key)
        except ConfigError:  # a config group (``jurisdictions=mekong``) or a run setting
            value = text
        values[key] = value if isinstance(value, int | float | str | bool) else text
    return values


@dataclass
class Chunk:
    """One grid cell of a sweep: its overrides and its validated configuration."""

    overrides: list[str]
    config: RunConfig

    def __post_init__(self) -> None:
        # The cell's own overrides (the swept parameters) keep their values in every posterior draw.
        fix_overridden(self.config, self.overrides)

    @property
    def key(self) -> str:
        """File name stem of the chunk."""
        return chunk_key(self.overrides)

    @property
    def config_hash(self) -> str:
        """Hash of everything that determines the chunk's rows."""
        return provenance.config_hash(as_dict(self.config))


def run_chunk(chunk: Chunk) -> tuple[pd.DataFrame, float]:
    """Run every (draw, replicate) of a chunk, recording failures instead of raising.

    Returns:
        The chunk table (one row per run, in draw then replicate order) and the compute time in seconds.
    """
    # Imported here: the launching process uses this module to prepare and follow a sweep, never to
    # run the model (Mesa, SciPy); workers have it preloaded (sim.runs.launch.PRELOAD).
    from sim.runs.runner import run_replicate

    config = chunk.config
    swept = recorded_values(config, chunk.overrides)
    seeds = replicate_seeds(config.seed, config.n_draws * config.n_seeds)
    rows = []
    tic = time.perf_counter()
    for draw in range(config.n_draws):
        for replicate in range(config.n_seeds):
            seed_seq = seeds[draw * config.n_seeds + replicate]
            row: dict[str, Any] = {**swept, "seed": config.seed, "draw": draw, "replicate": replicate}
            try:
                metrics = run_replicate(draw_params(config, draw), seed_seq, replicate).metrics
                row |= {"status": "ok", "error": ""}
            except Exception as exc:  # one failed run must not end the sweep: record it and go on
                metrics = {}
                row |= {"status": "error", "error": f"{type(exc).__name__}: {exc}".splitlines()[0]}
            rows.append(row | {name: float(metrics.get(name, np.nan)) for name in METRICS})
    return pd.DataFrame(rows), time.perf_counter() - tic


def write_chunk(path: Path, table: pd.DataFrame, info: dict[str, Any]) -> None:
    """Write a chunk table atomically, with ``info`` (config hash, timing) in the file's metadata."""
    arrow = pa.Table.from_pandas(table, preserve_index=False)
    metadata = {**(arrow.schema.metadata or {}), META_KEY: json.dumps(info).encode()}
    atomic_write(path, lambda tmp: pq.write_table(arrow.replace_schema_metadata(metadata), tmp))


def chunk_info(path: Path) -> dict[str, Any] | None:
    """The metadata a chunk file was written with; None if it is unreadable or not a chunk.

    A chunk is a parquet file with every run column and this project's metadata; a truncated, empty or
    foreign file is none. Metrics are not required: a chunk written before a metric was added stays
    readable (that metric is then missing in its rows).
    """
    try:
        schema = pq.read_schema(path)
        info = json.loads((schema.metadata or {})[META_KEY])
    except (OSError, ValueError, KeyError, pa.ArrowException):
        return None
    if not isinstance(info, dict) or not set(RUN_COLUMNS) <= set(schema.names):
        return None
    return info


def set_aside(path: Path) -> Path:
    """Rename a corrupt chunk file out of the way (``<file>.corrupt-<time>``; never deleted)."""
    target = path.with_name(f"{path.name}.corrupt-{time.strftime('%Y%m%dT%H%M%S')}-{time.time_ns()}")
    path.rename(target)
    return target


def execute(chunk: Chunk, sweep_dir: str | Path) -> str:
    """Run a chunk unless its file already exists with the same configuration hash, and write it.

    A chunk file that cannot be read is set aside (:func:`set_aside`) and the chunk runs again.

    Returns:
        ``"skipped"`` (already done) or ``"done"``.
    """
    path = Path(sweep_dir) / CHUNK_DIR / f"{chunk.key}.parquet"
    if path.exists():
        info = chunk_info(path)
        if info is None:
            set_aside(path)
        elif info.get("config_hash") == chunk.config_hash:
            return "skipped"
    started = time.time()
    table, compute = run_chunk(chunk)
    info = {
        "overrides": chunk.overrides,
        "config_hash": chunk.config_hash,
        "posterior": chunk.config.posterior,
        "compute_seconds": compute,
        "started": started,
        "finished": time.time(),
    }
    write_chunk(path, table, info)
    path.with_name(chunk.key + FAILED_SUFFIX).unlink(missing_ok=True)
    return "done"


def record_failure(sweep_dir: str | Path, overrides: list[str], error: str) -> None:
    """Leave ``<key>.failed.json`` for a chunk that could not run at all (e.g. an invalid value)."""
    path = Path(sweep_dir) / CHUNK_DIR / (chunk_key(overrides) + FAILED_SUFFIX)
    text = json.dumps({"overrides": overrides, "error": error}, indent=2) + "\n"
    atomic_write(path, lambda tmp: tmp.write_text(text))


def chunk_keys(chunk_dir: Path) -> dict[str, Path]:
    """Finished and failed chunk files of a chunk folder, by chunk key (temporaries and set-asides not)."""
    files = [*chunk_dir.glob("[!.]*.parquet"), *chunk_dir.glob(f"[!.]*{FAILED_SUFFIX}")]
    return {p.name.removesuffix(".parquet").removesuffix(FAILED_SUFFIX): p for p in sorted(files)}


def cell_runs(cell: Iterable[str], base: Mapping[str, Any]) -> int:
    """Runs of a grid cell: ``n_draws x n_seeds``, as the cell's overrides set them, or else ``base``."""
    values = {"n_draws": int(base["n_draws"]), "n_seeds": int(base["n_seeds"])}
    for override in cell:
        key, _, text = override.lstrip("+~").partition("=")
        if key in values and text.isdigit():
            values[key] = int(text)
    return values["n_draws"] * values["n_seeds"]


def runs_written(chunk_dir: Path, runs: Mapping[str, int]) -> int:
    """Runs of the chunks ``runs`` (chunk key -> its runs) whose file is in ``chunk_dir``, done or failed."""
    present = chunk_keys(chunk_dir)
    return sum(n for key, n in runs.items() if key in present)


def prepare(sweep_dir: Path, cells: list[list[str]], overwrite: bool) -> None:
    """Make a sweep directory ready for the grid ``cells`` (its caller holds the directory's lock).

    Removes the temporaries of killed workers, and checks that every chunk present belongs to this
    grid: chunks of another grid (the same name run earlier with other values) are refused, or with
    ``overwrite`` moved to ``set-aside/<time>/``, so they never mix into this sweep's table.

    Raises:
        DirError: For chunks of another grid without ``overwrite`` (one line).
    """
    chunk_dir = sweep_dir / CHUNK_DIR
    if not chunk_dir.is_dir():
        return
    for tmp in chunk_dir.glob(f".*{dirs.TMP_INFIX}*"):
        tmp.unlink(missing_ok=True)
    grid = {chunk_key(cell) for cell in cells}
    stale = {key: p for key, p in chunk_keys(chunk_dir).items() if key not in grid}
    if not stale:
        return
    if not overwrite:
        raise dirs.DirError(
            f"{sweep_dir} holds {len(stale)} chunk(s) of another grid (e.g. {next(iter(stale))}); "
            "choose another name=, or add overwrite=true to set them aside"
        )
    aside = sweep_dir / SET_ASIDE / time.strftime("%Y%m%dT%H%M%S")
    aside.mkdir(parents=True, exist_ok=True)
    for path in stale.values():
        path.rename(aside / path.name)


def multirun_overrides(saved: dict[str, Any]) -> list[str]:
    """The sweep overrides of a saved ``multirun.yaml``: the sweeper's params, then the command line."""
    hydra = saved.get("hydra", {})
    params = [f"{k}={v}" for k, v in (hydra.get("sweeper", {}).get("params") or {}).items()]
    return params + list(hydra.get("overrides", {}).get("task", []))


def _node(tree: Any, *path: str) -> Any:
    """``tree[path[0]][path[1]]...``, or None where a level is missing or not a mapping."""
    for part in path:
        tree = tree.get(part) if isinstance(tree, dict) else None
    return tree


def expected_keys(sweep_dir: str | Path) -> list[str] | None:
    """Chunk keys a sweep directory should hold, from its ``multirun.yaml`` (None if there is none).

    Raises:
        ConfigError: If ``multirun.yaml`` is not valid YAML or not a sweep's record (one line naming
            the file and the problem).
    """
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    path = Path(sweep_dir) / "multirun.yaml"
    if not path.exists():
        return None
    try:
        saved = OmegaConf.to_container(OmegaConf.load(path), resolve=False)
    except yaml.YAMLError as exc:
        raise ConfigError(one_line(exc)) from None  # names the file and line
    except (OmegaConfBaseException, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not readable as YAML ({one_line(exc)})") from None
    params, task = _node(saved, "hydra", "sweeper", "params"), _node(saved, "hydra", "overrides", "task")
    if not isinstance(params, dict | None) or not isinstance(task, list):
        needs = "hydra.sweeper.params and hydra.overrides.task"
        raise ConfigError(f"{path}: not the record of a sweep (it needs {needs})")
    try:
        return [chunk_key(cell) for cell in expand(multirun_overrides(saved))]
    except HydraException as exc:
        raise ConfigError(f"{path}: the sweep's overrides do not parse ({one_line(exc)})") from None
