"""Regenerate the regression baseline: ``.venv/bin/python tests/regression/regenerate.py``.

Runs a few small deterministic configurations through the public API and writes, for each, every
per-replicate metric to ``baseline.json`` and each output table to ``<case>-<table>.parquet``.
``tests/test_regression.py`` re-runs them and fails on any difference beyond :data:`RTOL`, so a change
of output must be deliberate: re-run this script and commit the new baseline with the change that
explains it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

import sim

HERE = Path(__file__).resolve().parent
BASELINE = HERE / "baseline.json"
TABLES = ("timeseries", "raids", "compounds")
# Floating-point outputs may differ in their last float32 digits between CPUs: numpy picks a SIMD
# implementation of its float32 maths by CPU. Seen: every money output 3.5e-8 to 3.9e-8 relative higher
# on an AMD EPYC without AVX-512 than where the baseline was made; on an Intel Xeon with AVX-512 the
# compounds' income within 1.3e-7, but a step's target losses (a difference of float32 running totals,
# which magnifies their rounding) up to 1.7e-6, all else identical. 1e-5 is six times that, and far
# below any change of the model's behaviour; integers and categories must be equal.
RTOL = 1e-5

# Small (3% population, to mid-2025 so the Amnesty window is covered), two replicates each; the
# parameters as configured (no posterior draws), so a new calibration does not move the baseline.
COMMON = ["posterior=null", "scale=0.03", "time.end=2025-07-31", "n_seeds=2", "n_jobs=1"]
CASES: dict[str, list[str]] = {
    "baseline": [],
    "crackdown": ["scenario=crackdown"],
    "mekong": ["jurisdictions=mekong"],
}


def table_path(case: str, table: str) -> Path:
    """Where the baseline keeps one output table of one case."""
    return HERE / f"{case}-{table}.parquet"


def outputs(overrides: list[str]) -> dict:
    """Per-replicate metrics and the output tables of one configuration."""
    results = sim.run(sim.load_config([*COMMON, *overrides]))
    metrics = results.metrics.set_index("replicate").sort_index()
    return {
        "overrides": [*COMMON, *overrides],
        "metrics": {name: [None if pd.isna(v) else float(v) for v in col] for name, col in metrics.items()},
        "tables": {name: getattr(results, name) for name in TABLES},
    }


def main() -> None:
    """Write ``baseline.json`` and the tables."""
    baseline = {}
    for case, overrides in CASES.items():
        got = outputs(overrides)
        for table, frame in got.pop("tables").items():
            frame.to_parquet(table_path(case, table), index=False)
        baseline[case] = got
    BASELINE.write_text(json.dumps(baseline, indent=1, sort_keys=True) + "\n")
    print(f"wrote {BASELINE} and the tables beside it")


if __name__ == "__main__":
    main()
