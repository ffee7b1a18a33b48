"""Unit tests of the building blocks: clock, array tables, metrics, results files."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import sim
from sim.model.clock import Clock
from sim.model.ledger import EXIT_ROUTES, HELD_BINS, HELD_EDGES_MONTHS, LOSS_BINS
from sim.model.population import ArrayTable
from sim.runs import metrics
from sim.runs.results import Results, load_results


# ------------------------------------------------------------------------------------------ clock
def test_per_step_probabilities_compose_across_step_lengths():
    start, end = dt.date(2020, 1, 1), dt.date(2020, 12, 31)
    week, half = Clock(start, end, 7.0), Clock(start, end, 3.5)
    rate = np.array([0.1, 1.0, 12.0, 100.0])
    # Surviving two half-steps is exactly surviving one full step.
    np.testing.assert_allclose(1 - (1 - half.p_year(rate)) ** 2, week.p_year(rate), rtol=1e-12)
    np.testing.assert_allclose(week.p_month(rate), 1 - np.exp(-rate * 7 / (365.25 / 12)))


def test_clock_covers_the_calendar():
    clock = Clock(dt.date(2020, 1, 1), dt.date(2026, 12, 31), 7.0)
    assert clock.dates()[0] == np.datetime64("2020-01-01")
    assert clock.dates()[-1] <= np.datetime64("2026-12-31") < clock.dates()[-1] + np.timedelta64(7, "D")
    assert clock.step_of(dt.date(2020, 1, 8)) == 1
    assert clock.date(clock.step_of(dt.date(2023, 8, 15))) <= dt.date(2023, 8, 15)


# ------------------------------------------------------------------------------------ array table
class Table(ArrayTable):
    COLUMNS = {"uid": "int64", "x": "float32"}  # noqa: RUF012


def test_keep_and_remap_match_a_plain_python_reference():
    rng = np.random.default_rng(0)
    table = Table(capacity=4)
    alive = []
    next_uid = 0
    for _ in range(200):
        k = int(rng.integers(0, 50))
        uids = np.arange(next_uid, next_uid + k)
        table.append(uid=uids, x=uids.astype(np.float32) * 0.5)
        alive += uids.tolist()
        next_uid += k
        refs = rng.integers(-1, table.n, 30)  # row references held by someone else
        ref_uids = [table.uid[r] if r >= 0 else None for r in refs]
        mask = rng.random(table.n) < 0.8
        gone = set(table.uid[~mask].tolist())
        table.keep(mask)
        alive = [u for u in alive if u not in gone]
        assert sorted(table.uid.tolist()) == alive
        np.testing.assert_array_equal(table.x, table.uid * 0.5)
        new = table.remap(refs)
        for r, uid in zip(new, ref_uids, strict=True):
            if uid is None or uid in gone:
                assert r == -1
            else:
                assert table.uid[r] == uid


def test_memory_follows_live_rows():
    table = Table()
    table.append(uid=np.arange(100_000), x=np.zeros(100_000))
    table.keep(np.arange(100_000) < 1000)
    assert table.capacity <= 4 * 1000 + 4096


def test_append_needs_every_column():
    with pytest.raises(ValueError, match="exactly the columns"):
        Table().append(uid=np.arange(3))


# ---------------------------------------------------------------------------------------- metrics
def test_am7_categories_follow_the_observation_model():
    w0, e = pd.Timestamp(2024, 1, 1), pd.Timestamp(2025, 6, 30)
    day = pd.Timedelta(days=1)
    t0, nat = pd.Timestamp(2020, 1, 1), pd.NaT
    early = t0 + 100 * day
    rows = [
        # (jurisdiction, start, end, reason, first intervention, first raid, down at E, emptied at E,
        # expected category)
        ("cambodia", t0, nat, "open", nat, nat, False, False, "N"),  # never investigated
        (
            "cambodia",
            t0,
            t0 + 400 * day,
            "closed_boss",
            nat,
            nat,
            False,
            False,
            None,
        ),  # ended before the window
        ("cambodia", t0, w0 + 10 * day, "closed_boss", nat, nat, False, False, "N"),  # wound down, never seen
        ("cambodia", t0, nat, "open", early, nat, False, False, "O"),  # rescue visit, operating as before
        ("cambodia", t0, nat, "open", early, early, False, False, "O"),  # raided, operating as before
        ("cambodia", t0, w0 + 5 * day, "closed_raid", w0 + 5 * day, w0 + 5 * day, False, False, "S"),  # shut
        ("cambodia", t0, w0 + 5 * day, "moved", w0 + 5 * day, w0 + 5 * day, False, False, "G"),  # moved away
        ("cambodia", t0, nat, "open", early, early, True, False, "G"),  # down at E
        ("cambodia", t0, nat, "open", early, nat, False, True, "G"),  # emptied at E
        (
            "cambodia",
            t0,
            e + 30 * day,
            "closed_raid",
            e + 30 * day,
            e + 30 * day,
            False,
            False,
            "N",
        ),  # raided after E
        ("cambodia", e + day, nat, "open", nat, nat, False, False, None),  # opened after E
        ("laos", t0, nat, "open", nat, nat, False, False, None),  # not the focal jurisdiction
    ]
    cols = [
        "jurisdiction",
        "start",
        "end",
        "reason",
        "first_intervention",
        "first_raid",
        "down_end",
        "emptied_end",
    ]
    spells = pd.DataFrame([r[:-1] for r in rows], columns=cols)
    expected = [r[-1] for r in rows if r[-1] is not None]
    category = metrics.am7_categories(spells, "cambodia")
    assert category.tolist() == expected
    period = (dt.date(2020, 1, 1), dt.date(2026, 12, 31))
    out = metrics.am7(spells, period, "cambodia")
    counts = {c: expected.count(c) for c in "NOGS"}
    assert (out["am7_never"], out["am7_operating"], out["am7_gone"], out["am7_shut"]) == tuple(
        counts[c] for c in "NOGS"
    )
    assert out["compounds_in_window"] == len(expected) == sum(counts.values())
    assert out["am7_remaining_share"] == pytest.approx(
        (counts["N"] + counts["O"]) / (len(expected) - counts["S"])
    )
    assert "am7_share" not in out  # retired: (N + O) / all; one AM7 share, the one the fit reads
    assert out["am10_raided"] == 4  # spells in the window raided by E (rescue visits excluded)
    # A run that stops before the window ends (or starts after it begins) cannot judge it: missing, not 0.
    for period in [(dt.date(2020, 1, 1), dt.date(2025, 6, 29)), (dt.date(2024, 2, 1), dt.date(2026, 1, 1))]:
        assert all(np.isnan(v) for v in metrics.am7(spells, period, "cambodia").values())


def test_patterns_over_time_from_a_constructed_run():
    """AM11, IN3, AM6, AM8 and SC3 as their definitions say, on a hand-made series and spell table."""
    dates = pd.date_range("2023-12-04", "2025-07-28", freq="7D")
    held = np.where(dates < pd.Timestamp(2024, 2, 1), 1_000.0, 1_500.0)  # grows after January 2024
    series = pd.DataFrame({"date": dates, "jurisdiction": "cambodia", "workers_held": held})
    for name in HELD_BINS:
        series[name] = 0.0
    # In the window: 10 exits held 0-1 month, 30 held 3-6 months, 10 held 24 months or more -> median
    # in 3-6: 3 + 3 * (25 - 10) / 30 = 4.5 months. Exits outside the window do not count.
    in_window = (dates >= pd.Timestamp(2024, 1, 1)) & (dates <= pd.Timestamp(2025, 6, 30))
    first = np.flatnonzero(in_window)[0]
    series.loc[first, ["held_at_exit_0_1m", "held_at_exit_3_6m", "held_at_exit_24m_up"]] = [10, 30, 10]
    series.loc[0, "held_at_exit_24m_up"] = 1_000  # December 2023
    series["exits_escape"], series["exits_rescue"], series["exits_ransom"] = 0.0, 0.0, 0.0
    series.loc[first, ["exits_escape", "exits_rescue", "exits_ransom"]] = [30, 10, 60]
    day = pd.Timestamp(2020, 1, 1)
    spells = pd.DataFrame(
        {
            "site": [1, 1, 2, 3, 4, 5],  # site 1 occupied twice: one site
            "jurisdiction": ["cambodia"] * 5 + ["laos"],
            "start": [day, day + pd.Timedelta(days=900), day, day, pd.Timestamp(2026, 2, 1), day],
            # site 2 vacated (the compound moved), site 3 sealed after a raid: both still count
            "reason": ["moved", "open", "moved", "closed_raid", "open", "open"],
        }
    )
    period = (dt.date(2020, 1, 1), dt.date(2026, 12, 31))
    out = metrics.over_time(series, spells, period, "cambodia")
    assert out["am11_held_ratio"] == pytest.approx(1.5)
    assert out["in3_months_held_median"] == pytest.approx(4.5)
    assert out["am6_min_route_share"] == pytest.approx(0.1) and out["am8_rescue_share"] == pytest.approx(0.1)
    assert out["sc3_sites"] == 3  # sites 1, 2, 3; site 4 opened after January 2026, site 5 in Laos
    # A run ending before January 2026 cannot count SC3's sites; one ending mid-window judges nothing.
    short = metrics.over_time(series, spells, (dt.date(2020, 1, 1), dt.date(2025, 12, 31)), "cambodia")
    assert np.isnan(short["sc3_sites"]) and short["am11_held_ratio"] == pytest.approx(1.5)
    cut = metrics.over_time(series, spells, (dt.date(2020, 1, 1), dt.date(2025, 3, 31)), "cambodia")
    assert all(np.isnan(v) for v in cut.values())


@pytest.mark.parametrize(
    ("counts", "median"),
    [
        ([4, 0, 0, 0, 0, 0], 0.5),  # all under a month: linear within [0, 1)
        ([0, 0, 10, 10, 0, 0], 6.0),  # half in 3-6, half in 6-12: the edge between
        ([1, 1, 1, 1, 1, 10], 24.0),  # most held 24 months or more: the open bin's lower edge
    ],
)
def test_binned_median(counts, median):
    assert metrics.binned_median(np.array(counts, float), HELD_EDGES_MONTHS) == pytest.approx(median)
    assert np.isnan(metrics.binned_median(np.zeros(6), HELD_EDGES_MONTHS))


def test_time_held_at_exit_is_binned_per_person():
    model = sim.ScamModel(sim.load_config(["scale=0.02", "time.end=2021-12-31"]), 3)
    model.run_model()
    series = model.ledger.series
    exits = sum(series[f"exits_{r}"] for r in EXIT_ROUTES)
    binned = sum(series[name] for name in HELD_BINS)
    assert exits.sum() > 0
    np.testing.assert_allclose(binned, exits)  # every exit in exactly one bin, step by step
    # Workers held at the start were recruited up to a year before it: some leave after over a year.
    assert series["held_at_exit_12_24m"].sum() > 0 and series["held_at_exit_0_1m"].sum() > 0


def test_metrics_outside_the_simulated_period_are_missing_not_zero():
    config = sim.load_config(["scale=0.02", "time.end=2021-12-31", "n_seeds=1"])
    results = sim.run(config)
    row = results.metrics.iloc[0]
    undefined = [
        "compounds_in_window",
        "am7_remaining_share",
        "am7_shut",
        "am10_raided",
        "raids_window",
        "tipoff_share_post_en1",
        "compounds_active_mid2025",
        "workers_held_mid2025",
        "workers_held_aug2023",
        "quota_met_share",
        "am11_held_ratio",
        "sc3_sites",
        "in3_months_held_median",
        "am6_min_route_share",
        "am8_rescue_share",
    ]
    assert row[undefined].isna().all(), row[undefined]
    assert row["compounds_active_end"] > 0 and row["trafficked"] > 0  # defined for any period
    # The compound and spell tables give dates, like the other tables.
    for table, columns in (
        (results.compounds, ("opened", "closed", "first_raid")),
        (results.spells, ("start", "end", "first_intervention", "first_raid")),
    ):
        for column in columns:
            assert pd.api.types.is_datetime64_any_dtype(table[column]), column
    compounds = results.compounds
    assert compounds["opened"].min() == pd.Timestamp(config.time.start)
    assert (compounds["closed"].dropna() <= pd.Timestamp(config.time.end)).all()
    assert (compounds["closed"].dropna() >= compounds.loc[compounds["closed"].notna(), "opened"]).all()
    spells = results.spells
    assert (spells["end"].dropna() >= spells.loc[spells["end"].notna(), "start"]).all()


def test_loss_quantile_from_histogram_matches_sample_median():
    rng = np.random.default_rng(1)
    losses = 52_000 * rng.lognormal(0, 1.48, 200_000)
    counts = np.bincount(np.searchsorted(LOSS_BINS, losses), minlength=len(LOSS_BINS) + 1)
    assert metrics.loss_quantile(counts, 0.5) == pytest.approx(np.median(losses), rel=0.01)
    assert np.isnan(metrics.loss_quantile(np.zeros_like(counts), 0.5))


def test_summary_gives_median_and_90_percent_interval():
    summary = metrics.summarise(pd.DataFrame({"replicate": range(101), "x": np.arange(101.0)}))
    assert summary["x"]["median"] == 50 and summary["x"]["q05"] == 5 and summary["x"]["q95"] == 95


# ---------------------------------------------------------------------------------------- results
def tiny_results() -> Results:
    df = pd.DataFrame({"replicate": [0], "value": [1.0]})
    return Results(df, df, df, df, df, summary={"a": 1}, metadata={"b": 2, "written_by": "scamsim"})


def test_results_round_trip(tmp_path):
    path = tiny_results().write(tmp_path / "run")
    loaded = load_results(path)
    pd.testing.assert_frame_equal(loaded.metrics, tiny_results().metrics)
    assert loaded.summary == {"a": 1} and loaded.metadata == tiny_results().metadata


def test_failed_write_leaves_nothing_half_written_and_keeps_old_results(tmp_path, monkeypatch):
    tiny_results().write(tmp_path / "run")

    def disk_full(self, data):
        raise OSError(28, "No space left on device", str(self))

    monkeypatch.setattr(Path, "write_bytes", disk_full)
    with pytest.raises(OSError, match="No space left"):
        tiny_results().write(tmp_path / "run", files={"figures/f.png": b"png"})
    monkeypatch.undo()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]
    assert load_results(tmp_path / "run").summary == {"a": 1}


def test_load_results_rejects_other_directories(tmp_path):
    with pytest.raises(FileNotFoundError, match="not a scamsim results directory"):
        load_results(tmp_path)


# ------------------------------------------------------------------------------ weighted picking
@pytest.mark.parametrize("spread", [0.3, 3.0])  # even weights: rejection; uneven: inversion
def test_pick_by_weight_draws_in_proportion_to_weight(spread):
    from sim.model.mechanisms.production import pick_by_weight

    rng = np.random.default_rng(3)
    weights = rng.lognormal(0, spread, 50).astype(np.float32)
    k = 200_000
    picks = pick_by_weight(rng, weights, float(weights.sum(dtype=np.float64)), k)
    assert len(picks) == k and (np.diff(picks) >= 0).all()
    expected = k * weights / weights.sum()
    counts = np.bincount(picks, minlength=50)
    # Each count is binomial: within 4 standard errors (50 checks at once).
    assert (np.abs(counts - expected) <= 4 * np.sqrt(expected)).all()
