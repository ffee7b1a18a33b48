"""Policy levers, declared once: what a policy can turn, in plain words, with the parameters it sets.

A lever is a model parameter (or a few set to one value) that a policy acts on. Its declaration gives
its name, a plain label and unit for people who are not modellers, the dotted parameter keys it sets
(:mod:`sim.model.keys`; ``*`` stands for every entry of a group), the range and step of its slider in
the browser app, and what it means. The app's sliders and lever table, the policy documentation
(``docs/ODD.md``), the phase diagram's axes and the lever study of ``scamsim sensitivity
sensitivity=levers`` (its range of values) read it from here; tests check that every intervention kind
(:mod:`sim.model.interventions`) changes only declared levers. A lever's range is everything a policy
could set: 0 to 1 for a share, probability or factor on corruption, 0 to 5 punishment levels, and for
raids none to 200 a year, the top of the raid capacity's calibration prior
(``configs/uncertainties/default.yaml``).

A lever whose value jurisdictions may set for themselves (the police's raids and corruption) names
that per-jurisdiction key in ``local`` (for raids, a factor on the shared capacity): interventions
confined to some jurisdictions set it there, and a jurisdiction with its own value keeps it when the
lever's own keys change.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sim.model import keys


@dataclass(frozen=True)
class Lever:
    """One policy lever.

    Attributes:
        name: Short identifier (the app's slider, the lever table).
        label: Plain-words label.
        unit: Unit in plain words.
        keys: Dotted parameter keys it sets, all to the same value (``*``: every entry of a group).
        low: Lower end of its slider.
        high: Upper end of its slider.
        step: Step of its slider.
        doc: What it means, in one sentence.
        local: Per-jurisdiction key that overrides it where set (``jurisdictions.*.<name>``), if any.
    """

    name: str
    label: str
    unit: str
    keys: tuple[str, ...]
    low: float
    high: float
    step: float
    doc: str
    local: str | None = None

    def value(self, params: Any) -> float:
        """The lever's value in ``params`` (the mean where its keys differ, e.g. between countries)."""
        values = [float(keys.get(params, k)) for key in self.keys for k in keys.expand(params, key)]
        # The shared value exactly when all are equal (a mean can differ in the last bit).
        return values[0] if len(set(values)) == 1 else sum(values) / len(values)

    def set(self, params: Any, value: float) -> None:
        """Set every key of the lever in ``params`` to ``value`` (in place)."""
        for key in self.keys:
            for k in keys.expand(params, key):
                keys.set_value(params, k, float(value))

    def sets(self, key: str) -> bool:
        """Whether dotted ``key`` is one of the lever's keys or a jurisdiction's own value of it."""
        patterns = (*self.keys, self.local) if self.local else self.keys
        return any(_matches(key, pattern) for pattern in patterns)


def _matches(key: str, pattern: str) -> bool:
    parts, wanted = key.split("."), pattern.split(".")
    return len(parts) == len(wanted) and all(
        w in (p, keys.WILDCARD) for p, w in zip(parts, wanted, strict=True)
    )


LEVERS: dict[str, Lever] = {
    lever.name: lever
    for lever in (
        Lever(
            "raids",
            "police raids",
            "raids per year in a country",
            ("police.raid_capacity",),
            0.0,
            200.0,
            1.0,
            "Raids the police of a country can carry out in a year, shared among its compounds and "
            "steered away from protected and elite-linked ones.",
            local="jurisdictions.*.raid_capacity_factor",
        ),
        Lever(
            "corruption",
            "police corruption",
            "probability of a leak or bribe",
            ("police.corruption",),
            0.0,
            1.0,
            0.01,
            "Chance that a raid is leaked, a help request is passed to the boss, a bribe is accepted.",
            local="jurisdictions.*.corruption",
        ),
        Lever(
            "job_ad_awareness",
            "awareness of fake job ads",
            "share of jobseekers",
            ("sources.*.awareness",),
            0.0,
            1.0,
            0.01,
            "Share of would-be jobseekers, in every source country, who see through a fake job ad.",
        ),
        Lever(
            "scam_awareness",
            "awareness of scams",
            "share of targets",
            ("targets.awareness",),
            0.0,
            1.0,
            0.01,
            "Share of the people approached by scammers who recognise the scam.",
        ),
        Lever(
            "closure",
            "raids that shut a compound",
            "probability per raid not leaked",
            ("police.closure_prob",),
            0.0,
            1.0,
            0.01,
            "Chance that a raid the compound was not warned of shuts it down.",
        ),
        Lever(
            "rescue",
            "help requests that free the caller",
            "probability per request not leaked",
            ("police.rescue_success",),
            0.0,
            1.0,
            0.01,
            "Chance that a worker's call for help, if not passed to the boss, gets the caller out.",
        ),
        Lever(
            "seizure",
            "takings seized",
            "share of scam takings",
            ("compounds.seizure_share",),
            0.0,
            1.0,
            0.01,
            "Share of the compounds' scam takings seized by financial authorities.",
        ),
        Lever(
            "laundering",
            "cost of laundering",
            "share of scam takings",
            ("compounds.laundering_cost",),
            0.0,
            1.0,
            0.01,
            "Share of the compounds' scam takings spent on laundering them.",
        ),
        Lever(
            "help_leaks",
            "help requests passed to the boss",
            "times the corruption probability",
            ("police.help_leak_factor",),
            0.0,
            1.0,
            0.01,
            "How often a help request is passed back to the boss, relative to police corruption.",
        ),
        Lever(
            "leak_punishment",
            "punishment for a leaked request",
            "levels of punishment",
            ("workers.leak_punishment",),
            0.0,
            5.0,
            1.0,
            "Punishment a worker suffers when their help request reaches the boss.",
        ),
        Lever(
            "leak_resale",
            "resale after a leaked request",
            "probability",
            ("workers.leak_resale",),
            0.0,
            1.0,
            0.01,
            "Chance a worker whose help request reached the boss is sold to another compound.",
        ),
        Lever(
            "border_friction",
            "ease of moving across a border",
            "weight of a site abroad relative to one at home",
            ("police.cross_border_friction",),
            0.0,
            1.0,
            0.01,
            "How readily a raided or new compound sets up in another country (lower: harder).",
        ),
        Lever(
            "protection",
            "bribes accepted for protection",
            "times the corruption probability",
            ("police.bribe_factor",),
            0.0,
            1.0,
            0.01,
            "How often police accept a bribe for protection, relative to police corruption (0: never).",
        ),
    )
}


def lever_of(key: str) -> Lever | None:
    """The lever that sets dotted parameter ``key`` (None if no lever does)."""
    return next((lever for lever in LEVERS.values() if lever.sets(key)), None)
