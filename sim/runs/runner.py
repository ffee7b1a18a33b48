"""Run replicates of the model, serially or in parallel, and assemble their results.

:func:`run_config` is the one way to run a configuration (``scamsim run``, :func:`sim.run`,
comparisons and briefs): replicate ``i`` runs with posterior draw ``i`` (keys in ``fixed`` keep their
configured value), and the results carry provenance.

Replicate ``i`` of a run with base seed ``s`` uses ``SeedSequence(s).spawn(n)[i]``, whichever process
runs it, so serial and parallel runs give identical tables, and two runs (or scenarios) with the same
base seed share their random streams replicate by replicate (common random numbers).
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from sim.model.model import ScamModel
from sim.model.schemas import ModelParams, parse_date
from sim.model.streams import replicate_seeds
from sim.runs import metrics, posterior, provenance, results
from sim.runs.config import RunConfig, as_dict


@dataclass
class ReplicateOutput:
    """The tables and metrics of one replicate."""

    replicate: int
    timeseries: pd.DataFrame
    raids: pd.DataFrame
    compounds: pd.DataFrame
    spells: pd.DataFrame
    metrics: dict[str, float]


def run_replicate(
    params: ModelParams,
    seed: np.random.SeedSequence,
    replicate: int,
    abandon: Callable[[ScamModel], bool] | None = None,
) -> ReplicateOutput | None:
    """Run the model once and reduce it to tables (the model itself stays in this process).

    Args:
        params: Model parameters.
        seed: The replicate's seed.
        replicate: Its number (a column of its tables).
        abandon: Asked after each step; True stops the run there and returns None (the calibration
            stops a run whose fit is already out of reach, :mod:`sim.analysis.early_rejection`).
    """
    model = ScamModel(params, seed)
    if abandon is None:
        model.run_model()
    else:
        while model.running:
            model.step()
            if abandon(model):
                return None
    ts = results.timeseries(model)
    cp = results.compounds(model)
    rd = results.raids(model)
    sp = results.spells(model)
    m = metrics.replicate_metrics(
        ts,
        cp,
        sp,
        rd,
        model.ledger.loss_counts,
        model.ledger.loss_total,
        (parse_date("time.start", params.time.start), parse_date("time.end", params.time.end)),
        params.focal,
    )
    for df in (ts, rd, cp, sp):
        df.insert(0, "replicate", replicate)
    return ReplicateOutput(replicate, ts, rd, cp, sp, m)


def run_replicates(
    params: ModelParams,
    n_seeds: int,
    seed: int,
    n_jobs: int = 1,
    progress: Callable[[int, int], None] | None = None,
    draws: list[dict[str, float]] | None = None,
) -> results.Results:
    """Run ``n_seeds`` replicates and combine them.

    Args:
        params: Model parameters.
        n_seeds: Number of replicates.
        seed: Base seed.
        n_jobs: Worker processes (1 runs in this process).
        progress: Called as ``progress(done, total)`` after each replicate.
        draws: Posterior draws (parameter values), one per replicate: replicate ``i`` runs with
            ``draws[i]`` applied to ``params``, so the spread over replicates includes parameter
            uncertainty. None runs every replicate with ``params`` as they are.

    Returns:
        Results without metadata (the caller adds provenance).
    """
    seeds = replicate_seeds(seed, n_seeds)
    if draws is not None and len(draws) < n_seeds:
        raise ValueError(f"{len(draws)} posterior draws for {n_seeds} replicates")
    per_replicate = [params if draws is None else posterior.apply(params, draws[i]) for i in range(n_seeds)]
    tasks = [(per_replicate[i], s, i) for i, s in enumerate(seeds)]
    return combine(parallel_map(_run_task, tasks, n_jobs, progress))


def run_config(
    config: RunConfig, command: str = "sim.run", progress: Callable[[int, int], None] | None = None
) -> results.Results:
    """Run a configuration's ``n_seeds`` replicates, each with its own posterior draw, with provenance.

    Args:
        config: A validated configuration; its ``posterior`` gives replicate ``i`` draw ``i`` (keys in
            ``fixed`` keep their configured value), ``posterior=null`` runs the parameters as configured.
        command: What ran it, for the provenance record (e.g. ``"scamsim run"``).
        progress: Called as ``progress(done, total)`` after each replicate.

    Returns:
        Results with provenance in ``metadata``.
    """
    out = run_replicates(
        config, config.n_seeds, config.seed, config.n_jobs, progress, draws=posterior.for_run(config)
    )
    out.metadata = run_metadata(config, command)
    return out


def run_metadata(config: RunConfig, command: str) -> dict[str, Any]:
    """Provenance of a run of ``config``: commit, versions, configuration, seeds and its posterior."""
    metadata = provenance.describe(as_dict(config), config.seed, config.n_seeds, command)
    if config.posterior:
        metadata["posterior"] = posterior.provenance(config.posterior)
    return metadata


def _run_task(task: tuple[ModelParams, np.random.SeedSequence, int]) -> ReplicateOutput:
    return run_replicate(*task)


def parallel_map[T, R](
    fn: Callable[[T], R],
    items: Sequence[T],
    n_jobs: int = 1,
    progress: Callable[[int, int], None] | None = None,
) -> list[R]:
    """``[fn(item) for item in items]``, over ``n_jobs`` worker processes; results in item order.

    The executor shared by replicates, sensitivity analyses and anything else that maps a picklable
    function over independent tasks. Results do not depend on ``n_jobs``: each task carries its own
    seed, never one drawn from a process-global stream.

    Args:
        fn: Picklable function of one task (a module-level function or a picklable callable object).
        items: The tasks.
        n_jobs: Worker processes (1 runs in this process).
        progress: Called as ``progress(done, total)`` after each task.

    Returns:
        The results, in the order of ``items``.
    """
    total = len(items)
    if n_jobs <= 1 or total <= 1:
        outputs = []
        for done, item in enumerate(items, start=1):
            outputs.append(fn(item))
            if progress:
                progress(done, total)
        return outputs
    slots: list = [None] * total
    # fork: workers inherit the imported modules, so start-up costs milliseconds, not seconds.
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(max_workers=min(n_jobs, total), mp_context=context) as pool:
        futures = {pool.submit(fn, item): i for i, item in enumerate(items)}
        for done, future in enumerate(as_completed(futures), start=1):
            slots[futures[future]] = future.result()
            if progress:
                progress(done, total)
    return slots


def combine(outputs: list[ReplicateOutput]) -> results.Results:
    """Stack replicate tables (in replicate order) and summarise the metrics."""
    per_replicate = pd.DataFrame([{"replicate": o.replicate, **o.metrics} for o in outputs])
    summary = metrics.summarise(per_replicate)
    return results.Results(
        timeseries=pd.concat([o.timeseries for o in outputs], ignore_index=True),
        raids=pd.concat([o.raids for o in outputs], ignore_index=True),
        compounds=pd.concat([o.compounds for o in outputs], ignore_index=True),
        spells=pd.concat([o.spells for o in outputs], ignore_index=True),
        metrics=per_replicate,
        summary={
            "metrics": summary,
            "published_comparison": metrics.comparison(summary).to_dict(orient="records"),
        },
    )
