"""The structural mechanisms of issue 12, each against an analytical expectation, a limit or its switch.

Stochastic checks use three standard errors (Poisson or binomial) at a fixed seed; deterministic ones
are exact. ``QUIET`` (conftest) switches off everything that moves workers, so one process drives the
numbers.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd
import pytest
from conftest import QUIET, params, run, total

from sim.model.clock import DAYS_PER_MONTH
from sim.model.mechanisms import enforcement, sites
from sim.model.mechanisms.production import quadrature_yield
from sim.model.model import ScamModel
from sim.model.schemas import CampaignParams, ConfigError, TargetParams
from sim.runs.config import load_config

TWO_YEARS = {"time__end": "2021-12-28"}


def quiet(**overrides):
    return params(**{**QUIET, **TWO_YEARS, "scale": 0.1, **overrides})


def within_3_se_poisson(observed: float, mean: float) -> bool:
    return abs(observed - mean) <= 3 * math.sqrt(mean)


def started(p, steps: int = 10, seed: int = 1) -> ScamModel:
    model = ScamModel(p, seed)
    for _ in range(steps):
        model.step()
    return model


# ------------------------------------------------------------------------------ raid capacity (§2)
def test_raids_per_year_are_the_capacity_whatever_the_number_of_compounds():
    p = quiet(
        police__raid_capacity=50.0,
        police__corruption=0.0,
        police__closure_prob=0.0,
        police__relocate_after_raid=0.0,
        raids__downtime_months=0.0,
    )
    model = run(p, seed=21)
    years = model.clock.n_steps * model.clock.dt_years
    assert within_3_se_poisson(total(model, "raids").sum(), 50.0 * years)
    p.jurisdictions["cambodia"].initial_compounds = 60  # more than twice the compounds: same raids
    more = run(p, seed=21)
    assert within_3_se_poisson(total(more, "raids").sum(), 50.0 * years)


def test_per_compound_variant_scales_police_effort_with_the_industry():
    p = quiet(police__raid_capacity=50.0, police__corruption=0.0, police__closure_prob=0.0)
    p.police.relocate_after_raid = 0.0
    p.raids.downtime_months = 0.0
    p.mechanisms.raid_capacity = False
    p.police.elite_raid_weight = 1.0
    p.police.protected_raid_weight = 1.0
    model = run(p, seed=22)
    years = model.clock.n_steps * model.clock.dt_years
    n = p.jurisdictions["cambodia"].initial_compounds
    rate = 50.0 / p.police.reference_compounds
    assert within_3_se_poisson(total(model, "raids").sum(), n * rate * years)


def test_campaign_raids_fall_on_the_hub_unleaked_and_vanish_without_campaigns():
    campaign = CampaignParams(start="2020-03-01", end="2021-02-28", towns="hub", raids=40.0, leak_factor=0.0)
    p = quiet(police__corruption=0.9, raids__downtime_months=0.0, police__closure_prob=0.0)
    p.police.campaigns = {"sweep": campaign}
    p.jurisdictions["cambodia"].initial_compounds = 60
    model = run(p, seed=23)
    log = [r for r in model.ledger.raids if r["campaign"] == "sweep"]
    assert within_3_se_poisson(len(log), 40.0)
    assert all(r["town"] == 0 and not r["tipped_off"] for r in log)
    p.police.campaigns = {}
    assert run(p, seed=23).ledger.raids == []


# ---------------------------------------------------------------------------- raid costs (§3a)
def test_unleaked_raid_seizes_breaks_the_pipeline_and_stops_work():
    p = quiet(police__closure_prob=0.0, police__relocate_after_raid=0.0, scale=0.05)
    model = started(p)
    c = next(c for c in model.compounds if (model.targets.compound == c.cid).any())
    targets_before = int((model.targets.compound == c.cid).sum())
    held = int(model.held_by_compound()[c.cid])
    expected = p.raids.cash_months * model.net_yield() * model.accounts.work[c.cid]
    expected += p.raids.asset_loss_per_worker * held
    costs = model.accounts.costs[c.cid]
    enforcement.raid(c, tipped_off=False)
    assert model.accounts.costs[c.cid] - costs == pytest.approx(expected, rel=1e-9)
    assert not (model.targets.compound == c.cid).any()
    assert total(model, "targets_broken").sum() == targets_before
    assert model.accounts.down_until[c.cid] == pytest.approx(model.day + 2.0 * DAYS_PER_MONTH)
    groomed = total(model, "targets_groomed").sum()
    for _ in range(8):  # under two months: no work, no targets, no new recruits
        model.step()
        assert model.held_by_compound()[c.cid] == 0 or model.accounts.work[c.cid] == 0
    assert not (model.targets.compound == c.cid).any()
    assert total(model, "targets_groomed").sum() >= groomed  # the others keep working


def test_without_raid_costs_targets_keep_paying_after_a_raid():
    p = quiet(police__closure_prob=0.0, police__relocate_after_raid=0.0, scale=0.05)
    p.mechanisms.raid_costs = False
    model = started(p, steps=20)
    c = next(c for c in model.compounds if (model.targets.compound == c.cid).any())
    enforcement.raid(c, tipped_off=False)
    income = model.accounts.scam_income[c.cid]
    model.step()
    assert model.accounts.scam_income[c.cid] > income
    assert model.accounts.down_until[c.cid] == -np.inf


# ---------------------------------------------------------------------------- site state (§3b)
def test_a_move_costs_per_worker_and_stops_work_for_move_months():
    p = quiet(scale=0.05)
    model = started(p)
    c = model.compounds[0]
    held = int(model.held_by_compound()[c.cid])
    old_spell = c.spell
    sites.relocate(c)
    moved = total(model, "relocation_costs").sum()
    assert moved == pytest.approx(p.sites.move_cost_per_worker * held)
    assert model.accounts.down_until[c.cid] == pytest.approx(model.day + p.sites.move_months * DAYS_PER_MONTH)
    assert model.spells.reason[old_spell] == 1 and model.spells.end[old_spell] == model.day  # "moved"
    assert c.spell == model.spells.n - 1 and model.spells.cid[c.spell] == c.cid  # a new spell opened


def test_a_site_shut_by_a_raid_is_sealed_then_free_again():
    p = quiet(scale=0.05, sites__seal_months=3.0)
    p.jurisdictions["cambodia"].towns = 1
    model = started(p)
    c = model.compounds[0]
    sealed = c.site
    sites.close(c, reason="raid")
    other = model.compounds[1]
    boss = other.boss
    during = sites.open_compound(model, boss, near=0, juris=0)
    assert during.site != sealed
    model.day += 4 * DAYS_PER_MONTH
    after = sites.open_compound(model, boss, near=0, juris=0)
    assert after.site == sealed
    assert total(model, "site_costs").sum() == pytest.approx(
        (p.sites.build_cost + p.sites.refit_cost) * p.scale
    )


def test_without_site_state_moves_and_sites_cost_nothing():
    p = quiet(scale=0.05)
    p.mechanisms.site_state = False
    model = started(p)
    sites.relocate(model.compounds[0])
    assert total(model, "relocation_costs").sum() == total(model, "site_costs").sum() == 0
    assert model.up().all()


# ---------------------------------------------------------------------------- entry and exit (§3c)
def test_entrants_arrive_at_the_rate_of_the_recorded_margin():
    p = params(police__raid_capacity=0.0, police__campaigns={}, entry__rate=20.0, time__end="2022-12-27")
    model = run(p, seed=24)
    margin = model.ledger.series["entry_margin"][:, 0]
    expected = (20.0 * np.clip(margin, 0, 1) * model.clock.dt_years).sum()
    assert margin.min() > 0
    assert within_3_se_poisson(total(model, "entries").sum(), expected)
    assert sum(c.entered for c in model.compounds) == total(model, "entries").sum()


def test_entry_goes_where_the_business_pays_and_nowhere_without_the_switch():
    # Honest, massive policing in Cambodia makes a new compound there a loss; its neighbours still pay.
    overrides = ["jurisdictions=mekong", "scale=0.05", "time.end=2022-12-31", "entry.rate=5"]
    overrides += ["jurisdictions.cambodia.corruption=0", "jurisdictions.cambodia.raid_capacity_factor=15"]
    p = load_config(overrides)
    entries = sum(total(run(p, seed=s), "entries") for s in range(2))
    by_juris = sum(run(p, seed=s).ledger.series["entries"].sum(axis=0) for s in range(2))
    assert by_juris[0] == 0 and by_juris[1:].sum() > 0, by_juris
    assert entries.sum() == by_juris.sum()
    p.mechanisms.entry_exit = False
    assert total(run(p, seed=0), "entries").sum() == 0


# ---------------------------------------------------------------------------- tip-offs (§3d)
def test_protected_compounds_are_tipped_off_with_their_own_probability():
    p = params(police__corruption=1.0, police__raid_capacity=100.0, time__end="2021-12-28")
    model = run(p, seed=25)
    raids, tipped = total(model, "raids").sum(), total(model, "raids_tipped_off").sum()
    share = p.police.protected_tipoff  # every compound is protected at corruption 1
    assert raids > 100
    assert abs(tipped - raids * share) <= 3 * math.sqrt(raids * share * (1 - share))
    p.mechanisms.tipoff_decoupled = False
    off = run(p, seed=25)
    assert total(off, "raids_tipped_off").sum() == total(off, "raids").sum() > 0


def test_corruption_no_longer_cancels_raids():
    p = params(police__corruption=1.0, time__end="2025-06-30")
    held = {}
    for capacity in (0.0, 200.0):
        p.police.raid_capacity = capacity
        held[capacity] = total(run(p, seed=26), "workers_held")[-1]
    assert held[200.0] < 0.5 * held[0.0], held


# ------------------------------------------------------------------------- workforce (§3e)
@pytest.mark.parametrize("seed", [1, 2])
def test_a_deep_productivity_cut_empties_compounds_only_with_workforce_economics(seed):
    cut = {"kind": "infrastructure_cut", "start": "2022-01-01", "end": "2022-06-30", "productivity": 0.05}
    ratio = {}
    for switch in (True, False):
        p = params(time__end="2022-06-30", police__raid_capacity=0.0, police__campaigns={})
        p.mechanisms.workforce_economics = switch
        p.policies = {"cut": dict(cut)}
        model = run(p, seed=seed)
        held = total(model, "workers_held")
        before = held[model.clock.dates() < np.datetime64("2022-01-01")][-1]
        ratio[switch] = held[-1] / before
    assert ratio[True] <= 0.5 and ratio[False] >= 0.9, ratio


# ----------------------------------------------------------------------------- exits (§3f)
def test_released_people_are_retrafficked_at_their_share_and_extorted_exactly():
    p = params(police__raid_capacity=150.0, police__corruption=0.0, time__end="2021-12-28")
    p.workers.retraffic_share = 0.3
    model = run(p, seed=27)
    left = total(model, "exits_released").sum() + total(model, "exits_rescue").sum()
    back = total(model, "retrafficked").sum()
    n = left + back  # those who would have left
    assert back > 0
    # Re-trafficking needs a buyer with room, so at most the share (3 SE above) and most of it.
    assert back <= n * 0.3 + 3 * math.sqrt(n * 0.3 * 0.7)
    assert back >= 0.5 * n * 0.3
    extortion = total(model, "detention_extortion").sum()
    assert extortion == pytest.approx(total(model, "extorted").sum() * p.workers.detention_bribe)


# ---------------------------------------------------------------------------- survey (§1)
def test_every_spell_in_the_window_falls_in_exactly_one_category():
    import sim

    results = sim.run(sim.load_config(["scale=0.05", "time.end=2025-07-31", "n_seeds=2", "n_jobs=1"]))
    m = results.metrics
    parts = m["am7_never"] + m["am7_operating"] + m["am7_gone"] + m["am7_shut"]
    assert (parts == m["compounds_in_window"]).all()
    assert (m["am7_gone"] > 0).all()  # raids leave a visible group neither operating nor shut


# ------------------------------------------------------------------------ expected profit (§4)
def test_expected_yield_is_finite_over_the_allowed_susceptibility_shapes_and_drain_shares():
    # Found by the fuzz test: a shape of 5e-324 (then allowed) made the quadrature divide 0 by 0.
    base = TargetParams()
    for a, b in [(0.5, 0.5), (0.5, 100.0), (100.0, 0.5), (100.0, 100.0)]:
        value = quadrature_yield(dataclasses.replace(base, susceptibility_a=a, susceptibility_b=b))
        assert math.isfinite(value) and value > 0, (a, b)
    with pytest.raises(ConfigError, match=r"targets.susceptibility_a=0.1 is outside the allowed range"):
        load_config(["targets.susceptibility_a=0.1"])
    # Likewise a drain share of 1 (then allowed) made the drain time infinite: the share must stay below 1.
    assert math.isfinite(quadrature_yield(dataclasses.replace(base, drain_share=math.nextafter(1.0, 0.0))))
    with pytest.raises(ConfigError, match=r"targets.drain_share=1.0 is outside the allowed range \(0, 1\)$"):
        load_config(["targets.drain_share=1.0"])


def test_expected_yield_matches_realised_takings():
    p = params(**{**QUIET, "time__end": "2022-12-27", "scale": 0.3, "compounds__quota": 0.0})
    p.targets.wealth_sigma = 0.3
    model = ScamModel(p, 28)
    realised = expected = 0.0
    while model.running:
        model.step()
        if model.steps > 52:  # the pipeline has filled after a year
            realised += model.ledger.series["target_losses"][model.steps - 1].sum()
            expected += model.yield_per_work * model.accounts.work.sum() * model.clock.dt_months
    assert 0.95 <= realised / expected <= 1.05


# ---------------------------------------------------------------------------- robustness (§6)
def test_robustness_table_reads_each_conclusion_per_variant():
    from sim.analysis.robustness import CONCLUSIONS, conclusions_table, markdown

    table = conclusions_table(robustness_runs(), resamples=50).set_index(
        pd.Index([c.id for c in CONCLUSIONS])
    )
    assert table.loc["C3", "all on"].startswith("✓") and table.loc["C3", "coupled tip-offs (d)"].startswith(
        "✗"
    )
    assert table.loc["C1", "all on"].startswith("✓") and table.loc["C6", "all on"].startswith("✓")
    assert "C3: depends on: coupled tip-offs (d)." in markdown(table.reset_index(drop=True))


def robustness_runs() -> pd.DataFrame:
    """A synthetic robustness sweep: raids bite in v0 at any corruption; in v4 not at corruption 1."""
    rng = np.random.default_rng(0)
    rows = []
    for variant in ("v0", "v4"):
        for capacity in (0, 5, 10, 15, 20, 30, 40, 60, 100, 200):
            for corruption in (0.2, 0.4, 0.6, 1.0):
                # v0: raids bite whatever the corruption; v4: at corruption 1 they do nothing
                bite = 0.0 if (variant == "v4" and corruption == 1.0) else 0.02
                held = 100_000 * math.exp(-bite * capacity) * (0.5 + corruption)
                for _ in range(4):
                    rows.append(
                        {
                            "variant": variant,
                            "police.raid_capacity": float(capacity),
                            "police.corruption": corruption,
                            "workers_held_end": held * (1 + 0.01 * rng.standard_normal()),
                            "compounds_active_mid2025": held / 1000,
                            "compounds_opened": 10.0 + capacity / 10,
                            "entries": 1.0,
                            "am7_remaining_share": 0.72,
                            "status": "ok",
                        }
                    )
    return pd.DataFrame(rows)


def test_robustness_study_writes_table_figure_and_runs_and_keeps_another_sweeps_output(tmp_path):
    from sim.analysis.robustness import conclusions_table
    from sim.report import robustness
    from sim.runs.collect import Sweep, load_sweep

    runs = robustness_runs()
    sweep = tmp_path / "sweep"
    Sweep(runs, {"config_hash": "abc", "written_by": "scamsim"}).write(sweep)
    out = tmp_path / "out"
    robustness.draw(sweep, out, resamples=20)
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted(
        ["conclusions.csv", "conclusions.md", "metadata.json", "runs.parquet", "variants.png", "variants.svg"]
    )
    assert pd.read_csv(out / "conclusions.csv").equals(conclusions_table(runs, 20))
    assert load_sweep(out).runs.equals(runs)
    fig = robustness.variants_figure(runs, {})
    panels = [ax for ax in fig.axes if ax.get_visible() and ax.get_title()]
    assert [ax.get_title() for ax in panels] == ["v0: all on", "v4: coupled tip-offs (d)"]
    # Another sweep's output is never replaced unless asked.
    Sweep(runs, {"config_hash": "other", "written_by": "scamsim"}).write(sweep)
    with pytest.raises(robustness.dirs.DirError):
        robustness.draw(sweep, out, resamples=20)
    robustness.draw(sweep, out, overwrite=True, resamples=20)
