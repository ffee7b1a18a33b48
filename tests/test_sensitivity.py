"""Sensitivity analysis: the declared ranges (relative ones computed), the SALib wrappers on test
functions with known answers (Morris, Sobol, PAWN from given data), the fit filter, the model as a function
of its parameters, the lever study, the configuration, and ``scamsim sensitivity``."""

from __future__ import annotations

import dataclasses
import io
import json
import math
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from rich.console import Console
from SALib.test_functions import Ishigami

from sim.analysis import sensitivity, uncertainties
from sim.analysis.uncertainties import Dist, Uncertainty
from sim.cli import sensitivity as sensitivity_cli
from sim.model import keys
from sim.model.levers import LEVERS
from sim.model.schemas import ConfigError, ModelParams
from sim.model.streams import replicate_seeds
from sim.model.validation import with_values
from sim.report import sensitivity_figures
from sim.runs import posterior
from sim.runs.config import CONFIG_DIR
from sim.runs.runner import run_replicate

SCAMSIM = str(Path(sys.executable).parent / "scamsim")
# A run short and small enough for tests: 2% population, 15 months.
TINY = ["scale=0.02", "time.end=2021-03-31", "n_seeds=1"]
TINY_OUTPUTS = "sensitivity.outputs=[workers_held_end,compounds_active_end]"
TINY_SELECT = "sensitivity.select=[police.raid_capacity,recruitment.ad_reach]"
# Through the end of the Amnesty window, which the fit targets and the mid-2025 outputs read: about
# 0.5 CPU seconds a run at 2% population.
WINDOW = ["scale=0.02", "time.end=2025-06-30"]
DECLARED = yaml.safe_load((Path(CONFIG_DIR) / "uncertainties" / "default.yaml").read_text())


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
    overrides = [*TINY, TINY_OUTPUTS, TINY_SELECT, "sensitivity=sobol", "sensitivity.n=8"]
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
    config = sensitivity.load(["posterior=null"])
    declared = config.uncertainties
    assert uncertain_floats() - NOT_ANALYSED == set(declared)
    ranges = sensitivity.ranges(config)
    assert list(ranges) == list(declared)
    for key, r in ranges.items():
        assert re.search(r"calibrated|assumption|FACTS|\b[A-Z]{2}\d+\b", r.source), key
    assert len(sensitivity.problem_of(config).names) == len(ranges)
    # Without a posterior every parameter is sampled over its declared range, relative ones computed;
    # by default the committed posterior narrows the calibrated ones (next test).
    assert ranges == uncertainties.select(declared, list(declared), "test")
    assert sensitivity.load([]).posterior == "calibrated"


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
            assert r == uncertainties.resolve(key, declared[key]), key
    assert len(sensitivity.problem_of(config).names) == len(ranges)


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("sensitivity.method=sobol", "must be a power of 2"),
        ("sensitivity.select=[police.nope]", "'police.nope' is not an uncertain parameter"),
        ("sensitivity.outputs=[nope]", "'nope' is not a metric"),
        ("sensitivity.outputs=[am7_share]", "'am7_share' .* is no longer a metric; use am7_remaining_share"),
        ("sensitivity.levels=1", "sensitivity.levels=1 is outside the allowed range"),
        ("sensitivity.slices=1", r"sensitivity.slices=1 is outside the allowed range \[2, inf\)"),
        (
            "sensitivity.fit_tolerance=0",
            r"sensitivity.fit_tolerance=0.0 is outside the allowed range \(0, inf\)",
        ),
        ("sensitivity.n=5", "sensitivity.n=5 is below sensitivity.slices=10"),
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


def scamsim_sensitivity(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    """``scamsim sensitivity ARGS`` run in ``cwd``, its output captured."""
    return subprocess.run(
        [SCAMSIM, "sensitivity", *args], capture_output=True, text=True, cwd=cwd, timeout=300
    )


def test_cli_writes_tables_figure_and_metadata(tmp_path):
    draws = tmp_path / "draws.csv"  # a posterior, with the record a calibration publishes beside it
    draws.write_text("police.raid_capacity,weight\n15,1\n25,1\n")
    draws.with_suffix(".json").write_text('{"created": "2026-01-01", "config_hash": "abc"}')
    settings = ["sensitivity=morris", *TINY, TINY_OUTPUTS, TINY_SELECT, "sensitivity.n=3", "name=tiny"]
    proc = scamsim_sensitivity(tmp_path, *settings, f"posterior={draws}")
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


def test_cli_default_study_reports_the_design_and_the_rows_kept(tmp_path):
    settings = [
        *TINY_PAWN[:-1],
        "sensitivity.select=[compounds.quota,targets.invest_rate]",
        "name=fit",
        "posterior=null",
    ]
    proc = scamsim_sensitivity(tmp_path, *settings, "n_jobs=1")
    assert proc.returncode == 0, proc.stderr
    assert (
        "sensitivity: posterior=null: no fitted posterior, so the calibrated parameters are drawn"
        in proc.stderr
    )
    assert "6 of 6 rows (100.0%) consistent with the fit targets" in proc.stdout
    out = tmp_path / "results" / "sensitivity" / "fit"
    indices = pd.read_csv(out / "indices.csv")
    assert list(indices.columns) == [
        "output",
        "parameter",
        "pawn",
        "pawn_conf",
        "pawn_max",
        "influential",
        "n_used",
    ]
    assert indices["parameter"].unique().tolist() == ["compounds.quota", "targets.invest_rate", "dummy"]
    assert (pd.read_csv(out / "parameters.csv")["sampled"] == "Latin hypercube over the range").all()
    samples = pd.read_parquet(out / "samples.parquet")
    assert samples["kept"].all() and {f"discrepancy_{name}" for name in FIT} <= set(samples.columns)
    metadata = json.loads((out / "metadata.json").read_text())
    assert metadata["kept"]["rows"] == 6 and metadata["design"].startswith("posterior=null")
    assert (out / "figures" / "pawn.png").stat().st_size > 10_000


def test_cli_bad_config_is_one_line_exit_2_and_writes_nothing(tmp_path):
    proc = scamsim_sensitivity(tmp_path, "sensitivity.levels=1")
    assert proc.returncode == 2
    assert (
        proc.stderr.strip()
        == "scamsim sensitivity: error: sensitivity.levels=1 is outside the allowed range [2, inf)"
    )
    assert not [p for p in (tmp_path / "results").rglob("*") if p.is_file()]


# ------------------------------------------------------------------------------------------------
# Declared ranges: relative where no source or posterior gives one
# ------------------------------------------------------------------------------------------------


def odds(p: float) -> float:
    return p / (1 - p)


def test_a_relative_range_is_a_factor_2_either_side_of_the_schema_default():
    default = ModelParams().compounds.quota
    r = uncertainties.resolve("compounds.quota", Uncertainty(Dist.relative, source="AM13"))
    assert r.dist is Dist.loguniform
    assert (r.low, r.high) == (default / 2, default * 2)
    assert r.source.startswith("AM13; relative range (assumption)")


def test_a_relative_range_of_a_share_doubles_and_halves_its_odds():
    default = ModelParams().police.tipoff_evacuation  # 0.9: a plain factor 2 would pass 1
    r = uncertainties.resolve("police.tipoff_evacuation", Uncertainty(Dist.relative))
    assert r.dist is Dist.uniform and 0 < r.low < default < r.high < 1
    assert odds(r.low) == pytest.approx(odds(default) / 2, rel=1e-12)
    assert odds(r.high) == pytest.approx(odds(default) * 2, rel=1e-12)


def test_every_declared_range_is_either_sourced_or_relative():
    schema = ModelParams()
    for key, entry in DECLARED.items():
        r = uncertainties.resolve(key, Uncertainty(Dist(entry.get("dist", "uniform")), **_bounds(entry)))
        if entry.get("dist") != "relative":  # a source's bounds (or a calibration prior) are kept
            assert (r.low, r.high) == (entry["low"], entry["high"]), key
            continue
        default = float(keys.get(schema, keys.expand(schema, key)[0]))
        if keys.metadata(schema, keys.expand(schema, key)[0])["hi"] == 1:  # a share: on the odds
            assert odds(r.high) / odds(default) == pytest.approx(2, rel=1e-9), key
            assert odds(default) / odds(r.low) == pytest.approx(2, rel=1e-9), key
        else:
            assert (r.low, r.high) == pytest.approx((default / 2, default * 2), rel=1e-12), key


def _bounds(entry: dict) -> dict:
    return {"low": entry.get("low"), "high": entry.get("high"), "source": entry["source"]}


def test_sourced_ranges_and_the_calibration_priors_are_kept_as_declared():
    config = sensitivity.load(["posterior=null"])
    ranges = sensitivity.ranges(config)
    assert (ranges["recruitment.price"].low, ranges["recruitment.price"].high) == (650, 3500)  # RC5
    assert (ranges["workers.ransom_scale"].low, ranges["workers.ransom_scale"].high) == (3000, 30000)  # RC7
    for key in ("police.raid_capacity", "police.corruption", "targets.wealth_median"):
        assert ranges[key] is config.uncertainties[key]  # the calibration's priors, untouched


@pytest.mark.parametrize(
    ("key", "entry", "message"),
    [
        (
            "targets.awareness",
            Uncertainty(Dist.relative),
            r"uncertainties.targets.awareness: dist: relative around the default 0; .*declare low and high",
        ),
        ("compounds.quota", Uncertainty(Dist.relative, 1.0, 2.0), "with dist: relative; a relative range is"),
        ("compounds.quota", Uncertainty(Dist.uniform, 1.0), r"low=1.0, high=None; declare both bounds"),
        ("compounds.nope", Uncertainty(Dist.relative), "uncertainties: unknown parameter 'compounds.nope'"),
    ],
)
def test_bad_declarations_are_one_line_errors(key, entry, message):
    with pytest.raises(ConfigError, match=message) as err:
        uncertainties.resolve(key, entry)
    assert "\n" not in str(err.value)


# ------------------------------------------------------------------------------------------------
# Given data: PAWN and the fit filter
# ------------------------------------------------------------------------------------------------


def test_pawn_finds_the_influential_parameter_and_gives_about_zero_to_one_without_influence():
    rng = np.random.default_rng(11)
    x = rng.random((2000, 3))
    # x0 decides the output, x1 adds a little, x2 does nothing.
    y = 4 * x[:, 0] + 0.5 * x[:, 1] + rng.normal(0, 0.3, len(x))
    table = sensitivity.pawn_indices(("x0", "x1", "x2"), x, y[:, None], ("y",), 10, 50, seed=3)
    table = table.set_index("parameter")
    assert list(table.index) == ["x0", "x1", "x2", sensitivity.DUMMY]
    # Within a tenth of x0's range y spans a tenth of its own: far from y's overall distribution.
    assert table.loc["x0", "pawn"] > 0.4 and table.loc["x0", "influential"]
    # With no influence, PAWN is the KS distance between a slice of 200 rows and all 2,000: its median
    # over the slices is about 0.83 / sqrt(200 * 2000 / 2200) = 0.06, hence the tolerance 0.1.
    for name in ("x2", sensitivity.DUMMY):
        assert table.loc[name, "pawn"] < 0.1, name
    assert not table.loc["x2", "influential"]
    assert table.loc["x0", "pawn"] > table.loc["x1", "pawn"] > table.loc["x2", "pawn"]
    assert (table["n_used"] == 2000).all() and (table["pawn_conf"] > 0).all()


def test_pawn_leaves_out_rows_where_an_output_is_undefined_and_needs_two_rows_per_slice():
    rng = np.random.default_rng(5)
    x = rng.random((100, 1))
    y = np.column_stack([x[:, 0], np.where(x[:, 0] > 0.5, np.nan, x[:, 0]), np.full(100, np.nan)])
    table = sensitivity.pawn_indices(("a",), x, y, ("all", "half", "none"), 10, 5, seed=1)
    used = table.groupby("output", sort=False)["n_used"].first()
    assert used["all"] == 100 and 30 < used["half"] < 70 and used["none"] == 0
    assert table.loc[table["output"] == "none", "pawn"].isna().all()  # fewer than 2 rows per slice


FIT = ["AM1", "AM7_shut", "AM7_remaining", "SC1", "TG1_median", "TG1_mean", "AM13", "AM10"]


def on_target() -> dict[str, float]:
    """Fit statistics that meet every fit target (53 compounds, 2 shut, 37 of 51 left, the point figures)."""
    return {
        "compounds_in_window": 53,
        "am7_shut": 2,
        "am7_not_shut": 51,
        "am7_never_or_operating": 37,
        "workers_held_aug2023": 100_000,
        "loss_median": 52_000,
        "loss_mean": 155_000,
        "quota_met_share": 0.02,
        "am10_raided": 28,
    }


def test_the_fit_filter_keeps_exactly_the_rows_within_tolerance_on_every_fit_target():
    targets = sensitivity.load([]).sensitivity.targets
    rows = {
        "on target": {},
        "SC1 1.9 sd off": {"workers_held_aug2023": 100_000 * math.exp(1.9 * 0.3)},  # discrepancy 3.61
        "SC1 2.1 sd off": {"workers_held_aug2023": 100_000 * math.exp(2.1 * 0.3)},  # 4.41
        "AM1 far above": {"compounds_in_window": 98 + 2.5 * 45},  # 2.5 interval widths: 6.25
        # AM13 weighs 0.2 (grade W): a 20% share costs about 15 unweighted, 3 weighted.
        "AM13 weak": {"quota_met_share": 0.2},
        "no compound": {"compounds_in_window": 0, "am7_shut": 0, "am7_not_shut": 0},
    }
    statistics = pd.DataFrame([on_target() | change for change in rows.values()], index=list(rows))
    table = sensitivity.fit_filter(targets, statistics, tolerance=4.0)
    assert list(table.columns) == [f"discrepancy_{name}" for name in FIT] + ["kept"]
    expected = {"on target": True, "SC1 1.9 sd off": True, "AM13 weak": True}
    assert table["kept"].to_dict() == {name: expected.get(name, False) for name in rows}
    assert table.loc["SC1 2.1 sd off", "discrepancy_SC1"] == pytest.approx(2.1**2)
    assert table.loc["AM1 far above", "discrepancy_AM1"] == pytest.approx(2.5**2)
    assert table.loc["AM1 far above"].drop(["discrepancy_AM1", "kept"]).max() < 4  # only AM1 missed
    weak = table.loc["AM13 weak", "discrepancy_AM13"]
    assert weak < 4 < weak / 0.2
    assert table.loc["no compound", "discrepancy_AM7_shut"] == 100  # undefined share: 10 standard errors
    # The terms are the ABC distance's: they add up to it.
    for name, row in statistics.iterrows():
        total = sensitivity.observations.distance(targets, row.to_dict())
        assert table.loc[name].drop("kept").sum() == pytest.approx(total), name


def test_fit_statistics_are_what_the_fit_targets_read():
    targets = sensitivity.load([]).sensitivity.targets
    assert set(sensitivity.fit_statistics(targets)) == set(on_target())


# ------------------------------------------------------------------------------------------------
# The PAWN study of the model
# ------------------------------------------------------------------------------------------------


def hand_tuned_posterior(path: Path) -> str:
    """A two-particle 'posterior' around the hand-tuned defaults (a fitted stand-in for tests)."""
    schema = ModelParams()
    free = ["police.raid_capacity", "police.corruption", "recruitment.ad_reach"]
    rows = [{key: keys.get(schema, key) * f for key in free} | {"weight": w} for f, w in ((1.0, 2), (0.9, 1))]
    pd.DataFrame(rows).to_csv(path, index=False)
    return str(path)


# 6 rows through the Amnesty window, each kept (a tolerance no discrepancy reaches) so that the indices
# are defined; two parameters beside the posterior's three.
TINY_PAWN = [
    *WINDOW,
    "sensitivity.n=6",
    "sensitivity.slices=2",
    "sensitivity.resamples=4",
    "sensitivity.fit_tolerance=1000",
    "sensitivity.select=[police.corruption,compounds.quota,targets.invest_rate]",
]


@pytest.fixture(scope="module")
def tiny_pawn(tmp_path_factory):
    """The same tiny PAWN study, serial and on 2 processes, with a posterior."""
    path = hand_tuned_posterior(tmp_path_factory.mktemp("posterior") / "tuned.csv")
    overrides = [*TINY_PAWN, f"posterior={path}"]
    serial = sensitivity.run(sensitivity.load([*overrides, "n_jobs=1"]))
    parallel = sensitivity.run(sensitivity.load([*overrides, "n_jobs=2"]))
    return serial, parallel, path


def test_pawn_study_draws_the_posterior_jointly_and_the_rest_over_their_ranges(tiny_pawn):
    analysis, _, path = tiny_pawn
    samples = analysis.samples
    particles = pd.read_csv(path).drop(columns="weight")
    # Every row's calibrated values are one particle's, all three together (the joint structure kept).
    drawn = samples[list(particles.columns)]
    assert drawn.apply(tuple, axis=1).isin(particles.apply(tuple, axis=1)).all()
    # The others: a Latin hypercube over their declared (relative) ranges, one row per stratum.
    quota = uncertainties.resolve("compounds.quota", sensitivity.load([]).uncertainties["compounds.quota"])
    u = np.log(samples["compounds.quota"] / quota.low) / np.log(quota.high / quota.low)
    assert sorted(np.floor(u * 6).astype(int)) == list(range(6))
    # Each row its own seed: one simulated world per row, like a calibration particle.
    assert samples["kept"].all() and len(samples) == 6
    table = analysis.indices
    assert list(dict.fromkeys(table["parameter"])) == [
        "police.corruption",
        "compounds.quota",
        "targets.invest_rate",
        sensitivity.DUMMY,
    ]
    assert table["pawn"].between(0, 1).all() and (table["n_used"] == 6).all()


def test_pawn_study_is_reproducible_and_serial_equals_parallel(tiny_pawn):
    serial, parallel, _ = tiny_pawn
    pd.testing.assert_frame_equal(serial.samples, parallel.samples)
    pd.testing.assert_frame_equal(serial.indices, parallel.indices)


def test_without_a_posterior_the_pawn_study_says_it_draws_from_the_priors(tmp_path):
    note = sensitivity.design(sensitivity.load(["posterior=null"]))
    assert note.startswith("posterior=null: no fitted posterior, so the calibrated parameters are drawn")
    assert "priors" in note and "fit filter alone selects" in note
    # A posterior fitted to the earlier model (its police.raid_rate column) is refused, never skipped.
    earlier = tmp_path / "earlier.csv"
    pd.DataFrame({"police.raid_rate": [0.1, 0.2], "weight": [1.0, 1.0]}).to_csv(earlier, index=False)
    with pytest.raises(ConfigError, match=r"column 'police.raid_rate' is not a model parameter"):
        sensitivity.load([f"posterior={earlier}"])


# ------------------------------------------------------------------------------------------------
# The policy levers at the fitted state
# ------------------------------------------------------------------------------------------------

EFFECT_COLUMNS = [
    "lever",
    "value",
    "fitted",
    "output",
    "level_median",
    "effect_median",
    "effect_q05",
    "effect_q95",
    "effect_mean",
    "effect_mean_conf",
    "n_used",
]


def test_lever_study_config_declares_its_levers_and_outputs():
    config = sensitivity.load(["sensitivity=levers"])
    settings = config.sensitivity
    assert settings.method is sensitivity.Method.levers and config.name == "levers"
    assert set(settings.levers.names) <= set(LEVERS) and len(settings.levers.names) == 10
    assert {"am7_remaining_share", "workers_held_mid2025", "compounds_active_mid2025"} <= set(
        settings.outputs
    )
    # The policy levers kept out of the uncertainties are among them.
    for key in ("police.help_leak_factor", "police.bribe_factor", "compounds.seizure_share"):
        assert any(key in LEVERS[name].keys for name in settings.levers.names), key


@pytest.fixture(scope="module")
def tiny_levers():
    """Two draws (hand-tuned defaults, two seeds); help requests leaked never (0) or as now (1) from 2024."""
    overrides = [*WINDOW, "sensitivity=levers", "sensitivity.n=2", "sensitivity.levers.names=[help_leaks]"]
    config = sensitivity.load([*overrides, "sensitivity.levers.points=2"])
    return config, sensitivity.run(config)


def test_lever_study_runs_each_value_paired_with_the_unchanged_draw(tiny_levers):
    config, analysis = tiny_levers
    effects = analysis.indices
    assert list(effects.columns) == EFFECT_COLUMNS
    outputs = config.sensitivity.outputs
    assert len(effects) == 2 * len(outputs) and (effects["n_used"] == 2).all()
    assert sorted(set(effects["value"])) == [0.0, 1.0]  # the lever's declared range, both ends
    assert (effects["fitted"] == ModelParams().police.help_leak_factor).all()  # 1: before the change
    # The effect is the paired difference from the same draw and seed without the change ...
    samples = analysis.samples.set_index("draw")
    base = samples[samples["lever"] == ""]
    for row in effects.itertuples():
        level = samples[(samples["lever"] == "help_leaks") & (samples["value"] == row.value)]
        paired = level[row.output] - base[row.output]
        assert row.effect_median == pytest.approx(paired.median(), nan_ok=True)
        assert row.effect_mean == pytest.approx(paired.mean(), nan_ok=True)
    # ... so setting the lever to the value it already has changes nothing, exactly (interventions draw
    # no random numbers: every stream stays in step), while no leaks at all does change the outcome.
    same = effects[effects["value"] == 1.0]
    assert (same["effect_median"] == 0).all() and (same["effect_q05"] == same["effect_q95"]).all(), same
    assert (effects.loc[effects["value"] == 0.0, "effect_median"] != 0).any()
    figure = sensitivity_figures.levers(effects, {})
    assert len(figure.axes) == len(outputs)
    console = Console(width=100, record=True, file=io.StringIO())
    console.print(sensitivity_cli.levers_table(effects))  # what the terminal shows: both ends, each output
    lines = [line for line in console.export_text().splitlines() if line.lstrip().startswith("help_leaks")]
    assert len(lines) == 2 * len(outputs) and all(len(line) <= 100 for line in lines)


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("sensitivity.levers.names=[nope]", r"sensitivity.levers.names: 'nope' is not a lever; allowed: \["),
        (
            "sensitivity.levers.points=1",
            r"sensitivity.levers.points=1 is outside the allowed range \[2, inf\)",
        ),
        ("sensitivity.levers.start=2030-01-01", r"sensitivity.levers.start='2030-01-01' is outside the run"),
        ("sensitivity.levers.names=[]", "sensitivity.levers.names is empty"),
    ],
)
def test_bad_lever_settings_are_one_line_errors(override, message):
    with pytest.raises(ConfigError, match=message) as err:
        sensitivity.load(["sensitivity=levers", override])
    assert "\n" not in str(err.value)
