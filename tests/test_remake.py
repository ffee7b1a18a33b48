"""``make results``: refuses what its results could not name, plans every committed result, smokes aside."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from sim.report import remake, remake_steps
from sim.runs import provenance

REPO = Path(__file__).resolve().parent.parent


def git(root: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-c", "user.email=t@example.org", "-c", "user.name=t", *args],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    ).stdout


@pytest.fixture
def repo(tmp_path) -> Path:
    """A clean git checkout: code, a results folder and docs pictures."""
    root = tmp_path / "repo"
    for path, text in {"sim/x.py": "x = 1\n", "results/README.md": "r\n", "docs/img/a.png": "png"}.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text)
    git(root, "init", "-q")
    git(root, "add", ".")
    git(root, "commit", "-q", "-m", "start")
    return root


@pytest.fixture
def draws(tmp_path) -> Path:
    """A valid posterior file (two particles of the two policy levers)."""
    path = tmp_path / "draws.csv"
    path.write_text("police.raid_capacity,police.corruption,weight\n18,0.35,1\n22,0.45,1\n")
    return path


def refusal(args: list[str], root: Path, capsys) -> str:
    with pytest.raises(SystemExit) as stop:
        remake.main(args, root=root)
    err = capsys.readouterr().err
    assert stop.value.code == 2 and len(err.splitlines()) == 1 and err.startswith("remake: error: "), err
    return err


def test_a_dirty_tree_is_refused_but_changed_outputs_are_not_changes(repo, draws, capsys):
    (repo / "results" / "README.md").write_text("edited\n")  # outputs: results/ and docs/img/
    (repo / "docs" / "img" / "a.png").write_text("redrawn")
    assert provenance.git_commit(repo)["dirty"] is False
    remake.main(["--posterior", str(draws), "--dry-run"], root=repo)
    assert "(clean)" in capsys.readouterr().out

    (repo / "sim" / "x.py").write_text("x = 2\n")
    assert provenance.git_commit(repo)["dirty"] is True  # results made now would say so
    err = refusal(["--posterior", str(draws), "--dry-run"], repo, capsys)
    assert "uncommitted changes" in err and "sim/x.py" in err and "commit or stash" in err
    # A smoke run is throwaway: it may run uncommitted code (its results say so).
    remake.main(["--posterior", str(draws), "--dry-run", "--smoke"], root=repo)
    assert "with uncommitted changes" in capsys.readouterr().out


def test_a_missing_or_refused_posterior_or_unknown_step_is_refused(repo, draws, tmp_path, capsys):
    old = tmp_path / "old.csv"  # fitted to an earlier model: a parameter that is gone
    old.write_text("police.raid_rate,weight\n0.1,1\n")
    err = refusal(["--dry-run"], repo, capsys)
    assert "posterior= is required" in err
    err = refusal(["--posterior", "nope", "--dry-run"], repo, capsys)
    assert "posterior='nope' not found" in err
    err = refusal(["--posterior", str(old), "--dry-run"], repo, capsys)
    assert f"posterior={old} is refused" in err and "'police.raid_rate' is not a model parameter" in err
    err = refusal(["--posterior", str(draws), "--steps", "phase,briefz", "--dry-run"], repo, capsys)
    assert "'briefz' is not a step; choose from calibration, validate, baseline, phase" in err


def test_a_committed_result_no_step_remakes_is_refused(repo, draws, capsys):
    (repo / "results" / "new" / "figures").mkdir(parents=True)
    (repo / "results" / "new" / "metadata.json").write_text("{}")
    (repo / "results" / "new" / "figures" / "f.png").write_text("png")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "a new committed result")
    err = refusal(["--posterior", str(draws), "--dry-run"], repo, capsys)
    assert "results/new is committed but no step re-makes it" in err


def test_the_plan_covers_every_committed_result_and_every_notebook_input():
    made = {out for step in remake_steps.STEPS for out in (*step.outputs, *step.reads)}
    committed = remake.committed_results(REPO)
    assert {"results/phase", "results/robustness", "results/briefs/crackdown"} <= committed
    assert "results" not in committed  # README.md is no result; every other file is in a result
    assert committed <= made | set(remake_steps.NOT_REMADE)
    inputs = remake.notebook_inputs(REPO)
    assert inputs["results/phase"] == ["02_phase_diagram.ipynb"]
    assert set(inputs) <= made, inputs


def test_a_dry_run_prints_every_command_and_writes_nothing(draws, tmp_path, capsys):
    smoke = tmp_path / "smoke"
    remake.main(["--posterior", str(draws), "--dry-run", "--smoke", str(smoke)], root=REPO)
    out = capsys.readouterr().out
    for step in remake_steps.STEPS:
        assert f". {step.name}: " in out
        for line in step.command_lines(str(draws), smoke=True):
            assert " ".join(line) in out.replace("'", "")
        for path in (*step.outputs, *(dst for _, dst in step.copies)):
            assert path in out
    assert not smoke.exists()
    # A smoke override replaces the real command's value of the same key (a key given twice is an error).
    [sweep, _] = next(s for s in remake_steps.STEPS if s.name == "robustness").command_lines("p", smoke=True)
    assert [a for a in sweep if a.startswith("police.raid_capacity=")] == ["police.raid_capacity=0,20"]


def test_a_result_that_does_not_name_the_commit_and_posterior_is_never_moved_over_another(draws, tmp_path):
    job = remake.Remake(REPO, str(draws), "baseline", smoke=str(tmp_path / "smoke"))
    mine = tmp_path / "smoke" / "results" / "x"  # not written by scamsim: never replaced
    mine.mkdir(parents=True)
    (mine / "notes.txt").write_text("mine")

    def step(commit: str, name: str) -> remake_steps.Step:
        """A step whose one command writes results/x naming ``commit`` and posterior ``name``."""
        metadata = {"written_by": "scamsim", "git": {"commit": commit, "dirty": job.dirty}}
        metadata["config"] = {"posterior": name}
        text = json.dumps(metadata).replace("{", "{{").replace("}", "}}")  # command lines are formatted
        write = "import pathlib, sys; p = pathlib.Path('results/x'); p.mkdir(parents=True); "
        write += "(p / 'metadata.json').write_text(sys.argv[1])"
        return remake_steps.Step(
            "x", "a test", 0, commands=(("python", "-c", write, text),), smoke=((),), outputs=("results/x",)
        )

    with pytest.raises(remake.StepFailed, match="names commit 0000"):
        job.run_step(step("0" * 40, str(draws)))
    with pytest.raises(remake.StepFailed, match="records posterior 'other'"):
        job.run_step(step(job.commit, "other"))
    with pytest.raises(remake.StepFailed, match="was not written by scamsim"):
        job.run_step(step(job.commit, str(draws)))
    assert (mine / "notes.txt").read_text() == "mine"  # untouched
    assert (job.staging / "x" / "results" / "x" / "metadata.json").exists()  # kept for the next attempt
    (mine / "notes.txt").unlink()
    mine.rmdir()
    job.run_step(step(job.commit, str(draws)))
    assert json.loads((mine / "metadata.json").read_text())["config"]["posterior"] == str(draws)
    assert not job.staging.exists()


def test_a_smoke_step_writes_only_in_its_folder_and_names_commit_and_posterior(draws, tmp_path):
    def snapshot() -> set[tuple[str, int]]:
        return {
            (str(p), p.stat().st_mtime_ns) for d in ("results", "docs/img") for p in (REPO / d).rglob("*")
        }

    before = snapshot()
    smoke = tmp_path / "smoke"
    remake.main(["--posterior", str(draws), "--smoke", str(smoke), "--steps", "baseline"], root=REPO)
    assert snapshot() == before  # nothing in the repository's results or pictures
    metadata = json.loads((smoke / "results" / "baseline" / "metadata.json").read_text())
    assert metadata["git"]["commit"] == git(REPO, "rev-parse", "HEAD").strip()
    assert metadata["config"]["posterior"] == str(draws) and metadata["config"]["scale"] == 0.02
    assert (smoke / "docs" / "img" / "workers_held.png").read_bytes() == (
        smoke / "results" / "baseline" / "figures" / "workers_held.png"
    ).read_bytes()
    manifest = json.loads((smoke / "results" / "MANIFEST.json").read_text())["steps"]["baseline"]
    assert manifest["commands"] == [f"scamsim run posterior={draws} scale=0.02 n_seeds=2"]
    assert manifest["posterior"]["name"] == str(draws) and manifest["seconds"] > 0
    assert (
        "| `results/baseline` (not committed) | baseline |" in (smoke / "results" / "MANIFEST.md").read_text()
    )
    assert not (smoke / "results" / ".remake").exists()  # the staging folder went with the step
