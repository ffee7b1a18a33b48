"""Configuration: every shipped config composes; bad values and unknown keys get one-line errors."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from sim.model import keys
from sim.model.schemas import ConfigError, ModelParams
from sim.model.validation import validate
from sim.runs.config import CONFIG_DIR, RunConfig, load_config

GROUPS = sorted(p.stem for p in (Path(CONFIG_DIR) / "jurisdictions").glob("*.yaml"))


@pytest.mark.parametrize("group", GROUPS)
def test_every_jurisdiction_config_composes_and_validates(group):
    config = load_config([f"jurisdictions={group}"])
    assert isinstance(config, RunConfig)
    assert config.focal in config.jurisdictions


def test_mekong_has_three_jurisdictions_with_their_own_towns():
    config = load_config(["jurisdictions=mekong"])
    assert list(config.jurisdictions) == ["cambodia", "myanmar", "laos"]
    assert config.jurisdictions["cambodia"].towns == 16  # AM1
    assert config.police_for("laos") == (
        config.police.raid_capacity * config.jurisdictions["laos"].raid_capacity_factor,
        config.police.corruption,
    )


def test_overrides_reach_the_parameters():
    config = load_config(
        ["police.raid_capacity=25", "police.corruption=0.1", "jurisdictions.cambodia.corruption=0.9"]
    )
    assert config.police.raid_capacity == 25
    assert config.police_for("cambodia") == (25, 0.9)


def ranged_fields(obj, prefix=""):
    """(key, object, field) for every parameter with a declared range."""
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if dataclasses.is_dataclass(value):
            yield from ranged_fields(value, f"{prefix}{f.name}.")
        elif isinstance(value, dict):
            for name, sub in value.items():
                if dataclasses.is_dataclass(sub):
                    yield from ranged_fields(sub, f"{prefix}{f.name}.{name}.")
        elif f.metadata.get("lo") is not None or f.metadata.get("hi") is not None:
            yield f"{prefix}{f.name}", obj, f


CASES = [(key, f) for key, _, f in ranged_fields(ModelParams())]


@pytest.mark.parametrize(("key", "field"), CASES, ids=[k for k, _ in CASES])
def test_values_outside_their_range_are_rejected_naming_key_and_range(key, field):
    lo, hi = field.metadata.get("lo"), field.metadata.get("hi")
    bad = lo - 1 if lo is not None else hi + 1
    if field.metadata.get("lo_open") and lo is not None:
        bad = lo
    p = ModelParams()
    keys.set_value(p, key, type(field.default)(bad) if field.default is not None else bad)
    with pytest.raises(ConfigError) as err:
        validate(p)
    message = str(err.value)
    assert key in message and "allowed range" in message and "\n" not in message


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("police.corruption=1.5", "police.corruption=1.5 is outside the allowed range [0, 1]"),
        ("police.raid_capacity=-1", "police.raid_capacity=-1.0 is outside the allowed range [0, 5000]"),
        ("police.raid_rate=1", "police.raid_rate was replaced by police.raid_capacity"),
        ("police.no_such_key=1", "unknown config key 'police.no_such_key'"),
        ("+bogus=1", "unknown config key 'bogus'"),
        ("police.corruption=abc", "police.corruption"),
        ("time.end=2019-12-31", "time.end='2019-12-31' must be after time.start='2020-01-01'"),
        ("time.start=2020-13-01", "time.start='2020-13-01' is not a date"),
        ("focal=atlantis", "focal='atlantis' is not a jurisdiction"),
        ("time.step_days=0", "time.step_days=0.0 is outside the allowed range [0.25, 31]"),
        (
            "police.raid_capacity=nan",
            "police.raid_capacity=nan is not a finite number; allowed: finite numbers",
        ),
        ("targets.wealth_median=inf", "targets.wealth_median=inf is not a finite number"),
        ("recruitment.price=-inf", "recruitment.price=-inf is not a finite number"),
        ("posterior=''", "posterior='' names no posterior; use posterior=null for none"),
        ("fixed=[police.bogus]", "fixed=['police.bogus']: 'police.bogus' is not a model parameter"),
        ("scenario=nope", "scenario=nope is not an option of 'scenario'; choose from anti_corruption"),
        ("scenario=crackdwn", "scenario=crackdwn is not an option of 'scenario' (did you mean 'crackdown'?)"),
        ("scenario=null", "scenario=null is not an option of 'scenario'"),
    ],
)
def test_bad_overrides_give_one_line_errors(override, expected):
    with pytest.raises(ConfigError) as err:
        load_config([override])
    assert expected in str(err.value)
    assert "\n" not in str(err.value)
