"""Sweeps: chunks per Hydra job, collect, resume after a kill, failures recorded, serial == parallel."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

import sim
from sim.runs.collect import collect
from sim.runs.metrics import METRICS
from sim.runs.sweep import cell_runs, chunk_key, expand

SCAMSIM = [str(Path(sys.executable).parent / "scamsim")]
# Without a posterior: each cell runs the grid point at the hand-tuned parameters.
TINY = ["scale=0.05", "time.end=2021-06-30", "n_seeds=2", "posterior=null"]
GRID = ["police.raid_capacity=0.1,1.0", "police.corruption=0.2,0.8"]


def scamsim(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*SCAMSIM, *args], capture_output=True, text=True, timeout=300)


def sweep(sweep_dir: Path, *extra: str, grid: list[str] = GRID) -> subprocess.CompletedProcess:
    proc = scamsim("run", "-m", *grid, *TINY, *extra, f"hydra.sweep.dir={sweep_dir}")
    assert proc.returncode == 0, proc.stderr
    return proc


@pytest.fixture(scope="module")
def parallel(tmp_path_factory):
    """The grid run with the default launcher for -m (joblib, 2 jobs at a time)."""
    path = tmp_path_factory.mktemp("parallel")
    return path, sweep(path)


def test_multirun_writes_one_chunk_per_job_and_collect_makes_one_row_per_run(parallel):
    path, proc = parallel
    chunks = sorted(p.name for p in (path / "chunks").iterdir())
    assert len(chunks) == 4
    assert (
        "n_seeds=2,police.corruption=0.2,police.raid_capacity=0.1,posterior=null,scale=0.05,time.end=2021-06-30"
        ".parquet" in chunks
    )
    assert [p.name for p in path.iterdir() if p.is_dir()] == ["chunks"]  # no per-job directories left
    # Progress from the launching process: runs of the chunks written (plain lines: not a terminal).
    progress = [line for line in proc.stderr.splitlines() if line.startswith("sweep: runs: ")]
    assert progress[0] == "sweep: runs: 0/8 (0%), elapsed 0:00:00", proc.stderr
    assert progress[-1].startswith("sweep: runs: 8/8 (100%), elapsed ")
    assert "Step 1 at time" not in proc.stdout + proc.stderr  # Mesa's per-step log stays quiet

    done = scamsim("collect", f"dir={path}")
    assert done.returncode == 0, done.stderr
    assert "warning" not in done.stderr
    runs = pd.read_parquet(path / "runs.parquet")
    assert len(runs) == 8
    swept = ["police.raid_capacity", "police.corruption", "scale", "time.end", "n_seeds", "posterior"]
    assert list(runs.columns[:10]) == [*swept, "seed", "draw", "replicate", "status"]
    assert set(METRICS) <= set(runs.columns)
    assert runs["police.raid_capacity"].tolist() == [0.1] * 4 + [1.0] * 4
    assert runs["police.corruption"].tolist() == [0.2, 0.2, 0.8, 0.8] * 2
    assert (runs["status"] == "ok").all() and (runs["draw"] == 0).all()
    assert runs["replicate"].tolist() == [0, 1] * 4
    assert runs["compounds_active_end"].notna().all()
    assert runs["compounds_in_window"].isna().all()  # the runs end before the Amnesty window


def test_serial_and_parallel_sweeps_give_identical_tables(parallel, tmp_path):
    sweep(tmp_path, "hydra/launcher=basic")
    pd.testing.assert_frame_equal(collect(tmp_path).runs, collect(parallel[0]).runs)


def test_rerun_skips_completed_chunks(parallel):
    path, _ = parallel
    before = {p.name: p.stat().st_mtime_ns for p in (path / "chunks").iterdir()}
    proc = sweep(path, "hydra/launcher=basic")
    assert proc.stderr.count("chunk skipped") == 4
    assert "sweep: 8 runs done before, 0 to run" in proc.stderr  # left out of the progress count
    assert {p.name: p.stat().st_mtime_ns for p in (path / "chunks").iterdir()} == before


def test_killed_sweep_keeps_its_chunks_collects_partially_and_resumes(parallel, tmp_path):
    cmd = [*SCAMSIM, "run", "-m", *GRID, *TINY, "hydra/launcher=basic", f"hydra.sweep.dir={tmp_path}"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    chunks = tmp_path / "chunks"
    try:
        deadline = time.monotonic() + 120
        while not list(chunks.glob("*.parquet")) and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    survivors = {p.name: p.stat().st_mtime_ns for p in chunks.glob("[!.]*.parquet")}
    assert 1 <= len(survivors) < 4
    # A chunk being written when the sweep died is a hidden temporary, which collect never reads.
    (chunks / ".half-written.parquet.123.tmp").write_bytes(b"PAR1 truncated")

    partial = scamsim("collect", f"dir={tmp_path}")
    assert partial.returncode == 0, partial.stderr
    assert f"{4 - len(survivors)} chunk(s) missing" in partial.stderr
    assert len(pd.read_parquet(tmp_path / "runs.parquet")) == 2 * len(survivors)

    resumed = sweep(tmp_path, "hydra/launcher=basic")
    assert resumed.stderr.count("chunk skipped") == len(survivors)
    left = 2 * (4 - len(survivors))
    assert f"sweep: {2 * len(survivors)} runs done before, {left} to run" in resumed.stderr
    assert f"sweep: runs: {left}/{left} (100%)" in resumed.stderr
    assert {
        n: t for n, t in ((p.name, p.stat().st_mtime_ns) for p in chunks.iterdir()) if n in survivors
    } == survivors
    pd.testing.assert_frame_equal(collect(tmp_path).runs, collect(parallel[0]).runs)


def test_failures_are_recorded_and_the_sweep_goes_on(tmp_path):
    # Without a posterior there is no draw 1: those runs raise. Corruption 1.5 is out of range: that
    # whole chunk fails. Neither stops the other runs.
    proc = sweep(tmp_path, "n_draws=2", "hydra/launcher=basic", grid=["police.corruption=0.5,1.5"])
    assert "chunk failed" in proc.stderr
    collected = collect(tmp_path)
    runs = collected.runs
    assert len(runs) == 4
    assert runs.loc[runs["draw"] == 0, "status"].eq("ok").all()
    errors = runs[runs["draw"] == 1]
    assert errors["status"].eq("error").all()
    assert errors["error"].str.startswith("LookupError: posterior draw 1 needs a posterior").all()
    assert errors["am7_remaining_share"].isna().all()
    [(key, error)] = collected.failed.items()
    # hydra.* overrides are not part of the key.
    assert key == chunk_key(["police.corruption=1.5", "n_draws=2", *TINY])
    assert "police.corruption=1.5 is outside the allowed range [0, 1]" in error
    warnings = scamsim("collect", f"dir={tmp_path}").stderr
    assert "police.corruption=1.5 is outside the allowed range [0, 1]" in warnings
    assert "2 run(s) failed" in warnings


def test_expand_matches_hydra_basic_sweeper_cells():
    cells = expand(["police.raid_capacity=0,1", "police.corruption=0.5", "n_seeds=3"])
    assert cells == [
        ["police.raid_capacity=0", "police.corruption=0.5", "n_seeds=3"],
        ["police.raid_capacity=1", "police.corruption=0.5", "n_seeds=3"],
    ]
    assert chunk_key(["b=1", "a=x/y"]) == "a=x%2Fy,b=1"


# A fresh Python that starts the forkserver as a sweep's launching process does, then asks joblib's
# default backend for two workers: which of the job's modules each lacks, its parent and grandparent.
FORKED_WORKERS = """
import json, os, socket
from joblib import Parallel, delayed
from sim.runs.launch import LAUNCHER_ENV, PRELOAD, start_forkserver, _parent_of
def worker(_):
    import sys, threading
    watching = "scamsim-launcher-watch" in [t.name for t in threading.enumerate()]
    return [m for m in PRELOAD if m not in sys.modules], os.getppid(), _parent_of(os.getppid()), watching
os.environ[LAUNCHER_ENV] = f"{socket.gethostname()}:{os.getpid()}"  # as SweepGuard sets it
start_forkserver()
print(json.dumps({"pid": os.getpid(), "workers": Parallel(n_jobs=2)(delayed(worker)(i) for i in range(2))}))
"""


def test_sweep_workers_fork_from_a_forkserver_that_loaded_the_job():
    proc = subprocess.run([sys.executable, "-c", FORKED_WORKERS], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.splitlines()[-1])
    for missing, parent, grandparent, watching in out["workers"]:
        assert missing == []  # imported before the worker started: its start is a fork
        assert parent != out["pid"] and grandparent == out["pid"]  # a child of the forkserver
        assert watching  # from its start, before any job: it exits if the launcher dies


def test_runs_of_a_cell_come_from_its_overrides_or_the_base_configuration():
    base = {"n_draws": 2, "n_seeds": 5}
    assert cell_runs(["police.raid_capacity=1"], base) == 10
    assert cell_runs(["police.raid_capacity=1", "n_seeds=3"], base) == 6
    assert cell_runs(["+n_draws=4", "n_seeds=3"], base) == 12


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["dir=NOTHING"], "dir=NOTHING: NOTHING is not a sweep directory"),
        (["dri=x"], "unknown key 'dri' (did you mean 'dir'?); keys: dir, out"),
        (["results/multirun/x"], "'results/multirun/x' is not key=value; keys: dir, out"),
        ([], "dir= is required"),
    ],
)
def test_collect_bad_arguments_exit_2_with_one_line(tmp_path, args, message):
    proc = scamsim("collect", *[a.replace("NOTHING", str(tmp_path / "nothing")) for a in args])
    assert proc.returncode == 2
    assert proc.stderr.startswith("scamsim collect: error: ") and proc.stderr.count("\n") == 1
    assert message.replace("NOTHING", str(tmp_path / "nothing")) in proc.stderr


def test_phase_and_sweep_take_key_value_arguments_by_the_same_rules():
    proc = scamsim("phase", "swep=results/x")
    assert proc.returncode == 2
    assert proc.stderr == (
        "scamsim phase: error: unknown key 'swep' (did you mean 'sweep'?); keys: sweep, out, overwrite\n"
    )
    proc = scamsim("sweep", "n_workers=0", "police.raid_capacity=0,20")
    assert proc.returncode == 2
    assert proc.stderr == "scamsim sweep: error: n_workers=0 is not a whole number >= 1\n"
    assert "scheduler=ADDRESS" in scamsim("sweep", "--help").stdout


@pytest.mark.slow  # submitit polls its jobs every few seconds: about a minute on a busy 2-core machine
def test_submitit_launcher_config_runs_the_sweep_with_submitits_local_executor(parallel, tmp_path):
    sweep(tmp_path, "hydra/launcher=submitit")
    assert (tmp_path / ".submitit").is_dir()  # job logs, ignored by collect
    pd.testing.assert_frame_equal(collect(tmp_path).runs, collect(parallel[0]).runs)


def test_dask_sweep_on_a_local_cluster_gives_the_same_table(parallel, tmp_path):
    from distributed import LocalCluster

    from sim.runs import dask_sweep

    reports = []
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        overrides = [*GRID, *TINY, f"hydra.sweep.dir={tmp_path}"]
        counts = dask_sweep.run(overrides, cluster.scheduler_address, progress=lambda *r: reports.append(r))
        assert reports == [(2, 8), (4, 8), (6, 8), (8, 8)]  # runs done of the grid's, after each chunk
        reports.clear()
        again = dask_sweep.run(overrides, cluster.scheduler_address, progress=lambda *r: reports.append(r))
        assert again == {"done": 0, "skipped": 4, "failed": 0}
        assert reports[-1] == (0, 0)  # chunks done before are no work of this sweep
    assert counts == {"done": 4, "skipped": 0, "failed": 0}
    done = collect(tmp_path)
    assert not done.missing
    pd.testing.assert_frame_equal(done.runs, collect(parallel[0]).runs)


def test_phase_draws_heatmaps_cuts_and_a_summary(parallel, tmp_path):
    from sim.report import phase

    written = phase.draw(parallel[0], tmp_path)
    names = {p.name for p in written}
    figures = {f"{name}.png" for name in ("am7_share", "workers_held", "target_losses", "cuts")}
    vectors = {name.replace(".png", ".svg") for name in figures}
    assert names == figures | vectors | {"summary.csv", "runs.parquet", "metadata.json"}
    for name in figures:
        assert (tmp_path / name).stat().st_size > 10_000  # a PNG with content
    summary = pd.read_csv(tmp_path / "summary.csv")
    assert len(summary) == 4 and (summary["n_runs"] == 2).all()
    assert (summary["workers_held_end_q05"] <= summary["workers_held_end_median"]).all()

    # The saved sweep reads back as the same runs and redraws the same summary without the chunks.
    saved = sim.load_sweep(tmp_path)
    pd.testing.assert_frame_equal(saved.runs, collect(parallel[0]).runs)
    assert saved.metadata["seeds"]["n_seeds"] == 2
    # No posterior (posterior=null): the star is the hand-tuned point, saved with the runs.
    assert saved.metadata["posterior_name"] is None
    assert saved.metadata["baseline_point"] == {k: list(v) for k, v in phase.baseline_point().items()}
    redrawn = tmp_path / "redrawn"
    phase.draw(tmp_path, redrawn)
    pd.testing.assert_frame_equal(pd.read_csv(redrawn / "summary.csv"), summary)


def test_a_chunk_written_before_a_metric_was_added_stays_readable(tmp_path):
    from sim.runs.sweep import CHUNK_DIR, RUN_COLUMNS, chunk_info, write_chunk

    row = {"police.corruption": 0.5, "seed": 1, "draw": 0, "replicate": 0, "status": "ok", "error": ""}
    newest = list(METRICS)[-1]
    metrics = {name: 1.0 for name in METRICS if name != newest}  # the newest metric did not exist yet
    chunks = tmp_path / CHUNK_DIR
    chunks.mkdir()
    write_chunk(chunks / "police.corruption=0.5.parquet", pd.DataFrame([row | metrics]), {"config_hash": "h"})
    assert chunk_info(chunks / "police.corruption=0.5.parquet") == {"config_hash": "h"}
    runs = collect(tmp_path).runs
    # No chunk has the newest metric: it is absent (readers name it), the others read as written.
    assert len(runs) == 1 and newest not in runs and (runs[list(metrics)] == 1.0).all(axis=None)
    # Beside a newer chunk, the older one's rows read NaN, and collect says so.
    newer = pd.DataFrame([row | metrics | {"police.corruption": 0.6, newest: 2.0}])
    write_chunk(chunks / "police.corruption=0.6.parquet", newer, {"config_hash": "h"})
    both = collect(tmp_path)
    assert both.runs[newest].isna().tolist() == [True, False]
    assert f"1 chunk(s) written before {newest} existed: NaN in their runs" in both.warnings()[0]
    # Without a run column it is no chunk (a foreign or damaged file), whatever its metadata.
    partial = pd.DataFrame([{k: v for k, v in row.items() if k != RUN_COLUMNS[-1]} | metrics])
    write_chunk(tmp_path / "bad.parquet", partial, {"config_hash": "h"})
    assert chunk_info(tmp_path / "bad.parquet") is None


def test_runs_saved_before_the_fitted_am7_share_are_refused_by_name(tmp_path):
    """Runs holding only the retired am7_share, (N+O)/all, are never drawn as the fitted share."""
    from sim.report import phase, robustness
    from sim.runs.collect import Sweep
    from sim.runs.sweep import CHUNK_DIR, write_chunk

    metrics = {"workers_held_end": 1e4, "target_losses": 1e9, "compounds_active_mid2025": 50.0}
    metrics |= {"compounds_opened": 3.0, "entries": 1.0, "am7_share": 0.99}  # no am7_remaining_share
    run = {"variant": "v0", "seed": 1, "draw": 0, "replicate": 0, "status": "ok", "error": ""}
    cells = [{"police.raid_capacity": r, "police.corruption": c} for r in (0.0, 20.0) for c in (0.2, 0.8)]
    old = pd.DataFrame([cell | run | metrics for cell in cells])
    Sweep(old, {"written_by": "scamsim", "config_hash": "old"}).write(tmp_path / "saved")
    chunks = tmp_path / "sweep" / CHUNK_DIR
    chunks.mkdir(parents=True)
    for k, cell in enumerate(cells):  # the same runs as a sweep directory's chunks
        write_chunk(chunks / f"c{k}.parquet", pd.DataFrame([cell | run | metrics]), {"config_hash": "h"})
    assert collect(tmp_path / "sweep").swept == ["police.raid_capacity", "police.corruption", "variant"]
    said = r"no am7_remaining_share: they were saved before it existed and hold am7_share, \(N\+O\) / all"
    for source in ("saved", "sweep"):
        for draw in (phase.draw, robustness.draw):
            with pytest.raises(ValueError, match=said):
                draw(tmp_path / source, tmp_path / "out")
    assert not (tmp_path / "out").exists()
    # Still readable: the cells' summary of what the runs hold (notebook 2 then shows people held).
    summary = phase.cell_summary(old)
    assert "workers_held_end_median" in summary and "am7_remaining_share_median" not in summary
    proc = scamsim("phase", f"sweep={tmp_path / 'saved'}", f"out={tmp_path / 'out'}")
    assert proc.returncode == 2 and len(proc.stderr.splitlines()) == 1, proc.stderr
    assert "hold am7_share, (N+O) / all spells in the window, another statistic" in proc.stderr


def test_the_baseline_point_is_the_posteriors_where_it_covers_the_key(tmp_path):
    from sim.report import phase

    draws = tmp_path / "draws.csv"
    draws.write_text("police.corruption,weight\n0.3,1\n0.5,1\n")
    point, defaults = phase.baseline_point(str(draws)), phase.baseline_point()
    assert point["police.raid_capacity"] == defaults["police.raid_capacity"]  # not in the posterior
    low, median, high = sorted(point["police.corruption"])
    assert median == pytest.approx(0.4) and 0.3 <= low < median < high <= 0.5


def test_a_sweep_names_the_posterior_its_chunks_drew_from(parallel, tmp_path):
    from sim.runs.collect import load_sweep
    from sim.runs.sweep import CHUNK_DIR, chunk_info, write_chunk

    first = next((parallel[0] / CHUNK_DIR).glob("*.parquet"))
    assert chunk_info(first)["posterior"] is None  # the grid ran with posterior=null
    draws = tmp_path / "draws.csv"
    draws.write_text("police.corruption,weight\n0.3,1\n")
    draws.with_suffix(".json").write_text('{"created": "2026-01-01"}')
    chunks = tmp_path / "sweep" / CHUNK_DIR
    chunks.mkdir(parents=True)
    row = {"police.corruption": 0.5, "seed": 1, "draw": 0, "replicate": 0, "status": "ok", "error": ""}
    write_chunk(chunks / "c.parquet", pd.DataFrame([row]), {"config_hash": "h", "posterior": str(draws)})
    metadata = load_sweep(tmp_path / "sweep").metadata
    assert metadata["posterior_name"] == str(draws) and metadata["posterior"] == {"created": "2026-01-01"}


def test_chunks_and_results_made_from_an_earlier_posterior_file_are_not_taken_for_the_new_ones(tmp_path):
    """Re-publishing a posterior under the same name changes every run drawn from it: the configuration
    hash covers the file's content, so a sweep re-runs its chunks and a results folder is not reused."""
    from sim.runs.config import load_config
    from sim.runs.sweep import Chunk

    draws = tmp_path / "draws.csv"
    draws.write_text("police.corruption,weight\n0.3,1\n")
    cell = ["police.raid_capacity=0.1"]

    def chunk_hash() -> str:
        return Chunk(cell, load_config([*cell, f"posterior={draws}"])).config_hash

    first = chunk_hash()
    assert chunk_hash() == first  # same file: the chunk is skipped on a re-run
    draws.write_text("police.corruption,weight\n0.6,1\n")
    assert chunk_hash() != first

    out = tmp_path / "results"
    run = ["run", f"posterior={draws}", *TINY[:2], "n_seeds=1", f"hydra.run.dir={out}"]
    assert scamsim(*run).returncode == 0
    draws.write_text("police.corruption,weight\n0.3,1\n")
    again = scamsim(*run)
    assert again.returncode == 2
    assert "holds results of another configuration" in again.stderr and len(again.stderr.splitlines()) == 1
