"""Scenario configurations for paired comparisons: the baseline and each scenario, composed alike.

A scenario (``configs/scenario/<name>.yaml``) is the baseline plus interventions. Its configuration is
composed with the same overrides as the baseline's, and may differ from it only in its interventions
(:data:`SCENARIO_KEYS`), so that a paired difference measures the interventions and nothing else.
Composing and checking needs no model run, so a bad scenario or override is reported at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sim.model.schemas import ConfigError
from sim.runs.config import CONFIG_DIR, RunConfig, as_dict, compose_config, compose_dict, fix_overridden

SCENARIO_DIR = Path(CONFIG_DIR) / "scenario"
BASELINE = "baseline"

# Configuration keys in which a scenario may differ from the baseline: everything else must match, or
# the paired difference would measure more than the interventions.
SCENARIO_KEYS = ("name", "scenario", "description", "policies")


def available_scenarios() -> list[str]:
    """Names of the scenarios in ``configs/scenario/``."""
    return sorted(p.stem for p in SCENARIO_DIR.glob("*.yaml"))


def policy_of(override: str) -> str | None:
    """The intervention a ``policies.<name>.<key>=value`` override sets (None for other overrides)."""
    parts = override.split("=", 1)[0].lstrip("+~").split(".")
    return parts[1] if parts[0] == "policies" and len(parts) > 1 else None


def scenario_config(name: str, overrides: Sequence[str] = ()) -> RunConfig:
    """The composed configuration of scenario ``name`` (or ``"baseline"``) with ``overrides``.

    An override of an intervention (``policies.<policy>.<key>=value``) applies only to scenarios that
    have that intervention, so one command line can tune a policy and still share every other setting
    with the baseline. Other keys set in ``overrides`` keep their value in every posterior draw (``fixed``),
    as on the ``scamsim run`` command line.

    Raises:
        ConfigError: Unknown scenario, unknown key or invalid value (one line).
    """
    if name != BASELINE and name not in available_scenarios():
        raise ConfigError(
            f"scenario={name!r} not found; available: {', '.join([BASELINE, *available_scenarios()])}"
        )
    group = [] if name == BASELINE else [f"scenario={name}"]
    shared = [o for o in overrides if policy_of(o) is None]
    ours = [o for o in overrides if policy_of(o) is not None]
    if ours:
        policies = compose_dict(group + shared).get("policies") or {}
        ours = [o for o in ours if policy_of(o) in policies]
    return fix_overridden(compose_config(group + shared + ours), shared)


def _flatten(tree: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(tree, dict):
        out: dict[str, Any] = {}
        for key, value in tree.items():
            out.update(_flatten(value, f"{prefix}{key}."))
        return out
    return {prefix.rstrip("."): tree}


def check_same_world(name: str, config: RunConfig, baseline: RunConfig) -> None:
    """A scenario may differ from the baseline only in its interventions (:data:`SCENARIO_KEYS`)."""
    ours, theirs = (
        _flatten({k: v for k, v in as_dict(c).items() if k not in SCENARIO_KEYS}) for c in (config, baseline)
    )
    changed = sorted(k for k in ours.keys() | theirs.keys() if ours.get(k) != theirs.get(k))
    if changed:
        raise ConfigError(
            f"scenario={name!r} changes {', '.join(changed)} as well as interventions; put such settings "
            "on the command line so the baseline shares them"
        )


def configure(
    scenarios: Sequence[str],
    overrides: Sequence[str] = (),
    *,
    n_seeds: int | None = None,
    seed: int | None = None,
    n_jobs: int | None = None,
) -> tuple[dict[str, RunConfig], list[str]]:
    """The checked configurations of the baseline and each scenario, composed with ``overrides``.

    Args:
        scenarios: Scenario names (``configs/scenario/<name>.yaml``).
        overrides: Hydra overrides applied to the baseline and every scenario alike.
        n_seeds: Replicates; default: the configuration's ``n_seeds``.
        seed: Base seed; default: the configuration's ``seed``.
        n_jobs: Worker processes; default: the configuration's ``n_jobs``.

    Returns:
        The configurations by name (baseline first), and the overrides they were composed with
        (``overrides`` plus the settings given as arguments).

    Raises:
        ConfigError: No or duplicate scenarios, an unknown scenario, an invalid override, or a scenario
            that changes more than interventions (one line).
    """
    scenarios = list(scenarios)
    if not scenarios or BASELINE in scenarios or len(set(scenarios)) != len(scenarios):
        raise ConfigError(
            f"scenario={','.join(scenarios)!r} must name distinct scenarios other than the baseline; "
            f"available: {', '.join(available_scenarios())}"
        )
    settings = [
        f"{k}={v}" for k, v in (("n_seeds", n_seeds), ("seed", seed), ("n_jobs", n_jobs)) if v is not None
    ]
    used = [*overrides, *settings]
    configs = {name: scenario_config(name, used) for name in [BASELINE, *scenarios]}
    for name in scenarios:
        check_same_world(name, configs[name], configs[BASELINE])
    known = {policy for config in configs.values() for policy in config.policies}
    for override in overrides:
        if policy_of(override) is not None and policy_of(override) not in known:
            raise ConfigError(
                f"{override!r} sets policies.{policy_of(override)}, which none of the scenarios has; "
                f"they have: {', '.join(sorted(known)) or 'none'}"
            )
    return configs, used
