"""Simulation-based calibration: rank and coverage arithmetic, synthetic targets, resume, bad input, CLI."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sim.analysis import sbc
from sim.analysis.calibration import CalibrationSettings, Posterior
from sim.analysis.observations import FLOOR, Kind, Target, Use
from sim.analysis.sbc import SbcConfig, SbcSettings
from sim.analysis.uncertainties import Dist, Uncertainty
from sim.model.schemas import ConfigError, ModelParams

pytestmark = [
    # pyabc warns about near-singular covariances with tiny populations, and its database layer about
    # SQLAlchemy idioms; neither affects the results checked here.
    pytest.mark.filterwarnings("ignore::RuntimeWarning:pyabc"),
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
    pytest.mark.filterwarnings("ignore::FutureWarning"),
]
SCAMSIM = str(Path(sys.executable).parent / "scamsim")
UNIT = {"x": Uncertainty(low=0.0, high=1.0)}


def particles(values: np.ndarray, weights: np.ndarray | None = None) -> Posterior:
    """A toy posterior of parameter ``x``: the given particles, equally weighted unless given."""
    w = np.full(len(values), 1 / len(values)) if weights is None else weights
    return Posterior(particles=pd.DataFrame({"x": values, "weight": w}), diagnostics=pd.DataFrame())


# --------------------------------------------------------------------------------- arithmetic
def test_rank_counts_the_draws_below_the_truth():
    draws = np.array([3.0, 1.0, 2.0])
    assert [sbc.rank(v, draws) for v in (0.5, 1.5, 2.5, 10.0)] == [0, 1, 2, 3]


def test_a_truth_outside_every_draw_gets_rank_0_or_the_number_of_draws():
    fitted = particles(np.linspace(0.4, 0.6, 21))
    below, above = (sbc.truth_rows({"x": v}, fitted, posterior_draws=9, seed=1)[0] for v in (0.1, 0.9))
    assert (below["rank"], above["rank"]) == (0, 9)
    assert not below["inside50"] and not below["inside90"] and not above["inside90"]
    middle = sbc.truth_rows({"x": 0.5}, fitted, posterior_draws=9, seed=1)[0]
    assert middle["inside50"] and middle["inside90"] and middle["q05"] < middle["q50"] < middle["q95"]


def test_weights_decide_the_intervals():
    # All the weight near 0.9: a truth at 0.1 is outside, though half the particles are near it.
    values = np.array([0.1] * 10 + [0.9] * 10) + np.linspace(0, 0.01, 20)
    weights = np.array([1e-9] * 10 + [1.0] * 10)
    row = sbc.truth_rows({"x": 0.1}, particles(values, weights), posterior_draws=19, seed=1)[0]
    assert row["rank"] == 0 and not row["inside90"]


def test_rank_histogram_has_equal_bins_of_consecutive_ranks():
    assert sbc.rank_histogram(np.arange(40), 39, 5).tolist() == [8] * 5
    assert sbc.rank_histogram(np.array([0, 7, 8, 39, 39]), 39, 5).tolist() == [2, 1, 0, 0, 2]


def test_summary_coverage_standard_error_and_width():
    rows = pd.DataFrame(
        {
            "parameter": "x",
            "rank": [0, 10, 20, 39],
            "inside50": [True, False, False, True],
            "inside90": [True, True, True, False],
            "q05": [0.1, 0.2, 0.3, 0.4],
            "q95": [0.55, 0.65, 0.75, 0.85],  # each 0.45 wide: half the prior's central 90% (0.9)
        }
    )
    [row] = sbc.summary(rows, UNIT, posterior_draws=39, bins=4).to_dict(orient="records")
    assert row["truths"] == 4
    assert (row["coverage50"], row["coverage90"]) == (0.5, 0.75)
    assert row["se50"] == pytest.approx(math.sqrt(0.25 / 4))  # at the nominal level, not the observed
    assert row["se90"] == pytest.approx(0.15)
    assert row["width90"] == pytest.approx(0.5)
    assert row["rank_p"] == pytest.approx(1.0)  # one truth per bin: as flat as it gets
    log_prior = {"x": Uncertainty(dist=Dist.loguniform, low=1.0, high=math.e**10)}
    rows_log = rows.assign(q05=1.0, q95=math.e**4.5)  # on the log scale: half of 0.9 x 10
    assert sbc.summary(rows_log, log_prior, 39, 4)["width90"].item() == pytest.approx(0.5)


def test_coverage_by_fit_splits_truths_at_the_median_final_epsilon():
    """Truths split by their last generation's epsilon; coverage pooled over each half's parameters; a
    difference that only the closer fits explain has a small permutation p, and none a large one."""
    n = 8
    final = [0.5, 9.0, 1.0, 8.0, 2.0, 7.0, 3.0, 6.0]  # truths 0, 2, 4, 6 come closest
    diagnostics = pd.DataFrame(
        [{"truth_index": i, "generation": 0, "epsilon": 100.0, "ess": 40.0} for i in range(n)]
        + [{"truth_index": i, "generation": 1, "epsilon": final[i], "ess": 10.0 + i} for i in range(n)]
    )

    def rows(inside):  # two parameters per truth, both inside or both outside
        return pd.DataFrame(
            [
                {"truth_index": i, "parameter": p, "inside50": inside(i), "inside90": inside(i)}
                for i in range(n)
                for p in ("x", "y")
            ]
        )

    split = sbc.coverage_by_fit(rows(lambda i: final[i] <= 3.0), diagnostics).set_index("fit")
    assert split["truths"].tolist() == [4, 4]
    assert split.loc["closer", ["epsilon_min", "epsilon_max"]].tolist() == [0.5, 3.0]
    assert split.loc["further", ["epsilon_min", "epsilon_max"]].tolist() == [6.0, 9.0]
    assert split.loc["closer", "ess"] == 13.0  # median of the last generation's: 10, 12, 14, 16
    assert split["coverage90"].tolist() == [1.0, 0.0] and split["coverage50"].tolist() == [1.0, 0.0]
    # Only 1 of the 70 ways to choose 4 of 8 truths puts all the covered ones on one side.
    assert split["p90"].iloc[0] == pytest.approx(1 / 70, abs=0.01)
    reversed_ = sbc.coverage_by_fit(rows(lambda i: final[i] > 3.0), diagnostics)
    assert reversed_["coverage90"].tolist() == [0.0, 1.0] and reversed_["p90"].iloc[0] == pytest.approx(1.0)
    tied = sbc.coverage_by_fit(rows(lambda i: True), diagnostics.assign(epsilon=1.0)).set_index("fit")
    assert tied["truths"].tolist() == [8, 0] and tied.loc["closer", "coverage90"] == 1.0
    assert tied.loc["further", ["coverage90", "p90"]].isna().all()


def toy_sbc(posterior_of, n_truths: int = 300, n_particles: int = 100) -> pd.DataFrame:
    """SBC of a toy model: truth x from U(0, 1), a posterior from ``posterior_of(truth, rng)``."""
    rows = []
    for i in range(n_truths):
        t = sbc.truth(UNIT, seed=5, index=i)
        rng = np.random.default_rng(i)
        fitted = particles(posterior_of(t.values["x"], rng, n_particles))
        rows += sbc.truth_rows(t.values, fitted, posterior_draws=39, seed=t.draws_seed)
    return sbc.summary(pd.DataFrame(rows), UNIT, posterior_draws=39, bins=5).iloc[0]


def test_a_posterior_equal_to_the_prior_is_calibrated():
    # With no data the prior is the exact posterior: ranks uniform, coverage nominal.
    row = toy_sbc(lambda _truth, rng, n: rng.uniform(0, 1, n))
    assert abs(row["coverage90"] - 0.9) < 3 * row["se90"]
    assert abs(row["coverage50"] - 0.5) < 3 * row["se50"]
    assert row["rank_p"] > 1e-3
    assert row["width90"] == pytest.approx(1.0, abs=0.05)


def test_an_overconfident_posterior_fails_the_check():
    # Centred on a noisy estimate (sd 0.1) but ten times too narrow: the check must catch it.
    row = toy_sbc(lambda truth, rng, n: rng.normal(truth + rng.normal(0, 0.1), 0.01, n))
    assert row["coverage90"] < 0.9 - 10 * row["se90"]
    assert row["rank_p"] < 1e-6


# ------------------------------------------------------------------------------------ truths
def test_truth_i_is_the_same_whatever_the_count_and_inside_the_prior():
    priors = {
        "a": Uncertainty(low=0.2, high=0.95),
        "b": Uncertainty(dist=Dist.loguniform, low=3.0, high=200.0),
    }
    truths = [sbc.truth(priors, seed=11, index=i) for i in range(200)]
    assert sbc.truth(priors, seed=11, index=7) == truths[7]
    assert sbc.truth(priors, seed=12, index=7) != truths[7]
    a = np.array([t.values["a"] for t in truths])
    b = np.array([t.values["b"] for t in truths])
    assert ((a >= 0.2) & (a <= 0.95)).all() and ((b >= 3) & (b <= 200)).all()
    # Log-uniform: half the draws below the geometric midpoint sqrt(3 x 200) = 24.5, not the middle 101.5.
    assert 0.4 < (b < math.sqrt(600)).mean() < 0.6
    seeds = {s for t in truths for s in (t.data_seed, t.calibration_seed, t.draws_seed)}
    assert len(seeds) == 3 * len(truths)  # every seed its own


# -------------------------------------------------------------------------------- synthetic data
def registry_like() -> dict[str, Target]:
    return {
        "count": Target(statistic="c", kind=Kind.interval, low=53, high=98),
        "raided": Target(statistic="r", kind=Kind.interval, low=14, high=56, log=True),
        "held": Target(statistic="h", kind=Kind.lognormal, observed=100_000, sd_log=0.3),
        "shut": Target(statistic="s", denominator="c", kind=Kind.binomial, observed=2, n=53),
        "remaining": Target(
            statistic="k", denominator="m", kind=Kind.binomial_between, low=36, high=39, n=51
        ),
        "growing": Target(statistic="g", kind=Kind.at_least, low=1, sd_log=0.1),
        "routes": Target(statistic="q", kind=Kind.binomial_at_least, observed=1, n=58),
        "held_out": Target(statistic="h", kind=Kind.lognormal, observed=1, sd_log=0.1, use=Use.validate),
    }


def test_synthetic_targets_observe_the_simulated_statistics_per_kind():
    stats = {"c": 120.0, "r": 8.0, "h": 40_000.0, "s": 6.0, "k": 10.0, "m": 50.0, "g": 0.8, "q": 0.1}
    out = sbc.synthetic_targets(registry_like(), stats)
    assert "held_out" not in out  # validate targets are never fitted
    assert (out["count"].low, out["count"].high) == (97.5, 142.5)  # the width 45, centred on 120
    assert out["raided"].low == pytest.approx(4.0) and out["raided"].high == pytest.approx(16.0)  # x 2
    assert out["held"].observed == 40_000 and out["held"].sd_log == 0.3
    assert (out["shut"].observed, out["shut"].n) == (round(6 / 120 * 53), 53)  # 2.65 -> 3 of 53
    assert (out["remaining"].low, out["remaining"].high) == (9, 12)  # width 3 around 10 of 51 (10 / 50 x 51)
    assert out["growing"].low == 0.8
    assert out["routes"].observed == round(0.1 * 58)
    for name, target in out.items():  # the truth matches its own observation (up to whole counts) ...
        assert target.discrepancy(stats) < (1 if name == "routes" else 0.05), name
    # ... but for "at least k of n", censored: k at the expected count is met about half the time.
    assert out["routes"].discrepancy(stats) == pytest.approx(-math.log(0.53), abs=0.02)


def test_synthetic_targets_at_a_dead_industry():
    # No compound in the window: a share of none is undefined and drops its target; zeros are floored.
    stats = {"c": 0.0, "r": 0.0, "h": 0.0, "s": 0.0, "k": 0.0, "m": 0.0, "g": 0.0, "q": math.nan}
    out = sbc.synthetic_targets(registry_like(), stats)
    assert set(out) == {"count", "raided", "held", "growing"}
    assert out["held"].observed == FLOOR and out["held"].discrepancy(stats) == 0
    assert out["held"].discrepancy({"h": 1_000.0}) > 100  # a live industry is far from a dead one
    assert out["raided"].discrepancy(stats) == 0 and out["raided"].discrepancy({"r": 5.0}) > 100
    assert (out["count"].low, out["count"].high) == (-22.5, 22.5)


def test_between_range_stays_inside_zero_to_n():
    target = registry_like()["remaining"]
    for k, expected in ((50.0, (48, 51)), (0.0, (0, 3))):
        synthetic = sbc.observe(target, {"k": k, "m": 50.0})
        assert (synthetic.low, synthetic.high) == expected


# --------------------------------------------------------------------------------------- resume
def fake_config(tmp_path: Path, truths: int) -> SbcConfig:
    targets = {"held": Target(statistic="h", kind=Kind.lognormal, observed=1.0, sd_log=0.2)}
    config = SbcConfig(seed=4, uncertainties=dict(UNIT))
    config.calibration = CalibrationSettings(free=["x"], targets=targets)
    config.sbc = SbcSettings(truths=truths, posterior_draws=9, bins=5)  # ranks 0..9
    return config


@pytest.fixture
def fake_model(monkeypatch):
    """Stand-ins for the model and pyabc: statistics = the truth, posterior = particles around it."""
    calls = []

    def statistics(params, seed, n_seeds):
        return {"h": 1.0 + seed % 7}

    def calibrate(config, params, on_generation=None, on_sampling=None):
        calls.append(config.calibration.targets["held"].observed)
        rng = np.random.default_rng(config.seed)
        return particles(rng.uniform(0, 1, 50))

    monkeypatch.setattr(sbc.calibration, "statistics", statistics)
    monkeypatch.setattr(sbc.calibration, "calibrate", calibrate)
    monkeypatch.setattr(sbc, "with_values", lambda params, values: params)
    return calls


def test_a_finished_truth_is_not_recomputed(tmp_path, fake_model):
    work = tmp_path / "work"
    first = sbc.run(fake_config(tmp_path, 2), ModelParams(), work)
    assert len(fake_model) == 2 and sorted(p.name for p in work.iterdir()) == [
        "truth-0000.json",
        "truth-0001.json",
    ]
    seen = []
    more = sbc.run(fake_config(tmp_path, 3), ModelParams(), work, lambda r, saved: seen.append(saved))
    assert len(fake_model) == 3  # only the new truth was computed
    assert seen == [True, True, False]
    assert [r.rows for r in more[:2]] == [r.rows for r in first]
    # Another setting that changes the results: every truth again.
    changed = fake_config(tmp_path, 3)
    changed.sbc.posterior_draws = 19
    sbc.run(changed, ModelParams(), work)
    assert len(fake_model) == 6


def test_a_cut_short_truth_file_is_computed_again(tmp_path, fake_model):
    work = tmp_path / "work"
    sbc.run(fake_config(tmp_path, 1), ModelParams(), work)
    path = sbc.truth_file(work, 0)
    saved = json.loads(path.read_text())
    path.write_text(path.read_text()[:40])
    again = sbc.run(fake_config(tmp_path, 1), ModelParams(), work)
    assert len(fake_model) == 2 and again[0].rows == saved["rows"]  # the same seeds, the same result


# ------------------------------------------------------------------------------------ bad input
@pytest.mark.parametrize(
    ("setting", "value", "message"),
    [
        ("truths", 0, "sbc.truths=0 is outside the allowed range [1, inf)"),
        ("posterior_draws", -1, "sbc.posterior_draws=-1 is outside the allowed range [1, inf)"),
        (
            "bins",
            3,
            "sbc.bins=3 does not divide the 40 possible ranks (posterior_draws + 1) into equal bins; "
            "allowed: 1, 2, 4, 5, 8, 10, 20, 40",
        ),
        ("bins", 0, "sbc.bins=0 does not divide"),
    ],
)
def test_bad_settings_are_one_line_errors(tmp_path, setting, value, message):
    config = fake_config(tmp_path, 1)
    config.uncertainties = {"police.corruption": Uncertainty(low=0.2, high=0.9)}
    config.calibration.free = ["police.corruption"]
    config.calibration.targets = {
        "held": Target(statistic="workers_held_end", kind=Kind.lognormal, sd_log=0.2)
    }
    config.sbc.posterior_draws = 39  # 40 possible ranks
    setattr(config.sbc, setting, value)
    with pytest.raises(ConfigError) as info:
        sbc.check(config, ModelParams())
    assert str(info.value).startswith(message) and "\n" not in str(info.value)


def test_the_command_rejects_bad_input_in_one_line(tmp_path):
    proc = subprocess.run(
        [SCAMSIM, "sbc", "sbc.bins=7", f"hydra.run.dir={tmp_path / 'x'}"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip() == (
        "scamsim sbc: error: sbc.bins=7 does not divide the 40 possible ranks (posterior_draws + 1) into "
        "equal bins; allowed: 1, 2, 4, 5, 8, 10, 20, 40"
    )
    assert not (tmp_path / "x").exists() and not (tmp_path / "x.truths").exists()


# ------------------------------------------------------------------------------------- slow checks
@pytest.mark.slow
def test_sbc_of_a_one_parameter_fit_is_informative_and_not_overconfident(tmp_path):
    """The method as a whole (model, pyabc, ranks) on 30 truths of a fit that can run them quickly.

    The held count at mid-2021 identifies the ad reach where recruitment limits the workforce. ABC
    with a finite epsilon errs wide, never narrow: coverage at least nominal (within 3 standard errors)
    and the posterior much narrower than the prior. A calibration that ignored the synthetic data, or
    ranked the truth against the wrong draws, would fail one or the other.
    """
    from sim.runs.config import load_overrides

    config = SbcConfig(
        seed=21, uncertainties={"recruitment.ad_reach": Uncertainty(Dist.loguniform, 10_000, 150_000)}
    )
    config.calibration = CalibrationSettings(
        population_size=10,
        generations=3,
        min_ess=5,  # half the population, as configs/sbc.yaml has it
        seeds_per_particle=1,
        min_epsilon=0.0,
        n_procs=1,  # one process: the whole check is reproducible
        free=["recruitment.ad_reach"],
        targets={"held": Target(statistic="workers_held_end", kind=Kind.lognormal, observed=1.0, sd_log=0.2)},
    )
    config.sbc = SbcSettings(truths=30, posterior_draws=9, bins=5)
    params = load_overrides(ModelParams(), ["scale=0.02", "time.end=2021-06-30"])
    sbc.check(config, params)
    results = sbc.run(config, params, tmp_path / "work")
    priors = {"recruitment.ad_reach": config.uncertainties["recruitment.ad_reach"]}
    row = sbc.summary(sbc.rows_of(results), priors, 9, 5).iloc[0]
    assert row["coverage90"] >= 0.9 - 3 * row["se90"], row
    assert row["coverage50"] >= 0.5 - 3 * row["se50"], row
    assert row["width90"] < 0.6, row


def compose_sbc(overrides: list[str]) -> SbcConfig:
    from hydra import compose, initialize_config_dir

    from sim.cli.sbc import register, to_sbc_config
    from sim.runs.config import CONFIG_DIR

    register()
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        return to_sbc_config(compose(config_name="sbc", overrides=overrides))


@pytest.mark.slow
def test_sbc_through_the_cli_writes_the_report_and_resumes(tmp_path):
    """Two truths of the real target set and free parameters, each with a tiny calibration."""
    overrides = [
        "sbc.truths=2",
        "sbc.posterior_draws=7",
        "sbc.bins=4",
        "calibration.population_size=8",
        "calibration.generations=2",
        "calibration.min_ess=4",
        'calibration.model_overrides=["scale=0.02","time.end=2025-07-31"]',
    ]
    out = tmp_path / "sbc"
    command = [SCAMSIM, "sbc", *overrides, f"hydra.run.dir={out}"]
    env = {**os.environ, "SCAMSIM_PROGRESS_SECONDS": "0"}
    proc = subprocess.run(command, capture_output=True, text=True, timeout=3000, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "sbc: truth 1/2 done in" in proc.stderr and "calibrate: generation 2/2" in proc.stderr
    config = compose_sbc(overrides)
    coverage = pd.read_csv(out / "coverage.csv")
    assert coverage["parameter"].tolist() == config.calibration.free
    assert (coverage["truths"] == 2).all()
    for column in ("coverage50", "coverage90", "rank_p"):
        assert coverage[column].between(0, 1).all(), column
    assert coverage["se90"].tolist() == pytest.approx([math.sqrt(0.09 / 2)] * 8)
    truths = pd.read_csv(out / "truths.csv")
    assert len(truths) == 16 and truths["rank"].between(0, 7).all()
    assert (truths["q05"] <= truths["q95"]).all()
    # Each truth's synthetic observations are its own simulated statistics (the data seed it records).
    from sim.analysis.calibration import statistics
    from sim.cli.sbc import work_dir
    from sim.model.validation import with_values
    from sim.runs.config import load_overrides

    saved = json.loads(sbc.truth_file(work_dir(out), 0).read_text())
    params = with_values(load_overrides(config, config.calibration.model_overrides), saved["values"])
    held = statistics(params, saved["seeds"]["data"], 1)["workers_held_aug2023"]
    targets = pd.read_csv(out / "targets.csv").set_index(["truth_index", "target"])
    assert targets.loc[(0, "SC1"), "observed"] == pytest.approx(max(held, FLOOR))
    assert set(targets.loc[0].index) <= {n for n, t in config.calibration.targets.items() if t.use is Use.fit}
    assert (out / "figures" / "ranks.png").stat().st_size > 10_000
    assert "| `police.raid_capacity` |" in (out / "summary.md").read_text()
    assert pd.read_csv(out / "coverage_by_fit.csv")["truths"].tolist() == [1, 1]  # 2 truths, split in two
    metadata = json.loads((out / "metadata.json").read_text())
    assert metadata["command"] == "scamsim sbc" and metadata["truths_computed"] == 2
    # Run again: every truth is saved, so none is calibrated again and the report is the same.
    again = subprocess.run(command, capture_output=True, text=True, timeout=600, env=env)
    assert again.returncode == 0, again.stderr[-2000:]
    assert again.stderr.count("saved before") == 2 and "calibrate:" not in again.stderr
    assert pd.read_csv(out / "coverage.csv").equals(coverage)
    assert json.loads((out / "metadata.json").read_text())["truths_computed"] == 0
