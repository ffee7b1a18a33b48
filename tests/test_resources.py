"""The memory guard: the estimate is on the high side of what runs use, and too-large runs are refused."""

from __future__ import annotations

import tracemalloc

import pytest
from conftest import params, run

from sim.model.resources import MEMORY_BUDGET, check_memory, estimate
from sim.model.schemas import ConfigError
from sim.model.validation import with_values
from sim.runs.config import load_config


@pytest.mark.parametrize(
    "values",
    [
        {"time.end": "2021-12-31"},
        {"time.end": "2020-09-30", "targets.groom_rate": 50.0},
        {"time.end": "2021-06-30", "compounds.initial_fill": 1.0, "targets.groom_dropout": 0.0},
        {"time.end": "2023-12-31", "compounds.expansion_rate": 5.0, "compounds.close_rate": 0.0},
    ],
    ids=["baseline", "grooming", "full-no-dropout", "expansion"],
)
def test_estimate_is_above_the_memory_a_run_allocates(values):
    p = with_values(params(), values)
    tracemalloc.start()  # numpy reports its array allocations to tracemalloc
    try:
        run(p)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak <= estimate(p).nbytes


def test_a_population_beyond_the_budget_is_refused_in_one_line_unless_forced():
    with pytest.raises(ConfigError) as err:
        load_config(["targets.groom_rate=1e6"])
    message = str(err.value)
    assert message.startswith("targets.groom_rate=1e+06: ") and "\n" not in message
    assert "memory budget of 4 GiB" in message and "force=true" in message
    assert load_config(["targets.groom_rate=1e6", "force=true"]).targets.groom_rate == 1e6
    with pytest.raises(ConfigError, match=r"^compounds\.capacity_median=1e\+09, scale=1: "):
        load_config(["compounds.capacity_median=1e9", "posterior=null"])


def test_runs_in_parallel_count_against_the_budget():
    p = with_values(params(), {"scale": 1.0, "targets.groom_rate": 30.0})
    one = estimate(p).nbytes
    assert one < MEMORY_BUDGET < 4 * one
    check_memory(p, runs=1)
    with pytest.raises(ConfigError, match="4 run"):
        check_memory(p, runs=4)
    with pytest.raises(ConfigError, match="4 run"):
        load_config(["targets.groom_rate=30", "n_jobs=4", "n_seeds=4"])
    load_config(["targets.groom_rate=30", "n_jobs=4", "n_seeds=1"])  # one replicate: one run at a time


def test_the_largest_scale_of_the_baseline_fits():
    assert estimate(load_config(["scale=10"])).nbytes < MEMORY_BUDGET / 8
