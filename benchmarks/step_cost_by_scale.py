"""How a calibration-scale step's cost splits into a fixed part and a part that grows with the population.

Run as ``.venv/bin/python benchmarks/step_cost_by_scale.py [--runs N]``. Times calibration-scale runs
(to 2025-06-30, as ``bench_workers.py`` (f)) at several values of ``scale`` (which sets the number of
workers and targets; compounds are not scaled) in CPU time (``bench_workers.time_runs``), after one
untimed run, and fits CPU time per step = fixed + per_scale * scale by least squares. The fixed part
is what a step costs however few people it moves: per-compound work, and Python and numpy calls whose
number does not depend on the population. It bounds what any per-worker speed-up can gain at
calibration scale, and is what batching replicates through one pass would share out (README, "Speed
and memory").
"""

from __future__ import annotations

import argparse

import numpy as np
from bench_workers import calibration_params, time_runs

SCALES = (0.01, 0.03, 0.1, 0.3)


def main() -> None:
    """Time the runs, print each scale's median and the fitted split."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="runs per scale (default 3)")
    args = parser.parse_args()
    time_runs(calibration_params(), 1, "untimed")  # imports, compiled kernels, caches
    times, workers = {}, {}
    for scale in SCALES:
        params = calibration_params()
        params.scale = scale
        timed = time_runs(params, args.runs, f"scale {scale:g}")
        times[scale] = [cpu / timed["steps_per_run"] * 1e3 for cpu in timed["cpu_seconds"]]
        workers[scale] = timed["mean_workers_held"]
    print("| scale | workers held (mean) | CPU-ms a step (median of runs) |\n|---|---|---|")
    for scale, ms in times.items():
        print(f"| {scale:g} | {workers[scale]:,.0f} | {np.median(ms):.2f} |")
    x = np.repeat(SCALES, args.runs)
    y = np.concatenate([times[s] for s in SCALES])
    per_scale, fixed = np.polyfit(x, y, 1)
    at = calibration_params().scale
    print(
        f"\nfit: {fixed:.2f} + {per_scale:.2f} * scale CPU-ms a step; at the calibration's scale {at:g} "
        f"the fixed part is {fixed / (fixed + per_scale * at):.0%} of a step"
    )


if __name__ == "__main__":
    main()
