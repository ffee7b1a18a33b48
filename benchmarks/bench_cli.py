"""How fast the command line answers when there is no work to do (issue 11): goal at most 1 s.

Run as ``.venv/bin/python benchmarks/bench_cli.py [--repeats N]`` (``make bench-cli``). Each case runs
the real ``scamsim`` console script as a subprocess ``N`` times (default 7) in a temporary directory
and reports the median wall time against the goal (and the median CPU time, which the load of a shared
machine inflates less), with the exit code and the first line of output
(every case must exit with code 0 for help and 2 for bad input, in one line). The load average before
and after is recorded too: the machine is shared, and timings taken under load are pessimistic.

Figures go to ``benchmarks/cli_results.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "cli_results.json"
SCAMSIM = str(Path(sys.executable).parent / "scamsim")
GOAL_SECONDS = 1.0

# Case -> arguments of `scamsim`.
CASES: dict[str, list[str]] = {
    "help": ["--help"],
    "mistyped command": ["rnu"],
    "mistyped key": ["run", "police.raid_rat=1"],
    "bad config group option": ["run", "jurisdictions=mekongg"],
    "config error (value out of range)": ["run", "police.corruption=1.5"],
    "command help (run --help)": ["run", "--help"],
    "compare: unknown scenario": ["compare", "scenario=raid_surgee"],
    "collect: mistyped key": ["collect", "dri=results/multirun/grid"],
    "calibrate: config error": ["calibrate", "calibration.generations=0"],
    "sensitivity: config error": ["sensitivity", "sensitivity.n=0"],
}


def time_case(args: list[str], repeats: int, cwd: str) -> dict:
    """Median wall time of ``scamsim *args`` over ``repeats`` runs, with its exit code and output."""
    seconds, cpu = [], []
    for _ in range(repeats):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        proc = subprocess.run([SCAMSIM, *args], capture_output=True, text=True, cwd=cwd)
        seconds.append(time.perf_counter() - started)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
    output = (proc.stderr or proc.stdout).strip().splitlines()
    median = statistics.median(seconds)
    return {
        "command": " ".join(["scamsim", *args]),
        "median_seconds": round(median, 3),
        "min_seconds": round(min(seconds), 3),
        "max_seconds": round(max(seconds), 3),
        # CPU time (user + system) of the process: what the command costs with the load taken out.
        "median_cpu_seconds": round(statistics.median(cpu), 3),
        "exit_code": proc.returncode,
        "first_line": output[0] if output else "",
        "goal_met": median <= GOAL_SECONDS,
    }


def main() -> None:
    """Time every case and write ``benchmarks/cli_results.json``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7, help="runs of each case (median reported)")
    repeats = max(parser.parse_args().repeats, 5)
    load_before = os.getloadavg()
    results = {}
    with tempfile.TemporaryDirectory() as cwd:
        for name, args in CASES.items():
            results[name] = row = time_case(args, repeats, cwd)
            verdict = "pass" if row["goal_met"] else "MISS"
            seconds, cpu, code = row["median_seconds"], row["median_cpu_seconds"], row["exit_code"]
            print(f"{verdict}  {seconds:5.2f} s (cpu {cpu:4.2f} s)  {name:34s} exit {code}  {row['command']}")
    record = {
        "goal_seconds": GOAL_SECONDS,
        "repeats": repeats,
        "cpus": os.cpu_count(),
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "cases": results,
    }
    RESULTS.write_text(json.dumps(record, indent=2) + "\n")
    print(f"load average {record['load_average_before']} -> {record['load_average_after']}; wrote {RESULTS}")


if __name__ == "__main__":
    main()
