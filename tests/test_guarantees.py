"""The guarantees of README "Guarantees": names, interruption, locks, sweeps, distributed runs, no lost work.

Commands run for real, in a temporary working directory (so ``results/`` there is the test's own and the
committed results are never touched). The kill tests are bounded: a few kills in the default suite, more
under ``-m slow`` (``SCAMSIM_KILLS`` sets the number).
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from sim.runs import dirs, results
from sim.runs.collect import collect
from sim.runs.sweep import CHUNK_DIR, chunk_key, prepare

BIN = Path(sys.executable).parent
SCAMSIM = [str(BIN / "scamsim")]
REPO = Path(__file__).resolve().parents[1]
# A run of a few seconds: little compute, so kills land in start-up, work and writing alike.
QUICK = ["n_seeds=2", "n_jobs=2", "scale=0.01", "time.end=2021-06-30", "posterior=null"]
GRID = ["police.raid_capacity=0,1", "police.corruption=0.2,0.8"]
SWEEP = ["n_seeds=1", "scale=0.01", "time.end=2020-12-31", "posterior=null"]


def scamsim(*args: str, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([*SCAMSIM, *args], capture_output=True, text=True, cwd=cwd, timeout=timeout)


def one_line_error(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "error:" in lines[0] and "Traceback" not in proc.stderr, proc.stderr
    return lines[0]


def project_dir(path: Path, version: str, config_hash: str = "old") -> None:
    """A results directory as the project writes it (marked metadata.json), holding ``version``."""
    path.mkdir(parents=True)
    meta = {"written_by": "scamsim", "config_hash": config_hash, "version": version}
    (path / "metadata.json").write_text(json.dumps(meta))


def version(path: Path) -> str:
    return json.loads((path / "metadata.json").read_text()).get("version", "new")


def _interruptible() -> None:
    """In a child about to run a command: Ctrl-C (SIGINT) interrupts it, whatever the tests inherited.

    Tests run in a background job inherit an ignored SIGINT (Python then installs no KeyboardInterrupt
    handler, and the command goes on); a harness may also block it, and a blocked signal stays blocked
    through exec, pending until the command has finished by itself.
    """
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


def hidden(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob(".*"))


def empty_dirs(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_dir() and not any(p.iterdir())]


# ------------------------------------------------------------------------------------------------
# Names and paths
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["", ".", "..", "../..", "../keep", "a/b", "/tmp/x", ".hidden", "a\\b"])
def test_a_run_name_is_a_plain_folder_name(name):
    with pytest.raises(dirs.ConfigError, match="is not allowed: a run name is a plain folder name"):
        dirs.check_name(name)


@pytest.mark.parametrize(
    "args",
    [
        ["run", "name=..", "n_seeds=1"],
        ["run", "name=", "n_seeds=1"],
        ["run", "-m", "police.raid_capacity=0,1", "name=../escape"],
        ["compare", "scenario=raid_surge", "name=../keep"],
        ["brief", "scenario=raid_surge", "name=.."],
        # Slower to start (Dask, pyabc, SALib): the same check, under -m slow.
        pytest.param(["sweep", "police.raid_capacity=0,1", "name=."], marks=pytest.mark.slow),
        pytest.param(["calibrate", "calibration=quick", "name=../x"], marks=pytest.mark.slow),
        pytest.param(["validate", "name=.."], marks=pytest.mark.slow),
        pytest.param(["sensitivity", "name=.."], marks=pytest.mark.slow),
    ],
    ids=lambda a: " ".join(a),
)
def test_every_command_refuses_a_name_that_is_not_plain_and_writes_nothing(args, tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    line = one_line_error(scamsim(*args, cwd=work))
    assert "name=" in line and "plain folder name" in line
    assert not list(tmp_path.rglob("*"))[1:], list(tmp_path.rglob("*"))  # only work/, still empty


def test_results_never_replace_a_foreign_folder_or_the_working_directory(tmp_path, monkeypatch):
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    with pytest.raises(dirs.DirError, match="was not written by scamsim"), results.atomic_dir(foreign):
        pass
    monkeypatch.chdir(foreign)
    project_dir(tmp_path / "ours", "old")
    for target in (foreign, tmp_path):  # the working directory and its parent
        with pytest.raises(dirs.DirError, match="holds the working directory"), results.atomic_dir(target):
            pass
    assert (foreign / "notes.txt").read_text() == "mine"
    with results.atomic_dir(tmp_path / "ours") as tmp:  # ours, and an empty one, may be replaced
        (tmp / "metadata.json").write_text('{"version": "new"}')
    assert version(tmp_path / "ours") == "new"


def test_results_of_another_configuration_need_overwrite(tmp_path):
    project_dir(tmp_path / "r", "old", config_hash="aaa")
    with dirs.claim(tmp_path / "r", "aaa"):  # the same configuration: re-made freely
        pass
    with (
        pytest.raises(dirs.DirError, match=r"another configuration .* add overwrite=true"),
        dirs.claim(tmp_path / "r", "bbb"),
    ):
        pass
    with dirs.claim(tmp_path / "r", "bbb", overwrite=True):
        pass
    assert not hidden(tmp_path)  # lock files go with their lock


# ------------------------------------------------------------------------------------------------
# Interruption
# ------------------------------------------------------------------------------------------------

KILLER = """
import os, signal, sys
from pathlib import Path
from sim.runs import results

path, stage = Path(sys.argv[1]), sys.argv[2]
die = lambda *a, **k: os.kill(os.getpid(), signal.SIGKILL)
if stage == "between-renames":  # no renameat2: the two-rename fallback, killed between the renames
    results.ctypes.CDLL = lambda *a, **k: object()
    real, done = os.replace, []
    def replace(a, b):
        real(a, b)
        done.append(b)
        if len(done) == 1:
            die()
    os.replace = replace
if stage == "after-exchange":
    results.shutil.rmtree = die
with results.atomic_dir(path) as tmp:
    (tmp / "metadata.json").write_text('{"written_by": "scamsim", "version": "new"}')
    if stage == "while-writing":
        die()
"""


FORKER = """
import os, sys, time
from pathlib import Path
from sim.runs import dirs
with dirs.lock(Path(sys.argv[1])):
    if os.fork() == 0:  # a worker, as the replicates' process pool forks them
        time.sleep(60)
        os._exit(0)
    print("locked", flush=True)
    time.sleep(60)
"""


def test_a_killed_commands_lock_is_free_though_its_forked_workers_live_on(tmp_path):
    target = tmp_path / "r"
    with subprocess.Popen(
        [sys.executable, "-c", FORKER, str(target)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    ) as proc:
        try:
            assert proc.stdout.readline().strip() == "locked"
            proc.kill()  # the command only: its forked worker sleeps on
            proc.wait()
            assert session_processes(proc.pid), "the forked worker should still be alive"
            with dirs.lock(target):  # a worker that kept the lock file open would hold the lock
                pass
        finally:
            os.killpg(proc.pid, signal.SIGKILL)
    assert not hidden(tmp_path), hidden(tmp_path)


@pytest.mark.parametrize(
    ("stage", "survivor"),
    [("while-writing", "old"), ("after-exchange", "new"), ("between-renames", "old")],
)
def test_a_kill_at_any_point_of_the_replace_leaves_old_or_new_results(tmp_path, stage, survivor):
    target = tmp_path / "r"
    project_dir(target, "old")
    proc = subprocess.run([sys.executable, "-c", KILLER, str(target), stage], cwd=REPO, capture_output=True)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    if stage != "between-renames":  # renameat2 swaps in one step: the results are always in place
        assert version(target) == survivor
    dirs.clean_debris(tmp_path)  # what the next command does first
    assert version(target) == survivor  # the fallback's .r.old is put back
    assert not hidden(tmp_path), hidden(tmp_path)


def kill_runs(tmp_path: Path, kills: int) -> None:
    """Kill real ``scamsim run`` processes at random moments, checking what is left after each."""
    rng = random.Random(kills)
    work = tmp_path / "work"
    target = work / "results" / "k"
    project_dir(target, "old")
    outcomes = []
    for _ in range(kills):
        proc = subprocess.Popen(
            [*SCAMSIM, "run", *QUICK, "name=k", "overwrite=true"],
            cwd=work,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        time.sleep(rng.uniform(0.2, 10.0))
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        outcomes.append(version(target))  # never missing, never half-written
        assert outcomes[-1] == "old" or (target / "timeseries.parquet").exists()
        assert not empty_dirs(work)
        dirs.clean_debris(target.parent)  # what the next command does first
        assert not hidden(work), hidden(work)


def test_killed_runs_leave_the_previous_results_and_no_debris(tmp_path):
    kill_runs(tmp_path, int(os.environ.get("SCAMSIM_KILLS", 4)))


@pytest.mark.slow
def test_killed_runs_leave_the_previous_results_and_no_debris_many_times(tmp_path):
    kill_runs(tmp_path, 20)


def session_processes(sid: int) -> list[int]:
    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) == sid and fields[0] != "Z":  # session id; zombies are already dead
            pids.append(int(stat.parent.name))
    return pids


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads /proc to find the sweep's processes")
def test_killing_a_sweep_stops_its_workers(tmp_path):
    grid = [
        "police.raid_capacity=0,20,40,60,80,100",
        "n_seeds=2",
        "scale=0.01",
        "time.end=2022-12-31",
        "posterior=null",
    ]
    proc = subprocess.Popen(
        [*SCAMSIM, "run", "-m", *grid, "name=s"],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    chunks = tmp_path / "results" / "multirun" / "s" / CHUNK_DIR
    deadline = time.time() + 240
    while not list(chunks.glob("*.parquet")) and time.time() < deadline:  # the workers run chunks
        time.sleep(0.2)
    assert len(session_processes(proc.pid)) >= 3  # launcher + 2 workers
    os.kill(proc.pid, signal.SIGKILL)  # the launcher only, as `kill PID` of a sweep does
    proc.wait()
    deadline = time.time() + 20
    while session_processes(proc.pid) and time.time() < deadline:
        time.sleep(0.2)
    left = session_processes(proc.pid)
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    assert not left, f"{len(left)} worker process(es) still running after the sweep was killed"
    written = sorted(chunks.iterdir())
    time.sleep(1)
    assert sorted(chunks.iterdir()) == written  # nothing writes chunks any more


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads /proc to find the calibration's processes")
def test_killing_a_calibration_stops_its_simulating_processes(tmp_path):
    """pyabc's forked processes outlive a calibration killed by SIGKILL (nobody terminates them); they
    exit at their next particle instead of simulating a whole generation for nobody and keeping its
    particles where a re-run resumes from."""
    calibrate = [
        *SCAMSIM,
        "calibrate",
        "calibration=quick",
        "calibration.population_size=2000",  # a first sample of minutes, which the kill interrupts
        "calibration.min_ess=8",
        "calibration.n_procs=2",
        'calibration.model_overrides=["scale=0.02","time.end=2021-12-31"]',
        "name=k",
    ]
    proc = subprocess.Popen(
        calibrate, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    kept = tmp_path / "results" / "calibration" / ".k.history"
    try:
        deadline = time.time() + 240
        while not list(kept.rglob("*.pkl")) and time.time() < deadline:  # particles are being kept
            time.sleep(0.2)
        assert list(kept.rglob("*.pkl")), "no particle kept within 4 minutes"
        assert len(session_processes(proc.pid)) >= 3  # the calibration and its 2 simulating processes
        os.kill(proc.pid, signal.SIGKILL)  # the calibration only, as the kernel's OOM killer would
        proc.wait()
        deadline = time.time() + 20  # each exits after the particle it is simulating (well under a second)
        while session_processes(proc.pid) and time.time() < deadline:
            time.sleep(0.2)
        left = session_processes(proc.pid)
    finally:
        with contextlib.suppress(ProcessLookupError):  # none left: the expected case
            os.killpg(proc.pid, signal.SIGKILL)
    assert not left, f"{len(left)} simulating process(es) still running after the calibration was killed"


# ------------------------------------------------------------------------------------------------
# Concurrency
# ------------------------------------------------------------------------------------------------


def test_a_second_command_writing_the_same_results_fails_at_once(tmp_path):
    # 100,000 runs (a day; the test interrupts them): the first command must still be running when the
    # second one has started, failed and the test interrupts the first, however fast the machine (with
    # 64 runs, CI once found the first command's results written: finished first, or SIGINT held back).
    slow = ["n_seeds=100000", "n_jobs=1", "scale=0.05", "time.end=2026-12-31", "posterior=null", "name=same"]
    with (tmp_path / "first.err").open("w") as err:  # a file, not a pipe: it never fills and blocks
        first = subprocess.Popen(
            [*SCAMSIM, "run", *slow],
            cwd=tmp_path,
            stdout=subprocess.DEVNULL,
            stderr=err,
            preexec_fn=_interruptible,
        )
    lock_file = tmp_path / "results" / ".same.lock"
    deadline = time.time() + 120
    while not (lock_file.exists() and lock_file.read_text()) and time.time() < deadline:
        time.sleep(0.1)
    try:
        second = scamsim("run", *slow, cwd=tmp_path)
        assert first.poll() is None, "the first command finished before the second started"
        line = one_line_error(second)
        assert f"results/same is being written by another command (pid {first.pid}: scamsim run" in line
    finally:
        first.send_signal(signal.SIGINT)
        try:
            first.wait(timeout=60)
        except subprocess.TimeoutExpired:
            first.kill()  # not left running into the next test
            first.wait()
            raise
    assert first.returncode == 130, f"the first command ended with {first.returncode}, not by Ctrl-C"
    last = (tmp_path / "first.err").read_text().strip().splitlines()[-1]
    assert last.startswith("scamsim run: interrupted; nothing half-written is left"), last
    assert not (tmp_path / "results" / "same").exists()  # interrupted: nothing half-written
    assert not hidden(tmp_path), hidden(tmp_path)


# ------------------------------------------------------------------------------------------------
# Sweeps: grids, corrupt chunks
# ------------------------------------------------------------------------------------------------


def test_chunks_of_another_grid_are_refused_or_set_aside(tmp_path):
    chunks = tmp_path / CHUNK_DIR
    chunks.mkdir()
    old = chunks / f"{chunk_key(['police.raid_capacity=5'])}.parquet"
    old.write_bytes(b"a chunk of an earlier sweep")
    (chunks / f".{old.name}{dirs.TMP_INFIX}123").write_bytes(b"a killed worker's")
    cells = [["police.raid_capacity=0"], ["police.raid_capacity=1"]]
    with pytest.raises(dirs.DirError, match=r"1 chunk\(s\) of another grid .* overwrite=true"):
        prepare(tmp_path, cells, overwrite=False)
    assert old.exists() and not hidden(tmp_path)  # the temporary is gone, the chunk kept
    prepare(tmp_path, cells, overwrite=True)
    assert not old.exists()
    assert [p.name for p in (tmp_path / "set-aside").glob("*/*")] == [old.name]  # moved, not deleted


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> Path:
    """A working directory holding a finished 2 x 2 sweep, results/multirun/g (tests copy it)."""
    work = tmp_path_factory.mktemp("sweep")
    proc = scamsim("run", "-m", *GRID, *SWEEP, "name=g", cwd=work)
    assert proc.returncode == 0, proc.stderr
    return work


@pytest.mark.slow  # three real sweeps: about a minute on a busy 2-core machine
def test_a_sweep_rerun_with_another_grid_is_refused_and_collect_ignores_stale_chunks(finished, tmp_path):
    shutil.copytree(finished, tmp_path, dirs_exist_ok=True)
    sweep_dir = tmp_path / "results" / "multirun" / "g"
    line = one_line_error(scamsim("run", "-m", "police.raid_capacity=0,5", *SWEEP, "name=g", cwd=tmp_path))
    assert "chunk(s) of another grid" in line
    assert len(collect(sweep_dir).runs) == 4

    # A stale chunk (an earlier grid's, copied in by hand) is not read; a corrupt one is reported.
    files = sorted((sweep_dir / CHUNK_DIR).glob("*.parquet"))
    shutil.copy(files[0], sweep_dir / CHUNK_DIR / "police.raid_capacity=9.parquet")
    files[1].write_bytes(files[1].read_bytes()[:100])  # truncated
    done = collect(sweep_dir)
    assert len(done.runs) == 3 and len(done.missing) == 1
    assert any("not in this sweep's grid ignored" in w for w in done.warnings())
    assert any("unreadable" in w for w in done.warnings())

    # Resuming sets the corrupt chunk aside (renamed, kept) and runs it again.
    (sweep_dir / CHUNK_DIR / "police.raid_capacity=9.parquet").unlink()
    assert scamsim("run", "-m", *GRID, *SWEEP, "name=g", cwd=tmp_path).returncode == 0
    assert len(list((sweep_dir / CHUNK_DIR).glob(f"{files[1].name}.corrupt-*"))) == 1
    done = collect(sweep_dir)
    assert len(done.runs) == 4 and not done.warnings()


# ------------------------------------------------------------------------------------------------
# Distributed runs
# ------------------------------------------------------------------------------------------------


@pytest.mark.slow  # a scheduler and a worker start in 20-60 s on a busy machine
def test_a_dask_cluster_with_its_own_working_directory_writes_where_collect_reads(tmp_path):
    client_dir, worker_dir = tmp_path / "client", tmp_path / "worker"
    client_dir.mkdir()
    worker_dir.mkdir()
    scheduler_file = tmp_path / "scheduler.json"
    dask = str(BIN / "dask")
    started = [
        subprocess.Popen(
            [dask, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
             "--scheduler-file", str(scheduler_file)],
            cwd=worker_dir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        ),
        subprocess.Popen(
            [dask, "worker", "--scheduler-file", str(scheduler_file), "--host", "127.0.0.1",
             "--nworkers", "1", "--nthreads", "1", "--no-dashboard"],
            cwd=worker_dir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        ),
    ]  # fmt: skip
    try:
        deadline = time.time() + 120
        while not scheduler_file.exists() and time.time() < deadline:
            time.sleep(0.2)
        address = json.loads(scheduler_file.read_text())["address"]
        assert address.startswith("tcp://127.0.0.1:")
        proc = scamsim("sweep", f"scheduler={address}", *GRID, *SWEEP, "name=d", cwd=client_dir)
        assert proc.returncode == 0, proc.stderr
        assert "4 chunks done, 0 chunks skipped, 0 chunks failed" in proc.stdout
    finally:
        for p in started:
            p.terminate()
        for p in started:
            p.wait(timeout=30)
    done = collect(client_dir / "results" / "multirun" / "d")
    assert len(done.runs) == 4 and not done.warnings()
    assert not (worker_dir / "results").exists()


def test_a_sweep_refuses_a_cluster_whose_workers_do_not_see_its_directory(tmp_path):
    from sim.runs.dask_sweep import check_workers_see

    class Cluster:  # one worker sees the client's file, one has another file system
        def wait_for_workers(self, n, timeout):
            pass

        def run(self, fn, path, token):
            return {"tcp://127.0.0.1:1": fn(path, token), "tcp://127.0.0.1:2": fn(path + "-elsewhere", token)}

    with pytest.raises(dirs.ConfigError, match=r"not visible to worker\(s\) tcp://127.0.0.1:2;"):
        check_workers_see(Cluster(), tmp_path)
    assert not list(tmp_path.iterdir())  # the probe file is gone


@pytest.mark.slow  # submitit's local executor polls its jobs every few seconds
def test_slurm_jobs_with_their_own_working_directory_write_where_collect_reads(tmp_path):
    # hydra.job.chdir=true runs each job in its own directory, as a cluster's jobs may be run.
    args = ["run", "-m", *GRID, *SWEEP, "name=s", "hydra/launcher=submitit", "hydra.job.chdir=true"]
    proc = scamsim(*args, cwd=tmp_path, timeout=600)
    assert proc.returncode == 0, proc.stderr
    done = collect(tmp_path / "results" / "multirun" / "s")
    assert len(done.runs) == 4 and not done.warnings()
    assert not (tmp_path / "results" / "multirun" / "s" / "results").exists()


# ------------------------------------------------------------------------------------------------
# No lost work
# ------------------------------------------------------------------------------------------------


def copy_committed(work: Path, *paths: str) -> None:
    """Copies of committed results' metadata.json in ``work`` (the commands must refuse to replace them)."""
    for path in paths:
        (work / path).mkdir(parents=True)
        shutil.copy(REPO / path / "metadata.json", work / path / "metadata.json")


def test_the_quick_calibration_writes_its_own_folder():
    from sim.analysis.calibration import CalibrateConfig
    from sim.cli.calibrate import register
    from sim.runs.config import compose_config

    register()
    assert compose_config(["calibration=quick"], "calibrate", CalibrateConfig).name == "quick"
    assert compose_config([], "calibrate", CalibrateConfig).name == "default"


@pytest.mark.slow  # pyabc takes long to import on a busy machine
def test_a_quick_calibration_never_replaces_the_committed_one(tmp_path):
    copy_committed(tmp_path, "results/calibration/default")
    line = one_line_error(scamsim("calibrate", "calibration=quick", "name=default", cwd=tmp_path))
    assert "results/calibration/default holds results of another configuration" in line


def test_a_smoke_brief_never_replaces_a_committed_brief(tmp_path):
    # The committed brief's metadata under another name: brief honours name= and refuses to replace it.
    (tmp_path / "results" / "briefs" / "mine").mkdir(parents=True)
    shutil.copy(REPO / "results/briefs/raid_surge/metadata.json", tmp_path / "results/briefs/mine")
    line = one_line_error(scamsim("brief", "scenario=raid_surge", "n_seeds=1", "name=mine", cwd=tmp_path))
    assert "results/briefs/mine holds results of another configuration" in line


@pytest.mark.slow  # a real sweep and two phase diagrams
def test_phase_never_replaces_its_figures_with_another_or_an_incomplete_sweep(finished, tmp_path):
    shutil.copytree(finished, tmp_path, dirs_exist_ok=True)
    copy_committed(tmp_path, "results/phase")
    sweep_dir = tmp_path / "results" / "multirun" / "g"
    next((sweep_dir / CHUNK_DIR).glob("*.parquet")).unlink()  # incomplete
    proc = scamsim("phase", f"sweep={sweep_dir}", cwd=tmp_path)
    assert proc.returncode == 2 and "1 chunk(s) missing" in proc.stderr
    assert "results/phase holds results of another configuration" in proc.stderr.splitlines()[-1]
    proc = scamsim("phase", f"sweep={sweep_dir}", "out=results/phase-p", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert len(pd.read_parquet(tmp_path / "results" / "phase-p" / "runs.parquet")) == 3


@pytest.mark.parametrize(
    "args",
    [
        ["run", "police.raid_capacity=1", "police.raid_capacity=2"],
        ["compare", "scenario=raid_surge", "n_seeds=2", "n_seeds=3"],
        ["collect", "dir=a", "dir=b"],
    ],
    ids=lambda a: a[0],
)
def test_a_key_given_twice_is_an_error(args, tmp_path):
    line = one_line_error(scamsim(*args, cwd=tmp_path))
    assert "is given twice" in line
