"""Sweep throughput (issue 4): 1,000 runs at calibration scale through the real command line.

Run as ``.venv/bin/python benchmarks/bench_sweep.py [--runs-per-cell N]`` (``make bench-sweep``). It
runs ``scamsim run -m`` with the default launcher (joblib, 2 jobs) over 50 grid cells (10 raid capacities
x 5 corruption levels) x 20 runs per cell (seeds of the hand-tuned parameters, ``posterior=null``, so
that rounds measured before the posterior became the default compare; a posterior's fitted worlds are
larger and cost about twice as much a run), at calibration scale
(``scale=0.1``) up to the end of the Amnesty window, into a temporary directory, and reports:

* wall time from the command's start to its exit (goal: 1,000 runs in at most 120 s on 2 cores, issue 14);
* compute time: the sum of the chunks' own run times (each chunk file records it);
* orchestration overhead = (jobs x wall time - compute) / compute, i.e. every second a core was not
  running the model: Hydra start-up and job launch, config composition, chunk writing, idle cores at
  the end (goal: under 5%); and the same counting only the span from the first chunk's start to the
  last chunk's finish;
* CPU-seconds per run, and the load average before and after (timings taken under load are pessimistic);
* runs that failed (every run must succeed for the goal to count as met).

Figures go to ``benchmarks/sweep_results.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sim.runs.collect import collect, timing

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "sweep_results.json"
SCAMSIM = str(Path(sys.executable).parent / "scamsim")
RAID_CAPACITIES = "0,5,10,15,20,30,40,60,100,200"
CORRUPTIONS = "0,0.25,0.5,0.75,1"
JOBS = 2  # n_jobs of configs/hydra/launcher/local.yaml
GOAL_SECONDS_PER_1000 = 120.0  # issue 14
GOAL_OVERHEAD = 0.05


def main() -> None:
    """Run the sweep, print the figures and write them to ``sweep_results.json``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs-per-cell", type=int, default=20, help="seeds per cell (default 20)")
    args = parser.parse_args()
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="bench-sweep-") as tmp:
        command = [
            SCAMSIM,
            "run",
            "-m",
            f"police.raid_capacity={RAID_CAPACITIES}",
            f"police.corruption={CORRUPTIONS}",
            "posterior=null",
            "n_draws=1",
            f"n_seeds={args.runs_per_cell}",
            "scale=0.1",
            "time.end=2025-06-30",
            "name=bench-sweep",
            f"hydra.sweep.dir={tmp}",
        ]
        tic = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True, text=True)
        wall = time.perf_counter() - tic
        collected = collect(tmp)
    runs = len(collected.runs)
    failed = int((collected.runs["status"] != "ok").sum())
    stats = timing(collected.chunks)
    compute, span = stats["compute_seconds"], stats["span_seconds"]
    result = {
        "runs": runs,
        "failed_runs": failed,
        "cells": len(collected.chunks),
        "jobs": JOBS,
        "wall_seconds": round(wall, 1),
        "seconds_per_1000_runs": round(wall / runs * 1000, 1),
        "compute_seconds": round(compute, 1),
        "cpu_seconds_per_run": round(compute / runs, 3),
        "overhead_total": round((JOBS * wall - compute) / compute, 4),
        "overhead_span": round((JOBS * span - compute) / compute, 4),
        "goal_seconds_per_1000_runs": GOAL_SECONDS_PER_1000,
        "goal_overhead": GOAL_OVERHEAD,
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "cpu_count": os.cpu_count(),
        "command": " ".join(["scamsim", *command[1:-1]]),
    }
    result["met"] = bool(
        failed == 0
        and result["seconds_per_1000_runs"] <= GOAL_SECONDS_PER_1000
        and result["overhead_total"] < GOAL_OVERHEAD
    )
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
