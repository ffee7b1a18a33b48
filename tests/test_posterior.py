"""Posterior draws as parameters of runs: deterministic, weighted, and overridable."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import params

from sim.model.schemas import ConfigError
from sim.runs import posterior
from sim.runs.runner import run_replicates


@pytest.fixture
def particles_csv(tmp_path) -> Path:
    path = tmp_path / "toy.csv"
    pd.DataFrame(
        {
            "police.raid_capacity": [0.2, 3.0],
            "recruitment.ad_reach": [50_000.0, 200_000.0],
            "weight": [0.9, 0.1],
        }
    ).to_csv(path, index=False)
    return path


def test_draws_are_weighted_and_fixed_by_the_seed(particles_csv):
    a = posterior.draws(str(particles_csv), 2000, seed=1)
    assert a == posterior.draws(str(particles_csv), 2000, seed=1)
    assert a != posterior.draws(str(particles_csv), 2000, seed=2)
    share = np.mean([d["police.raid_capacity"] == 0.2 for d in a])
    assert abs(share - 0.9) <= 3 * np.sqrt(0.9 * 0.1 / 2000)  # binomial, 3 SE


def test_fixed_parameters_are_not_drawn(particles_csv):
    draws = posterior.draws(str(particles_csv), 5, seed=1, fixed=["police.raid_capacity"])
    assert all(set(d) == {"recruitment.ad_reach"} for d in draws)


def test_unknown_posterior_is_a_one_line_error():
    with pytest.raises(ConfigError, match="posterior='nope' not found"):
        posterior.draws("nope", 1, seed=1)


def test_each_replicate_runs_with_its_own_draw(particles_csv):
    p = params(time__end="2021-12-31")
    draws = [{"police.raid_capacity": 0.0}, {"police.raid_capacity": 450.0}]
    out = run_replicates(p, n_seeds=2, seed=3, draws=draws)
    raids = out.metrics.set_index("replicate")["raids"]
    assert raids[0] == 0 and raids[1] > 10
    parallel = run_replicates(p, n_seeds=2, seed=3, n_jobs=2, draws=draws)
    pd.testing.assert_frame_equal(out.metrics, parallel.metrics)


def test_cli_overrides_win_over_posterior_draws(particles_csv, tmp_path):
    scamsim = str(Path(sys.executable).parent / "scamsim")
    out = tmp_path / "run"
    proc = subprocess.run(
        [
            scamsim,
            "run",
            f"posterior={particles_csv}",
            "police.raid_capacity=0",
            "n_seeds=2",
            "scale=0.05",
            "time.end=2021-06-30",
            f"hydra.run.dir={out}",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    metadata = json.loads((out / "metadata.json").read_text())
    assert "police.raid_capacity" in metadata["config"]["fixed"]
    assert (pd.read_parquet(out / "metrics.parquet")["raids"] == 0).all()


CALIBRATED = posterior.POSTERIOR_DIR / "calibrated.csv"


def current_posterior_text() -> str:
    """The committed posterior as CSV text: particles valid for this model."""
    return pd.read_csv(CALIBRATED).to_csv(index=False, float_format="%.6g")


def test_the_committed_posterior_loads_as_parameters_of_this_model():
    # load checks each column is a numeric model parameter and each value within its range.
    particles = posterior.load("calibrated")
    free = posterior.provenance("calibrated")["settings"]["free"]
    assert sorted(particles.columns) == sorted([*free, "weight"])
    assert particles["weight"].sum() == pytest.approx(1.0)


def test_a_posterior_of_the_earlier_model_is_refused_in_one_line(tmp_path):
    # police.raid_rate was replaced by a raid capacity (issue 12): a posterior fitted to it is refused.
    earlier = pd.read_csv(CALIBRATED).assign(**{"police.raid_rate": 0.1})
    path = tmp_path / "earlier.csv"
    earlier.to_csv(path, index=False)
    with pytest.raises(ConfigError) as err:
        posterior.load(str(path))
    assert "'police.raid_rate' is not a model parameter" in str(err.value) and "\n" not in str(err.value)


def _rows(text: str, edit) -> str:
    header, *rows = text.splitlines()
    return "\n".join(edit(header, rows)) + "\n"


def _set_cell(column: str, value: str):
    def edit(header: str, rows: list[str]) -> list[str]:
        i = header.split(",").index(column)
        first = rows[0].split(",")
        first[i] = value
        return [header, ",".join(first), *rows[1:]]

    return edit


# Corruptions of the committed posterior file, each with what its one-line error must say.
CORRUPTIONS = {
    "no weight column": (lambda t: t.replace(",weight\n", ",w\n", 1), "no 'weight' column"),
    "negative weight": (lambda t: _rows(t, _set_cell("weight", "-0.5")), "line 2: weight=-0.5 is outside"),
    "NaN weight": (lambda t: _rows(t, _set_cell("weight", "nan")), "line 2: weight=nan is not a finite"),
    "text weight": (lambda t: _rows(t, _set_cell("weight", "heavy")), "weight='heavy' is not a number"),
    "zero weights": (
        lambda t: _rows(t, lambda h, rows: [h, *(r.rsplit(",", 1)[0] + ",0" for r in rows)]),
        "the weights sum to 0",
    ),
    "unknown column": (
        lambda t: t.replace("police.closure_prob", "police.closure_pro", 1),
        "'police.closure_pro'",
    ),
    "text column": (
        lambda t: t.replace("police.closure_prob", "focal", 1),
        "column 'focal' is not a numeric",
    ),
    "out of range": (
        lambda t: _rows(t, _set_cell("police.corruption", "1.5")),
        "line 2: police.corruption=1.5 is outside the allowed range [0, 1]",
    ),
    "infinite value": (lambda t: _rows(t, _set_cell("targets.groom_rate", "inf")), "groom_rate=inf is not"),
    "empty file": (lambda t: "", "not a readable CSV (No columns to parse from file)"),
    "header only": (lambda t: t.splitlines()[0] + "\n", "no particles"),
    "unparsable": (lambda t: t + '1,2,"3\n', "not a readable CSV"),
    "binary": (lambda t: "\x00\xff\xfe garbage", "not a readable CSV"),
}


@pytest.mark.parametrize("corruption", sorted(CORRUPTIONS))
def test_a_corrupt_posterior_file_is_a_one_line_error_naming_file_and_problem(tmp_path, corruption):
    corrupt, message = CORRUPTIONS[corruption]
    path = tmp_path / "broken.csv"
    path.write_bytes(corrupt(current_posterior_text()).encode("latin-1", errors="replace"))
    with pytest.raises(ConfigError) as err:
        posterior.load(str(path))
    assert str(err.value).startswith(f"{path}"), str(err.value)
    assert message in str(err.value) and "\n" not in str(err.value)
