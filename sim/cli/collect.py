"""``scamsim collect dir=DIR [out=FILE]``: gather a sweep's chunks into one table (one row per run)."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from sim.cli.common import fail, parse_keys
from sim.model.schemas import ConfigError

USAGE = """usage: scamsim collect dir=DIR [out=FILE]

Gather a finished or partial sweep into one table, one row per run, and say which chunks are missing
or failed.

keys:
  dir   sweep directory (hydra.sweep.dir), e.g. results/multirun/phase (required)
  out   output file (default: DIR/runs.parquet)"""


def main(argv: Sequence[str]) -> None:
    """Write ``DIR/runs.parquet`` and print what is missing."""
    try:
        keys = parse_keys(argv, {"dir": "", "out": ""}, USAGE)
        if not keys["dir"]:
            raise ConfigError("dir= is required, e.g. dir=results/multirun/phase")
    except ConfigError as exc:
        fail(str(exc))
    from sim.runs.collect import RUNS_FILE, collect, timing, write  # the work starts: load pandas

    sweep_dir = Path(keys["dir"])
    try:
        collected = collect(sweep_dir)
    except FileNotFoundError as exc:
        fail(f"dir={keys['dir']}: {exc}")
    for line in collected.warnings():
        print(f"scamsim collect: warning: {line}", file=sys.stderr)
    out = write(collected, Path(keys["out"]) if keys["out"] else sweep_dir / RUNS_FILE)
    n_ok = int((collected.runs["status"] == "ok").sum())
    stats = timing(collected.chunks)
    text = f"{len(collected.runs)} runs ({n_ok} ok) from {len(collected.chunks)} chunks -> {out}"
    if stats:
        text += f"; compute {stats['compute_seconds']:.0f} s"
        text += f", first chunk start to last chunk finish {stats['span_seconds']:.0f} s"
    print(text)
