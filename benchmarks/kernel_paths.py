"""The worker rules on the numpy and the numba kernels (:mod:`sim.model.kernels`), interleaved in one run.

Run as ``.venv/bin/python benchmarks/kernel_paths.py [--workers N] [--rounds R] [--steps S]``. Builds
and warms up the model of ``bench_workers.py`` (a) at about N workers, then times R rounds of S steps
of the three worker rules on each implementation in turn (the order alternating from round to round,
so both see the same machine load) and prints the medians of worker-steps per CPU-second and their
ratio. Then, each in a fresh Python, the first call of every numba kernel with an empty cache
(compilation) and again with the cache it left (loading), and the import of numba itself.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from bench_workers import WARMUP_STEPS, build_model, time_vectorised, warm_up

from sim.model import kernels

# Every kernel once on a few rows; prints the wall seconds of importing numba and of the first calls.
FIRST_CALLS = """
import json, time
t = time.perf_counter()
import numba
imported = time.perf_counter() - t
import numpy as np
from sim.model import kernels
from sim.model.mechanisms.discipline import poisson_thresholds
i, f, e = np.zeros(3, np.intp), np.ones(3, np.float32), np.zeros(0, np.intp)
calls = {
    "chosen_rows": (3, i[:1]),
    "exit_hazards": (i, np.zeros(3, np.int8), i, f, f, 0.5, 0.2, 4.0, 2.0),
    "discipline": (np.zeros(3, np.int8), f, i, np.zeros(3, np.int32), f, np.zeros(3, np.int64), f, 1.0,
                   poisson_thresholds(1.0), poisson_thresholds(0.5), 1, 100),
    "work_intensity": (f, np.zeros(3, np.int8), i, f, 0.05, 3),
    "invert_cumulative": (f, np.array([0.1, 0.5])),
    "update_performance": (f.copy(), i, np.ones(3), 0.8, 0.9),
    "remap": (i, np.ones(3, bool), e, e, 3),
}
kernels.select("numba")
t = time.perf_counter()
for name, args in calls.items():
    getattr(kernels, name)(*args)
print(json.dumps({"import_numba_s": imported, "first_calls_s": time.perf_counter() - t}))
"""


def first_calls(cache: str) -> dict[str, float]:
    """Wall seconds of importing numba and of the first call of every kernel, in a fresh Python."""
    env = {**os.environ, "NUMBA_CACHE_DIR": cache, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    out = subprocess.run(
        [sys.executable, "-c", FIRST_CALLS], env=env, check=True, capture_output=True, text=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    """Time both implementations, then compilation and loading; print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--steps", type=int, default=10)
    args = parser.parse_args()

    model = build_model(args.workers)
    kernels.select("numba")  # compiled or loaded before anything is timed
    warm_up(model, WARMUP_STEPS)
    index = model.steps
    speed: dict[str, list[float]] = {name: [] for name in kernels.BACKENDS}
    for r in range(args.rounds):
        for name in kernels.BACKENDS if r % 2 == 0 else reversed(kernels.BACKENDS):
            kernels.select(name)
            worker_steps, _, cpu = time_vectorised(model, index, args.steps, [])
            index += args.steps
            speed[name].append(worker_steps / cpu)
    median = {name: statistics.median(values) for name, values in speed.items()}
    print(
        f"worker rules, about {args.workers:,} workers, {args.rounds} rounds of {args.steps} steps: "
        f"worker-steps per CPU-second, median: numpy {median['numpy']:.3g}, numba {median['numba']:.3g}; "
        f"numba / numpy {median['numba'] / median['numpy']:.2f}; load average {os.getloadavg()[0]:.1f}"
    )
    with tempfile.TemporaryDirectory() as cache:
        cold, warm = first_calls(cache), first_calls(cache)
    print(
        f"numba: import {warm['import_numba_s']:.2f} s; first call of every kernel "
        f"{cold['first_calls_s']:.2f} s with an empty cache (compiling), "
        f"{warm['first_calls_s']:.2f} s with a full one (loading); wall time"
    )


if __name__ == "__main__":
    main()
