"""Regression baseline: small deterministic runs give exactly the committed outputs.

Any change of output fails here; a deliberate one is committed together with a new baseline made by
``tests/regression/regenerate.py``.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "regression"))
from regenerate import BASELINE, CASES, outputs

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
                a is not None and b is not None and math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-12)
            )
            assert same, f"{case}: metric {name} of replicate {rep} changed: {b} -> {a}"
    assert got["hashes"] == expected["hashes"], f"{case}: an output table changed"
