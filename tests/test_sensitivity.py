"""Global sensitivity analysis: the SALib wrapper on test functions with known answers, the model as a
function of its uncertain parameters, the configuration, and ``scamsim sensitivity``."""

from __future__ import annotations

import dataclasses
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from SALib.test_functions import Ishigami

from sim.analysis import sensitivity
from sim.analysis.uncertainties import Dist
from sim.model.schemas import ConfigError, ModelParams
from sim.model.streams import replicate_seeds
from sim.model.validation import with_values
from sim.runs import posterior
from sim.runs.runner import run_replicate

SCAMSIM = str(Path(sys.executable).parent / "scamsim")
# A run short and small enough for tests: 2% population, 15 months.
TINY = ["scale=0.02", "time.end=2021-03-31", "n_seeds=1"]
TINY_OUTPUTS = "sensitivity.outputs=[workers_held_end,compounds_active_end]"
TINY_SELECT = "sensitivity.select=[police.raid_capacity,recruitment.ad_reach]"


def ishigami_problem() -> sensitivity.Problem:
    return sensitivity.Problem(("x1", "x2", "x3"), ((-np.pi, np.pi),) * 3, (Dist.uniform,) * 3)


def ishigami_exact(a: float = 7.0, b: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """Analytic first-order and total Sobol indices of the Ishigami function (Ishigami & Homma 1990)."""
    v1 = 0.5 * (1 + b * np.pi**4 / 5) ** 2
    v2 = a**2 / 8
    v13 = b**2 * np.pi**8 * (1 / 18 - 1 / 50)
    var = v1 + v2 + v13
    return np.array([v1, v2, 0.0]) / var, np.array([v1 + v13, v2, v13]) / var


def test_sobol_on_ishigami_matches_the_analytic_indices():
    # Measured at N=2^12, seed 1: S1 0.314, 0.443, -0.000; ST 0.558, 0.442, 0.245; CIs 0.013-0.043.
    analysis = sensitivity.analyse(ishigami_problem(), Ishigami.evaluate, "sobol", n=2**12, seed=1)
    s1, st = ishigami_exact()
    np.testing.assert_allclose(s1, [0.314, 0.442, 0.0], atol=1e-3)  # the published values
    np.testing.assert_allclose(st, [0.558, 0.442, 0.244], atol=1e-3)
    table = analysis.indices
    for column, exact in (("S1", s1), ("ST", st)):
        error = np.abs(table[column].to_numpy() - exact)
        # Tolerance: 0.03 absolute, and within 3x the bootstrap 95% CI half-width SALib reports.
        assert (error < 0.03).all(), (column, table[column].tolist())
        assert (error < 3 * table[f"{column}_conf"].to_numpy()).all(), column
    assert len(analysis.samples) == 2**12 * (3 + 2)  # Saltelli without second order: N (k + 2) rows


def test_morris_recovers_the_coefficients_and_ranking_of_a_linear_function():
    coefficients = np.array([0.5, -4.0, 0.0, 2.0, 1.0])
    problem = sensitivity.Problem(tuple(f"x{i}" for i in range(5)), ((0.0, 1.0),) * 5, (Dist.uniform,) * 5)
    analysis = sensitivity.analyse(problem, lambda x: x @ coefficients, "morris", n=20, seed=3)
    table = analysis.indices.set_index("parameter")
    # A linear function has the same elementary effect everywhere: mu = c, mu* = |c|, sigma = 0 exactly.
    np.testing.assert_allclose(table["mu"], coefficients, atol=1e-9)
    np.testing.assert_allclose(table["mu_star"], np.abs(coefficients), atol=1e-9)
    np.testing.assert_allclose(table["sigma"], 0.0, atol=1e-9)
    assert table["mu_star"].sort_values(ascending=False).index.tolist() == ["x1", "x3", "x4", "x0", "x2"]


def test_an_output_undefined_in_some_rows_is_analysed_on_the_complete_trajectories():
    coefficients = np.array([1.0, -2.0, 3.0])
    problem = sensitivity.Problem(("a", "b", "c"), ((0.0, 1.0),) * 3, (Dist.uniform,) * 3, ("y", "z"))

    def model_fn(x):
        # z is undefined (like the AM7 share without compounds) where a is high.
        y = x @ coefficients
        return np.column_stack([y, np.where(x[:, 0] > 0.9, np.nan, y)])

    table = sensitivity.analyse(problem, model_fn, "morris", n=30, seed=4).indices
    y, z = (table[table["output"] == o].set_index("parameter") for o in ("y", "z"))
    assert (y["n_used"] == 30).all() and 0 < z["n_used"].iloc[0] < 30
    np.testing.assert_allclose(z["mu"], coefficients, atol=1e-9)  # still exact on what is left


def test_morris_ranks_the_ishigami_parameters_and_flags_interaction():
    analysis = sensitivity.analyse(ishigami_problem(), Ishigami.evaluate, "morris", n=100, seed=2)
    table = analysis.indices.set_index("parameter")
    # x3 acts only through its interaction with x1: no effect on average (mu ~ 0), sigma >> |mu|.
    assert abs(table.loc["x3", "mu"]) < 0.25 * table.loc["x3", "sigma"]
    assert table.loc["x3", "mu_star"] < min(table.loc["x1", "mu_star"], table.loc["x2", "mu_star"])


def test_parallel_evaluation_gives_the_same_indices_as_serial():
    args = (ishigami_problem(), Ishigami.evaluate, "sobol")
    serial = sensitivity.analyse(*args, n=2**8, seed=5)
    parallel = sensitivity.analyse(*args, n=2**8, seed=5, n_jobs=2, rows_per_task=100)
    pd.testing.assert_frame_equal(serial.indices, parallel.indices)
    pd.testing.assert_frame_equal(serial.samples, parallel.samples)


# ------------------------------------------------------------------------------------------------
# The model
# ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_sobol():
    """The same tiny Sobol analysis of the model, serial and on 2 processes."""
    overrides = [*TINY, TINY_OUTPUTS, TINY_SELECT, "sensitivity.method=sobol", "sensitivity.n=8"]
    serial = sensitivity.run(sensitivity.load([*overrides, "n_jobs=1"]))
    parallel = sensitivity.run(sensitivity.load([*overrides, "n_jobs=2"]))
    return serial, parallel


def test_model_sobol_decomposition_is_sane(tiny_sobol):
    table = tiny_sobol[0].indices
    assert len(table) == 4 and table[["S1", "ST", "S1_conf", "ST_conf"]].notna().all().all()
    # Within their 95% CIs: indices in [0, 1] and total >= first order.
    for column in ("S1", "ST"):
        assert (table[column] + table[f"{column}_conf"] >= 0).all(), table
        assert (table[column] - table[f"{column}_conf"] <= 1).all(), table
    assert (table["ST"] + table["ST_conf"] >= table["S1"] - table["S1_conf"]).all(), table


def test_model_analysis_is_reproducible_and_serial_equals_parallel(tiny_sobol):
    serial, parallel = tiny_sobol
    assert len(serial.samples) == 8 * (2 + 2)
    pd.testing.assert_frame_equal(serial.samples, parallel.samples)
    pd.testing.assert_frame_equal(serial.indices, parallel.indices)


def test_a_sample_row_runs_the_model_with_its_values_and_averages_common_seeds():
    params = dataclasses.replace(ModelParams(), scale=0.02)
    params.time.end = "2020-09-30"
    names = ("police.corruption", "sources.*.awareness")
    model_fn = sensitivity.ModelFunction(params, names, ("workers_held_end", "raids"), seed=7, n_seeds=2)
    y = model_fn(np.array([[0.3, 0.25]]))
    expected = with_values(params, {"police.corruption": 0.3})
    for source in expected.sources.values():
        source.awareness = 0.25
    runs = [run_replicate(expected, s, r).metrics for r, s in enumerate(replicate_seeds(7, 2))]
    np.testing.assert_allclose(y[0], [np.mean([m[o] for m in runs]) for o in ("workers_held_end", "raids")])


# ------------------------------------------------------------------------------------------------
# Configuration
# ------------------------------------------------------------------------------------------------

# Float parameters deliberately not uncertain (see the comment in configs/uncertainties/default.yaml):
# data (RC9), a mechanism idle with one jurisdiction, policy levers, and the conversion used only by the
# structural variant without raid capacity (mechanisms.raid_capacity=false).
NOT_ANALYSED = {
    "sources.*.weight",
    "police.cross_border_friction",
    "police.reference_compounds",
    "police.help_leak_factor",
    "police.bribe_factor",
    "compounds.seizure_share",
    "compounds.laundering_cost",
}


def uncertain_floats() -> set[str]:
    """Every float parameter of the model groups whose source is calibrated or an assumption."""
    keys = set()
    groups = {"police": ModelParams().police, "recruitment": ModelParams().recruitment}
    defaults = ModelParams()
    groups |= {"compounds": defaults.compounds, "workers": defaults.workers, "targets": defaults.targets}
    # Issue 12's mechanism groups (their switches, mechanisms.*, are booleans and not analysed).
    groups |= {name: getattr(defaults, name) for name in ("raids", "sites", "entry", "workforce", "survey")}
    groups["sources.*"] = next(iter(defaults.sources.values()))
    for prefix, group in groups.items():
        for f in dataclasses.fields(group):
            if isinstance(getattr(group, f.name), float) and f.metadata.get("source"):
                keys.add(f"{prefix}.{f.name}")
    return keys


def test_default_config_covers_every_uncertain_parameter_with_a_sourced_range():
    config = sensitivity.load([])
    declared = config.uncertainties
    assert uncertain_floats() - NOT_ANALYSED == set(declared)
    for key, r in declared.items():
        assert re.search(r"calibrated|assumption|FACTS|\b[A-Z]{2}\d+\b", r.source), key
    ranges = sensitivity.ranges(config)
    assert list(ranges) == list(declared)
    assert len(sensitivity.problem_of(config).names) == len(ranges)
    # By default no posterior (posterior=null: calibrated.csv was fitted to the old model): every
    # parameter is sampled over its declared range.
    assert config.posterior is None
    assert ranges == declared


def test_a_posterior_narrows_its_parameters_to_their_central_90_percent(tmp_path):
    drawn = pd.DataFrame(
        {"police.raid_capacity": np.geomspace(5.0, 80.0, 41), "police.corruption": np.linspace(0.3, 0.7, 41)}
    ).assign(weight=1.0)
    path = tmp_path / "fitted.csv"
    drawn.to_csv(path, index=False)
    config = sensitivity.load([f"posterior={path}"])
    declared = config.uncertainties
    ranges = sensitivity.ranges(config)
    assert list(ranges) == list(declared)
    bounds = posterior.quantiles(config.posterior, (0.05, 0.95))
    calibrated = set(bounds.columns)
    assert calibrated == {"police.raid_capacity", "police.corruption"} and calibrated <= set(ranges)
    for key, r in ranges.items():
        if key in calibrated:  # the posterior's central 90%, inside the declared range (the prior)
            assert r.source.startswith("calibrated"), key
            assert (r.low, r.high) == tuple(bounds[key]), key
            assert declared[key].low <= r.low < r.high <= declared[key].high, key
        else:  # the declared range itself
            assert r == declared[key], key
    assert len(sensitivity.problem_of(config).names) == len(ranges)


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("sensitivity.method=sobol", "must be a power of 2"),
        ("sensitivity.select=[police.nope]", "'police.nope' is not an uncertain parameter"),
        ("sensitivity.outputs=[nope]", "'nope' is not a metric"),
        ("sensitivity.outputs=[am7_share]", "'am7_share' .* is no longer a metric; use am7_remaining_share"),
        ("sensitivity.levels=1", "sensitivity.levels=1 is outside the allowed range"),
    ],
)
def test_invalid_settings_are_one_line_config_errors(override, message):
    with pytest.raises(ConfigError, match=message) as err:
        sensitivity.load([override])
    assert "\n" not in str(err.value)


def test_a_range_outside_the_parameters_allowed_range_is_rejected():
    config = sensitivity.load([])
    config.uncertainties["police.corruption"].high = 1.5
    with pytest.raises(ConfigError, match=r"uncertainties.police.corruption: .*allowed range \[0, 1\]"):
        sensitivity.check(config)


# ------------------------------------------------------------------------------------------------
# Command line
# ------------------------------------------------------------------------------------------------


def test_cli_writes_tables_figure_and_metadata(tmp_path):
    draws = tmp_path / "draws.csv"  # a posterior, with the record a calibration publishes beside it
    draws.write_text("police.raid_capacity,weight\n15,1\n25,1\n")
    draws.with_suffix(".json").write_text('{"created": "2026-01-01", "config_hash": "abc"}')
    proc = subprocess.run(
        [
            SCAMSIM,
            "sensitivity",
            *TINY,
            TINY_OUTPUTS,
            TINY_SELECT,
            "sensitivity.n=3",
            "name=tiny",
            f"posterior={draws}",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    out = tmp_path / "results" / "sensitivity" / "tiny"
    indices = pd.read_csv(out / "indices.csv")
    assert list(indices.columns) == [
        "output",
        "parameter",
        "mu",
        "mu_star",
        "sigma",
        "mu_star_conf",
        "n_used",
    ]
    assert len(indices) == 4
    pd.testing.assert_frame_equal(
        pd.read_parquet(out / "indices.parquet")[indices.columns[:2]], indices.iloc[:, :2]
    )
    assert len(pd.read_parquet(out / "samples.parquet")) == 3 * (2 + 1)
    assert pd.read_csv(out / "parameters.csv")["parameter"].tolist() == [
        "police.raid_capacity",
        "recruitment.ad_reach",
    ]
    assert (out / "figures" / "morris.png").stat().st_size > 10_000
    metadata = json.loads((out / "metadata.json").read_text())
    assert metadata["command"] == "scamsim sensitivity" and metadata["runs"] == 9
    # Which posterior: its name in the configuration, its record beside (make results checks both).
    assert metadata["config"]["posterior"] == str(draws)
    assert metadata["posterior"] == {"created": "2026-01-01", "config_hash": "abc"}
    assert "recruitment.ad_reach" in proc.stdout
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".")]  # no temp dirs left


def test_cli_bad_config_is_one_line_exit_2_and_writes_nothing(tmp_path):
    proc = subprocess.run(
        [SCAMSIM, "sensitivity", "sensitivity.levels=1"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=300,
    )
    assert proc.returncode == 2
    assert (
        proc.stderr.strip()
        == "scamsim sensitivity: error: sensitivity.levels=1 is outside the allowed range [2, inf]"
    )
    assert not [p for p in (tmp_path / "results").rglob("*") if p.is_file()]
