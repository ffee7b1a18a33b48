"""The command line, run for real in subprocesses."""

from __future__ import annotations

import errno
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import sim

SCAMSIM = [str(Path(sys.executable).parent / "scamsim")]
SMALL = ["n_seeds=2", "n_jobs=2", "scale=0.05", "time.end=2025-12-31"]


def scamsim(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*SCAMSIM, *args], capture_output=True, text=True, cwd=cwd, timeout=300)


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    base = tmp_path_factory.mktemp("cli")
    out = []
    for name in ("a", "b"):
        proc = scamsim("run", *SMALL, f"name={name}", f"hydra.run.dir={base / name}")
        assert proc.returncode == 0, proc.stderr
        out.append((base / name, proc))
    return out


def test_run_writes_tables_summary_metadata_and_figures(two_runs):
    path, proc = two_runs[0]
    for name in ("timeseries", "raids", "compounds", "spells", "metrics"):
        assert (path / f"{name}.parquet").stat().st_size > 0
    for fig in ("compounds_active", "workers_held", "exits_by_route"):
        assert (path / "figures" / f"{fig}.png").stat().st_size > 10_000
        assert (path / "figures" / f"{fig}.svg").read_text().lstrip().startswith("<?xml")  # vector copy
    metadata = json.loads((path / "metadata.json").read_text())
    assert metadata["config"]["scale"] == 0.05
    assert metadata["seeds"]["n_seeds"] == 2
    assert metadata["versions"]["mesa"].startswith("3.5")
    summary = json.loads((path / "summary.json").read_text())
    assert {row["id"] for row in summary["published_comparison"]} >= {"AM1", "AM7", "SC1", "AM13"}
    for figure_id in ("AM1", "AM7", "AM10", "SC1", "AM13"):
        assert figure_id in proc.stdout
    assert "AM7 categories" in proc.stdout and "never" in proc.stdout and "shut" in proc.stdout
    for category in ("am7_never", "am7_operating", "am7_gone", "am7_shut"):
        assert category in summary["metrics"]
    assert pd.read_parquet(path / "metrics.parquet")["replicate"].tolist() == [0, 1]
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".")]  # no temp dirs left


def test_same_config_and_seed_give_identical_files(two_runs):
    (a, _), (b, _) = two_runs
    for name in ("timeseries", "raids", "compounds", "metrics"):
        assert (a / f"{name}.parquet").read_bytes() == (b / f"{name}.parquet").read_bytes(), name
    assert (a / "summary.json").read_bytes() == (b / "summary.json").read_bytes()
    meta_a, meta_b = (json.loads((p / "metadata.json").read_text()) for p in (a, b))
    for meta in (meta_a, meta_b):
        meta.pop("created")
        meta.pop("argv")  # the command lines differ in name=
        meta["config"].pop("name")
    assert meta_a == meta_b


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["police.corruption=1.5"], "police.corruption=1.5 is outside the allowed range [0, 1]"),
        (["police.bogus=1"], "unknown config key 'police.bogus'"),
        (["police.raid_capacity=[1"], "error"),
        (["n_seeds=0"], "n_seeds=0 is outside the allowed range"),
        (
            ["police.raid_capacit=1"],
            "unknown config key 'police.raid_capacit' (did you mean 'police.raid_capacity'?)",
        ),
        (
            ["jurisdictions=mekongg"],
            "jurisdictions=mekongg is not an option of 'jurisdictions' (did you mean 'mekong'?); "
            "choose from cambodia, mekong",
        ),
        (["scenario=[1,2]"], "scenario=[1, 2] is not an option of 'scenario'; choose from anti_corruption"),
        (["targets.groom_rate=1e6"], "targets.groom_rate=1e+06: 2 run(s) at once"),
    ],
)
def test_bad_config_exits_2_with_one_line_and_no_traceback(tmp_path, args, needle):
    proc = scamsim("run", *args, f"hydra.run.dir={tmp_path / 'out'}")
    assert proc.returncode == 2
    assert needle in proc.stderr
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()  # nothing half-written


def test_cfg_job_prints_the_composed_config_without_running(tmp_path):
    proc = scamsim("run", "--cfg", "job", "police.raid_capacity=1.25", cwd=tmp_path)
    assert proc.returncode == 0
    assert "raid_capacity: 1.25" in proc.stdout
    assert not (tmp_path / "results").exists()


def test_two_run_modes_give_one_line_not_a_traceback(tmp_path):
    proc = scamsim("run", "-m", "police.raid_capacity=1,2", "--cfg", "hydra", cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.strip() == (
        "scamsim run: error: --cfg and --multirun cannot be combined; "
        "use one of them (e.g. --cfg job without -m)"
    )
    assert not (tmp_path / "results").exists()


def test_help_and_unknown_command():
    proc = scamsim("run", "--help")
    assert proc.returncode == 0 and "scamsim run" in proc.stdout
    proc = scamsim("frobnicate")
    assert proc.returncode == 2 and "unknown command" in proc.stderr
    proc = scamsim("colect")
    assert proc.returncode == 2
    assert proc.stderr.startswith("scamsim: error: unknown command 'colect' (did you mean 'collect'?)")
    proc = scamsim()
    assert proc.returncode == 2 and "usage: scamsim COMMAND" in proc.stdout
    proc = scamsim("--help")
    assert proc.returncode == 0 and "key=value" in proc.stdout


def test_public_api_and_command_line_give_identical_metrics(tmp_path):
    # Both run the default posterior's draws with the overridden keys fixed.
    overrides = ["scale=0.03", "time.end=2021-06-30", "n_seeds=2", "police.corruption=0.5"]
    proc = scamsim("run", *overrides, f"hydra.run.dir={tmp_path}")
    assert proc.returncode == 0, proc.stderr
    results = sim.run(overrides=overrides)
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "metrics.parquet"), results.metrics)
    written = json.loads((tmp_path / "metadata.json").read_text())
    assert written["config"] == results.metadata["config"]
    assert written["config"]["fixed"] == ["n_seeds", "police.corruption", "scale", "time.end"]
    assert written["config"]["posterior"] == "calibrated"
    assert written["posterior"] == results.metadata["posterior"] and written["posterior"]["config_hash"]


def test_a_full_disk_is_one_line_exit_2_and_leaves_the_previous_results(tmp_path, monkeypatch, capsys):
    from sim.cli import main

    out = tmp_path / "results" / "full"
    out.mkdir(parents=True)
    previous = '{"written_by": "scamsim", "config_hash": "previous"}\n'  # ours, of another configuration
    (out / "metadata.json").write_text(previous)

    def no_space(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(tmp_path / "results" / "x.parquet"))

    monkeypatch.setattr(pd.DataFrame, "to_parquet", no_space)
    with pytest.raises(SystemExit) as exit_:
        args = ["n_seeds=1", "n_jobs=1", "scale=0.01", "time.end=2020-03-31", "overwrite=true"]
        main(["run", *args, f"hydra.run.dir={out}"])
    assert exit_.value.code == 2
    # Progress comes as plain lines here (stderr is not a terminal); the error is one line after them.
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("scamsim run: error: ") and "Traceback" not in "\n".join(err), err
    assert all(line.startswith("baseline: replicates: ") for line in err[:-1]), err
    assert err[-1].endswith("x.parquet: No space left on device")
    assert sorted(p.name for p in out.parent.iterdir()) == ["full"]  # no temporary left behind
    assert [p.name for p in out.iterdir()] == ["metadata.json"]
    assert (out / "metadata.json").read_text() == previous


def test_long_work_writes_progress_lines_to_a_log_file(tmp_path):
    # As under SLURM or nohup: stderr is a file, not a terminal, so progress comes as plain lines.
    log = tmp_path / "stderr.log"
    fitted = tmp_path / "fitted.csv"
    pd.DataFrame({"police.raid_capacity": [15.0, 25.0], "weight": 1.0}).to_csv(fitted, index=False)
    with log.open("w") as err:
        done = subprocess.run(
            [
                *SCAMSIM,
                "validate",
                "calibration=quick",
                f"posterior={fitted}",
                "calibration.predictive_draws=3",
                "calibration.n_procs=1",
                f"hydra.run.dir={tmp_path / 'out'}",
            ],
            stdout=subprocess.DEVNULL,
            stderr=err,
            env={**os.environ, "SCAMSIM_PROGRESS_SECONDS": "0"},
            timeout=300,
        )
    assert done.returncode == 0, log.read_text()
    lines = log.read_text().splitlines()
    assert [line.split(", elapsed")[0] for line in lines] == [
        f"validate: posterior predictive draws: {n}/3 ({n / 3:.0%})" for n in (1, 2, 3)
    ], lines
    assert "left" in lines[0] and "\x1b[" not in log.read_text()  # an estimate; no terminal codes


def test_progress_in_a_log_gives_the_first_report_then_at_most_one_a_period_and_the_last(monkeypatch, capsys):
    from sim.cli.common import PROGRESS_SECONDS_ENV, progress_bar

    monkeypatch.setenv(PROGRESS_SECONDS_ENV, "3600")
    with progress_bar("calibrate: generation 1/6") as report:
        for done in range(1, 6):
            report(done, 5, f"accepted, {done * 1_000:,} simulations")
    with progress_bar("sweep: runs") as report:
        report(0, 0)  # nothing left to run
    lines = capsys.readouterr().err.splitlines()
    assert [line.split(", elapsed")[0] for line in lines] == [
        "calibrate: generation 1/6: 1/5 (20%) accepted, 1,000 simulations",  # the first report
        "calibrate: generation 1/6: 5/5 (100%) accepted, 5,000 simulations",  # the last, when the work ends
        "sweep: runs: 0/0",
    ]
    assert lines[0].endswith(" left") and not lines[1].endswith(" left")


def test_progress_estimates_time_left_from_the_work_of_this_sitting_only(monkeypatch, capsys):
    """Particles kept by an earlier sitting count as done, but not as speed: 2 in 60 s, not 10."""
    import sim.cli.common as common

    clock = iter([0.0, 0.0, 60.0])  # the display begins; the first report; the second
    monkeypatch.setattr(common.time, "monotonic", lambda: next(clock))
    monkeypatch.setenv(common.PROGRESS_SECONDS_ENV, "0")
    with common.progress_bar("calibrate: generation 15/30") as report:
        report(8, 500, "accepted", already=8)  # resumed from 8 kept particles
        report(10, 500, "accepted")
    first, second = capsys.readouterr().err.splitlines()
    assert first.startswith("calibrate: generation 15/30: 8/500 (2%) accepted") and "left" not in first
    assert second.endswith(f"about {common.duration(60 / 2 * 490)} left"), second  # 4:05:00, not 0:49:00


def test_results_table_is_readable_in_100_columns(two_runs):
    from rich.console import Console

    from sim.cli.run import comparison_table

    results = sim.load_results(two_runs[0][0])
    console = Console(width=100, record=True, file=io.StringIO())
    console.print(comparison_table(results))
    lines = console.export_text().rstrip("\n").splitlines()
    rows = results.summary["published_comparison"]
    # Title, blank, header, rule, one line per row (no wrapped rows), blank, the AM7 categories line.
    assert len(lines) == 4 + len(rows) + 2, "\n".join(lines)
    assert lines[-1].strip().startswith("AM7 categories (of ")
    assert all(len(line) <= 100 for line in lines)
    text = "\n".join(lines)
    assert "…" not in text and "e+" not in text  # nothing cut, no exponents
    assert "workers held aug2023" in text and "people" in text
    held = next(r for r in rows if r["statistic"] == "workers_held_aug2023")
    assert f"{float(f'{held["published"]:.3g}'):,.0f}" in text  # thousands separators
