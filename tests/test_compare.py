"""Paired scenario comparisons: common random numbers, the differences table, the harm ledger, the CLI.

Comparisons are tiny (2% population, 2020-2022, interventions from 2021, a handful of replicates), so
the figures they give are noisy; the tests check structure, pairing and consistency, and the one
statistical claim (pairing cuts the noise) with a wide margin.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sim.analysis.compare import OUTCOMES, compare, load_comparison, paired_differences
from sim.model.schemas import ConfigError
from sim.report import figures
from sim.report.compare_figures import difference_figure
from sim.runs.scenarios import check_same_world, scenario_config

SCAMSIM = str(Path(sys.executable).parent / "scamsim")
# Without a posterior: replicates differ only in their seed (see the common random numbers test).
SMALL = ["scale=0.02", "time.end=2022-12-31", "posterior=null"]
EARLY = ["policies.raid_surge.start=2021-01-01", "policies.victim_protection.start=2021-01-01"]
N_SEEDS = 8


@pytest.fixture(scope="module")
def comparison():
    return compare(["raid_surge", "victim_protection"], [*SMALL, *EARLY], n_seeds=N_SEEDS, n_jobs=2)


def test_differences_have_one_row_per_scenario_and_defined_outcome(comparison):
    d = comparison.differences
    # The run ends before the Amnesty window, so the AM7 share and the compounds operating on 30 June
    # 2025 are undefined and left out.
    undefined = {"am7_remaining_share", "compounds_operating"}
    expected = {(s, o) for s in ("raid_surge", "victim_protection") for o in OUTCOMES if o not in undefined}
    assert set(zip(d["scenario"], d["outcome"], strict=True)) == expected
    assert len(d) == len(expected)
    assert (d["n_pairs"] == N_SEEDS).all()
    assert set(d["group"]) == {"compounds", "workers", "targets", "displacement"}
    assert comparison.scenarios == {
        "raid_surge": "Raids on compounds tripled from January 2024",
        "victim_protection": (
            "Safe channel for help requests from January 2024: fewer leaks, less retaliation"
        ),
    }


def test_within_noise_is_exactly_an_interval_containing_zero(comparison):
    d = comparison.differences
    assert (d["within_noise"] == ((d["diff_q05"] <= 0) & (d["diff_q95"] >= 0))).all()
    assert (d["diff_q05"] <= d["diff_median"]).all() and (d["diff_median"] <= d["diff_q95"]).all()
    # The raid surge's own lever cannot be within noise: every replicate raids more.
    raids = d[(d["scenario"] == "raid_surge") & (d["outcome"] == "raids")].iloc[0]
    assert not raids["within_noise"] and raids["diff_q05"] > 0


def test_differences_are_paired_replicate_by_replicate(comparison):
    table = comparison.per_replicate
    base = table[table["scenario"] == "baseline"].set_index("replicate")["trafficked"]
    surge = table[table["scenario"] == "raid_surge"].set_index("replicate")["trafficked"]
    row = comparison.differences.query("scenario == 'raid_surge' and outcome == 'trafficked'").iloc[0]
    assert row["diff_median"] == pytest.approx((surge - base).median())
    assert row["baseline_median"] == pytest.approx(base.median())


def test_common_random_numbers_make_paired_differences_much_less_noisy(comparison):
    # Without a posterior (posterior=null) replicates differ only in their seed, not in their
    # parameters, so the noise pairing removes is the seeds' own: measured with 8
    # replicates, unpaired / paired variance of people trafficked is about 7 under victim protection,
    # whose lever (help requests) does not drive trafficking. (With posterior draws it was about 75.)
    # The raid surge now triples a jurisdiction's raid capacity (20 -> 60 raids a year), which halves
    # the compounds: the paired runs drift apart and the ratio is about 3. Independent streams give 1.
    ratios = {}
    for scenario in ("victim_protection", "raid_surge"):
        row = comparison.differences.query(f"scenario == '{scenario}' and outcome == 'trafficked'").iloc[0]
        ratios[scenario] = (row["unpaired_sd"] / row["paired_sd"]) ** 2
        print(f"CRN variance ratio (trafficked, {scenario}, {N_SEEDS} replicates): {ratios[scenario]:.1f}")
    assert ratios["victim_protection"] > 5
    assert ratios["raid_surge"] > 2


def test_harm_ledger_covers_both_groups_of_victims(comparison):
    harm = comparison.harm
    assert set(harm["victims"]) == {"trafficked workers", "targets"}
    assert set(harm["outcome"]) == {name for name, o in OUTCOMES.items() if o.harm}
    assert len(harm) == 2 * len(set(harm["outcome"]))
    merged = harm.merge(comparison.differences, on=["scenario", "outcome"], suffixes=("", "_d"))
    np.testing.assert_allclose(merged["diff_median"], merged["diff_median_d"])
    # Victim protection's own lever: fewer help requests reach the bosses, in every replicate.
    leaked = harm.query("scenario == 'victim_protection' and outcome == 'help_leaked'").iloc[0]
    assert leaked["diff_q95"] < 0 and not leaked["within_noise"]


def test_timeseries_hold_the_focal_series_of_every_run(comparison):
    ts = comparison.timeseries
    assert list(ts.columns) == ["scenario", "replicate", "date", "variable", "value"]
    assert {"compounds_active", "workers_held", "target_losses"} <= set(ts["variable"])
    assert set(ts["scenario"]) == {"baseline", "raid_surge", "victim_protection"}
    # Common random numbers: identical until the window opens in 2021.
    before = ts[ts["date"] < "2021-01-01"].pivot_table(
        index=["replicate", "date", "variable"], columns="scenario", values="value"
    )
    assert (before["baseline"] == before["raid_surge"]).all()


def test_write_and_load_round_trip(comparison, tmp_path):
    drawn = {"paired_differences": difference_figure(comparison)}
    out = comparison.write(tmp_path / "cmp", figures.files(drawn))
    loaded = load_comparison(out)
    for name in ("per_replicate", "differences", "harm", "timeseries"):
        pd.testing.assert_frame_equal(getattr(loaded, name), getattr(comparison, name), check_dtype=False)
    assert loaded.scenarios == comparison.scenarios
    assert (out / "figures" / "paired_differences.png").stat().st_size > 20_000
    csv = pd.read_csv(out / "differences.csv")
    assert len(csv) == len(comparison.differences)
    meta = loaded.metadata
    assert set(meta["scenarios"]) == {"baseline", "raid_surge", "victim_protection"}
    assert meta["scenarios"]["raid_surge"]["config"]["policies"]["raid_surge"]["start"] == "2021-01-01"
    assert meta["scenarios"]["baseline"]["config"]["policies"] == {}
    assert meta["command"].startswith("scamsim compare scenario=raid_surge,victim_protection scale=0.02")
    assert meta["seeds"]["n_seeds"] == N_SEEDS and meta["git"] and meta["versions"]["numpy"]


def test_summary_tables_fit_100_columns_with_signed_grouped_differences(comparison):
    from rich.console import Console

    from sim.cli.compare import summary_table

    for scenario in ("raid_surge", "victim_protection"):
        console = Console(width=100, record=True, file=io.StringIO())
        console.print(summary_table(comparison, scenario))
        lines = console.export_text().rstrip("\n").splitlines()
        rows = comparison.differences[comparison.differences["scenario"] == scenario]
        # Title, blank, header, rule, one line per outcome (no wrapped rows), the closing blank line.
        assert len(lines) == 4 + len(rows) + 1, "\n".join(lines)
        assert all(len(line) <= 100 for line in lines)
        text = "\n".join(lines)
        assert "…" not in text and "e+" not in text and "e-0" not in text
        held = rows[rows["outcome"] == "workers_held_end"].iloc[0]
        line = next(ln for ln in lines if "workers held" in ln)
        median = f"{float(f'{held.diff_median:.3g}'):,.0f}"
        assert (("+" if held.diff_median > 0 else "") + median) in line  # signed, thousands grouped
        losses = rows[rows["outcome"] == "target_losses"].iloc[0]
        line = next(ln for ln in lines if "target losses" in ln)
        assert "USD m" in line and f"{float(f'{losses.baseline_median / 1e6:.3g}'):,.0f}" in line


def test_policy_overrides_reach_only_scenarios_that_have_the_policy():
    longer = ["scale=0.02", "time.end=2024-06-30", *EARLY]  # the anti-corruption window opens in 2024
    assert scenario_config("baseline", longer).policies == {}
    crackdown = scenario_config("crackdown", longer)
    assert crackdown.policies["raid_surge"]["start"] == "2021-01-01"
    assert crackdown.policies["anti_corruption"]["start"] == "2024-01-01"
    with pytest.raises(ConfigError, match=r"policies\.raid_surg, which none of the scenarios has"):
        compare(["raid_surge"], [*SMALL, EARLY[0], "policies.raid_surg.multiplier=2"], n_seeds=1)


def test_a_scenario_may_only_change_interventions():
    base = scenario_config("baseline", SMALL)
    other = scenario_config("raid_surge", [*SMALL, *EARLY, "police.raid_capacity=2"])
    with pytest.raises(ConfigError, match=r"changes .*police\.raid_capacity.* as well as interventions"):
        check_same_world("raid_surge", other, base)


@pytest.mark.parametrize(
    "scenarios", [[], ["baseline"], ["raid_surge", "raid_surge"], ["no_such_scenario"]], ids=str
)
def test_bad_scenario_lists_are_config_errors(scenarios):
    with pytest.raises(ConfigError):
        compare(scenarios, SMALL, n_seeds=1)


def test_undefined_outcomes_are_left_out():
    table = pd.DataFrame(
        {
            "scenario": ["baseline", "baseline", "s", "s"],
            "replicate": [0, 1, 0, 1],
            **{name: [1.0, 2.0, 1.0, 4.0] for name in OUTCOMES},
        }
    )
    table["am7_remaining_share"] = np.nan
    d = paired_differences(table, ["s"]).set_index("outcome")
    assert "am7_remaining_share" not in d.index
    assert d.loc["trafficked", "diff_median"] == 1.0  # differences 0 and 2
    assert d.loc["trafficked", "paired_sd"] == pytest.approx(np.sqrt(2))


# --------------------------------------------------------------------------------------------------
# The command line, in subprocesses
# --------------------------------------------------------------------------------------------------


def scamsim(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([SCAMSIM, *args], capture_output=True, text=True, cwd=cwd, timeout=300)


def test_compare_command_writes_the_comparison(tmp_path):
    proc = scamsim(
        "compare",
        "scenario=raid_surge",
        "n_seeds=2",
        *SMALL,
        "policies.raid_surge.start=2021-01-01",
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    out = tmp_path / "results" / "compare" / "raid_surge"
    for name in ("per_replicate", "differences", "harm", "timeseries"):
        assert (out / f"{name}.parquet").stat().st_size > 0
    d = pd.read_csv(out / "differences.csv")
    undefined = {"am7_remaining_share", "compounds_operating"}  # before 2025
    assert set(d["outcome"]) == set(OUTCOMES) - undefined
    assert (d["within_noise"] == ((d["diff_q05"] <= 0) & (d["diff_q95"] >= 0))).all()
    assert (out / "figures" / "paired_differences.png").exists()
    assert json.loads((out / "metadata.json").read_text())["seeds"]["n_seeds"] == 2
    assert "raid_surge - baseline: paired difference" in proc.stdout and "within noise" in proc.stdout
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".")]  # no temporaries left


@pytest.mark.parametrize(
    ("override", "message"),
    [
        (
            "policies.raid_surge.multipler=2",
            "'policies.raid_surge.multipler' (did you mean 'policies.raid_surge.multiplier'?)",
        ),
        (
            "policies.raid_surge.multiplier=-1",
            "policies.raid_surge.multiplier=-1.0 is outside the allowed range",
        ),
        ("policies.raid_surge.end=2023-01-01", "policies.raid_surge.end='2023-01-01' is before"),
        ("policies.raid_surge.start=2023-01-01", "policies.raid_surge.start='2023-01-01' leaves no step"),
        ("policies.raid_surge.multiplier=null", "policies.raid_surge.multiplier=null is not allowed"),
    ],
)
def test_compare_config_errors_exit_2_with_one_line_and_write_nothing(tmp_path, override, message):
    proc = scamsim("compare", "scenario=raid_surge", "n_seeds=1", *SMALL, override, cwd=tmp_path)
    assert proc.returncode == 2
    assert message in proc.stderr
    assert proc.stderr.startswith("scamsim compare: error: ") and proc.stderr.count("\n") == 1
    assert not (tmp_path / "results").exists()


def test_run_under_a_scenario(tmp_path):
    out = tmp_path / "run"
    proc = scamsim(
        "run",
        "scenario=kingpin_removal",
        "n_seeds=1",
        *SMALL,
        "policies.kingpin_removal.start=2022-01-01",
        f"hydra.run.dir={out}",
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    config = json.loads((out / "metadata.json").read_text())["config"]
    assert config["scenario"] == "kingpin_removal" and config["name"] == "kingpin_removal"
    assert config["policies"]["kingpin_removal"]["kind"] == "kingpin_removal"
