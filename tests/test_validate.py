"""``scamsim validate``: the validate-only targets, with the hand-tuned parameters or a posterior."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from sim.cli import main
from sim.model.streams import replicate_seeds
from sim.runs.config import load_config
from sim.runs.runner import run_replicate

# A tiny population up to the calibration's end: validate must extend the runs to January 2026 (SC3).
SMALL = ['calibration.model_overrides=["scale=0.02","time.end=2025-07-31"]', "calibration.n_procs=1"]
VALIDATE_ONLY = {"EN1_removed", "EN1_tipoffs", "AM11", "SC3", "IN3", "AM6_routes", "AM8_rescue"}


def validate(out, *args: str) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    main(["validate", *SMALL, *args, f"hydra.run.dir={out}"])
    metadata = json.loads((out / "metadata.json").read_text())
    return pd.read_csv(out / "validation.csv"), pd.read_parquet(out / "predictive.parquet"), metadata


def test_without_a_posterior_it_runs_the_hand_tuned_parameters_with_fresh_seeds(tmp_path, capsys):
    report, predicted, metadata = validate(
        tmp_path / "v", "calibration.predictive_draws=3", "seed=11", "posterior=null"
    )
    assert set(report["target"]) == VALIDATE_ONLY and set(report["use"]) == {"validate"}
    assert report[["q05", "median", "q95"]].notna().all().all()  # every window covered, SC3's included
    assert metadata["parameters"] == "hand-tuned parameters, no posterior" and metadata["posterior"] is None
    assert metadata["time_end"] == "2026-01-31"
    assert "hand-tuned parameters, no posterior" in capsys.readouterr().out
    # Three replicates of the configured parameters: the second is exactly replicate 1 of seed 11.
    assert len(predicted) == 3 and predicted["en1_removed"].nunique() == 3
    params = load_config(["scale=0.02", "time.end=2026-01-31", "posterior=null"])
    expected = run_replicate(params, replicate_seeds(11, 3)[1], 1).metrics
    assert predicted.iloc[1]["sc3_sites"] == expected["sc3_sites"]
    assert predicted.iloc[1]["am11_held_ratio"] == pytest.approx(expected["am11_held_ratio"], rel=1e-12)
    assert (predicted["raids_window"] > 0).all()


def test_with_a_posterior_every_run_takes_a_draw_of_it(tmp_path):
    # All the weight on raid capacity 0: no raid in the Amnesty window in any draw (the hand-tuned 20 a
    # year gives some, see above).
    drawn = tmp_path / "drawn.csv"
    pd.DataFrame({"police.raid_capacity": [0.0, 80.0], "weight": [1.0, 0.0]}).to_csv(drawn, index=False)
    report, predicted, metadata = validate(
        tmp_path / "v", f"posterior={drawn}", "calibration.predictive_draws=2"
    )
    assert metadata["parameters"] == "posterior predictive" and metadata["posterior"] is not None
    assert (predicted["police.raid_capacity"] == 0).all() and (predicted["raids_window"] == 0).all()
    assert set(report["target"]) == VALIDATE_ONLY


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["calibration.predictive_draws=0"], "calibration.predictive_draws=0 is outside the allowed range"),
        (["posterior=no_such_posterior"], "no_such_posterior"),
    ],
)
def test_bad_input_is_one_line_and_writes_nothing(tmp_path, capsys, args, needle):
    with pytest.raises(SystemExit) as exit_:
        main(["validate", *SMALL, *args, f"hydra.run.dir={tmp_path / 'v'}"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and needle in err[0] and err[0].startswith("scamsim validate: error: ")
    assert not (tmp_path / "v").exists()
