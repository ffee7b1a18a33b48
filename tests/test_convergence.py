"""Agreement of independent calibrations and identifiability, on synthetic posterior tables."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sim.analysis import convergence
from sim.analysis.uncertainties import Dist, Uncertainty
from sim.model.schemas import ConfigError

N = 200  # particles per run
U = (
    np.arange(N) + 0.5
) / N  # equal weights: the q-quantile of m + 2 s (U - 0.5) is exactly m + 2 s (q - 0.5)

PRIORS = {
    "a": Uncertainty(Dist.uniform, 0.0, 10.0, "assumption: test"),
    "b": Uncertainty(Dist.loguniform, 1.0, 100.0, "assumption: test"),
    "c": Uncertainty(Dist.uniform, 0.0, 1.0, "assumption: test"),
}
# Per run: the median and half-range s of each parameter (on the prior's scale: log for b), so that
# its 90% width is 1.8 s.
MEDIANS = {
    "a": (5.0, 5.1, 5.15),
    "b": (math.log(10), math.log(10) + 0.2, math.log(10) + 0.4),
    "c": (0.3, 0.5, 0.5),
}
HALF = {"a": 1.0, "b": 2.2, "c": 0.1}


def posteriors() -> dict[str, pd.DataFrame]:
    """Three runs with known quantiles; c is shuffled so that it is uncorrelated with a."""
    rng = np.random.default_rng(0)
    runs = {}
    for i in range(3):
        values = {k: MEDIANS[k][i] + 2 * HALF[k] * (U - 0.5) for k in PRIORS}
        values["b"] = np.exp(values["b"])
        values["c"] = rng.permutation(values["c"])
        runs[f"seed{i}"] = pd.DataFrame(values | {"weight": np.full(N, 1 / N)})
    return runs


def test_agreement_medians_widths_and_identification():
    table = convergence.agreement(posteriors(), PRIORS).set_index("parameter")
    # a: medians 5.0-5.15 differ by 0.15 of a 90% width of 1.8 (8%): agree; 1.8 of 10 is 18% of the prior.
    assert table.loc["a", "median_spread"] == pytest.approx(0.15 / 1.8)
    assert table.loc["a", "width_of_prior"] == pytest.approx(0.18)
    assert table.loc["a", "agree"] and table.loc["a", "identified"]
    # b, on the log scale: medians 0.4 apart in a width of 3.96 (10.1%): not agreed; 3.96 of ln 100
    # (86%): not identified by the targets.
    assert table.loc["b", "scale"] == "log"
    assert table.loc["b", "median_spread"] == pytest.approx(0.4 / 3.96)
    assert table.loc["b", "width_of_prior"] == pytest.approx(3.96 / math.log(100))
    assert not table.loc["b", "agree"] and not table.loc["b", "identified"]
    # c: medians 0.3 and 0.5, width 0.18: they disagree by more than a width; the posterior is narrow.
    assert table.loc["c", "median_spread"] == pytest.approx(0.2 / 0.18)
    assert not table.loc["c", "agree"] and table.loc["c", "identified"]
    # Pooled, each run weighs a third: above 4.15 the mixture's CDF is (3x - 12.25) / 6, 0.05 at 4.183.
    assert table.loc["a", "q05"] == pytest.approx(12.55 / 3, abs=0.01)
    assert 5.0 < table.loc["a", "median"] < 5.15


def test_per_run_quantiles_are_in_the_parameters_units():
    rows = convergence.per_run(posteriors(), PRIORS).set_index(["run", "parameter"])
    assert rows.loc[("seed0", "a"), ["q05", "median", "q95"]].tolist() == pytest.approx([4.1, 5.0, 5.9])
    assert rows.loc[("seed1", "b"), "median"] == pytest.approx(10 * math.exp(0.2))  # not its logarithm
    assert rows.loc[("seed2", "b"), "q95"] == pytest.approx(10 * math.exp(0.4 + 1.98))


def test_correlations_on_the_priors_scales():
    runs = posteriors()
    for particles in runs.values():
        particles["d"] = 3 - 0.1 * particles["a"]  # a linear trade-off: r = -1
        particles["e"] = np.exp(particles["a"] / 10)  # exp of a: r = 1 on its log scale
    priors = PRIORS | {
        "d": Uncertainty(Dist.uniform, 0.0, 3.0, "assumption: test"),
        "e": Uncertainty(Dist.loguniform, 1.0, 3.0, "assumption: test"),
    }
    r = convergence.correlations(runs, priors)
    assert r.loc["a", "d"] == pytest.approx(-1.0) and r.loc["a", "e"] == pytest.approx(1.0)
    assert abs(r.loc["a", "c"]) < 0.3  # shuffled within runs; pooled, only the runs' medians co-vary
    assert np.diag(r.to_numpy()) == pytest.approx(1.0)
    assert r.to_numpy() == pytest.approx(r.to_numpy().T)


def write_runs(folder: Path, seeds=(1, 2, 3), **config_changes) -> list[Path]:
    """Calibration results directories of the synthetic posteriors, as ``scamsim calibrate`` writes them."""
    priors = {
        k: {"dist": p.dist.value, "low": p.low, "high": p.high, "source": p.source} for k, p in PRIORS.items()
    }
    paths = []
    for (name, particles), seed in zip(posteriors().items(), seeds, strict=False):
        path = folder / name
        path.mkdir()
        particles.to_parquet(path / "posterior.parquet", index=False)
        calibration = {"min_epsilon": 0.5, "max_minutes": 60.0}
        config = {"seed": seed, "name": name, "scale": 0.1, "calibration": calibration}
        config |= config_changes if name == "seed2" else {}
        stop = {"reason": "converged", "converged": True, "message": "converged after 9 generations"}
        if name == "seed2":
            stop = {"reason": "budget", "converged": False, "message": "not converged: " + "budget " * 20}
        metadata = {"written_by": "scamsim", "config": config, "priors": priors, "stop": stop}
        (path / "metadata.json").write_text(json.dumps(metadata))
        paths.append(path)
    return paths


def test_load_reads_the_runs_and_their_priors(tmp_path):
    runs = convergence.load(write_runs(tmp_path))
    assert list(runs.posteriors) == ["seed0", "seed1", "seed2"]
    assert runs.priors == PRIORS


def test_runs_continued_with_another_budget_are_still_repeats(tmp_path):
    """The budget changes no generation, nor does early rejection: a run continued with a longer budget,
    or run with early rejection, compares with the others (seed 1 ran without it, seeds 2 and 3 with)."""
    changes = {
        "calibration": {"min_epsilon": 0.5, "max_minutes": 130.0, "early_rejection": False},
        "n_jobs": 4,
    }
    assert list(convergence.load(write_runs(tmp_path, **changes)).posteriors) == ["seed0", "seed1", "seed2"]


@pytest.mark.parametrize(
    ("seeds", "changes", "message"),
    [
        ((1,), {}, r"runs=.*seed0: 1 calibration\(s\); need at least 2"),
        ((1, 2, 1), {}, r"runs: .*seed0 and .*seed2 have the same seed=1; need different seeds"),
        ((1, 2, 3), {"scale": 0.2}, r"runs: .*seed2 differs from .*seed0 in scale, not only in its seed"),
        (  # the stop rule decides the last generation: compared
            (1, 2, 3),
            {"calibration": {"min_epsilon": 1.0, "max_minutes": 60.0}},
            r"runs: .*seed2 differs from .*seed0 in calibration.min_epsilon, not only in its seed",
        ),
    ],
)
def test_load_refuses_runs_that_are_not_independent_repeats(tmp_path, seeds, changes, message):
    with pytest.raises(ConfigError, match=message):
        convergence.load(write_runs(tmp_path, seeds, **changes))


def convergence_command(*args: str) -> subprocess.CompletedProcess:
    """``scamsim convergence ARGS`` in a fresh process, its output captured."""
    scamsim = str(Path(sys.executable).parent / "scamsim")
    return subprocess.run([scamsim, "convergence", *args], capture_output=True, text=True, timeout=300)


def test_convergence_command_writes_tables_and_the_pair_plot(tmp_path):
    paths = write_runs(tmp_path)
    out = tmp_path / "agreement"
    proc = convergence_command(f"runs={','.join(map(str, paths))}", f"out={out}")
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = proc.stdout.splitlines()
    assert lines[-1] == f"results written to {out}"
    # The run that did not converge is named after the table, wrapped; the converged ones are not.
    assert lines[-3].startswith("seed2: not converged: budget") and lines[-2].startswith("  budget")
    assert not any(line.startswith(("seed0:", "seed1:")) for line in lines)
    assert all(len(line) <= 100 for line in lines[:-1])  # the table and its legend; not tmp_path
    rows = {line.split()[0]: line for line in lines if line.split() and line.split()[0] in PRIORS}
    assert rows["a"].split()[-4:] == ["8%", "yes", "18%", "yes"]
    assert rows["b"].split()[-9:] == ["10%", "no", "86%", "no:", "not", "identified", "by", "the", "targets"]
    agreement = pd.read_csv(out / "agreement.csv")
    assert agreement["identified"].tolist() == [True, False, True]
    assert pd.read_csv(out / "correlations.csv", index_col=0).shape == (3, 3)
    assert len(pd.read_csv(out / "runs.csv")) == 9
    assert (out / "figures" / "pairs.png").stat().st_size > 10_000
    assert json.loads((out / "metadata.json").read_text())["stops"]["seed2"]["converged"] is False
    assert json.loads((out / "metadata.json").read_text())["seeds"]["runs"] == {
        "seed0": 1,
        "seed1": 2,
        "seed2": 3,
    }

    assert json.loads((out / "metadata.json").read_text())["check"] is True
    assert not any("not the convergence check" in line for line in lines)
    # Two runs are compared, and said to be a comparison, not the check.
    two = convergence_command(f"runs={paths[0]},{paths[1]}", f"out={tmp_path / 'two'}")
    assert two.returncode == 0, two.stderr[-2000:]
    assert "2 calibrations: a comparison, not the convergence check, which asks for 3" in two.stdout
    assert json.loads((tmp_path / "two" / "metadata.json").read_text())["check"] is False
    assert len(pd.read_csv(tmp_path / "two" / "runs.csv")) == 6
    too_few = convergence_command(f"runs={paths[0]}")
    assert too_few.returncode == 2 and "Traceback" not in too_few.stderr
    assert too_few.stderr.strip().count("\n") == 0 and "need at least 2" in too_few.stderr


def test_drift_follows_medians_and_widths_from_one_generation_to_the_next():
    def generation(median: float, half: float) -> pd.DataFrame:
        return pd.DataFrame({"a": median + 2 * half * (U - 0.5), "weight": np.full(N, 1 / N)})

    # Generation 2 halves the width around the same median; generation 3 moves the median by 0.09,
    # a tenth of the mean 90% width (0.9 and 0.9), and keeps the width.
    gens = [generation(5.0, 1.0), generation(5.0, 0.5), generation(5.09, 0.5)]
    rows = convergence.drift(gens, {"a": PRIORS["a"]}).set_index("generation")
    assert rows.index.tolist() == [2, 3] and set(rows["parameter"]) == {"a"}
    assert rows.loc[2, "width_ratio"] == pytest.approx(0.5) and rows.loc[2, "median_shift"] == 0
    assert rows.loc[3, "width_ratio"] == pytest.approx(1.0)
    assert rows.loc[3, "median_shift"] == pytest.approx(0.09 / 0.9)
    # On the prior's scale: a log-uniform parameter whose values all double has moved by ln 2.
    gens_b = [pd.DataFrame({"b": np.exp(g["a"]), "weight": g["weight"]}) for g in gens[:2]]
    doubled = gens_b[0].assign(b=2 * gens_b[0]["b"])
    row = convergence.drift([gens_b[0], doubled], {"b": PRIORS["b"]}).iloc[0]
    assert row["median_shift"] == pytest.approx(math.log(2) / 1.8) and row["width_ratio"] == pytest.approx(1)


def test_the_command_follows_a_calibration_over_the_generations_of_its_history(tmp_path):
    """A real pyabc History (a toy model, 3 generations) beside a results directory, as calibrate keeps it."""
    import pyabc

    from sim.analysis.calibration import generations

    results = write_runs(tmp_path)[0]
    history = tmp_path / f".{results.name}.history"
    history.mkdir()
    rng = np.random.default_rng(1)
    np.random.seed(1)  # noqa: NPY002  pyabc proposes from numpy's legacy global generator
    abc = pyabc.ABCSMC(
        lambda p: {"y": p["a"] + rng.normal(0, 0.5)},
        pyabc.Distribution(
            a=pyabc.RV("uniform", 0, 10), b=pyabc.RV("uniform", 1, 99), c=pyabc.RV("uniform", 0, 1)
        ),
        lambda x, y: abs(x["y"] - y["y"]),
        population_size=40,
        sampler=pyabc.sampler.SingleCoreSampler(),
    )
    abc.new(f"sqlite:///{history / 'abc-0123.db'}", {"y": 4.0})
    abc.run(max_nr_populations=3)
    assert [len(g) for g in generations(history / "abc-0123.db")] == [40, 40, 40]

    out = tmp_path / "drift"
    proc = convergence_command(f"history={results}", f"out={out}")
    assert proc.returncode == 0, proc.stderr[-2000:]
    drift = pd.read_csv(out / "drift.csv")
    assert drift["generation"].tolist() == [2, 2, 2, 3, 3, 3] and set(drift["run"]) == {results.name}
    # Only a depends on the data: over the two steps its 90% width narrows (epsilon falls from about
    # 2.4 to 0.6, with noise sd 0.5: to well under 0.8 of the first generation's width). One step alone
    # may widen by chance with 40 particles, so only the product is checked.
    assert drift.loc[drift["parameter"] == "a", "width_ratio"].prod() < 0.8
    lines = proc.stdout.splitlines()
    assert lines[-1] == f"results written to {out}" and all(len(line) <= 100 for line in lines[:-1])
    assert "generation 2" in proc.stdout and "generation 3" in proc.stdout

    (history / "abc-4567.db").write_text("not a database")  # a second History: which one is meant?
    for target, message in ((results, "found abc-0123.db, abc-4567.db"), (tmp_path / "seed1", "found none")):
        bad = convergence_command(f"history={target}", f"out={tmp_path / 'x'}")
        assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and message in bad.stderr, bad.stderr
    with pytest.raises(ConfigError, match="not a calibration history"):
        generations(history / "abc-4567.db")


def test_pair_plot_labels_axes_with_units_and_its_footer_names_every_calibration():
    from sim.report.calibration_figures import pairs

    priors = {
        "police.raid_capacity": Uncertainty(Dist.loguniform, 3.0, 200.0),
        "police.corruption": Uncertainty(Dist.uniform, 0.2, 0.95),
    }
    rng = np.random.default_rng(0)
    # Weights that do not sum to 1: the diagonal's bars are still shares of each run's weight.
    runs = {
        name: pd.DataFrame(
            {"police.raid_capacity": rng.uniform(10, 40, 50), "police.corruption": rng.uniform(0.2, 0.9, 50)}
        ).assign(weight=3.0)
        for name in ("seed1", "seed2")
    }
    metadata = {"seeds": {"base_seed": "1, 2", "n_seeds": 2, "summary": "seeds 1, 2, one calibration each"}}
    fig = pairs(runs, priors, metadata)
    axes = np.array(fig.axes).reshape(2, 2)
    assert axes[1, 0].get_xlabel() == "police.raid_capacity\n[raids/year]"
    assert axes[1, 0].get_ylabel() == "police.corruption\n[probability]"
    assert axes[1, 1].get_ylabel() == "weight share"
    assert axes[0, 0].get_ylabel() == "police.raid_capacity\n[raids/year]\nweight share"
    heights = [sum(bar.get_height() for bar in container) for container in axes[1, 1].containers]
    assert heights == pytest.approx([1.0, 1.0])
    footer = " ".join(t.get_text() for t in fig.texts)
    assert "seeds 1, 2, one calibration each" in footer and "replicates" not in footer
