"""Interventions: each moves its mechanism the expected way, only inside its window, and restores.

Runs are small (2% population, 2020-2022, interventions from 2021) and paired: a scenario and its
baseline share the seed, so they agree step for step until the window opens (common random numbers)
and differ afterwards only through the intervention. Where the mechanism gives an exact expectation
(a leak or deception probability) the tolerance is three binomial standard errors; otherwise the test
asks for a margin well beyond the replicate-to-replicate spread, stated in the test.
"""

from __future__ import annotations

import copy
import datetime as dt
import functools
import math
import re
from pathlib import Path

import numpy as np
import pytest
from conftest import params, total

from sim.model.agents import Boss
from sim.model.interventions import KINDS
from sim.model.model import ScamModel
from sim.model.schemas import ConfigError, ModelParams
from sim.model.validation import validate
from sim.runs.config import CONFIG_DIR, load_config

START = "2021-01-01"
SEEDS = (1, 2, 3)

# One of each named intervention, with the default settings of configs/policy/ and the window moved
# into the short test run.
NAMED = {
    "raid_surge": {"kind": "raid_surge"},
    "anti_corruption": {"kind": "anti_corruption"},
    "awareness": {"kind": "awareness"},
    "financial_disruption": {"kind": "financial_disruption"},
    "infrastructure_cut": {"kind": "infrastructure_cut", "end": "2021-06-30"},
    "kingpin_removal": {"kind": "kingpin_removal"},
    "victim_protection": {"kind": "victim_protection"},
    "cross_border": {"kind": "cross_border"},
}


def small(**overrides: object) -> ModelParams:
    p = params(**overrides)
    p.scale = 0.02
    p.time.end = "2022-12-31"
    return p


def run_with(policies: dict, seed: int = 1, p: ModelParams | None = None) -> ScamModel:
    p = small() if p is None else copy.deepcopy(p)
    p.policies = {name: {"start": START, **entry} for name, entry in policies.items()}
    model = ScamModel(validate(p), seed)
    model.run_model()
    return model


@functools.cache
def baseline(seed: int = 1, mekong: bool = False) -> ScamModel:
    return run_with({}, seed, mekong_params() if mekong else None)


def mekong_params() -> ModelParams:
    p = load_config(["jurisdictions=mekong", "posterior=null", "police.raid_capacity=150"])
    p.scale = 0.02
    p.time.end = "2022-12-31"
    return p


def first_step(model: ScamModel, date: str) -> int:
    """Index of the first step starting on or after ``date``."""
    day = dt.date.fromisoformat(date)
    return next(i for i in range(model.clock.n_steps) if model.clock.date(i) >= day)


def after(model: ScamModel, name: str, date: str = START) -> float:
    """Total of ledger variable ``name`` from the step ``date`` falls in (the window) to the end."""
    return float(total(model, name)[first_step(model, date) :].sum())


def within_3_se(successes: float, n: float, p: float) -> bool:
    return abs(successes - n * p) <= 3 * math.sqrt(n * p * (1 - p))


def reached(model: ScamModel) -> float:
    """Help requests that reached police (the others can neither leak nor rescue anyone)."""
    return after(model, "help_requests") - after(model, "help_unreached")


CORRUPTION = ModelParams().police.corruption


def test_every_named_intervention_is_registered():
    assert set(NAMED) <= set(KINDS)


@pytest.mark.parametrize("name", sorted(NAMED))
def test_nothing_changes_before_the_window_opens(name):
    mekong = name == "cross_border"
    base = baseline(1, mekong)
    model = run_with({name: NAMED[name]}, 1, mekong_params() if mekong else None)
    k = first_step(model, START)
    for variable, series in base.ledger.series.items():
        np.testing.assert_array_equal(series[:k], model.ledger.series[variable][:k], err_msg=variable)
    changed = [v for v, s in base.ledger.series.items() if not np.array_equal(s, model.ledger.series[v])]
    assert changed, f"{name} changed nothing at all"


def test_raid_surge_multiplies_raids():
    # Multiplier 3 on the raid rate; closures thin out the compounds, so ask for at least 2x.
    raids = [
        (after(baseline(s), "raids"), after(run_with({"r": NAMED["raid_surge"]}, s), "raids")) for s in SEEDS
    ]
    base, surge = np.sum(raids, axis=0)
    assert base > 10
    assert surge > 2 * base, raids


def test_anti_corruption_halves_leaks_and_cuts_tipoffs_and_protection():
    # Corruption halved: each help request that reaches police leaks with half the probability (3 SE).
    model = run_with({"a": NAMED["anti_corruption"]}, 1)
    base = baseline(1)
    assert within_3_se(after(model, "help_leaked"), reached(model), CORRUPTION * 0.5)
    assert within_3_se(after(base, "help_leaked"), reached(base), CORRUPTION)
    # Raids at 2 per compound-year, pooled over three seeds: the tip-off share falls by more than 0.1
    # (measured 0.87 -> 0.69, binomial SE of the difference 0.05), and so does the protected share
    # of compound-weeks in 2022 (0.79 -> 0.62): fewer bribes are accepted on opening or moving.
    counts = np.zeros((2, 4))
    for s in SEEDS:
        p = small(police__raid_capacity=150.0)
        for row, m in enumerate((run_with({}, s, p), run_with({"a": NAMED["anti_corruption"]}, s, p))):
            counts[row, :2] += [after(m, "raids_tipped_off"), after(m, "raids")]
            counts[row, 2:] += [
                after(m, v, "2022-01-01") for v in ("compounds_protected", "compounds_active")
            ]
    tipped_off = counts[:, 0] / counts[:, 1]
    protected = counts[:, 2] / counts[:, 3]
    assert tipped_off[1] < tipped_off[0] - 0.1, counts
    assert protected[1] < protected[0] - 0.1, counts


def test_awareness_cuts_the_share_of_deceived_recruits_to_its_expected_value():
    # Awareness 0.1 -> 0.1 + 0.5 * 0.9 = 0.55 in every source; deceived share of recruits
    # 0.6 (1 - a) / (0.6 (1 - a) + 0.4): 0.574 before, 0.403 after (3 binomial SE).
    model = run_with({"a": {**NAMED["awareness"], "gain": 0.5}}, 1)
    expected = 0.6 * 0.45 / (0.6 * 0.45 + 0.4)
    assert within_3_se(after(model, "recruited_deceived"), after(model, "recruited"), expected)
    assert after(model, "recruited_deceived") < 0.8 * after(baseline(1), "recruited_deceived")


def test_financial_disruption_seizes_its_share_and_cuts_profit():
    model = run_with({"f": NAMED["financial_disruption"]}, 1)
    taken = after(model, "scam_revenue")
    assert after(model, "revenue_seized") == pytest.approx(0.1 * taken, rel=1e-9)
    assert after(model, "laundering_costs") == pytest.approx(0.1 * taken, rel=1e-9)
    assert total(model, "revenue_seized")[: first_step(model, START)].sum() == 0
    # Bosses' booked profit: a fifth of the takings is gone; ask for at least half of that.
    wealth, base_wealth = (sum(b.wealth for b in m.agents_by_type[Boss]) for m in (model, baseline(1)))
    assert wealth < base_wealth - 0.1 * taken


def test_infrastructure_cut_lowers_revenue_in_the_window_then_recovers():
    revenue = []
    for s in SEEDS:
        model = run_with({"cut": NAMED["infrastructure_cut"]}, s)
        assert all(c.productivity == 1.0 for c in model.compounds)  # restored after the window
        base = baseline(s)
        # Late in the window (Apr-Jun 2021) the grooming pipeline has emptied; a year after it
        # (Jul-Dec 2022) it has refilled.
        late = slice(first_step(model, "2021-04-01"), first_step(model, "2021-07-01"))
        later = slice(first_step(model, "2022-07-01"), None)
        revenue.append(
            [total(m, "scam_revenue")[window].sum() for window in (late, later) for m in (base, model)]
        )
    late_base, late_cut, later_base, later_cut = np.sum(revenue, axis=0)
    assert late_cut < 0.7 * late_base  # productivity 0.3 for six months
    assert later_cut == pytest.approx(later_base, rel=0.15)  # back to normal, within 15%


def test_kingpin_removal_leaves_no_protected_compound_after_the_date():
    model = run_with({"k": NAMED["kingpin_removal"]}, 1)
    k = first_step(model, START)
    assert total(baseline(1), "compounds_protected")[k:].min() > 0
    assert total(model, "compounds_protected")[k:].max() == 0
    assert not any(c.protected or c.elite for c in model.compounds)
    raids = [r for r in model.ledger.raids if r["step"] >= k]
    assert raids and not any(r["protected"] for r in raids)


def test_victim_protection_cuts_leaked_help_requests_to_their_expected_share():
    # Leak probability corruption * (1 - 0.8) per request reaching police (3 binomial SE); retaliation
    # halved.
    model = run_with({"v": NAMED["victim_protection"]}, 1)
    assert within_3_se(after(model, "help_leaked"), reached(model), CORRUPTION * 0.2)
    assert after(model, "help_leaked") < 0.3 * after(baseline(1), "help_leaked")
    assert model.p.workers.leak_punishment == 1 and model.p.workers.leak_resale == pytest.approx(0.15)


def test_cross_border_cooperation_cuts_relocations_across_borders():
    # Mekong, raids at 2 per compound-year so that compounds move. A site abroad weighs a fifth of
    # what it did: ask for under half the across-border share of relocations over three seeds.
    counts = np.zeros((2, 2))
    for s in SEEDS:
        for row, model in enumerate(
            (baseline(s, mekong=True), run_with({"x": NAMED["cross_border"]}, s, mekong_params()))
        ):
            counts[row] += [after(model, "relocated_out"), after(model, "relocated_within")]
    base_share, coop_share = counts[:, 0] / counts.sum(axis=1)
    assert counts[0, 0] >= 10, counts
    assert coop_share < 0.5 * base_share, counts


# --------------------------------------------------------------------------------------------------
# Windows and hooks
# --------------------------------------------------------------------------------------------------


def test_parameter_change_holds_over_its_window_then_restores():
    p = small()
    p.policies = {
        "more_raids": {"kind": "parameter", "key": "police.raid_capacity", "value": 150.0},
        "honest": {"kind": "parameter", "key": "police.corruption", "multiply": 10.0},
    }
    for entry in p.policies.values():
        entry.update(start="2021-01-01", end="2021-12-31")
    model = ScamModel(validate(p), 1)
    inside, outside = first_step(model, "2021-01-01"), first_step(model, "2022-01-01")
    seen = []
    while model.running:
        model.step()
        seen.append((model.police[0].raid_capacity, model.police[0].corruption, model.sites().leak.max()))
    default = ModelParams().police.raid_capacity
    assert seen[inside - 1] == (default, CORRUPTION, pytest.approx(CORRUPTION))  # schema defaults
    assert seen[inside] == (150.0, 1.0, 1.0)  # corruption x 10 is clipped to its range [0, 1]
    assert seen[outside - 1] == (150.0, 1.0, 1.0)
    assert seen[outside] == (default, CORRUPTION, pytest.approx(CORRUPTION))  # finalise restored them
    assert model.p.police.raid_capacity == default and p.police.raid_capacity == default  # caller's copy


def test_raid_surge_acts_on_each_jurisdictions_own_capacity_and_restores_it():
    p = mekong_params()
    p.jurisdictions["laos"].raid_capacity_factor = 0.2
    p.policies = {"r": {"kind": "raid_surge", "start": START, "end": "2021-06-30", "jurisdictions": ["laos"]}}
    model = ScamModel(validate(p), 1)
    rates = []
    while model.running:
        model.step()
        rates.append([police.raid_capacity for police in model.police])
    cambodia, myanmar = (150.0 * p.jurisdictions[j].raid_capacity_factor for j in ("cambodia", "myanmar"))
    k = first_step(model, START)
    assert rates[k] == [cambodia, myanmar, pytest.approx(90.0)]
    assert rates[-1] == [cambodia, myanmar, pytest.approx(30.0)]
    assert model.p.jurisdictions["laos"].raid_capacity_factor == pytest.approx(0.2)


@pytest.mark.parametrize(
    ("policy", "message"),
    [
        ({"kind": "raid_surge", "multipler": 2}, "unknown config key 'policies.p.multipler'"),
        ({"kind": "raid_surge", "multiplier": -1}, "policies.p.multiplier=-1.0 is outside the allowed range"),
        (
            {"kind": "raid_surge", "start": "2024-01-01", "end": "2023-01-01"},
            "policies.p.end='2023-01-01' is before",
        ),
        ({"kind": "raid_surge", "start": "2024-02-30"}, "policies.p.start='2024-02-30' is not a date"),
        ({"kind": "raid_surge", "start": "2030-01-01"}, "policies.p.start='2030-01-01' leaves no step"),
        ({"kind": "raid_surge", "end": "2019-12-31"}, "policies.p.end='2019-12-31' leaves no step"),
        # Between the starts of two weekly steps (2021-01-06 and 2021-01-13): it would never act either.
        ({"kind": "raid_surge", "start": "2021-01-07", "end": "2021-01-12"}, "policies.p.start='2021-01-07'"),
        ({"kind": "raid_surge", "multiplier": None}, "policies.p.multiplier=null is not allowed"),
        ({"kind": "awareness", "sources": None}, "policies.p.sources=null is not allowed"),
        ({"kind": "parameter", "key": None, "value": 1}, "policies.p.key=null is not allowed"),
        (
            {"kind": "parameter", "key": "police.raid_capacity", "multiply": "inf"},
            "policies.p.multiply=inf is",
        ),
        ({"kind": "raid_surge", "jurisdictions": ["atlantis"]}, "policies.p.jurisdictions=['atlantis']"),
        ({"kind": "surge"}, "policies.p.kind='surge' is not an intervention"),
        ({"kind": "parameter", "key": "police.nope", "value": 1}, "policies.p.key='police.nope' is not"),
        ({"kind": "parameter", "key": "scale", "value": 1}, "policies.p.key='scale' cannot change mid-run"),
        ({"kind": "parameter", "key": "police.corruption", "value": 2}, "policies.p.value=2.0 is outside"),
        ({"kind": "parameter", "key": "police.corruption"}, "give exactly one of value and multiply"),
        ({"kind": "awareness", "gain": "lots"}, "policies.p.gain='lots' is not a number"),
    ],
)
def test_invalid_interventions_get_one_line_errors(policy, message):
    p = small()
    p.policies = {"p": policy}
    with pytest.raises(ConfigError) as err:
        validate(p)
    assert message in str(err.value)
    assert "\n" not in str(err.value)


# --------------------------------------------------------------------------------------------------
# Config groups
# --------------------------------------------------------------------------------------------------

POLICY_DIR = Path(CONFIG_DIR) / "policy"
SCENARIOS = sorted(p.stem for p in (Path(CONFIG_DIR) / "scenario").glob("*.yaml"))


@pytest.mark.parametrize("name", SCENARIOS)
def test_every_scenario_composes_with_a_description_and_valid_interventions(name):
    config = load_config([f"scenario={name}"])
    assert config.scenario == name and config.name == name
    assert config.description and "\n" not in config.description
    assert config.policies and all(entry["kind"] in KINDS for entry in config.policies.values())


def test_every_named_intervention_has_a_preset_and_a_scenario_of_its_own():
    assert {p.stem for p in POLICY_DIR.glob("*.yaml")} == set(NAMED)
    assert set(NAMED) <= set(SCENARIOS)


@pytest.mark.parametrize("path", sorted(POLICY_DIR.glob("*.yaml")), ids=lambda p: p.stem)
def test_every_number_in_a_preset_cites_a_facts_id_or_an_assumption(path):
    for line in path.read_text().splitlines():
        value = line.split("#", 1)[0]
        if re.search(r":\s*[\d.]+\s*$", value) or re.search(r':\s*"\d{4}-', value):
            comment = line.split("#", 1)[1] if "#" in line else ""
            assert re.search(r"\bassumption\b|\b(?:AM|SC|TG|RC|IN|EN)\d+\b", comment), line
