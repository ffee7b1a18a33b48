"""Speed and memory benchmarks of the worker rules (``make bench``).

Run as ``.venv/bin/python benchmarks/bench_workers.py [--quick]``. Prints a Markdown table of goals,
measured figures and pass/fail, and writes the same figures to ``benchmarks/results.json``:

a. worker-steps per second of the vectorised worker rules (:func:`sim.model.mechanisms.production.scam_work`,
   :func:`sim.model.mechanisms.discipline.enforce_quotas`, :func:`sim.model.mechanisms.exits.worker_events`)
   at 10k, 100k and 1M workers, in one process;
b. the same rules written as one Mesa agent per worker (:mod:`agent_per_worker`), timed in the same
   run from the same state over the same steps, the ratio of the two, and a check that both give the
   same event rates;
c. bytes allocated by the ``Workers`` table (and the ``Targets`` table) per live worker;
d. run time of the full-scale baseline, ``ScamModel(ModelParams(), seed=i).run_model()``;
e. resident memory over many small runs in one (fresh) process;
f. run time of a calibration-scale run (``scale=0.1`` to 2025-06-30, as in ``make bench-sweep``);
g. start-up of a sweep worker: a fork from the sweep's preloaded forkserver
   (:func:`sim.runs.launch.start_forkserver`); also that forkserver's imports (once per sweep) and a
   fresh Python importing the same modules (what each worker paid before);
h. the 1,000-run sweep, read from ``benchmarks/sweep_results.json`` as ``make bench-sweep`` last
   wrote it (it takes minutes and both cores, so it is not re-run here).

Set-up of (a)-(c): the baseline parameters, but with raids, recruitment, compound openings and
closures off, compounds filled to ``FILL`` of their capacity and capacities scaled so that the
workers number about N. Workers keep leaving (escape, ransom, rescue: several per cent a step), so
before every step the harness tops each compound up to ``FILL`` of its capacity with new recruits
(not timed), in both implementations: the population stays at about N, and the free places left
keep resales possible. The model first runs ``WARMUP_STEPS`` full steps, so that punishment levels
and the target pipeline are near steady state. Worker-steps per second = (sum over timed steps of
the workers at the start of the step) / seconds (wall clock, best of the repeats; CPU time is
recorded too, to show that one core is used).

Every goal is reported as pass or miss (goals of issue 14). Run times are medians; CPU times are
recorded too. The machine's load average is recorded: timings taken while other jobs run are
pessimistic, and CPU times less so than wall times.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np
from agent_per_worker import TALLIES, AgentPerWorkerModel

from sim.model.mechanisms.discipline import enforce_quotas
from sim.model.mechanisms.exits import worker_events
from sim.model.mechanisms.production import scam_work
from sim.model.model import ScamModel
from sim.model.schemas import ModelParams
from sim.runs import provenance

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results.json"
SEED = 1
WARMUP_STEPS = 40  # about 9 months: punishment levels and the target pipeline settle
FILL = 0.9  # share of capacity kept filled in (a)-(c)

# Goals (issue 14). The worker-rule goals apply at GOAL_POPULATION workers; the other sizes are shown
# for the scaling.
GOAL_POPULATION = 100_000
GOAL_STEPS_PER_S = 6e7
GOAL_RATIO = 200.0
GOAL_BYTES = 100.0
GOAL_BASELINE_S = 0.8
GOAL_CALIBRATION_S = 0.12
GOAL_WORKER_START_S = 1.0
GOAL_SWEEP_S = 120.0
GOAL_SWEEP_OVERHEAD = 0.05
GOAL_RSS_SHARE = 0.05
GOAL_RSS_MB = 20.0
RSS_SCALE = 0.02
CALIBRATION_OVERRIDES = {"scale": 0.1, "end": "2025-06-30"}  # as benchmarks/bench_sweep.py runs
SWEEP_RESULTS = HERE / "sweep_results.json"


def rss_mb() -> float:
    """Resident set size of this process (MB), from ``/proc/self/status``."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("VmRSS not found in /proc/self/status")


# -------------------------------------------------------------------------------------------------
# (a)-(c): worker rules at a given population
# -------------------------------------------------------------------------------------------------


def bench_params() -> ModelParams:
    """Baseline parameters without raids, recruitment, openings or closures; compounds at FILL."""
    p = ModelParams()
    p.compounds.initial_fill = FILL
    p.police.raid_capacity = 0.0
    p.recruitment.ad_reach = 0.0
    p.recruitment.captive_recruit_rate = 0.0
    p.compounds.expansion_rate = 0.0
    p.compounds.close_rate = 0.0
    return p


def build_model(n_workers: int, seed: int = SEED) -> ScamModel:
    """A model holding about ``n_workers`` workers (compound capacities scaled to fit)."""
    probe_scale = 0.01
    p = bench_params()
    p.scale = probe_scale
    probe = ScamModel(p, seed=seed)  # capacities are drawn in proportion to the scale
    capacity_per_scale = sum(c.capacity for c in probe.compounds) / probe_scale
    factor = n_workers / (FILL * capacity_per_scale)
    p = bench_params()
    p.scale = min(factor, 10.0)  # the scale's allowed range ends at 10; go on with the median
    p.compounds.capacity_median *= factor / p.scale
    return ScamModel(p, seed=seed)


def refill(model: ScamModel, day: int) -> int:
    """Top operating compounds up to FILL of capacity with new recruits (not timed)."""
    s = model.sites()
    free = np.where(s.active, np.floor(FILL * s.capacity) - model.held_by_compound(), 0.0)
    counts = np.maximum(free, 0).astype(np.int64)
    n = int(counts.sum())
    if n:
        model.add_workers(
            np.repeat(np.arange(len(counts)), counts),
            source=np.zeros(n, np.int8),
            deceived=np.zeros(n, bool),
            debt=np.full(n, model.p.recruitment.price),
            recruited_day=np.full(n, day),
        )
    return n


def warm_up(model: ScamModel, steps: int) -> None:
    """Run full model steps, refilling compounds before each."""
    for _ in range(steps):
        refill(model, math.floor(model.steps * model.clock.step_days))
        model.step()


def time_vectorised(
    model: ScamModel, first_index: int, steps: int, counts: list[int]
) -> tuple[int, float, float]:
    """Time the three worker-rule functions for ``steps`` steps from step index ``first_index``.

    Args:
        model: The model.
        first_index: Index of the first step.
        steps: Steps to time.
        counts: Workers at the start of each step are appended to it.

    Returns:
        (worker-steps, wall seconds, CPU seconds).
    """
    worker_steps, wall, cpu = 0, 0.0, 0.0
    for index in range(first_index, first_index + steps):
        model.day = math.floor(index * model.clock.step_days)
        model.ledger.step = index
        refill(model, model.day)
        counts.append(model.workers.n)
        worker_steps += model.workers.n
        c0, t0 = time.process_time(), time.perf_counter()
        scam_work(model)
        enforce_quotas(model)
        worker_events(model)
        wall += time.perf_counter() - t0
        cpu += time.process_time() - c0
    return worker_steps, wall, cpu


def time_reference(ref: AgentPerWorkerModel, steps: int) -> tuple[int, float, float]:
    """Time ``steps`` steps of the agent-per-worker reference (refills not timed)."""
    worker_steps, wall, cpu = 0, 0.0, 0.0
    for _ in range(steps):
        ref.refill(FILL)
        worker_steps += len(ref.agents)
        c0, t0 = time.process_time(), time.perf_counter()
        ref.step()
        wall += time.perf_counter() - t0
        cpu += time.process_time() - c0
    return worker_steps, wall, cpu


def best_of(runs: list[tuple[int, float, float]]) -> dict[str, Any]:
    """Summary of timing repeats: the best (highest worker-steps/s) and all of them."""
    speeds = [ws / wall for ws, wall, _ in runs]
    i = int(np.argmax(speeds))
    ws, wall, cpu = runs[i]
    return {
        "worker_steps_per_s": speeds[i],
        "all_repeats_worker_steps_per_s": speeds,
        "worker_steps": ws,
        "seconds": wall,
        "cpu_seconds": cpu,
    }


def rates(tallies: dict[str, float], worker_steps: int) -> dict[str, float]:
    """Events per 1,000 worker-steps (money and days held: per worker-step)."""
    out = {}
    for name in TALLIES:
        value = tallies[name] / worker_steps
        if name in ("scam_revenue", "target_losses", "ransom_paid", "exit_days_held"):
            out[name] = value
        else:
            out[name] = 1000 * value
    return out


def bench_population(
    n_workers: int, steps: int, repeats: int, ref_steps: int, ref_repeats: int, trace_ref: bool
) -> dict[str, Any]:
    """Benchmarks (a)-(c) at one population size (reference skipped if ``ref_steps`` is 0)."""
    print(f"  {n_workers:,} workers: building and warming up ...", flush=True)
    model = build_model(n_workers)
    warm_up(model, WARMUP_STEPS)
    first = model.steps
    out: dict[str, Any] = {"n_target": n_workers}

    # The reference first, from the warmed-up state (it copies the model and leaves it unchanged),
    # then the vectorised rules from the same state over the same step indices.
    if ref_steps:
        if trace_ref:
            gc.collect()
            tracemalloc.start()
            before = tracemalloc.get_traced_memory()[0]
        t0 = time.perf_counter()
        ref = AgentPerWorkerModel(model, seed=SEED, first_index=first)
        build_s = time.perf_counter() - t0
        ref_bytes = None
        if trace_ref:
            ref_bytes = (tracemalloc.get_traced_memory()[0] - before) / len(ref.agents)
            tracemalloc.stop()
        ref_runs = [time_reference(ref, ref_steps) for _ in range(ref_repeats)]
        refb = best_of(ref_runs)
        refb["mean_workers"] = sum(ws for ws, _, _ in ref_runs) / (ref_steps * ref_repeats)
        refb["steps"], refb["repeats"] = ref_steps, ref_repeats
        refb["build_seconds"] = build_s
        refb["bytes_per_agent_traced"] = ref_bytes
        ref_tallies = {name: sum(ref.tally[name]) for name in TALLIES}
        ref_rates = rates(ref_tallies, sum(ws for ws, _, _ in ref_runs))
        out["reference"] = refb
        print(
            f"    agent per worker: {refb['worker_steps_per_s']:.3g} worker-steps/s "
            f"(built in {build_s:.1f} s)",
            flush=True,
        )
        del ref
        gc.collect()

    runs, counts = [], []
    for r in range(repeats):
        runs.append(time_vectorised(model, first + r * steps, steps, counts))
    vec = best_of(runs)
    n_timed = repeats * steps
    vec["mean_workers"] = sum(ws for ws, _, _ in runs) / n_timed
    vec["steps"], vec["repeats"] = steps, repeats
    out["vectorised"] = vec
    w, t = model.workers, model.targets
    memory = {
        "workers": w.n,
        "workers_capacity": w.capacity,
        "workers_table_bytes": w.nbytes,
        "workers_bytes_per_worker": w.nbytes / w.n,
        "workers_row_bytes": sum(np.dtype(d).itemsize for d in w.COLUMNS.values()),
        "targets": t.n,
        "targets_table_bytes": t.nbytes,
        "targets_bytes_per_worker": t.nbytes / w.n,
        "total_bytes_per_worker": (w.nbytes + t.nbytes) / w.n,
    }
    out["memory"] = memory
    print(
        f"    vectorised: {vec['worker_steps_per_s']:.3g} worker-steps/s "
        f"(mean {vec['mean_workers']:,.0f} workers), "
        f"{memory['workers_bytes_per_worker']:.1f} B/worker",
        flush=True,
    )
    if ref_steps:
        # Same-rules check: both from the same state, over the same steps.
        k = min(ref_steps * ref_repeats, len(counts))
        rows = slice(first, first + k)
        vec_tallies = {name: float(model.ledger.series[name][rows].sum()) for name in TALLIES}
        vec_ws = sum(counts[:k])
        out["ratio"] = vec["worker_steps_per_s"] / out["reference"]["worker_steps_per_s"]
        out["same_rules_check"] = {"vectorised": rates(vec_tallies, vec_ws), "reference": ref_rates}
        print(f"    ratio {out['ratio']:.0f}x", flush=True)
    del model
    gc.collect()
    return out


# -------------------------------------------------------------------------------------------------
# (d) full-scale baseline, (e) resident memory over many runs
# -------------------------------------------------------------------------------------------------


def calibration_params() -> ModelParams:
    """The parameters of a calibration-scale run."""
    p = ModelParams()
    p.scale = CALIBRATION_OVERRIDES["scale"]
    p.time.end = CALIBRATION_OVERRIDES["end"]
    return p


def calibration_setup() -> tuple[Any, ModelParams]:
    """The configuration ``scamsim calibrate seed=1`` composes, and the model parameters of its runs."""
    # Imported here: Hydra's composition is needed only by the benchmarks of the calibration.
    from sim.analysis.calibration import CalibrateConfig
    from sim.cli.calibrate import register
    from sim.runs.config import compose_config, load_overrides

    register()
    config = compose_config(["seed=1"], "calibrate", CalibrateConfig)
    return config, load_overrides(config, config.calibration.model_overrides)


def time_runs(params: ModelParams, runs: int, label: str) -> dict[str, Any]:
    """Time ``ScamModel(params, seed=i).run_model()`` for seeds ``0 .. runs - 1`` (construction included)."""
    times, cpu, held, steps = [], [], [], 0
    for seed in range(runs):
        c0, t0 = time.process_time(), time.perf_counter()
        model = ScamModel(params, seed=seed)
        model.run_model()
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
        held.append(float(model.ledger.series["workers_held"].sum(axis=1).mean()))
        steps = model.clock.n_steps
        print(f"  {label} run {seed}: {times[-1]:.3f} s, mean {held[-1]:,.0f} workers", flush=True)
    return {
        "runs": runs,
        "steps_per_run": steps,
        "seconds": times,
        "cpu_seconds": cpu,
        "median_seconds": statistics.median(times),
        "median_cpu_seconds": statistics.median(cpu),
        "best_seconds": float(np.min(times)),
        "mean_workers_held": float(np.mean(held)),
    }


# Run in a fresh Python by bench_worker_start (with -c, so that the forkserver's children import no
# main module): the forkserver's start with its imports, as the sweep's launching process starts it,
# then workers forked from it, each loading what a job runs (a no-op once preloaded) and exiting.
WORKER_START_CODE = """
import importlib, json, multiprocessing, sys, time
from sim.runs.launch import PRELOAD, start_forkserver
def worker():
    p = multiprocessing.get_context("forkserver").Process(target=importlib.import_module, args=(PRELOAD[-1],))
    t = time.perf_counter()
    p.start()
    p.join()
    assert p.exitcode == 0, p.exitcode
    return time.perf_counter() - t
t = time.perf_counter()
start_forkserver()
first = worker()
preload = time.perf_counter() - t
print(json.dumps({"preload_seconds": preload, "seconds": [worker() for _ in range(int(sys.argv[1]))]}))
"""


def bench_worker_start(repeats: int) -> dict[str, Any]:
    """What a worker of ``scamsim run -m`` (joblib launcher) pays before its first job, and what it did.

    A worker starts by fork from the sweep's forkserver, which has imported :data:`sim.runs.launch.PRELOAD`;
    timed from the request to the worker's exit, in a fresh Python whose forkserver is started as the
    launching process starts it. Also timed: that forkserver start with its imports (once per sweep),
    and, in the same run, a fresh Python importing the same modules, which is what each worker paid
    before workers were forked (and what a SLURM job still pays).
    """
    env = {**os.environ, "PYTHONPATH": str(HERE.parent)}
    from sim.runs.launch import PRELOAD

    fresh = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", f"import {', '.join(PRELOAD)}"], check=True, env=env)
        fresh.append(time.perf_counter() - t0)
    proc = subprocess.run(
        [sys.executable, "-c", WORKER_START_CODE, str(repeats)],
        check=True, env=env, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    forked = json.loads(proc.stdout.strip().splitlines()[-1])
    return {
        "repeats": repeats,
        "seconds": forked["seconds"],
        "median_seconds": statistics.median(forked["seconds"]),
        "forkserver_preload_seconds": forked["preload_seconds"],
        "fresh_import_seconds": fresh,
        "fresh_import_median_seconds": statistics.median(fresh),
    }


def read_sweep() -> dict[str, Any] | None:
    """The figures of the last ``make bench-sweep``, if any."""
    return json.loads(SWEEP_RESULTS.read_text()) if SWEEP_RESULTS.exists() else None


def rss_checkpoints(n_runs: int) -> list[int]:
    """Runs after which resident memory is recorded."""
    if n_runs >= 500:
        return [10, 100, 250, n_runs]
    return sorted({10, n_runs // 4, n_runs // 2, n_runs} - {0})


def rss_worker(n_runs: int) -> None:
    """Child process: run ``n_runs`` small runs; print resident memory at checkpoints as JSON."""
    checkpoints = set(rss_checkpoints(n_runs))
    out: dict[str, Any] = {"rss_start_mb": rss_mb(), "rss_mb": {}}
    t0 = time.perf_counter()
    for i in range(1, n_runs + 1):
        p = ModelParams()
        p.scale = RSS_SCALE
        model = ScamModel(p, seed=i)
        model.run_model()
        del model
        if i in checkpoints:
            gc.collect()
            out["rss_mb"][str(i)] = rss_mb()
            print(f"  after run {i}: {out['rss_mb'][str(i)]:.1f} MB", file=sys.stderr, flush=True)
    out["seconds"] = time.perf_counter() - t0
    print(json.dumps(out))


def bench_rss(n_runs: int) -> dict[str, Any]:
    """Resident memory over ``n_runs`` runs, in a fresh process (unaffected by the others)."""
    proc = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--rss-worker", str(n_runs)],
        check=True, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    rss = out["rss_mb"]
    first, last = rss[str(min(map(int, rss)))], rss[str(max(map(int, rss)))]
    out.update(runs=n_runs, scale=RSS_SCALE, growth_mb=last - first, growth_share=(last - first) / first)
    return out


# -------------------------------------------------------------------------------------------------
# Report
# -------------------------------------------------------------------------------------------------


def fmt_n(n: float) -> str:
    """10k, 100k, 1M."""
    return f"{n / 1e6:g}M" if n >= 1e6 else f"{n / 1e3:g}k"


def verdict(ok: bool) -> str:
    """Pass/miss cell."""
    return "pass" if ok else "**miss**"


def report(results: dict[str, Any]) -> str:
    """The Markdown tables."""
    goals = []
    lines = [
        f"Benchmarks ({results['mode']} mode), {results['machine']['cpu']}, "
        f"Python {results['machine']['python']}, numpy {results['machine']['numpy']}, "
        f"Mesa {results['machine']['mesa']}, single process; load average (1 min) "
        f"{results['machine']['load_average_at_start'][0]:.2f} at start, "
        f"{results['machine']['load_average_at_end'][0]:.2f} at end.",
        "",
        "| Measure | Goal | Measured | Result |",
        "|---|---|---|---|",
    ]
    for pop in results["populations"]:
        if pop["n_target"] != GOAL_POPULATION:
            continue
        vec = pop["vectorised"]
        ok = vec["worker_steps_per_s"] >= GOAL_STEPS_PER_S
        goals.append(ok)
        lines.append(
            f"| (a) vectorised worker rules, {fmt_n(pop['n_target'])} workers "
            f"(mean {vec['mean_workers']:,.0f}) | >= {GOAL_STEPS_PER_S:.0e} worker-steps/s per core "
            f"| {vec['worker_steps_per_s']:.3g} worker-steps/s | {verdict(ok)} |"
        )
        if "ratio" in pop:
            ok = pop["ratio"] >= GOAL_RATIO
            goals.append(ok)
            ref = pop["reference"]
            lines.append(
                f"| (b) vectorised / one Mesa agent per worker, {fmt_n(pop['n_target'])} workers "
                f"| >= {GOAL_RATIO:.0f}x | {pop['ratio']:.0f}x (reference "
                f"{ref['worker_steps_per_s']:.3g} worker-steps/s, {ref['steps']} steps x "
                f"{ref['repeats']}) | {verdict(ok)} |"
            )
    for pop in results["populations"]:
        mem = pop["memory"]
        if pop["n_target"] < 100_000:
            continue
        ok = mem["workers_bytes_per_worker"] <= GOAL_BYTES
        goals.append(ok)
        lines.append(
            f"| (c) Workers table bytes per live worker, {fmt_n(pop['n_target'])} "
            f"| <= 100 B | {mem['workers_bytes_per_worker']:.1f} B "
            f"(row {mem['workers_row_bytes']} B, "
            f"{mem['workers_capacity']:,} rows allocated for {mem['workers']:,}) | {verdict(ok)} |"
        )
        ok = mem["total_bytes_per_worker"] <= GOAL_BYTES
        goals.append(ok)
        lines.append(
            f"| (c) Workers + Targets tables bytes per live worker, {fmt_n(pop['n_target'])} "
            f"| <= 100 B | {mem['total_bytes_per_worker']:.1f} B (targets "
            f"{mem['targets_bytes_per_worker']:.1f} B/worker, {mem['targets']:,} rows) "
            f"| {verdict(ok)} |"
        )
    base = results["baseline"]
    ok = base["median_seconds"] <= GOAL_BASELINE_S
    goals.append(ok)
    lines.append(
        f"| (d) full-scale baseline run, 2020-2026 ({base['steps_per_run']} weekly steps) "
        f"| <= {GOAL_BASELINE_S} s per run | median {base['median_seconds']:.2f} s "
        f"(CPU {base['median_cpu_seconds']:.2f} s), best {base['best_seconds']:.2f} s of {base['runs']}; "
        f"mean {base['mean_workers_held']:,.0f} workers held | {verdict(ok)} |"
    )
    cal = results["calibration"]
    ok = cal["median_seconds"] <= GOAL_CALIBRATION_S
    goals.append(ok)
    lines.append(
        f"| (f) calibration-scale run (scale {CALIBRATION_OVERRIDES['scale']}, to "
        f"{CALIBRATION_OVERRIDES['end']}, {cal['steps_per_run']} steps) | <= {GOAL_CALIBRATION_S} s per run "
        f"| median {cal['median_seconds']:.3f} s (CPU {cal['median_cpu_seconds']:.3f} s), "
        f"best {cal['best_seconds']:.3f} s of {cal['runs']} | {verdict(ok)} |"
    )
    start = results["worker_start"]
    ok = start["median_seconds"] <= GOAL_WORKER_START_S
    goals.append(ok)
    lines.append(
        f"| (g) sweep worker start (fork from the preloaded forkserver) "
        f"| <= {GOAL_WORKER_START_S} s | median {start['median_seconds']:.3f} s of {start['repeats']} "
        f"(forkserver imports, once per sweep: {start['forkserver_preload_seconds']:.2f} s; "
        f"fresh Python importing the same: median {start['fresh_import_median_seconds']:.2f} s) "
        f"| {verdict(ok)} |"
    )
    sweep = results["sweep"]
    if sweep is None:
        goals.append(False)
        lines.append(
            f"| (h) 1,000-run sweep | <= {GOAL_SWEEP_S:.0f} s | not measured (`make bench-sweep`) "
            f"| {verdict(False)} |"
        )
    else:
        failed = sweep.get("failed_runs")  # not recorded before every run had to succeed
        ok = sweep["seconds_per_1000_runs"] <= GOAL_SWEEP_S and failed == 0
        goals.append(ok)
        lines.append(
            f"| (h) 1,000-run sweep, 2 jobs (last `make bench-sweep`) "
            f"| <= {GOAL_SWEEP_S:.0f} s, no run failed "
            f"| {sweep['seconds_per_1000_runs']:.0f} s ({sweep['cpu_seconds_per_run']:.3f} CPU-s a run), "
            f"{'?' if failed is None else failed} failed | {verdict(ok)} |"
        )
        ok = sweep["overhead_total"] < GOAL_SWEEP_OVERHEAD
        goals.append(ok)
        lines.append(
            f"| (h) sweep orchestration overhead | < {100 * GOAL_SWEEP_OVERHEAD:.0f} % "
            f"| {100 * sweep['overhead_total']:.1f} % | {verdict(ok)} |"
        )
    rss = results["rss"]
    ok = rss["growth_share"] < GOAL_RSS_SHARE and rss["growth_mb"] < GOAL_RSS_MB
    goals.append(ok)
    points = ", ".join(f"{k}: {v:.1f}" for k, v in rss["rss_mb"].items())
    lines.append(
        f"| (e) resident memory over {rss['runs']} runs in one process (scale {rss['scale']}) "
        f"| flat: growth < 5 % and < 20 MB | {rss['growth_mb']:+.1f} MB "
        f"({100 * rss['growth_share']:+.1f} %); RSS MB after run {points} | {verdict(ok)} |"
    )
    lines += [
        "",
        f"Goals met: {sum(goals)} of {len(goals)}.",
        "",
        "| Workers | vectorised worker-steps/s | CPU/wall | agent-per-worker worker-steps/s "
        "| ratio | reference build | reference B/agent (traced) |",
        "|---|---|---|---|---|---|---|",
    ]
    for pop in results["populations"]:
        vec = pop["vectorised"]
        ref = pop.get("reference")
        cpu = vec["cpu_seconds"] / vec["seconds"]
        if ref:
            traced = ref["bytes_per_agent_traced"]
            ref_cells = (
                f"{ref['worker_steps_per_s']:.3g} | {pop['ratio']:.0f}x "
                f"| {ref['build_seconds']:.1f} s "
                f"| {'-' if traced is None else f'{traced:.0f}'}"
            )
        else:
            ref_cells = "- | - | - | -"
        lines.append(
            f"| {fmt_n(pop['n_target'])} | {vec['worker_steps_per_s']:.3g} | {cpu:.2f} | {ref_cells} |"
        )
    checks = [p for p in results["populations"] if "same_rules_check" in p]
    if checks:
        pop = max(checks, key=lambda p: p["reference"]["worker_steps"])
        chk = pop["same_rules_check"]
        lines += [
            "",
            f"Same-rules check at {fmt_n(pop['n_target'])} workers, same starting state "
            "(per 1,000 worker-steps; losses, revenue, ransom and days held: per worker-step):",
            "",
            "| Tally | vectorised | agent per worker |",
            "|---|---|---|",
        ]
        for name in TALLIES:
            vec_value, ref_value = chk["vectorised"][name], chk["reference"][name]
            lines.append(f"| {name} | {vec_value:.4g} | {ref_value:.4g} |")
    return "\n".join(lines)


def machine() -> dict[str, Any]:
    """Where the benchmark ran."""
    import mesa

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "sim_sources_sha256": provenance.sources_sha256(),  # every sim/**/*.py, not only sim/*.py
        "cpu": cpu,
        "cores": os.cpu_count(),
        "load_average_at_start": os.getloadavg(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "mesa": mesa.__version__,
    }


def main() -> None:
    """Run the benchmarks, print the table and write ``results.json``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer runs and steps, no 1M workers")
    parser.add_argument("--rss-worker", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.rss_worker:
        rss_worker(args.rss_worker)
        return

    t_start = time.perf_counter()
    quick = args.quick
    # (workers, steps, repeats, reference steps, reference repeats, trace reference memory)
    plan = [(10_000, 20, 3, 20, 3, True), (100_000, 20, 3, 20, 2, False)]
    if quick:
        plan = [(10_000, 10, 2, 10, 2, True), (100_000, 10, 2, 5, 1, False)]
    else:
        plan.append((1_000_000, 20, 3, 3, 1, False))
    results: dict[str, Any] = {"mode": "quick" if quick else "full", "machine": machine()}

    print("(a)-(c) worker rules:", flush=True)
    results["populations"] = [bench_population(*row) for row in plan]
    print("(d) full-scale baseline:", flush=True)
    results["baseline"] = time_runs(ModelParams(), 3 if quick else 5, "baseline")
    print("(f) calibration-scale run:", flush=True)
    results["calibration"] = time_runs(calibration_params(), 5 if quick else 11, "calibration")
    print("(g) sweep worker start:", flush=True)
    results["worker_start"] = bench_worker_start(3 if quick else 5)
    results["sweep"] = read_sweep()
    n_runs = 60 if quick else 500
    print(f"(e) resident memory over {n_runs} runs:", flush=True)
    results["rss"] = bench_rss(n_runs)
    results["seconds_total"] = time.perf_counter() - t_start
    results["machine"]["load_average_at_end"] = os.getloadavg()

    table = report(results)
    results["table"] = table
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print()
    print(table)
    where = RESULTS.relative_to(HERE.parent)
    print(f"\nTotal {results['seconds_total']:.0f} s; figures in {where}")


if __name__ == "__main__":
    main()
