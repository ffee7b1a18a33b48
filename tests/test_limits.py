"""Limiting cases whose outcome is known without simulation."""

from __future__ import annotations

import numpy as np
from conftest import params, run, total


def test_no_raids_means_no_raid_closures():
    model = run(params(police__raid_capacity=0.0, police__campaigns={}), seed=4)
    assert total(model, "raids").sum() == 0
    assert total(model, "compounds_closed_raid").sum() == 0
    assert model.ledger.raids == []
    assert total(model, "exits_released").sum() == 0  # nobody is released without a raid or closure
    assert total(model, "compounds_active")[-1] > 0


def test_full_corruption_with_coupled_tipoffs_tips_off_every_raid_and_no_help_request_rescues():
    model = run(
        params(
            police__raid_capacity=225.0,
            police__corruption=1.0,
            police__campaigns={},
            mechanisms__tipoff_decoupled=False,
        ),
        seed=5,
    )
    raids = total(model, "raids").sum()
    assert raids > 50
    assert total(model, "raids_tipped_off").sum() == raids
    assert all(r["tipped_off"] for r in model.ledger.raids)
    assert total(model, "compounds_closed_raid").sum() == 0
    assert total(model, "help_requests").sum() > 0
    reached = total(model, "help_requests").sum() - total(model, "help_unreached").sum()
    assert total(model, "help_leaked").sum() == reached > 0
    assert total(model, "exits_rescue").sum() == 0


def test_honest_police_with_frequent_raids_make_compounds_decline():
    for seed in range(3):
        model = run(params(police__raid_capacity=300.0, police__corruption=0.0, entry__rate=0.0), seed=seed)
        active = total(model, "compounds_active")
        assert active[-1] < 0.5 * model.p.jurisdictions["cambodia"].initial_compounds, seed
        assert total(model, "compounds_protected").max() == 0
        assert total(model, "raids_tipped_off").sum() == 0


def test_without_recruitment_the_workforce_only_falls():
    model = run(params(recruitment__ad_reach=0.0, recruitment__captive_recruit_rate=0.0), seed=6)
    held = total(model, "workers_held")
    assert total(model, "recruited").sum() == 0
    assert (np.diff(held) <= 0).all()
    assert held[-1] < 0.5 * held[0]


def test_zero_quota_means_nobody_is_punished_for_missing_it():
    # No help requests and no failed escapes: the other ways to be punished.
    model = run(params(compounds__quota=0.0, workers__help_rate=0.0, workers__escape_success=1.0), seed=7)
    assert total(model, "punishments").sum() == 0
    assert (model.workers.level == 0).all()


def test_grace_period_longer_than_the_run_spares_everyone():
    spared = run(params(compounds__grace_months=120.0, workers__help_rate=0.0), seed=8)
    punished = run(params(compounds__grace_months=0.0, workers__help_rate=0.0), seed=8)
    assert total(spared, "punishments").sum() == 0
    assert total(punished, "punishments").sum() > 1000
