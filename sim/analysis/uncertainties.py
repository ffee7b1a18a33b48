"""Uncertain parameters, declared once: the ranges calibration priors and sensitivity ranges come from.

``configs/uncertainties/default.yaml`` lists every uncertain model parameter with a distribution family,
a range and the reason for it. A study configuration (:class:`StudyConfig`: calibration, sensitivity)
composes that file as ``uncertainties``; calibration draws its free parameters from these ranges, and
sensitivity analysis samples them, except that a parameter the calibrated posterior covers is drawn
from the posterior (:func:`posterior_ranges` gives its central 90%).

A range is either declared (``low``, ``high``: where a source gives the bounds, and the calibration's
priors) or ``dist: relative``: computed by :func:`resolve`, the one place that does it, as a factor
:data:`RELATIVE_FACTOR` either side of the parameter's default in :mod:`sim.model.schemas` (on the
odds for a share or probability). Every consumer gets its ranges through :func:`select`, which
resolves them.
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
# Assumption (issue 13: "equal relative ranges where neither [posterior nor source] exists"): one
# common width, a factor 2 either side of the default, for every parameter whose bounds no source
# gives, so that indices compare parameters rather than hand-chosen widths. Factor 2 is the width most
# of the hand-set ranges it replaces had (compound capacity, running and fixed costs).
RELATIVE_FACTOR = 2.0


class Dist(Enum):
    """Distribution families of an uncertain parameter (``relative``: computed by :func:`resolve`)."""

    uniform = "uniform"
    loguniform = "loguniform"
    relative = "relative"


@dataclass
class Uncertainty:
    """One uncertain parameter: uniform or log-uniform on [low, high], with the reason for the range.

    A ``relative`` entry declares no bounds: :func:`resolve` turns it into a uniform or log-uniform one.
    """

    dist: Dist = Dist.uniform
    low: float | None = None
    high: float | None = None
    source: str = "assumption"


@dataclass
class StudyConfig(RunConfig):
    """A run configuration plus the declared uncertain parameters (``configs/uncertainties/``)."""

    uncertainties: dict[str, Uncertainty] = field(default_factory=dict)


def resolve(key: str, entry: Uncertainty) -> Uncertainty:
    """The range of one declared entry: ``entry`` itself, or a ``relative`` one computed.

    A relative range is a factor :data:`RELATIVE_FACTOR` either side of the default ``d`` the schema
    gives ``key`` (:class:`sim.model.schemas.ModelParams`, whatever a configuration sets, so that the
    range does not move with command-line overrides): log-uniform on ``[d / f, d f]`` for a positive
    quantity; for a share or probability (allowed range 0 to 1) the factor acts on the odds
    ``o = d / (1 - d)``, giving ``[o / f / (1 + o / f), o f / (1 + o f)]``, uniform between them (the
    families pyabc, SALib and the calibration reports know), so both bounds stay inside (0, 1).

    Raises:
        ConfigError: One line naming ``uncertainties.<key>``: an unknown key, a declared entry without
            both bounds, a relative one with a bound, or with no single positive default (0 has no
            relative range; a share needs a default inside (0, 1)).
    """
    prefix = f"uncertainties.{key}"
    declared = f"low={entry.low}, high={entry.high}"
    schema = ModelParams()

    def parameters() -> list[str]:
        try:
            return keys.expand(schema, key)
        except ConfigError:
            raise ConfigError(f"uncertainties: unknown parameter {key!r}") from None

    if entry.dist is not Dist.relative:
        # A declared range needs no schema (the SBC's checks of a toy model declare theirs); whether
        # its key is a model parameter is checked where the model is configured (check()).
        if entry.low is None or entry.high is None:
            parameters()  # an unknown key is the first thing to say
            raise ConfigError(f"{prefix}: {declared}; declare both bounds, or dist: relative")
        return entry
    concrete = parameters()
    if entry.low is not None or entry.high is not None:
        raise ConfigError(
            f"{prefix}: {declared} with dist: relative; a relative range is computed, not declared"
        )
    defaults = sorted({float(keys.get(schema, k)) for k in concrete})
    if len(defaults) != 1:
        raise ConfigError(f"{prefix}: dist: relative needs one default; the schema gives {defaults}")
    default = defaults[0]
    meta = keys.metadata(schema, concrete[0])
    share = meta.get("lo") == 0 and meta.get("hi") == 1
    if not (0 < default < 1 if share else default > 0):
        allowed = "a share's must be inside (0, 1)" if share else "it must be positive"
        raise ConfigError(
            f"{prefix}: dist: relative around the default {default:g}; {allowed} (a default of 0 has "
            "no relative range: declare low and high with the reason)"
        )
    f = RELATIVE_FACTOR
    why = (
        f"{entry.source}; relative range (assumption): a factor {f:g} either side of the default {default:g}"
    )
    if share:
        odds = default / (1 - default)
        low, high = odds / f / (1 + odds / f), odds * f / (1 + odds * f)
        return Uncertainty(Dist.uniform, low, high, f"{why}, on the odds")
    return Uncertainty(Dist.loguniform, default / f, default * f, why)


def check(ranges: dict[str, Uncertainty], params: ModelParams, prefix: str = "uncertainties") -> None:
    """Each key names a parameter; low < high (> 0 if log-uniform); both bounds in the parameter's range.

    ``ranges`` are resolved ones (:func:`select`).

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
    """The entries ``names`` of the declared ``ranges``, in that order, with their ranges (:func:`resolve`).

    Raises:
        ConfigError: If a name is not declared (``what`` names the setting, e.g. ``calibration.free``),
            or its declaration is incomplete (:func:`resolve`).
    """
    unknown = [name for name in names if name not in ranges]
    if unknown:
        raise ConfigError(
            f"{what}: {unknown[0]!r} is not an uncertain parameter (configs/uncertainties/default.yaml)"
        )
    return {name: resolve(name, ranges[name]) for name in names}


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
