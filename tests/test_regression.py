"""Regression baseline: small deterministic runs give the committed outputs.

Any change of output fails here (floating-point values beyond ``RTOL``, a difference of CPUs' float32
maths; integers and categories exactly); a deliberate one is committed together with a new baseline
made by ``tests/regression/regenerate.py``.
"""

from __future__ import annotations

import io
import json
import math
import sys
from pathlib import Path

import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "regression"))
from regenerate import BASELINE, CASES, RTOL, TABLES, outputs, table_path

EXPECTED = json.loads(BASELINE.read_text())


def test_baseline_covers_every_case():
    assert set(EXPECTED) == set(CASES)


@pytest.mark.parametrize("case", sorted(CASES))
def test_outputs_unchanged(case):
    expected = EXPECTED[case]
    got = outputs(CASES[case])
    assert got["overrides"] == expected["overrides"]
    assert set(got["metrics"]) == set(expected["metrics"])
    for name, values in expected["metrics"].items():
        for rep, (a, b) in enumerate(zip(got["metrics"][name], values, strict=True)):
            same = (a is None and b is None) or (
                a is not None and b is not None and math.isclose(a, b, rel_tol=RTOL, abs_tol=1e-12)
            )
            assert same, f"{case}: metric {name} of replicate {rep} changed: {b} -> {a}"
    for table in TABLES:
        expected_table = pd.read_parquet(table_path(case, table))
        # Through the same file format as the baseline (parquet stores dates in ms, the model in s).
        got["tables"][table] = pd.read_parquet(io.BytesIO(got["tables"][table].to_parquet(index=False)))
        pd.testing.assert_frame_equal(
            got["tables"][table], expected_table, check_exact=False, rtol=RTOL, atol=0
        )
        # check_exact=False lets integers differ within RTOL too: hold them (and categories) to equality.
        exact = [c for c, t in expected_table.dtypes.items() if not pd.api.types.is_float_dtype(t)]
        pd.testing.assert_frame_equal(got["tables"][table][exact], expected_table[exact], check_exact=True)
