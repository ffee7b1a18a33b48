"""Fortnightly instead of weekly steps as a lever for the calibration: what it saves, what it moves.

Run as ``.venv/bin/python benchmarks/step_length_lever.py [--draws N]`` (about 1 CPU-second a draw).
Draws ``N`` parameter sets from the committed posterior (``configs/posterior_draws/calibrated.csv``,
by weight, fixed seed) and simulates each at the calibration's settings (``scamsim calibrate``: scale
0.1 to July 2025, one world) twice, with 7-day and with 14-day steps, on the same seed. It reports the
CPU-time ratio (median over draws), and per fit statistic and per weighted discrepancy the mean of each
and the paired difference in standard errors, then the share of draws whose ABC distance is within
0.5 (the calibration's ``min_epsilon``), 1 and 2. A fewer-steps calibration is only a lever if it fits
the same: step length is an assumption (``time.step_days``), the slow test
``test_daily_and_fortnightly_steps_match_weekly`` checks headline outputs at three standard errors over
30 seeds, and this checks the statistics the calibration reads, at the fitted state (README, "Speed and
memory").
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd
from bench_workers import calibration_setup

from sim.analysis import calibration, observations
from sim.model.validation import with_values

POSTERIOR = Path(__file__).resolve().parents[1] / "configs/posterior_draws/calibrated.csv"
STEPS = (7.0, 14.0)


def main() -> None:
    """Simulate each draw at both step lengths and print the comparison."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, default=200, help="posterior draws (default 200)")
    args = parser.parse_args()
    config, base = calibration_setup()
    fit = {k: t for k, t in config.calibration.targets.items() if t.use is observations.Use.fit}
    statistics = sorted(
        {t.statistic for t in fit.values()} | {t.denominator for t in fit.values() if t.denominator}
    )
    posterior = pd.read_csv(POSTERIOR)
    draws = posterior.sample(args.draws, weights="weight", replace=True, random_state=1).drop(
        columns="weight"
    )
    calibration.statistics(with_values(base, draws.iloc[0].to_dict()), 1, 1)  # compiled kernels, caches
    rows = []
    for i, values in enumerate(draws.to_dict(orient="records")):
        for days in STEPS:
            params = with_values(base, {**values, "time.step_days": days})
            start = time.process_time()
            stats = calibration.statistics(params, 1000 + i, 1)
            cpu = time.process_time() - start
            terms = observations.discrepancies(fit, stats)
            rows.append(
                {
                    "draw": i,
                    "days": days,
                    "cpu": cpu,
                    "distance": sum(terms.values()),
                    **{name: stats[name] for name in statistics},
                    **{f"term {name}": term for name, term in terms.items()},
                }
            )
    table = pd.DataFrame(rows)
    weekly, fortnightly = (table[table["days"] == d].set_index("draw") for d in STEPS)
    print(f"{args.draws} posterior draws, weekly against fortnightly steps, paired by draw and seed")
    print(
        f"CPU per run, weekly over fortnightly: {np.median(weekly['cpu'] / fortnightly['cpu']):.2f}x (median)"
    )
    print(f"{'':34s}{'weekly':>12s}{'fortnightly':>13s}{'diff / se':>11s}")
    for column in [c for c in table.columns if c not in ("draw", "days", "cpu")]:
        diff = (fortnightly[column] - weekly[column]).dropna()
        se = diff.std(ddof=1) / np.sqrt(len(diff))
        z = diff.mean() / se if se > 0 else float("nan")
        print(f"{column:34s}{weekly[column].mean():12.4g}{fortnightly[column].mean():13.4g}{z:11.2f}")
    for within in (0.5, 1.0, 2.0):
        inside = [(t["distance"] <= within).astype(float) for t in (weekly, fortnightly)]
        diff = inside[1] - inside[0]  # paired: +1 only the fortnightly run is within, -1 only the weekly
        se = diff.std(ddof=1) / np.sqrt(len(diff))
        z = diff.mean() / se if se > 0 else float("nan")
        print(
            f"distance <= {within:g}: weekly {inside[0].mean():.3f}, fortnightly {inside[1].mean():.3f} "
            f"(diff / se {z:.2f})"
        )


if __name__ == "__main__":
    main()
