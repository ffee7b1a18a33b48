"""Scale neutrality: compound-level outcomes agree within noise between 10% and full population scale.

Calibration runs at scale 0.1, so a statistic about compounds must not depend on the scale. Bosses
decide on smoothed *expected* profit (``mechanisms.expected_profit``); on one step's realised takings,
a compound at scale 0.1 has a tenth of the targets and lumpy takings, and in the earlier model bosses
shut compounds by chance (4-5 standard errors between the scales). With the other issue-12 mechanisms
on, the realised-profit rule passes this test at these seeds too, so the test guards the outcome, not
the rule.

For each statistic: ``|mean_0.1 - mean_1| <= 3 * sqrt(s2_0.1 / 20 + s2_1 / 8)``, each variance floored
at 0.25 (zero-variance counts). The seeds are fixed, so the outcome is too; with 8 statistics a
correct model fails about 2% of seed choices.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from sim.model import facts
from sim.model.schemas import ModelParams
from sim.runs.runner import run_replicates

SEED = 20250626
STATISTICS = (
    "compounds_in_window",
    "am7_never",
    "am7_operating",
    "am7_gone",
    "am7_shut",
    "raids_window",
    "am10_raided",
    "window_closures",
)


def outcomes(scale: float, n: int, expected_profit: bool) -> pd.DataFrame:
    p = ModelParams()
    p.scale = scale
    p.time.end = "2025-06-30"
    p.mechanisms.expected_profit = expected_profit
    results = run_replicates(p, n, SEED, n_jobs=2)
    m = results.metrics.set_index("replicate")
    sp = results.spells
    w0, e = (pd.Timestamp(d) for d in facts.AMNESTY_WINDOW)
    ended = sp["end"].between(w0, e) & sp["reason"].isin(["closed_raid", "closed_boss"])
    m["window_closures"] = ended[sp["jurisdiction"] == p.focal].groupby(sp["replicate"]).sum()
    return m.fillna(0.0)


def gaps(expected_profit: bool = True) -> dict[str, float]:
    small, full = outcomes(0.1, 20, expected_profit), outcomes(1.0, 8, expected_profit)
    out = {}
    for name in STATISTICS:
        se = math.sqrt(max(small[name].var(), 0.25) / 20 + max(full[name].var(), 0.25) / 8)
        out[name] = abs(small[name].mean() - full[name].mean()) / se
    return out


@pytest.mark.slow
def test_compound_outcomes_do_not_depend_on_the_population_scale():
    z = gaps(expected_profit=True)
    assert np.all(np.array(list(z.values())) <= 3.0), z
