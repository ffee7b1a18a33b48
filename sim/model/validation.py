"""Whole-configuration checks: every declared range, the cross-field rules and the interventions.

Kept apart from :mod:`sim.model.schemas` because interventions are declared with the schemas' own
:func:`~sim.model.schemas.param`, and checking a configuration means building its interventions.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from sim.model import keys
from sim.model.interventions import build
from sim.model.schemas import ConfigError, ModelParams, check_ranges, parse_date


def validate[P: ModelParams](params: P) -> P:
    """Check every value against its declared range and the cross-field rules.

    Args:
        params: Parameters to check.

    Returns:
        The same parameters, for chaining.

    Raises:
        ConfigError: On the first invalid value, with a one-line message naming key, value and range.
    """
    check_ranges(params)
    start = parse_date("time.start", params.time.start)
    end = parse_date("time.end", params.time.end)
    if end <= start:
        raise ConfigError(f"time.end={params.time.end!r} must be after time.start={params.time.start!r}")
    if not params.jurisdictions:
        raise ConfigError("jurisdictions={} must name at least one jurisdiction")
    if params.focal not in params.jurisdictions:
        raise ConfigError(
            f"focal={params.focal!r} is not a jurisdiction; allowed: {sorted(params.jurisdictions)}"
        )
    if not params.sources or sum(s.weight for s in params.sources.values()) <= 0:
        raise ConfigError("sources must have at least one country with weight > 0")
    if sum(j.initial_compounds for j in params.jurisdictions.values()) == 0:
        raise ConfigError("jurisdictions.*.initial_compounds are all 0; at least one compound needed")
    for name, campaign in params.police.campaigns.items():
        key = f"police.campaigns.{name}"
        if campaign.jurisdiction not in params.jurisdictions:
            raise ConfigError(
                f"{key}.jurisdiction={campaign.jurisdiction!r} is not a jurisdiction of the run; "
                f"allowed: {sorted(params.jurisdictions)}"
            )
        if campaign.towns not in ("hub", "all"):
            raise ConfigError(f"{key}.towns={campaign.towns!r}; allowed: ['all', 'hub']")
        if parse_date(f"{key}.end", campaign.end) < parse_date(f"{key}.start", campaign.start):
            raise ConfigError(f"{key}.end={campaign.end!r} must not be before {key}.start={campaign.start!r}")
    build(params)
    return params


def with_values[P: ModelParams](params: P, values: Mapping[str, Any]) -> P:
    """A validated copy of ``params`` with dotted keys (``*`` wildcards allowed) set to ``values``.

    Raises:
        ConfigError: On an unknown key or a value outside its range (one line).
    """
    out = copy.deepcopy(params)
    for key, value in keys.expand_values(out, values).items():
        keys.set_value(out, key, value)
    return validate(out)
