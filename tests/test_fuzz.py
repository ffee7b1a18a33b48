"""Property-based configuration tests: bad values never pass, valid extremes keep people and money.

The values are derived from the schemas' own declarations (type, range, nullability; see
``sim.model.schemas.param``), for every model parameter, run setting and policy setting, so a field
added to a schema is fuzzed without touching this file. The default suite runs a bounded number of
examples (Hypothesis profile ``bounded``, tests/conftest.py); the ``slow`` variants run the profile
``full``.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import math
from typing import Any

import pytest
from conftest import assert_money_conserved, assert_people_conserved, run
from hypothesis import assume, given, note, settings
from hypothesis import strategies as st

from sim.model import keys
from sim.model.interventions import KINDS
from sim.model.resources import MEMORY_BUDGET, check_memory, estimate
from sim.model.schemas import ConfigError, JurisdictionParams, value_type
from sim.model.validation import validate
from sim.runs.config import RunConfig

FINITE = {"allow_nan": False, "allow_infinity": False}
BOUNDED = settings.get_profile("bounded")
FULL = settings.get_profile("full")


def base_config() -> RunConfig:
    """A valid run configuration with the default world (RunConfig's own defaults have no jurisdiction)."""
    return RunConfig(jurisdictions={"cambodia": JurisdictionParams()})


def leaf_fields(obj: Any, prefix: str = "") -> list[tuple[str, dataclasses.Field]]:
    """(dotted key, field) of every value of dataclass ``obj``, inside groups and named entries."""
    out = []
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if dataclasses.is_dataclass(value):
            out += leaf_fields(value, f"{prefix}{f.name}.")
        elif isinstance(value, dict) and f.name != "policies":
            for name, sub in value.items():
                out += leaf_fields(sub, f"{prefix}{f.name}.{name}.")
        else:
            out.append((f"{prefix}{f.name}", f))
    return out


PARAMETERS = dict(leaf_fields(base_config()))
POLICY_SETTINGS = {
    (kind, f.name): f for kind, cls in KINDS.items() for f in dataclasses.fields(cls) if f.name != "name"
}


# --------------------------------------------------------------------------------------------------
# Bad values
# --------------------------------------------------------------------------------------------------


def bad_values(f: dataclasses.Field) -> st.SearchStrategy:
    """Values field ``f`` must reject, from its declaration: out of range, not finite, wrong type, null."""
    kind, nullable = value_type(f)
    lo, hi, lo_open, hi_open = (f.metadata.get(k) for k in ("lo", "hi", "lo_open", "hi_open"))
    options = [] if nullable else [st.none()]
    if kind == "int":
        options.append(st.floats(float(lo), float(hi), **FINITE).filter(lambda x: not x.is_integer()))
        options += [st.integers(max_value=lo - 1), st.integers(min_value=hi + 1)]
    if kind in ("int", "float"):
        lo, hi = (None if x is None else float(x) for x in (lo, hi))
        # Text that reads as a number is a number to YAML and the policy settings ("0" is 0.0): not bad.
        words = st.text(max_size=5).filter(lambda s: not _is_number(s))
        options += [st.sampled_from([math.nan, math.inf, -math.inf]), words, st.booleans()]
        if lo is not None:
            options.append(st.floats(max_value=lo, exclude_max=not lo_open, **FINITE))
        if hi is not None and math.isfinite(hi):
            options.append(st.floats(min_value=hi, exclude_min=not hi_open, **FINITE))
    elif f.metadata.get("unit") == "date":
        options.append(st.text(max_size=12).filter(lambda s: not _is_date(s)))
    elif kind == "list[str]":
        options += [st.lists(st.integers(), min_size=1, max_size=3), st.integers()]
    elif kind == "str":
        options += [st.integers(), st.floats(allow_nan=False)]
    elif kind == "bool":
        options += [st.integers(), st.text(max_size=5)]
    return st.one_of(options) if options else st.nothing()


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _is_date(text: str) -> bool:
    try:
        dt.date.fromisoformat(text)
    except ValueError:
        return False
    return True


def _fuzzable(f: dataclasses.Field) -> bool:
    return not bad_values(f).is_empty


def assert_one_line_naming(config: Any, key: str, value: Any) -> None:
    with pytest.raises(ConfigError) as err:
        validate(config)
    message = str(err.value)
    assert key in message, f"{key}={value!r}: {message}"
    assert "\n" not in message


BAD_PARAMETERS = {key: bad_values(f) for key, f in PARAMETERS.items() if _fuzzable(f)}
BAD_SETTINGS = {key: bad_values(f) for key, f in POLICY_SETTINGS.items() if _fuzzable(f)}


def check_bad_parameters(values: dict[str, Any]) -> None:
    base = base_config()
    for key, value in values.items():
        config = copy.deepcopy(base)
        node, name = keys.locate(config, key)
        setattr(node, name, value)  # as given: no cast, as a Python caller or a posterior file could
        assert_one_line_naming(config, key, value)


def check_bad_settings(values: dict[tuple[str, str], Any]) -> None:
    for (kind, name), value in values.items():
        config = base_config()
        config.policies = {"p": {"kind": kind, "start": "2021-01-01", name: value}}
        assert_one_line_naming(config, f"policies.p.{name}", value)


def test_every_schema_field_is_fuzzed():
    assert set(BAD_PARAMETERS) == set(PARAMETERS) and len(PARAMETERS) > 90
    assert set(BAD_SETTINGS) == set(POLICY_SETTINGS)


@BOUNDED
@given(st.fixed_dictionaries(BAD_PARAMETERS))
def test_a_bad_value_of_any_parameter_is_one_line_naming_it(values):
    check_bad_parameters(values)


@BOUNDED
@given(st.fixed_dictionaries(BAD_SETTINGS))
def test_a_bad_value_of_any_policy_setting_is_one_line_naming_it(values):
    check_bad_settings(values)


@pytest.mark.slow
@FULL
@given(st.fixed_dictionaries(BAD_PARAMETERS))
def test_a_bad_value_of_any_parameter_is_one_line_naming_it_full(values):
    check_bad_parameters(values)


@pytest.mark.slow
@FULL
@given(st.fixed_dictionaries(BAD_SETTINGS))
def test_a_bad_value_of_any_policy_setting_is_one_line_naming_it_full(values):
    check_bad_settings(values)


# --------------------------------------------------------------------------------------------------
# Valid extremes
# --------------------------------------------------------------------------------------------------

# What keeps an example fast: a small population and a short run (at most MAX_STEPS steps).
SMALL = {"scale": 0.01}
MAX_STEPS = 40
MAX_BYTES = 20e6  # populations estimated beyond this are skipped (sim.model.resources)
WORLD = {
    key: f
    for key, f in PARAMETERS.items()
    if key.split(".")[0] not in ("time", "name", "seed", "n_seeds", "n_draws", "n_jobs", "fixed", "force")
    and value_type(f)[0] in ("int", "float")
    and key != "scale"
}


def in_range(f: dataclasses.Field, default: Any) -> st.SearchStrategy:
    """Valid values of field ``f``, mostly at the ends of its declared range (or far beyond the default
    when it has no upper end)."""
    kind, nullable = value_type(f)
    lo, hi, lo_open, hi_open = (f.metadata.get(k) for k in ("lo", "hi", "lo_open", "hi_open"))
    if kind == "int":
        values = st.integers(lo, hi)
        ends = [lo, hi]
    else:
        low = math.nextafter(lo, math.inf) if lo_open else lo
        if not math.isfinite(hi):
            high = max(1e6 * (default or 1.0), 1e12)
        else:
            high = math.nextafter(hi, -math.inf) if hi_open else hi
        values = st.floats(low, high, **FINITE)
        ends = [low, high]
    options = [st.sampled_from(ends), values]
    return st.one_of([*options, st.none()] if nullable else options)


@st.composite
def extreme_configs(draw: st.DrawFn) -> RunConfig:
    """A valid configuration: a few parameters at extremes of their ranges, a short run, maybe a policy."""
    config = base_config()
    for key, value in SMALL.items():
        keys.set_value(config, key, value)
    chosen = draw(st.lists(st.sampled_from(sorted(WORLD)), min_size=1, max_size=6, unique=True))
    extremes = {key: draw(in_range(WORLD[key], keys.get(config, key))) for key in chosen}
    note(f"extremes: {extremes}")
    for key, value in extremes.items():
        keys.set_value(config, key, value)
    config.time.step_days = draw(st.sampled_from([0.25, 1.0, 7.0, 31.0]))
    steps = draw(st.integers(1, MAX_STEPS))
    days = max(math.ceil(steps * config.time.step_days), 2)  # time.end must come after time.start
    config.time.end = str(dt.date(2020, 1, 1) + dt.timedelta(days=days - 1))
    if draw(st.booleans()):
        kind = draw(st.sampled_from(sorted(set(KINDS) - {"parameter"})))
        settings_ = {
            f.name: draw(in_range(f, f.default))
            for f in dataclasses.fields(KINDS[kind])
            if value_type(f)[0] == "float" and f.metadata.get("lo") is not None
        }
        config.policies = {"p": {"kind": kind, **settings_}}
    note(f"time: {config.time}, policies: {config.policies}")
    return config


def check_extreme_config(config: RunConfig) -> None:
    try:
        validate(config)
    except ConfigError as exc:  # in range, but against a cross-field rule (e.g. no compound at all)
        reject_reason = str(exc)
        note(reject_reason)
        assume(False)
    nbytes = estimate(config).nbytes
    if nbytes > MEMORY_BUDGET:
        with pytest.raises(ConfigError):
            check_memory(config)
    assume(nbytes <= MAX_BYTES)
    model = run(config)
    assert_people_conserved(model)
    assert_money_conserved(model)


@BOUNDED
@given(extreme_configs())
def test_valid_extreme_configurations_conserve_people_and_money(config):
    check_extreme_config(config)


@pytest.mark.slow
@FULL
@given(extreme_configs())
def test_valid_extreme_configurations_conserve_people_and_money_full(config):
    check_extreme_config(config)
