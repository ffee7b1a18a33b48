"""Where a calibration-scale step spends its time, by part of the step (README, "Speed and memory").

Run as ``.venv/bin/python benchmarks/profile_step.py [--runs N] [--params FILE]``. Profiles ``N``
calibration-scale runs (``scale=0.1`` to 2025-06-30, as ``bench_workers.py`` (f)) after one untimed run,
with ``cProfile`` counting CPU time (so other jobs on the machine change the figures little), and prints
each part of ``ScamModel.step`` (the calls it makes, in order) with its share of the steps' time, then
the functions with the most time of their own and the calls per step. ``--params`` takes a CSV of
parameter sets (columns: dotted parameter names, e.g. a calibration's ``posterior.parquet`` exported to
CSV); each run then uses the next row, to profile the worlds a calibration actually simulates.
Profiling adds a cost per Python call, so parts made of many small calls look somewhat larger than they
are; the shares, not the absolute times, are the result.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import time

import pandas as pd
from bench_workers import calibration_params

from sim.model.model import ScamModel
from sim.model.schemas import ModelParams
from sim.model.validation import with_values

# The parts of a step: (label, file suffix, function name) as ScamModel.step calls them.
PARTS = (
    ("recruitment", "mechanisms/recruitment.py", "recruit"),
    ("scam work", "mechanisms/production.py", "scam_work"),
    ("quotas", "mechanisms/discipline.py", "enforce_quotas"),
    ("worker events", "mechanisms/exits.py", "worker_events"),
    ("police patrols", "sim/model/agents.py", "patrol"),
    ("running costs", "sim/model/model.py", "_charge_running_costs"),
    ("shedding", "mechanisms/exits.py", "shed"),
    ("bosses", "sim/model/agents.py", "manage"),
    ("bosses' per-step terms", "sim/model/agents.py", "today"),
    ("entry", "mechanisms/entry.py", "enter"),
    ("survey visits", "mechanisms/exits.py", "survey_visits"),
    ("end-of-step record", "sim/model/model.py", "_record"),
)


def params_of(rows: pd.DataFrame | None, k: int) -> ModelParams:
    """The calibration-scale parameters, with row ``k`` of ``rows`` (cycled) if given."""
    params = calibration_params()
    if rows is None:
        return params
    row = rows.iloc[k % len(rows)]
    return with_values(params, {key: float(row[key]) for key in rows.columns if key != "weight"})


def main() -> None:
    """Profile the runs and print the shares."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=8, help="profiled runs (default 8)")
    parser.add_argument("--params", help="CSV of parameter sets, one per run (default: the baseline)")
    args = parser.parse_args()
    rows = pd.read_csv(args.params) if args.params else None
    ScamModel(params_of(rows, 0), seed=10_000).run_model()  # imports, compiled kernels, caches: untimed
    profile = cProfile.Profile(time.process_time)
    steps = 0
    for k in range(args.runs):
        model = ScamModel(params_of(rows, k), seed=k)
        profile.enable()
        model.run_model()
        profile.disable()
        steps += model.steps
    stats = pstats.Stats(profile)
    table = stats.stats  # (file, line, name) -> (primitive calls, calls, own time, cumulative, callers)
    [step_time] = [v[3] for (f, _, name), v in table.items() if name == "step" and f.endswith("model.py")]
    print(f"{args.runs} runs, {steps} steps, {step_time / steps * 1e3:.2f} CPU-ms a step (profiled)")
    print("| part of the step | share |\n|---|---|")
    for label, suffix, function in PARTS:
        cumulative = sum(v[3] for (f, _, name), v in table.items() if name == function and f.endswith(suffix))
        print(f"| {label} | {cumulative / step_time:.0%} |")
    calls = sum(v[1] for v in table.values())
    print(f"\n{calls / steps:,.0f} calls a step; most time of their own:")
    stats.sort_stats("tottime").print_stats(15)


if __name__ == "__main__":
    main()
