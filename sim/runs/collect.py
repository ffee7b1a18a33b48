"""Gather a sweep's chunk files into one tidy table: one row per run.

``scamsim collect dir=DIR`` reads ``DIR/chunks/*.parquet`` (finished chunks only: half-written chunks are
hidden temporaries and never read), sorts the rows by swept values, draw and replicate (so the table
does not depend on which process finished first), writes ``DIR/runs.parquet`` atomically and warns
about chunks that are missing (not run yet, or lost to a killed sweep), failed (invalid configuration)
or that contain failed runs.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from sim.model.schemas import ConfigError
from sim.runs import dirs, posterior, provenance
from sim.runs.metrics import METRICS, RETIRED
from sim.runs.results import atomic_write, write_json
from sim.runs.sweep import CHUNK_DIR, FAILED_SUFFIX, RUN_COLUMNS, chunk_info, chunk_keys, expected_keys

RUNS_FILE, METADATA_FILE = "runs.parquet", "metadata.json"


@dataclass
class Collected:
    """A sweep's runs and what is missing from it."""

    runs: pd.DataFrame
    swept: list[str]
    missing: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    chunks: pd.DataFrame = field(default_factory=pd.DataFrame)
    notes: list[str] = field(default_factory=list)

    @property
    def errors(self) -> pd.DataFrame:
        """The runs that raised, with their error."""
        return self.runs[self.runs["status"] != "ok"]

    def warnings(self) -> list[str]:
        """One line per problem: chunks ignored or unreadable, missing chunks, failed chunks, failed runs."""
        out = list(self.notes)
        if self.missing:
            shown = ", ".join(self.missing[:3]) + (", ..." if len(self.missing) > 3 else "")
            out.append(f"{len(self.missing)} chunk(s) missing (not run or not finished): {shown}")
        for key, error in self.failed.items():
            out.append(f"chunk {key} failed: {error}")
        if len(self.errors):
            first = self.errors.iloc[0]
            out.append(f"{len(self.errors)} run(s) failed, e.g. {first['error']}")
        return out


def collect(sweep_dir: str | Path) -> Collected:
    """Read every finished chunk of a sweep directory that belongs to its grid.

    Chunks outside the grid of the sweep's ``multirun.yaml`` (left by an earlier sweep of the same name)
    are ignored, and unreadable ones are counted as missing; both are warned about.

    Raises:
        FileNotFoundError: If ``sweep_dir`` has neither chunks nor a ``multirun.yaml``.
    """
    sweep_dir = Path(sweep_dir)
    chunk_dir = sweep_dir / CHUNK_DIR
    expected = expected_keys(sweep_dir)
    if expected is None and not chunk_dir.is_dir():
        raise FileNotFoundError(f"{sweep_dir} is not a sweep directory (no {CHUNK_DIR}/, no multirun.yaml)")
    present = chunk_keys(chunk_dir) if chunk_dir.is_dir() else {}
    outside = [k for k in present if expected is not None and k not in expected]
    failed, tables, infos, unreadable = {}, [], [], []
    for key, path in present.items():
        if key in outside:
            continue
        if path.name.endswith(FAILED_SUFFIX):
            failed[key] = json.loads(path.read_text())["error"]
        elif (info := chunk_info(path)) is None:
            unreadable.append(key)
        else:
            tables.append(pd.read_parquet(path))
            infos.append({"chunk": key, "rows": len(tables[-1]), **info})
    found = {info["chunk"] for info in infos}
    missing = [k for k in expected or [] if k not in found and k not in failed]
    notes = [f"{len(outside)} chunk(s) not in this sweep's grid ignored, e.g. {k}" for k in outside[:1]]
    if unreadable:
        notes.append(
            f"{len(unreadable)} chunk(s) unreadable, counted as missing (set aside and re-run when the "
            f"sweep is resumed), e.g. {unreadable[0]}"
        )
    if not tables:
        return Collected(pd.DataFrame(columns=[*RUN_COLUMNS, *METRICS]), [], missing, failed, notes=notes)
    runs = pd.concat(tables, ignore_index=True)
    swept = [c for c in runs.columns if c not in RUN_COLUMNS and c not in METRICS and c not in RETIRED]
    # A metric newer than some chunks reads NaN in their rows (warned about); one that no chunk holds, or
    # a retired one, stays as the chunks have it, so readers can name it (missing_metric).
    held = [m for m in (*METRICS, *RETIRED) if m in runs.columns]
    older = [m for m in METRICS if m in runs.columns and any(m not in t.columns for t in tables)]
    if older:
        before = sum(older[0] not in t.columns for t in tables)
        notes.append(
            f"{before} chunk(s) written before {', '.join(older)} existed: NaN in their runs; re-run the "
            "sweep under another name= (a chunk whose configuration is unchanged is skipped)"
        )
    runs = runs.reindex(columns=[*swept, *RUN_COLUMNS, *held])
    runs = runs.sort_values([*swept, "draw", "replicate"], kind="stable", ignore_index=True)
    return Collected(runs, swept, missing, failed, pd.DataFrame(infos), notes)


def provenance_of(runs: pd.DataFrame, chunks: pd.DataFrame) -> dict[str, Any]:
    """Provenance of a sweep: code version, a hash of the chunk configurations, seeds and posterior.

    ``posterior_name`` is the posterior the chunks drew from (None: none, or chunks written before
    their posterior was recorded), ``posterior`` its record (:func:`sim.runs.posterior.provenance`).
    """
    hashes = ",".join(sorted(chunks.get("config_hash", pd.Series(dtype=str)).astype(str)))
    names = sorted({str(n) for n in chunks.get("posterior", pd.Series(dtype=object)).dropna()})
    record = None
    if len(names) == 1:
        with contextlib.suppress(ConfigError):  # the file is gone since: its name is all there is
            record = posterior.provenance(names[0])
    return {
        "posterior_name": ",".join(names) or None,
        "posterior": record,
        dirs.MARKER[0]: dirs.MARKER[1],
        "git": provenance.git_commit(),
        "versions": provenance.versions(),
        "config_hash": hashlib.sha256(hashes.encode()).hexdigest()[:12],
        "seeds": {
            "base_seed": ",".join(map(str, sorted(runs["seed"].unique()))),
            # Runs per cell: each (posterior draw, seed) pair has its own random stream.
            "n_seeds": len(runs[["draw", "replicate"]].drop_duplicates()),
        },
    }


@dataclass
class Sweep:
    """A sweep's runs with their provenance, as notebooks and ``scamsim phase`` read them.

    Attributes:
        runs: One row per run: the swept parameters (one column each, named by config key), ``seed``
            (base seed), ``draw`` (posterior draw), ``replicate``, ``status`` ("ok" or "error"),
            ``error``, and every metric of :data:`sim.runs.metrics.METRICS` (units in docs/ODD.md) that
            the runs were made with: runs saved before a metric existed lack it, and may hold a
            retired one (:data:`sim.runs.metrics.RETIRED`; :func:`missing_metric` says which).
        metadata: Commit, versions, configuration hash and seeds (figure footers).
    """

    runs: pd.DataFrame
    metadata: dict[str, Any]

    def write(self, out_dir: Path) -> list[Path]:
        """Save as ``runs.parquet`` + ``metadata.json`` (read back by :func:`load_sweep`)."""
        out_dir.mkdir(parents=True, exist_ok=True)
        runs = atomic_write(out_dir / RUNS_FILE, lambda tmp: self.runs.to_parquet(tmp, index=False))
        meta = atomic_write(out_dir / METADATA_FILE, lambda tmp: write_json(tmp, self.metadata))
        return [runs, meta]


def load_sweep(path: str | Path) -> Sweep:
    """A sweep's runs, from a sweep directory or a saved sweep.

    A sweep directory is read through its finished chunks (problems are warned about on stderr); a saved
    sweep is a directory with ``runs.parquet`` and ``metadata.json``, such as ``results/phase``.

    Raises:
        FileNotFoundError: If ``path`` is neither.
    """
    path = Path(path)
    if (path / RUNS_FILE).exists() and (path / METADATA_FILE).exists():
        return Sweep(pd.read_parquet(path / RUNS_FILE), json.loads((path / METADATA_FILE).read_text()))
    collected = collect(path)
    for line in collected.warnings():
        print(f"warning: {line}", file=sys.stderr)
    return Sweep(collected.runs, provenance_of(collected.runs, collected.chunks))


def missing_metric(runs: pd.DataFrame, names: Iterable[str], source: str | Path) -> str | None:
    """Why a sweep's runs cannot give one of the metrics ``names``, in one line (None if they give all).

    Runs saved before a metric existed do not hold it (a saved sweep, or a sweep directory none of whose
    chunks has it: :func:`collect`); drawing it would give empty figures, so readers check first. A
    metric that is NaN in every run (runs that end before the window it is judged over) is held.

    Args:
        runs: A sweep's runs (:attr:`Sweep.runs`).
        names: The metrics the reader needs.
        source: Where the runs were read from, for the message.
    """
    for name in (n for n in names if n not in runs.columns):
        held = [(old, what) for old, (new, what) in RETIRED.items() if new == name and old in runs.columns]
        if held:
            old, what = held[0]
            return (
                f"{source}: the runs have no {name}: they were saved before it existed and hold {old}, "
                f"{what}, another statistic; re-run the sweep to draw {name}"
            )
        return f"{source}: the runs have no {name}: they were saved before it existed; re-run the sweep"
    return None


def timing(chunks: pd.DataFrame) -> dict[str, float]:
    """Compute time summed over chunks and the wall-clock span from the first start to the last finish."""
    if chunks.empty or "compute_seconds" not in chunks:
        return {}
    return {
        "compute_seconds": float(chunks["compute_seconds"].sum()),
        "span_seconds": float(chunks["finished"].max() - chunks["started"].min()),
    }


def write(collected: Collected, path: Path) -> Path:
    """Write the runs table atomically."""
    return atomic_write(path, lambda tmp: collected.runs.to_parquet(tmp, index=False))
