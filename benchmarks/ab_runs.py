"""Run time of this checkout against another one, interleaved in one run (CPU-time medians).

Run as ``.venv/bin/python benchmarks/ab_runs.py OTHER [--kind calibration|baseline] [--rounds R]
[--per K]``, with ``OTHER`` the root of another checkout of the project (for instance a ``git
worktree`` of the commit to compare with). Each round runs ``K`` seeds in a fresh Python for each
checkout (``PYTHONPATH`` set to it), the order alternating from round to round, so both see the same
machine load; a child times ``ScamModel(params, seed).run_model()`` after one untimed run. The two
checkouts get the same seeds. CPU time is reported because other jobs on the machine inflate wall
time more than CPU time; the ratio of the medians is this checkout's speed-up.

``--kind calibration`` is the calibration-scale run of ``bench_workers.py`` (f), ``--kind baseline``
the full-scale baseline (d).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve()
OVERRIDES = {"calibration": {"scale": 0.1, "end": "2025-06-30"}, "baseline": {}}  # as bench_workers.py


def child(kind: str, seeds: list[int]) -> None:
    """In a fresh Python: print the CPU seconds of one run per seed, as JSON."""
    from sim.model.model import ScamModel
    from sim.model.schemas import ModelParams

    params = ModelParams()
    if "scale" in OVERRIDES[kind]:
        params.scale = OVERRIDES[kind]["scale"]
        params.time.end = OVERRIDES[kind]["end"]
    ScamModel(params, seed=10_000).run_model()  # imports, caches and first-touch memory, untimed
    cpu = []
    for seed in seeds:
        c0 = time.process_time()
        ScamModel(params, seed=seed).run_model()
        cpu.append(time.process_time() - c0)
    print(json.dumps(cpu))


def run_in(checkout: Path, kind: str, seeds: list[int]) -> list[float]:
    """CPU seconds per run of ``seeds`` in ``checkout``."""
    env = {**os.environ, "PYTHONPATH": str(checkout)}
    args = [sys.executable, str(HERE), "--child", kind, ",".join(map(str, seeds))]
    out = subprocess.run(args, env=env, cwd=checkout, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    """Interleave the two checkouts, print the medians and their ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("other", type=Path, nargs="?", help="root of the checkout to compare with")
    parser.add_argument("--kind", choices=sorted(OVERRIDES), default="calibration")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--per", type=int, default=4, help="seeds per checkout and round")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], [int(s) for s in args.child[1].split(",")])
        return
    if args.other is None:
        parser.error("the other checkout is required")
    checkouts = {"this": HERE.parent.parent, "other": args.other.resolve()}
    cpu: dict[str, list[float]] = {name: [] for name in checkouts}
    for r in range(args.rounds):
        seeds = list(range(r * args.per, (r + 1) * args.per))
        order = list(checkouts) if r % 2 == 0 else list(reversed(checkouts))
        for name in order:
            cpu[name] += run_in(checkouts[name], args.kind, seeds)
        print(f"round {r + 1}/{args.rounds} done", file=sys.stderr, flush=True)
    median = {name: statistics.median(values) for name, values in cpu.items()}
    speed_up = median["other"] / median["this"]
    print(
        f"{args.kind} run, CPU-s median of {len(cpu['this'])}: this {median['this']:.3f}, "
        f"other ({checkouts['other']}) {median['other']:.3f}; speed-up {speed_up:.2f}x; "
        f"load average {os.getloadavg()[0]:.1f}"
    )


if __name__ == "__main__":
    main()
