"""Same configuration and seed give identical outputs, serial or parallel; seeds are independent;
scenarios run with the same seed share random streams (common random numbers)."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
from conftest import params, run, total

from sim.model.streams import Streams, replicate_seeds
from sim.runs.runner import run_replicates


def test_same_seed_same_run():
    a, b = run(params(), seed=21), run(params(), seed=21)
    for name, series in a.ledger.series.items():
        np.testing.assert_array_equal(series, b.ledger.series[name], err_msg=name)
    assert a.ledger.raids == b.ledger.raids


def test_different_seeds_differ():
    a, b = run(params(), seed=21), run(params(), seed=22)
    assert not np.array_equal(total(a, "recruited"), total(b, "recruited"))


def test_serial_and_parallel_runs_give_identical_tables():
    p = params()
    serial = run_replicates(p, n_seeds=3, seed=5, n_jobs=1)
    parallel = run_replicates(p, n_seeds=3, seed=5, n_jobs=2)
    for name in ("timeseries", "raids", "compounds", "metrics"):
        pd.testing.assert_frame_equal(getattr(serial, name), getattr(parallel, name))
    assert serial.summary == parallel.summary


def test_replicates_use_spawned_independent_streams():
    seeds = replicate_seeds(7, 3)
    draws = [Streams(s)["recruitment"].random(5) for s in seeds]
    assert not np.allclose(draws[0], draws[1])
    # A named stream is the same whoever asks for it, and differs between processes.
    streams = Streams(seeds[0])
    np.testing.assert_array_equal(Streams(seeds[0])["raids"].random(3), streams["raids"].random(3))
    assert not np.allclose(Streams(seeds[0])["raids"].random(3), Streams(seeds[0])["escape"].random(3))


def test_common_random_numbers_scenarios_agree_until_their_mechanisms_differ():
    # Two scenarios that differ only in the raid capacity draw the same numbers for everything else,
    # so their histories are identical until the first raid in either.
    low = run(params(police__raid_capacity=3.0), seed=32)
    high = run(params(police__raid_capacity=6.0), seed=32)
    first_raid = min(r["step"] for r in low.ledger.raids + high.ledger.raids)
    assert first_raid > 2
    for name in ("recruited", "exits_escape", "targets_groomed", "target_losses", "punishments"):
        np.testing.assert_array_equal(
            total(low, name)[:first_raid], total(high, name)[:first_raid], err_msg=name
        )
    assert not np.array_equal(total(low, "workers_held"), total(high, "workers_held"))


def test_public_api_run_applies_posterior_draws_and_keeps_overridden_keys(tmp_path):
    import sim
    from sim.runs import posterior

    # A copy of the committed posterior, so that the provenance is that of a path.
    path = tmp_path / "particles.csv"
    shutil.copy(posterior.POSTERIOR_DIR / "calibrated.csv", path)
    config = sim.load_config(
        ["n_seeds=2", "n_jobs=1", "scale=0.05", "time.end=2021-12-31", f"posterior={path}"]
    )
    results = sim.run(config)
    direct = run_replicates(config, 2, config.seed, 1, draws=posterior.for_run(config))
    pd.testing.assert_frame_equal(results.metrics, direct.metrics)
    configured = run_replicates(config, 2, config.seed, 1)  # the parameters as configured, not drawn
    assert not results.metrics.equals(configured.metrics)
    assert results.metadata["config"]["scale"] == 0.05
    assert results.metadata["posterior"] == posterior.provenance(str(path))
    assert len(results.metadata["config_hash"]) == 12
    # A key set in the overrides stays as set in every draw, as on the command line.
    assert "police.raid_capacity" in sim.load_config(["police.raid_capacity=25"]).fixed
