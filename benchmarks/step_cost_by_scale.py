"""How a calibration-scale step's cost splits into a fixed part and a part that grows with the population.

Run as ``.venv/bin/python benchmarks/step_cost_by_scale.py [--runs N]``. Times calibration-scale runs
(to 2025-06-30, as ``bench_workers.py`` (f)) at several values of ``scale`` (which sets the number of
workers and targets; compounds are not scaled) in CPU time (``bench_workers.time_runs``), after one
untimed run, and fits CPU time per step = fixed + per_scale * scale by least squares. The fixed part
is what a step costs however few people it moves: per-compound work, and Python and numpy calls whose
number does not depend on the population. It bounds what any per-worker speed-up can gain at
calibration scale, and is what batching replicates through one pass would share out (README, "Speed
and memory").

From the fit it also prints what batching could at best give: if ``K`` replicates went through one
pass, each paying the per-scale part in full and ``1/K`` of the fixed part (optimistic: every random
draw would still be made once per replicate), a calibration-scale run would cost
``steps * (fixed / K + per_scale * scale)``; so the goal (``GOAL_CALIBRATION_S``) needs
``K >= fixed / (goal / steps - per_scale * scale)``, and no ``K`` reaches it if the per-scale part alone
exceeds it.
"""

from __future__ import annotations

import argparse
import math

import numpy as np
from bench_workers import GOAL_CALIBRATION_S, calibration_params, time_runs

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
        steps = timed["steps_per_run"]
        times[scale] = [cpu / steps * 1e3 for cpu in timed["cpu_seconds"]]
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
    goal_ms = GOAL_CALIBRATION_S / steps * 1e3  # a step's share of the goal
    margin = goal_ms - per_scale * at
    print(
        f"goal {GOAL_CALIBRATION_S:g} s a run = {goal_ms:.3f} ms a step; the per-scale part alone at {at:g}: "
        f"{per_scale * at:.3f} ms"
    )
    for k in (1, 3, 10):
        print(f"  {k} replicate(s) a pass: at best {steps * (fixed / k + per_scale * at) / 1e3:.3f} s a run")
    if margin > 0:
        print(f"  the goal needs at least {math.ceil(fixed / margin)} replicates a pass")
    else:
        print("  no number of replicates a pass reaches the goal: the per-scale part alone exceeds it")


if __name__ == "__main__":
    main()
