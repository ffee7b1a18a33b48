"""Parameters by dotted key: the one way to read, set, describe and clip a parameter by name.

A key names a field of :class:`sim.model.schemas.ModelParams` the way Hydra overrides do
(``police.raid_capacity``, ``jurisdictions.cambodia.corruption``). Entries of dict-valued groups
(``jurisdictions``, ``sources``) are named by their key; ``*`` in place of an entry name stands for
every entry (``sources.*.awareness``), see :func:`expand`.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

from sim.model.schemas import ConfigError

WILDCARD = "*"


def locate(params: Any, key: str) -> tuple[Any, str]:
    """The dataclass holding dotted parameter ``key`` and the field's name.

    Raises:
        ConfigError: If no such parameter exists (one line naming the key).
    """
    *path, name = key.split(".")
    node: Any = params
    for part in path:
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif dataclasses.is_dataclass(node) and not isinstance(node, type) and hasattr(node, part):
            node = getattr(node, part)
        else:
            raise ConfigError(f"unknown parameter {key!r}")
    if not dataclasses.is_dataclass(node) or name not in {f.name for f in dataclasses.fields(node)}:
        raise ConfigError(f"unknown parameter {key!r}")
    return node, name


def get(params: Any, key: str) -> Any:
    """The value of dotted parameter ``key``."""
    return getattr(*locate(params, key))


def set_value(params: Any, key: str, value: Any) -> None:
    """Set dotted parameter ``key`` in place, cast to the field's type (an int field gets a rounded value).

    No range check here: callers validate the whole parameter set (:func:`with_values`).
    """
    node, name = locate(params, key)
    current = getattr(node, name)
    if isinstance(current, bool) or not isinstance(value, int | float):
        setattr(node, name, value)
    elif isinstance(current, int):
        setattr(node, name, round(value))
    else:
        setattr(node, name, float(value))


def metadata(params: Any, key: str) -> dict[str, Any]:
    """The declared metadata of ``key``: unit, doc, source, lo, hi, lo_open, hi_open (``schemas.param``)."""
    node, name = locate(params, key)
    return dict(next(f for f in dataclasses.fields(node) if f.name == name).metadata)


def clip(params: Any, key: str, value: float) -> float | int:
    """``value`` clipped into the allowed range of ``key``, with the parameter's type."""
    meta = metadata(params, key)
    lo, hi = meta.get("lo"), meta.get("hi")
    if lo is not None:
        value = max(value, math.nextafter(lo, math.inf) if meta.get("lo_open") else lo)
    if hi is not None:
        value = min(value, math.nextafter(hi, -math.inf) if meta.get("hi_open") else hi)
    return round(value) if isinstance(get(params, key), int) else float(value)


def expand(params: Any, key: str) -> list[str]:
    """Concrete keys of ``key``: ``*`` in place of an entry name stands for every entry of that group.

    Raises:
        ConfigError: If the part before ``*`` is not a group of named entries, or a key is unknown.
    """
    head, star, tail = key.partition(f".{WILDCARD}.")
    if not star:
        locate(params, key)
        return [key]
    group: Any = params
    for part in head.split("."):  # a group may sit inside another (``police.campaigns``)
        group = group.get(part) if isinstance(group, dict) else getattr(group, part, None)
    if not isinstance(group, dict):
        raise ConfigError(f"{key!r}: {head!r} is not a group of named entries")
    return [k for name in group for k in expand(params, f"{head}.{name}.{tail}")]


def expand_values(params: Any, values: Mapping[str, Any]) -> dict[str, Any]:
    """``values`` with every wildcard key replaced by its concrete keys (each gets the same value)."""
    return {concrete: value for key, value in values.items() for concrete in expand(params, key)}
