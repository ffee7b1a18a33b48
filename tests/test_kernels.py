"""The numba kernels give the numpy reference's results bit for bit, kernel by kernel and whole runs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import params

from sim.model import kernels
from sim.model.mechanisms.discipline import poisson_thresholds
from sim.model.mechanisms.exits import MAX_LEVEL
from sim.model.model import ScamModel
from sim.model.schemas import ConfigError
from sim.runs.config import load_config

pytest.importorskip("numba")

ROOT = Path(__file__).resolve().parent.parent
# Empty, one row, and sizes on either side of the quota kernel's blocks of 1,024 rows.
SIZES = (0, 1, 1023, 1024, 3 * 1024 + 7)


@pytest.fixture(autouse=True)
def restore_backend():
    """Tests here switch implementations; leave the one that was in use."""
    before = kernels.backend
    yield
    kernels.select(before)


def both(name: str, *args):
    """Results of kernel ``name`` under numpy and numba, each on its own copy of the arguments.

    Returns:
        ((result, arguments after the call) under numpy, the same under numba).
    """
    out = []
    for impl in (kernels.NUMPY[name], kernels.compiled()[name]):
        copies = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
        out.append((impl(*copies), copies))
    return out


def assert_same(a, b):
    """Equal values, dtypes and shapes, NaN included, through tuples and lists."""
    if isinstance(a, tuple | list):
        assert len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            assert_same(x, y)
    elif isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_array_equal(a, b, strict=True)
    else:
        assert a == b


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("n_juris", [1, 3])
def test_discipline(n, n_juris):
    rng = np.random.default_rng(n + n_juris)
    n_compounds = 7
    quota = rng.uniform(500, 1500, n_compounds).astype(np.float32)
    # Levels at and near the cap, where a rise has to be cut to the room left.
    level = np.where(rng.random(n) < 0.2, MAX_LEVEL - rng.integers(0, 3, n), rng.integers(0, 30, n))
    up, down = poisson_thresholds(3.0), poisson_thresholds(0.4)  # a high rate: counts of several, caps
    u = rng.random(n, dtype=np.float32)
    # Some uniforms exactly on a threshold, which they do not exceed.
    on = rng.random(n) < 0.1
    u[on] = rng.choice(np.concatenate([up, down]), on.sum())
    args = (
        level.astype(np.int8),
        rng.uniform(0, 2000, n).astype(np.float32),
        rng.integers(0, n_compounds, n).astype(np.intp),
        rng.integers(-100, 400, n).astype(np.int32),
        quota,
        rng.integers(0, n_juris, n_compounds).astype(np.int64),
        u,
        200.0,
        up,
        down,
        n_juris,
        MAX_LEVEL,
    )
    (ref, ref_args), (got, got_args) = both("discipline", *args)
    assert_same(got, ref)
    assert_same(got_args[0], ref_args[0])  # the levels, changed in place
    if n > 100:
        assert ref.sum() > 0 and (ref_args[0] != args[0]).any()  # the check has something to compare
        assert ref_args[0].max() == MAX_LEVEL


def test_discipline_with_no_thresholds():
    # A rate of 0 has no thresholds (every count is 0): nobody's level changes.
    n = 50
    rng = np.random.default_rng(0)
    level = rng.integers(0, 10, n).astype(np.int8)
    args = (
        level,
        rng.uniform(0, 2000, n).astype(np.float32),
        np.zeros(n, np.intp),
        np.zeros(n, np.int32),
        np.array([1000.0], np.float32),
        np.zeros(1, np.int64),
        rng.random(n, dtype=np.float32),
        10.0,
        poisson_thresholds(0.0),
        poisson_thresholds(0.0),
        1,
        MAX_LEVEL,
    )
    assert len(args[8]) == 0
    (ref, ref_args), (got, got_args) = both("discipline", *args)
    assert_same(got, ref)
    assert_same(got_args[0], level)
    assert_same(ref_args[0], level)


@pytest.mark.parametrize("n", SIZES)
def test_chosen_rows(n):
    rng = np.random.default_rng(n)
    picks = rng.choice(n, n // 2, replace=False) if n else np.zeros(0, np.intp)
    (ref, _), (got, _) = both("chosen_rows", n, picks)
    assert_same(got, ref)
    assert_same(ref, np.sort(picks).astype(np.intp))


@pytest.mark.parametrize("n", SIZES)
def test_exit_hazards(n):
    rng = np.random.default_rng(n)
    candidates = np.flatnonzero(rng.random(n) < 0.5)
    args = (
        candidates,
        rng.integers(0, MAX_LEVEL + 1, n).astype(np.int8),
        rng.integers(0, 5, n).astype(np.intp),
        rng.uniform(0, 2, 5).astype(np.float32),
        rng.uniform(0, 1, len(candidates)).astype(np.float32),
        0.5,
        0.2,
        4.0,
        2.0,
    )
    (ref, _), (got, _) = both("exit_hazards", *args)
    assert_same(got, ref)


def hazards(rng: np.random.Generator, m: int) -> tuple[np.ndarray, ...]:
    """Help, escape (float64), ransom (float32) and total hazards of ``m`` workers, some of them 0."""
    h_help = np.where(rng.random(m) < 0.2, 0.0, rng.uniform(0, 2, m))
    h_escape = np.where(rng.random(m) < 0.2, 0.0, rng.uniform(0, 1, m))
    h_ransom = np.where(rng.random(m) < 0.2, 0.0, rng.uniform(0, 1, m)).astype(np.float32)
    h_resale = np.where(rng.random(m) < 0.5, 0.0, 2.0)
    return h_help, h_escape, h_ransom, h_help + h_escape + h_ransom + h_resale


@pytest.mark.parametrize("n", SIZES)
def test_exit_events(n):
    rng = np.random.default_rng(n)
    candidates = np.flatnonzero(rng.random(n) < 0.5)
    h_help, h_escape, h_ransom, total = hazards(rng, len(candidates))
    p_max = float(-np.expm1(-total.max(initial=1.0) * 0.02))
    p_event = -np.expm1(-total * 0.02)
    u = rng.random(len(candidates))
    u[::7] = p_event[::7] / p_max  # at the thinning threshold, give or take the last bit
    args = (candidates, u, p_max, p_event, h_help, h_escape, h_ransom, total)
    (ref, _), (got, _) = both("exit_events", *args)
    assert_same(got, ref)


@pytest.mark.parametrize("n", SIZES)
def test_exit_routes(n):
    rng = np.random.default_rng(n)
    rows = np.flatnonzero(rng.random(n) < 0.5)
    h_help, h_escape, h_ransom, total = hazards(rng, len(rows))
    bound1 = h_help
    bound2 = bound1 + h_escape
    bound3 = bound2 + h_ransom
    u = rng.random(len(rows))
    u[::5] = 0.0  # a pick of 0: exactly on the bounds of routes with no hazard
    (ref, _), (got, _) = both("exit_routes", rows, u, total, bound1, bound2, bound3)
    assert_same(got, ref)
    assert sum(len(r) for r in ref) == len(rows)


@pytest.mark.parametrize("n", SIZES)
def test_resell(n):
    rng = np.random.default_rng(n)
    rows = rng.permutation(n)[: n // 3]
    compound = rng.integers(0, 6, n).astype(np.intp)
    args = (
        rows,
        rng.integers(0, 6, len(rows)),  # some drawn to their own compound: they stay
        compound,
        rng.uniform(0, 20_000, n).astype(np.float32),
        rng.integers(0, MAX_LEVEL + 1, n).astype(np.int8),
        rng.integers(MAX_LEVEL - 2, MAX_LEVEL + 1, n).astype(np.int8),  # at and near the cap
        1234.567,  # not a float32: the sum is rounded once
        MAX_LEVEL,
    )
    (ref, ref_args), (got, got_args) = both("resell", *args)
    assert_same(got, ref)
    assert_same(got_args, ref_args)


@pytest.mark.parametrize("n", SIZES)
def test_move(n):
    rng = np.random.default_rng(n)
    compound = rng.integers(0, 6, n).astype(np.intp)
    held = np.bincount(compound, minlength=8)  # room for compounds 6 and 7, which hold no one yet
    rows = rng.permutation(n)[: n // 3]
    args = (rows, rng.integers(0, 8, len(rows)), compound, held)
    (_, ref_args), (_, got_args) = both("move", *args)
    assert_same(got_args, ref_args)
    assert_same(ref_args[3], np.bincount(ref_args[2], minlength=8))


@pytest.mark.parametrize("n", SIZES)
def test_work_intensity(n):
    rng = np.random.default_rng(n)
    productivity = rng.uniform(0.5, 1.5, 9).astype(np.float32)
    productivity[3] = 0.0  # a compound that is down
    args = (
        rng.lognormal(0, 0.5, n).astype(np.float32),
        rng.integers(0, MAX_LEVEL + 1, n).astype(np.int8),
        rng.integers(0, 9, n).astype(np.intp),
        productivity,
        0.05,
        12,  # more compounds than any worker is in: their sums are 0
    )
    (ref, _), (got, _) = both("work_intensity", *args)
    assert_same(got, ref)
    assert len(ref[1]) == 12


@pytest.mark.parametrize("n", SIZES[1:])
def test_invert_cumulative(n):
    rng = np.random.default_rng(n)
    weights = rng.lognormal(0, 2, n).astype(np.float32)
    weights[rng.random(n) < 0.1] = 0.0  # never picked
    u = np.sort(rng.random(5 * n))
    (ref, _), (got, _) = both("invert_cumulative", weights, u)
    assert_same(got, ref)
    assert weights[got].min() > 0


@pytest.mark.parametrize("n", SIZES)
def test_update_performance(n):
    rng = np.random.default_rng(n)
    m = 3 * n
    args = (
        rng.uniform(0, 1000, n).astype(np.float32),
        rng.integers(-1, max(n, 1), m).astype(np.intp) if n else np.full(m, -1, np.intp),
        np.where(rng.random(m) < 0.2, 0.0, rng.uniform(0, 500, m)),
        float(np.exp(-0.23)),
        0.9,
    )
    (_, ref_args), (_, got_args) = both("update_performance", *args)
    assert_same(got_args[0], ref_args[0])


@pytest.mark.parametrize("n", SIZES)
def test_remap(n):
    rng = np.random.default_rng(n)
    mask = rng.random(n) < 0.7
    removed = np.flatnonzero(~mask)
    k = n - len(removed)
    holes = removed[removed < k]
    tail = np.flatnonzero(mask[k:]) + k
    rows = rng.integers(-1, max(n, 1), 4 * n).astype(np.intp) if n else np.full(3, -1, np.intp)
    (ref, _), (got, _) = both("remap", rows, mask, holes, tail, k)
    assert_same(got, ref)


def ledger_and_tables(model: ScamModel) -> dict[str, np.ndarray]:
    """Everything a run leaves: ledger series, loss histogram, raid log and the final tables."""
    out = {f"series.{name}": values for name, values in model.ledger.series.items()}
    out["loss_counts"] = model.ledger.loss_counts
    out["loss_total"] = np.array(model.ledger.loss_total)
    out["raids"] = np.array(repr(model.ledger.raids))
    for table in (model.workers, model.targets):
        for column in table.COLUMNS:
            out[f"{type(table).__name__}.{column}"] = getattr(table, column).copy()
    return out


@pytest.mark.parametrize(
    "config",
    [
        pytest.param(lambda: params(scale=0.03), id="baseline"),
        pytest.param(
            lambda: params(scale=0.03, mechanisms__exit_routes=False, mechanisms__workforce_economics=False),
            id="fewer-mechanisms",
        ),
        pytest.param(
            lambda: load_config(["posterior=null", "jurisdictions=mekong", "scale=0.03"]), id="mekong"
        ),
    ],
)
def test_whole_runs_identical_on_both_paths(config):
    p = config()
    p.time.end = "2024-12-31"
    runs = {}
    for name in kernels.BACKENDS:
        kernels.select(name)
        model = ScamModel(p, seed=7)
        model.run_model()
        runs[name] = ledger_and_tables(model)
    assert runs["numpy"].keys() == runs["numba"].keys()
    for key, ref in runs["numpy"].items():
        np.testing.assert_array_equal(runs["numba"][key], ref, err_msg=key, strict=True)
    assert runs["numpy"]["series.punishments"].sum() > 0  # the runs did exercise the kernels
    assert runs["numpy"]["series.exits_escape"].sum() > 0


def test_select_rejects_unknown_names(monkeypatch):
    with pytest.raises(ConfigError, match="'fortran' is not allowed; choose numba or numpy"):
        kernels.select("fortran")
    monkeypatch.setenv("SCAMSIM_KERNELS", "fortran")
    with pytest.raises(ConfigError, match="SCAMSIM_KERNELS='fortran' is not allowed"):
        kernels.select()


def test_the_command_line_refuses_unknown_kernels_in_one_line():
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SCAMSIM_KERNELS": "fortran"}
    result = subprocess.run(
        [sys.executable, "-c", "from sim.cli import main; main()", "run", "scale=0.01"],
        env=env,
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert result.returncode == 2
    assert result.stderr == (
        "scamsim run: error: SCAMSIM_KERNELS='fortran' is not allowed; choose numba or numpy\n"
    )


def run_python(code: str, **extra: str) -> str:
    """Output of ``code`` in a fresh Python with this checkout on the path (and ``extra`` environment)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("SCAMSIM_KERNELS", None)
    env.update(extra)
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True, cwd=ROOT
    )
    return result.stdout.strip()


def test_numba_is_imported_only_when_a_kernel_first_runs():
    code = (
        "import sys, sim.cli, sim.model.model\n"
        "print('numba' in sys.modules)\n"
        "from sim.model import kernels\n"
        "kernels.remap\n"
        "print('numba' in sys.modules, kernels.backend)"
    )
    assert run_python(code).splitlines() == ["False", "True numba"]


def test_environment_variable_chooses_numpy_and_then_numba_is_never_imported():
    code = (
        "import sys\n"
        "from sim.model.model import ScamModel\n"
        "from sim.model.schemas import ModelParams\n"
        "p = ModelParams(); p.scale = 0.01; p.time.end = '2020-03-31'\n"
        "ScamModel(p, seed=1).run_model()\n"
        "from sim.model import kernels\n"
        "print(kernels.backend, 'numba' in sys.modules)"
    )
    assert run_python(code, SCAMSIM_KERNELS="numpy") == "numpy False"
