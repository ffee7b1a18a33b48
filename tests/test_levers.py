"""Policy levers are declared once (sim.model.levers) and everything that names a lever uses them."""

from __future__ import annotations

import pytest
from omegaconf import OmegaConf

from sim.model import interventions, keys
from sim.model.levers import LEVERS, lever_of
from sim.model.schemas import ModelParams
from sim.report import app, phase
from sim.runs.config import compose_config


def test_each_lever_sets_existing_parameters_within_their_allowed_range():
    params = ModelParams()
    for lever in LEVERS.values():
        assert lever.label and lever.unit and lever.doc, lever.name
        assert lever.low < lever.high and 0 < lever.step <= lever.high - lever.low, lever.name
        for key in lever.keys:
            for concrete in keys.expand(params, key):
                meta = keys.metadata(params, concrete)
                assert meta["lo"] <= lever.low and lever.high <= meta["hi"], (lever.name, concrete)
        lever.set(params, lever.high)
        assert lever.value(params) == pytest.approx(lever.high), lever.name


def test_app_sliders_are_declared_levers():
    assert set(app.SLIDERS) <= set(LEVERS)
    model_inputs = app.lever_values(ModelParams())
    assert list(model_inputs) == list(app.SLIDERS)
    assert app.slider_label(LEVERS["raids"]) == f"{LEVERS['raids'].label} ({LEVERS['raids'].unit})"


@pytest.mark.parametrize("kind", sorted(set(interventions.KINDS) - {"parameter", "infrastructure_cut"}))
def test_each_intervention_kind_changes_only_declared_levers(kind):
    config = compose_config(["jurisdictions=mekong"])
    cls = interventions.KINDS[kind]
    changed = cls(name=kind).changes(config)
    assert changed, kind
    undeclared = [key for key in changed if lever_of(key) is None]
    assert undeclared == [], f"{kind} changes {undeclared}, which no lever in sim/model/levers.py declares"


def test_parameter_presets_and_phase_axes_name_declared_levers():
    assert lever_of(phase.RATE) is LEVERS["raids"] and lever_of(phase.CORRUPTION) is LEVERS["corruption"]
    sweep = OmegaConf.load("configs/experiment/phase.yaml").hydra.sweeper.params
    assert all(lever_of(key) is not None for key in sweep), list(sweep)
    assert LEVERS["raids"].label in phase.RATE_LABEL and LEVERS["raids"].unit in phase.RATE_LABEL


def test_a_key_no_lever_sets_is_not_a_lever():
    assert lever_of("police.raid_capacity") is LEVERS["raids"]
    assert lever_of("jurisdictions.myanmar.raid_capacity_factor") is LEVERS["raids"]
    assert lever_of("police.raid_rate") is None  # the per-compound rate of the model before issue 12
    assert lever_of("sources.china.awareness") is LEVERS["job_ad_awareness"]
    assert lever_of("time.step_days") is None
    assert lever_of("sources.china.weight") is None
