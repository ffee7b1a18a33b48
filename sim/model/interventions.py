"""Interventions: policies in force over a window of dates, acting on the model's own mechanisms.

An intervention is a small class with a time window (``start``, ``end``; null means the start or end
of the run) and three hooks, in the style of Starsim's interventions:

* ``initialise(model)``: once, when the model is built (checks the window against the calendar);
* ``apply(model)``: at the start of every step whose start date lies in the window, before
  recruitment (step 0 of :mod:`sim.model.model`);
* ``finalise(model)``: once, at the start of the first step after the window: restores what the
  intervention changed (where that makes sense; the window simply stays open if the run ends first).

Most interventions change model parameters (:class:`ParameterIntervention`): they compute new values
from the parameters in force when their window opens (so a multiplier acts on each replicate's own
posterior draw), set them, and restore the old values when it closes; :meth:`ScamModel.parameters_changed`
carries the change into what the model caches (police units, per-compound arrays, source countries).
Where a change would leave a parameter outside its allowed range, it is clipped into it.

No intervention draws random numbers, so the random streams of every mechanism stay in step with
the baseline's (common random numbers, :mod:`sim.model.streams`); an intervention that needs randomness
must draw from its own stream, ``model.streams["policy:<name>"]``.

Interventions are configured under ``policies.<name>`` (``kind`` picks the class in :data:`KINDS`);
``configs/policy/`` has one file per named intervention and ``configs/scenario/`` combines them.
Interventions whose windows overlap should not change the same parameter: each restores what it
found when its window opened.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from sim.model import keys
from sim.model.clock import Clock
from sim.model.schemas import INF, ConfigError, ModelParams, check_ranges, check_value, param, parse_date

if TYPE_CHECKING:
    from sim.model.model import ScamModel

# Parameter groups a ParameterChange may change mid-run (not the calendar, scale or focal jurisdiction).
CHANGEABLE = ("police", "recruitment", "compounds", "workers", "targets", "jurisdictions", "sources")


@dataclass
class Intervention:
    """Base class: a window of dates and the three lifecycle hooks.

    Attributes:
        name: Its name in the configuration (``policies.<name>``).
        start: First day in force (ISO date; null: the start of the run).
        end: Last day in force (ISO date; null: the end of the run).
    """

    kind: ClassVar[str]
    name: str = param("", "-", "Name of the intervention in the configuration", "-")
    start: str | None = param(None, "date", "First day in force (null: start of the run)", "-")
    end: str | None = param(None, "date", "Last day in force (null: end of the run)", "-")

    def check(self, params: ModelParams) -> None:
        """Cross-field checks against the run's parameters (window, names); raise ConfigError.

        The window must hold the start of at least one step of the run: one that does not would leave
        the scenario equal to the baseline without a word.
        """
        prefix = f"policies.{self.name}"
        start = parse_date(f"{prefix}.start", self.start) if self.start is not None else None
        end = parse_date(f"{prefix}.end", self.end) if self.end is not None else None
        if start is not None and end is not None and end < start:
            raise ConfigError(f"{prefix}.end={self.end!r} is before {prefix}.start={self.start!r}")
        t = params.time
        clock = Clock(parse_date("time.start", t.start), parse_date("time.end", t.end), t.step_days)
        steps = clock.dates()
        first = steps[0] if start is None else np.datetime64(start, "D")
        last = steps[-1] if end is None else np.datetime64(end, "D")
        if not ((steps >= first) & (steps <= last)).any():
            key, value = (f"{prefix}.start", self.start) if first > steps[0] else (f"{prefix}.end", self.end)
            raise ConfigError(
                f"{key}={value!r} leaves no step of the run in the window ({t.start} to {t.end}, steps "
                f"of {t.step_days:g} days): the intervention would never act; move the window into the run"
            )

    def _check_names(self, key: str, names: list[str], allowed: Any) -> None:
        """Every name in ``names`` must be one of ``allowed`` (the run's jurisdictions or sources)."""
        unknown = [n for n in names if n not in allowed]
        if unknown:
            raise ConfigError(
                f"policies.{self.name}.{key}={unknown} are not among the run's {key}; "
                f"allowed: {sorted(allowed)}"
            )

    def window(self, model: ScamModel) -> tuple[dt.date, dt.date]:
        """First and last day in force (the run's own start and end where null)."""
        start = dt.date.fromisoformat(self.start) if self.start is not None else model.clock.start
        end = dt.date.fromisoformat(self.end) if self.end is not None else model.clock.end
        return start, end

    def initialise(self, model: ScamModel) -> None:
        """Called once when the model is built: fix the window; the intervention starts inactive."""
        self.first_day, self.last_day = self.window(model)
        self.active = False

    def step(self, model: ScamModel) -> None:
        """Called by the model at the start of every step: apply, or finalise once the window closes."""
        date = model.clock.date(model.steps - 1)
        if self.first_day <= date <= self.last_day:
            self.active = True
            self.apply(model)
        elif self.active:
            self.active = False
            self.finalise(model)

    def apply(self, model: ScamModel) -> None:
        """Called at every step in the window."""

    def finalise(self, model: ScamModel) -> None:
        """Called once, at the first step after the window: undo what can be undone."""


@dataclass
class Scoped(Intervention):
    """An intervention confined to some jurisdictions."""

    jurisdictions: list[str] = param([], "-", "Jurisdictions it covers (empty: all)", "-")

    def check(self, params: ModelParams) -> None:
        """Window, and jurisdiction names among the run's."""
        super().check(params)
        self._check_names("jurisdictions", self.jurisdictions, params.jurisdictions)

    def covered(self, names: list[str]) -> list[str]:
        """The covered jurisdictions among ``names`` (the run's, in order)."""
        return [j for j in names if not self.jurisdictions or j in self.jurisdictions]


def _in_force(params: ModelParams, key: str) -> Any:
    """The value in force of dotted parameter ``key``.

    A null jurisdiction corruption gives the ``police.corruption`` value it falls back to.
    """
    value = keys.get(params, key)
    parts = key.split(".")
    if value is None and parts[0] == "jurisdictions" and parts[-1] == "corruption":
        return params.police_for(parts[1])[1]
    return value


@dataclass
class ParameterIntervention(Intervention):
    """An intervention made of parameter changes, computed from the values in force when it starts."""

    def changes(self, params: ModelParams) -> dict[str, float]:
        """New values of dotted parameter keys, given the parameters in force."""
        raise NotImplementedError

    def initialise(self, model: ScamModel) -> None:
        """Fix the window; nothing saved yet."""
        super().initialise(model)
        self.saved: dict[str, Any] | None = None

    def apply(self, model: ScamModel) -> None:
        """On the first step of the window: save the values in force and set the new ones."""
        if self.saved is not None:
            return
        p = model.p
        new = {key: keys.clip(p, key, value) for key, value in self.changes(p).items()}
        self.saved = {key: keys.get(p, key) for key in new}
        for key, value in new.items():
            keys.set_value(p, key, value)
        model.parameters_changed()

    def finalise(self, model: ScamModel) -> None:
        """Put back the values found when the window opened."""
        for key, value in (self.saved or {}).items():
            keys.set_value(model.p, key, value)
        self.saved = None
        model.parameters_changed()


@dataclass
class PoliceChange(ParameterIntervention, Scoped):
    """A change to the police of the covered jurisdictions: their raid capacity factor or corruption."""

    def police_changes(self, params: ModelParams, attribute: str, factor: float) -> dict[str, float]:
        """Each covered jurisdiction's ``raid_capacity_factor`` or ``corruption``, times ``factor``."""
        return {
            f"jurisdictions.{j}.{attribute}": _in_force(params, f"jurisdictions.{j}.{attribute}") * factor
            for j in self.covered(list(params.jurisdictions))
        }


@dataclass
class ParameterChange(ParameterIntervention):
    """Set any numeric model parameter to ``value``, or multiply it by ``multiply``, over the window."""

    kind: ClassVar[str] = "parameter"
    key: str = param("", "-", "Dotted parameter key, e.g. police.raid_capacity", "-")
    value: float | None = param(None, "-", "Value over the window (or give multiply)", "assumption")
    multiply: float | None = param(
        None, "-", "Factor on the value in force (or give value)", "assumption", 0.0, INF
    )

    def check(self, params: ModelParams) -> None:
        """The key must be a numeric parameter; exactly one of value and multiply; result in range."""
        super().check(params)
        prefix = f"policies.{self.name}"
        try:
            current = _in_force(params, self.key)
        except ConfigError:
            raise ConfigError(f"{prefix}.key={self.key!r} is not a model parameter") from None
        if isinstance(current, bool) or not isinstance(current, int | float):
            raise ConfigError(f"{prefix}.key={self.key!r} is not a numeric parameter")
        if (self.value is None) == (self.multiply is None):
            raise ConfigError(f"{prefix}: give exactly one of value and multiply")
        if self.key.split(".")[0] not in CHANGEABLE:
            groups = ", ".join(CHANGEABLE)
            raise ConfigError(f"{prefix}.key={self.key!r} cannot change mid-run; allowed groups: {groups}")
        if self.value is not None:
            check_value(f"{prefix}.value", self.value, keys.metadata(params, self.key))

    def changes(self, params: ModelParams) -> dict[str, float]:
        """The one changed key."""
        new = self.value if self.value is not None else _in_force(params, self.key) * self.multiply
        return {self.key: new}


@dataclass
class RaidSurge(PoliceChange):
    """More raids: each covered jurisdiction's raid capacity multiplied (e.g. the 2022 crackdown, EN1)."""

    kind: ClassVar[str] = "raid_surge"
    multiplier: float = param(3.0, "-", "Factor on the raid capacity in force", "assumption", 0.0, 100.0)

    def changes(self, params: ModelParams) -> dict[str, float]:
        """Raid capacity factors times the multiplier."""
        return self.police_changes(params, "raid_capacity_factor", self.multiplier)


@dataclass
class AntiCorruption(PoliceChange):
    """Police integrity: corruption cut, so fewer raids and help requests leak, fewer bribes are taken."""

    kind: ClassVar[str] = "anti_corruption"
    reduction: float = param(0.5, "share", "Share of corrupt acts prevented", "assumption", 0.0, 1.0)

    def changes(self, params: ModelParams) -> dict[str, float]:
        """Corruption times (1 - reduction)."""
        return self.police_changes(params, "corruption", 1.0 - self.reduction)


@dataclass
class AwarenessCampaign(ParameterIntervention):
    """Campaigns against fake job ads in source countries: awareness among jobseekers rises (RC1, RC3)."""

    kind: ClassVar[str] = "awareness"
    gain: float = param(
        0.3, "share", "Share of the still-unaware who become aware of fake job ads", "assumption", 0.0, 1.0
    )
    sources: list[str] = param([], "-", "Source countries it covers (empty: all)", "-")

    def check(self, params: ModelParams) -> None:
        """Window and source names."""
        super().check(params)
        self._check_names("sources", self.sources, params.sources)

    def changes(self, params: ModelParams) -> dict[str, float]:
        """Awareness a becomes a + gain (1 - a)."""
        out = {}
        for s in self.sources or params.sources:
            a = params.sources[s].awareness
            out[f"sources.{s}.awareness"] = a + self.gain * (1 - a)
        return out


@dataclass
class FinancialDisruption(ParameterIntervention):
    """Financial measures against the syndicates: takings seized, laundering made dearer."""

    kind: ClassVar[str] = "financial_disruption"
    seizure_share: float = param(
        0.1, "share", "Share of scam takings seized over the window", "assumption", 0.0, 1.0
    )
    laundering_cost: float = param(
        0.1, "share", "Share of scam takings spent on laundering over the window", "assumption", 0.0, 1.0
    )

    def changes(self, params: ModelParams) -> dict[str, float]:
        """The seizure and laundering shares (``compounds.*``)."""
        return {
            "compounds.seizure_share": self.seizure_share,
            "compounds.laundering_cost": self.laundering_cost,
        }


@dataclass
class VictimProtection(ParameterIntervention):
    """Help requests made safer: fewer reach the boss (AM9), and retaliation for those that do is less."""

    kind: ClassVar[str] = "victim_protection"
    leak_reduction: float = param(
        0.8, "share", "Share of help-request leaks prevented", "assumption", 0.0, 1.0
    )
    retaliation_reduction: float = param(
        0.5,
        "share",
        "Cut in punishment and resale after a leaked request",
        "assumption",
        0.0,
        1.0,
    )

    def changes(self, params: ModelParams) -> dict[str, float]:
        """Help-leak factor, leak punishment and leak resale, each cut."""
        keep = 1.0 - self.retaliation_reduction
        return {
            "police.help_leak_factor": params.police.help_leak_factor * (1.0 - self.leak_reduction),
            "workers.leak_punishment": params.workers.leak_punishment * keep,
            "workers.leak_resale": params.workers.leak_resale * keep,
        }


@dataclass
class CrossBorderCooperation(ParameterIntervention):
    """Police cooperation across borders: moving a compound to another country is harder (EN1)."""

    kind: ClassVar[str] = "cross_border"
    friction_factor: float = param(
        0.2,
        "-",
        "Factor on the weight of sites across a border (lower: harder to cross)",
        "assumption",
        0.0,
        1.0,
    )

    def changes(self, params: ModelParams) -> dict[str, float]:
        """``police.cross_border_friction`` times the factor."""
        return {"police.cross_border_friction": params.police.cross_border_friction * self.friction_factor}


@dataclass
class KingpinRemoval(ParameterIntervention):
    """Elite patrons removed: protection withdrawn from the start date (EN2, EN4).

    No compound is protected any more and raids are no longer steered away from elite-linked bosses.
    Elite links stay cut after the window; only the market for protection reopens.
    """

    kind: ClassVar[str] = "kingpin_removal"

    def changes(self, params: ModelParams) -> dict[str, float]:
        """No bribe is accepted any more."""
        return {"police.bribe_factor": 0.0}

    def apply(self, model: ScamModel) -> None:
        """Cut elite links and void existing protection deals (the first step), then keep them void."""
        first = self.saved is None
        super().apply(model)
        if first:
            for boss in {c.boss for c in model.compounds}:
                boss.elite = False
            for c in model.compounds:
                c.protected = False
            model.sites_changed()


@dataclass
class InfrastructureCut(Scoped):
    """Power and internet cut to compounds: their productivity falls over the window, then recovers."""

    kind: ClassVar[str] = "infrastructure_cut"
    productivity: float = param(
        0.3, "-", "Productivity of a cut compound (1: unaffected)", "assumption", 0.0, 1.0
    )

    def initialise(self, model: ScamModel) -> None:
        """Fix the window; no compound cut yet."""
        super().initialise(model)
        self.cut: dict[int, float] = {}  # compound id -> productivity before the cut
        self.scope = {model.juris_names.index(j) for j in self.covered(model.juris_names)}

    def apply(self, model: ScamModel) -> None:
        """Cut every operating compound in scope not yet cut (compounds opened in the window too)."""
        newly = [c for c in model.compounds if c.active and c.juris in self.scope and c.cid not in self.cut]
        for c in newly:
            self.cut[c.cid] = c.productivity
            c.productivity *= self.productivity
        if newly:
            model.sites_changed()

    def finalise(self, model: ScamModel) -> None:
        """Restore power: each cut compound gets its productivity back."""
        for cid, before in self.cut.items():
            model.compounds[cid].productivity = before
        self.cut = {}
        model.sites_changed()


KINDS: dict[str, type[Intervention]] = {
    cls.kind: cls
    for cls in (
        ParameterChange,
        RaidSurge,
        AntiCorruption,
        AwarenessCampaign,
        FinancialDisruption,
        VictimProtection,
        CrossBorderCooperation,
        KingpinRemoval,
        InfrastructureCut,
    )
}


def _coerce(key: str, value: Any, hint: str) -> Any:
    """``value`` converted to the type of the field (one-line ConfigError if it cannot be)."""
    if value is None:
        return None
    if "list" in hint:
        if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{key}={value!r} must be a list of names")
        return list(value)
    if "float" in hint or "int" in hint:
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise ConfigError(f"{key}={value!r} is not a number")
        try:
            return float(value)
        except ValueError:
            raise ConfigError(f"{key}={value!r} is not a number") from None
    return str(value)


def from_config(name: str, entry: Any) -> Intervention:
    """One intervention from its configuration (a mapping with ``kind`` and the class's fields).

    Raises:
        ConfigError: Unknown kind or key, wrong type, or value out of range (one line).
    """
    prefix = f"policies.{name}"
    if not isinstance(entry, dict):
        raise ConfigError(f"{prefix}={entry!r} must be a mapping with a 'kind'")
    values = dict(entry)
    kind = values.pop("kind", None)
    if kind not in KINDS:
        raise ConfigError(f"{prefix}.kind={kind!r} is not an intervention; allowed: {sorted(KINDS)}")
    cls = KINDS[kind]
    fields = {f.name: f for f in dataclasses.fields(cls) if f.name != "name"}
    for key in values:
        if key not in fields:
            raise ConfigError(f"unknown config key '{prefix}.{key}' (kind {kind} takes: {', '.join(fields)})")
    typed = {key: _coerce(f"{prefix}.{key}", value, str(fields[key].type)) for key, value in values.items()}
    intervention = cls(name=name, **typed)
    check_ranges(intervention, f"{prefix}.")
    return intervention


def build(params: ModelParams) -> list[Intervention]:
    """The interventions of ``params.policies``, checked against the run's parameters, in config order.

    Raises:
        ConfigError: On the first invalid intervention (one line naming key, value and what is allowed).
    """
    out = []
    for name, entry in (params.policies or {}).items():
        intervention = from_config(name, entry)
        intervention.check(params)
        out.append(intervention)
    return out
