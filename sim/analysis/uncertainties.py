"""Uncertain parameters, declared once: the ranges calibration priors and sensitivity ranges come from.

``configs/uncertainties/default.yaml`` lists every uncertain model parameter with a distribution family,
a range and the reason for it. A study configuration (:class:`StudyConfig`: calibration, sensitivity)
composes that file as ``uncertainties``; calibration draws its free parameters from these ranges, and
sensitivity analysis samples them, except that a parameter the calibrated posterior covers is sampled
over the posterior's central 90% (:func:`posterior_ranges`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import Enum

from sim.model import keys
from sim.model.schemas import ConfigError, ModelParams
from sim.model.validation import with_values
from sim.runs import posterior
from sim.runs.config import RunConfig

POSTERIOR_INTERVAL = (0.05, 0.95)  # the central 90% a calibrated parameter is analysed over


class Dist(Enum):
    """Distribution families of an uncertain parameter."""

    uniform = "uniform"
    loguniform = "loguniform"


@dataclass
class Uncertainty:
    """One uncertain parameter: uniform or log-uniform on [low, high], with the reason for the range."""

    dist: Dist = Dist.uniform
    low: float = 0.0
    high: float = 1.0
    source: str = "assumption"


@dataclass
class StudyConfig(RunConfig):
    """A run configuration plus the declared uncertain parameters (``configs/uncertainties/``)."""

    uncertainties: dict[str, Uncertainty] = field(default_factory=dict)


def check(ranges: dict[str, Uncertainty], params: ModelParams, prefix: str = "uncertainties") -> None:
    """Each key names a parameter; low < high (> 0 if log-uniform); both bounds in the parameter's range.

    Raises:
        ConfigError: One line naming ``<prefix>.<key>`` and the problem.
    """
    for key, r in ranges.items():
        try:
            keys.expand(params, key)
        except ConfigError:
            raise ConfigError(f"{prefix}: unknown parameter {key!r}") from None
        if not r.low < r.high or (r.dist is Dist.loguniform and r.low <= 0):
            bounds = f"low={r.low}, high={r.high}"
            raise ConfigError(f"{prefix}.{key}: {bounds}; need low < high (and low > 0 if log)")
        for bound in (r.low, r.high):
            try:
                with_values(params, {key: bound})
            except ConfigError as exc:
                raise ConfigError(f"{prefix}.{key}: {exc}") from None


def select(ranges: dict[str, Uncertainty], names: list[str], what: str) -> dict[str, Uncertainty]:
    """The entries ``names`` of ``ranges``, in that order.

    Raises:
        ConfigError: If a name is not declared (``what`` names the setting, e.g. ``calibration.free``).
    """
    unknown = [name for name in names if name not in ranges]
    if unknown:
        raise ConfigError(
            f"{what}: {unknown[0]!r} is not an uncertain parameter (configs/uncertainties/default.yaml)"
        )
    return {name: ranges[name] for name in names}


def posterior_ranges(ranges: dict[str, Uncertainty], name: str | None) -> dict[str, Uncertainty]:
    """``ranges`` with every parameter of posterior ``name`` narrowed to its central 90%.

    The distribution family stays the declared one; the source says where the range comes from. With no
    posterior (``None``), ``ranges`` unchanged.
    """
    if not name:
        return dict(ranges)
    bounds = posterior.quantiles(name, POSTERIOR_INTERVAL)
    out = dict(ranges)
    for key in bounds.columns.intersection(list(ranges)):
        low, high = (float(v) for v in bounds[key])
        out[key] = replace(
            ranges[key], low=low, high=high, source=f"calibrated: central 90% of posterior {name!r}"
        )
    return out
