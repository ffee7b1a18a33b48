"""Regenerate the regression baseline: ``.venv/bin/python tests/regression/regenerate.py``.

Runs a few small deterministic configurations through the public API and writes, for each, every
per-replicate metric and a content hash of each output table to ``baseline.json``.
``tests/test_regression.py`` re-runs them and fails on any difference, so a change of output must be
deliberate: re-run this script and commit the new baseline with the change that explains it.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pandas as pd

import sim

BASELINE = Path(__file__).resolve().parent / "baseline.json"

# Small (3% population, to mid-2025 so the Amnesty window is covered), two replicates each; the
# parameters as configured (no posterior draws), so a new calibration does not move the baseline.
COMMON = ["posterior=null", "scale=0.03", "time.end=2025-07-31", "n_seeds=2", "n_jobs=1"]
CASES: dict[str, list[str]] = {
    "baseline": [],
    "crackdown": ["scenario=crackdown"],
    "mekong": ["jurisdictions=mekong"],
}


def table_hash(df: pd.DataFrame) -> str:
    """A content hash of a table (column names, dtypes and values; not the file format)."""
    digest = hashlib.sha256()
    digest.update(json.dumps([(c, str(t)) for c, t in df.dtypes.items()]).encode())
    digest.update(pd.util.hash_pandas_object(df, index=False).to_numpy().tobytes())
    return digest.hexdigest()


def outputs(overrides: list[str]) -> dict:
    """Per-replicate metrics and table hashes of one configuration."""
    results = sim.run(sim.load_config([*COMMON, *overrides]))
    metrics = results.metrics.set_index("replicate").sort_index()
    return {
        "overrides": [*COMMON, *overrides],
        "metrics": {name: [None if pd.isna(v) else float(v) for v in col] for name, col in metrics.items()},
        "hashes": {name: table_hash(getattr(results, name)) for name in ("timeseries", "raids", "compounds")},
    }


def main() -> None:
    """Write ``baseline.json``."""
    baseline = {name: outputs(overrides) for name, overrides in CASES.items()}
    BASELINE.write_text(json.dumps(baseline, indent=1, sort_keys=True) + "\n")
    print(f"wrote {BASELINE}")


if __name__ == "__main__":
    main()
