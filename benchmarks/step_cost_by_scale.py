"""How a calibration-scale step's cost splits into a fixed part and a part that grows with the population.

Run as ``.venv/bin/python benchmarks/step_cost_by_scale.py [--runs N]``. Times calibration-scale runs
(to 2025-06-30, as ``bench_workers.py`` (f)) at several values of ``scale`` (which sets the number of
workers, targets and compounds) in CPU time, after one untimed run, and fits CPU time per step =
fixed + per_scale * scale by least squares. The fixed part is what a step costs however few people it
moves: Python and numpy calls whose number does not depend on the population. It bounds what any
per-worker speed-up can gain at calibration scale, and is what batching replicates through one pass
would share out (README, "Speed and memory").
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from bench_workers import calibration_params

from sim.model.model import ScamModel

SCALES = (0.01, 0.03, 0.1, 0.3)


def ms_per_step(scale: float, seed: int) -> float:
    """CPU milliseconds per step of one calibration-period run at ``scale`` (construction included)."""
    params = calibration_params()
    params.scale = scale
    started = time.process_time()
    model = ScamModel(params, seed=seed)
    model.run_model()
    return (time.process_time() - started) / model.steps * 1e3


def main() -> None:
    """Time the runs, print each scale's median and the fitted split."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="runs per scale (default 3)")
    args = parser.parse_args()
    ms_per_step(0.1, seed=10_000)  # imports, compiled kernels, caches: untimed
    # Seeds interleaved over the scales, so a change of load touches every scale alike.
    times = {scale: [] for scale in SCALES}
    for seed in range(args.runs):
        for scale in SCALES:
            times[scale].append(ms_per_step(scale, seed))
    print("| scale | CPU-ms a step (median of runs) |\n|---|---|")
    for scale, ms in times.items():
        print(f"| {scale:g} | {np.median(ms):.2f} |")
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
