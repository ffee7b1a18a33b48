"""Gather a sweep's chunk files into one tidy table: one row per run.

``scamsim collect DIR`` reads ``DIR/chunks/*.parquet`` (finished chunks only: half-written chunks are
hidden temporaries and never read), sorts the rows by swept values, draw and replicate (so the table
does not depend on which process finished first), writes ``DIR/runs.parquet`` atomically and warns
about chunks that are missing (not run yet, or lost to a killed sweep), failed (invalid configuration)
or that contain failed runs.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from sim.metrics import METRICS
from sim.sweep import CHUNK_DIR, FAILED_SUFFIX, RUN_COLUMNS, atomic_write, chunk_info, expected_keys


@dataclass
class Collected:
    """A sweep's runs and what is missing from it."""

    runs: pd.DataFrame
    swept: list[str]
    missing: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    chunks: pd.DataFrame = field(default_factory=pd.DataFrame)

    @property
    def errors(self) -> pd.DataFrame:
        """The runs that raised, with their error."""
        return self.runs[self.runs["status"] != "ok"]

    def warnings(self) -> list[str]:
        """One line per problem: missing chunks, failed chunks, failed runs."""
        out = []
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
    """Read every finished chunk of a sweep directory.

    Raises:
        FileNotFoundError: If ``sweep_dir`` has neither chunks nor a ``multirun.yaml``.
    """
    sweep_dir = Path(sweep_dir)
    chunk_dir = sweep_dir / CHUNK_DIR
    expected = expected_keys(sweep_dir)
    if expected is None and not chunk_dir.is_dir():
        raise FileNotFoundError(f"{sweep_dir} is not a sweep directory (no {CHUNK_DIR}/, no multirun.yaml)")
    files = sorted(chunk_dir.glob("[!.]*.parquet")) if chunk_dir.is_dir() else []
    failed = {
        p.name.removesuffix(FAILED_SUFFIX): json.loads(p.read_text())["error"]
        for p in (sorted(chunk_dir.glob(f"[!.]*{FAILED_SUFFIX}")) if chunk_dir.is_dir() else [])
    }
    tables, infos = [], []
    for path in files:
        tables.append(pd.read_parquet(path))
        infos.append({"chunk": path.stem, "rows": len(tables[-1]), **chunk_info(path)})
    found = {p.stem for p in files}
    missing = [k for k in expected or [] if k not in found and k not in failed]
    if not tables:
        return Collected(pd.DataFrame(columns=[*RUN_COLUMNS, *METRICS]), [], missing, failed)
    runs = pd.concat(tables, ignore_index=True)
    swept = [c for c in runs.columns if c not in RUN_COLUMNS and c not in METRICS]
    runs = runs[[*swept, *RUN_COLUMNS, *METRICS]]
    runs = runs.sort_values([*swept, "draw", "replicate"], kind="stable", ignore_index=True)
    return Collected(runs, swept, missing, failed, pd.DataFrame(infos))


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
    atomic_write(path, lambda tmp: collected.runs.to_parquet(tmp, index=False))
    return path


def main(argv: list[str] | None = None) -> None:
    """``scamsim collect DIR [--out FILE]``: write DIR/runs.parquet and print what is missing."""
    parser = argparse.ArgumentParser(
        prog="scamsim collect",
        description="Gather a finished or partial sweep into one table (one row per run).",
    )
    parser.add_argument(
        "sweep_dir", type=Path, help="sweep directory (hydra.sweep.dir), e.g. results/multirun/phase"
    )
    parser.add_argument("--out", type=Path, help="output file (default: SWEEP_DIR/runs.parquet)")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    try:
        collected = collect(args.sweep_dir)
    except FileNotFoundError as exc:
        parser.exit(2, f"scamsim collect: error: {exc}\n")
    for line in collected.warnings():
        print(f"scamsim collect: warning: {line}", file=sys.stderr)
    out = write(collected, args.out or args.sweep_dir / "runs.parquet")
    n_ok = int((collected.runs["status"] == "ok").sum())
    stats: dict[str, Any] = timing(collected.chunks)
    text = f"{len(collected.runs)} runs ({n_ok} ok) from {len(collected.chunks)} chunks -> {out}"
    if stats:
        text += f"; compute {stats['compute_seconds']:.0f} s"
        text += f", first chunk start to last chunk finish {stats['span_seconds']:.0f} s"
    print(text)
