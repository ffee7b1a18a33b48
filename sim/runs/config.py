"""Hydra configuration: structured-config schemas, composition and one-line error messages.

The dataclasses of :mod:`sim.model.schemas` are registered as Hydra schemas, so types and unknown keys are
checked when a configuration is composed; ranges and cross-field rules are checked by
:func:`sim.model.schemas.validate` when the composed configuration is turned into parameters.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from hydra import compose, initialize_config_dir
from hydra.core.config_store import ConfigStore
from hydra.core.hydra_config import HydraConfig
from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import DictConfig, OmegaConf

from sim.model import keys
from sim.model.resources import check_memory
from sim.model.schemas import ConfigError, JurisdictionParams, ModelParams, did_you_mean, param
from sim.model.validation import validate
from sim.runs.dirs import check_name

CONFIG_DIR = str(Path(__file__).resolve().parents[2] / "configs")


@dataclass
class RunConfig(ModelParams):
    """A run of the model: its parameters plus how many replicates to run and where to write them."""

    name: str = param(
        "baseline",
        "-",
        "Run name, a plain folder name: results go to results/<name>/ (results/<command>/<name>/)",
        "-",
    )
    overwrite: bool = param(
        False,
        "-",
        "Replace results/<name>/ even if it holds results of another configuration (otherwise refused)",
        "-",
    )
    seed: int = param(
        20250626,
        "-",
        "Base seed; replicates get SeedSequence(seed).spawn(n_seeds)",
        "-",
        0,
        2**63 - 1,
    )
    n_seeds: int = param(20, "-", "Replicates (independent random streams)", "-", 1, 100000)
    n_draws: int = param(
        1,
        "-",
        "Posterior draws per sweep cell, each run over n_seeds replicates (sweeps only; n_draws=1 runs "
        "every cell at the posterior's first draw, so give more for parameter uncertainty; with "
        "posterior=null only draw 0, the configured parameters, is available)",
        "-",
        1,
        100000,
    )
    n_jobs: int = param(2, "-", "Parallel worker processes (1 = serial; results are identical)", "-", 1, 1024)
    posterior: str | None = param(
        "calibrated",
        "-",
        "Calibrated posterior (configs/posterior_draws/<name>.csv or a path) giving each replicate its own "
        "parameter draw (`calibrated`: the last generation of seed 1's calibration, one of three that "
        "agree); null runs every replicate with the parameters as configured, which are hand-tuned",
        "calibrated (issue 13: three converged runs agree)",
    )
    fixed: list[str] = param(
        [],
        "-",
        "Parameters kept as configured instead of drawn from the posterior (the CLI adds every key "
        "overridden on the command line)",
        "-",
    )
    scenario: str = param(
        "baseline",
        "-",
        "Scenario: configs/scenario/<name>.yaml (its interventions go into `policies`); baseline: none",
        "-",
    )
    description: str = param(
        "The baseline: no interventions", "-", "One-line description of the scenario", "-"
    )
    force: bool = param(
        False,
        "-",
        "Run even if the populations would need more memory than the budget (sim/model/resources.py)",
        "-",
    )
    # Jurisdictions come from the `jurisdictions` config group (a dict cannot lose keys when merged).
    jurisdictions: dict[str, JurisdictionParams] = field(
        default_factory=dict,
        metadata={"doc": "Jurisdictions by name", "unit": "-", "source": "AM1, AM3"},
    )


RESULTS = Path("results")


def results_dir(config: RunConfig, command: str = "") -> Path:
    """Where the current Hydra command writes: ``results/[<command>/]<name>``.

    ``hydra.run.dir`` set on the command line takes its place. The configs leave ``hydra.run.dir`` at
    ``.``: Hydra creates that directory before the command starts, and a command killed before it
    wrote anything would leave an empty results directory behind.
    """
    hydra = HydraConfig.get()
    if any(o.startswith("hydra.run.dir=") for o in hydra.overrides.hydra):
        return Path(hydra.runtime.output_dir)
    return RESULTS / command / config.name


def register() -> None:
    """Register the schemas in Hydra's ConfigStore (idempotent)."""
    cs = ConfigStore.instance()
    cs.store(name="run_schema", node=RunConfig)


def to_run_config(cfg: DictConfig, schema: type[RunConfig] = RunConfig) -> RunConfig:
    """Turn a composed configuration into validated parameters of ``schema`` (a RunConfig).

    Unless ``force`` is set, the replicates that run at once must fit the memory budget
    (:func:`sim.model.resources.check_memory`).

    Raises:
        ConfigError: With a one-line message naming the key, its value and what is allowed.
    """
    try:
        plain = OmegaConf.to_container(cfg, resolve=True)
        plain.pop("hydra", None)
        config = OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(schema), plain))
    except Exception as exc:
        raise ConfigError(one_line(exc)) from None
    check_name(config.name)
    validate(config)
    check_run_settings(config)
    if not config.force:
        check_memory(config, runs=min(config.n_jobs, config.n_seeds))
    return config


def check_run_settings(config: RunConfig) -> None:
    """The settings of a run that are not model parameters: the posterior's name and the fixed keys.

    Raises:
        ConfigError: ``posterior=''`` (only null means no posterior) or a fixed key that is no model
            parameter (one line naming it).
    """
    if config.posterior == "":
        raise ConfigError(
            "posterior='' names no posterior; use posterior=null for none, or a name in "
            "configs/posterior_draws/ or a path to a .csv"
        )
    for key in config.fixed:
        try:
            keys.expand(config, key)
        except ConfigError:
            raise ConfigError(f"fixed={config.fixed}: {key!r} is not a model parameter") from None


# Config groups a command line may choose from (configs/<group>/<name>.yaml).
GROUPS = ("jurisdictions", "scenario", "experiment")


def check_groups(overrides: list[str]) -> None:
    """Each config-group override must name files of its group (Hydra gives a traceback otherwise).

    Raises:
        ConfigError: ``scenario=[1,2]``, ``scenario=null``, ``scenario=123`` or an unknown name (one line
            naming the group and what is available).
    """
    picks = [o for o in overrides if o.split("=", 1)[0] in GROUPS and "=" in o]
    for override in OverridesParser.create().parse_overrides(picks):
        group = override.key_or_group
        values = list(override.sweep_iterator()) if override.is_sweep_override() else [override.value()]
        available = sorted(p.stem for p in (Path(CONFIG_DIR) / group).glob("*.yaml"))
        for value in values:
            if not isinstance(value, str) or value not in available:
                shown = "null" if value is None else str(value)
                raise ConfigError(not_an_option(group, shown, available))


def compose_dict(overrides: list[str] | None = None, config_name: str = "run") -> DictConfig:
    """The configuration composed from ``configs/`` with Hydra overrides, not yet validated.

    Raises:
        ConfigError: On an unknown key, config group or malformed override (one-line message).
    """
    register()
    check_groups(list(overrides or []))
    try:
        with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
            return compose(config_name=config_name, overrides=list(overrides or []))
    except Exception as exc:
        raise ConfigError(one_line(exc)) from None


def compose_config(
    overrides: list[str] | None = None, config_name: str = "run", schema: type[RunConfig] = RunConfig
) -> RunConfig:
    """Compose a configuration from ``configs/`` with Hydra overrides (``fixed`` as configured).

    Args:
        overrides: Hydra overrides, e.g. ``["police.raid_capacity=60", "jurisdictions=mekong"]``.
        config_name: Primary config file (without ``.yaml``).
        schema: The RunConfig subclass the file composes (registered in Hydra's ConfigStore).

    Returns:
        Validated parameters.

    Raises:
        ConfigError: On an unknown key or invalid value (one-line message).
    """
    return to_run_config(compose_dict(overrides, config_name), schema)


def load_config(
    overrides: list[str] | None = None, config_name: str = "run", schema: type[RunConfig] = RunConfig
) -> RunConfig:
    """Compose a configuration as the command line does: every key set in ``overrides`` is ``fixed``.

    So ``load_config(["police.raid_capacity=60"])`` runs every posterior draw at raid capacity 60, as
    ``scamsim run police.raid_capacity=60`` does. Arguments as for :func:`compose_config`.

    Raises:
        ConfigError: On an unknown key or invalid value (one-line message).
    """
    return fix_overridden(compose_config(overrides, config_name, schema), overrides or [])


def overridden_keys(overrides: Iterable[str]) -> set[str]:
    """Config keys set by command-line overrides (``police.corruption=0.3`` gives ``police.corruption``)."""
    return {o.split("=", 1)[0].lstrip("+~") for o in overrides if "=" in o}


def fix_overridden[C: RunConfig](config: C, overrides: Iterable[str]) -> C:
    """``config`` with every key set in ``overrides`` added to ``fixed`` (in place, and returned).

    What the user set explicitly (on the command line, in a sweep cell, in :func:`load_config`) keeps
    its value in every posterior draw instead of being drawn.
    """
    config.fixed = sorted(set(config.fixed) | overridden_keys(overrides))
    return config


def load_overrides(config: ModelParams, overrides: list[str]) -> ModelParams:
    """A validated copy of ``config`` with Hydra-style ``key=value`` overrides applied.

    Raises:
        ConfigError: On an unknown key or invalid value (one-line message).
    """
    try:
        merged = OmegaConf.merge(OmegaConf.structured(config), OmegaConf.from_dotlist(list(overrides)))
        out = OmegaConf.to_object(merged)
    except Exception as exc:
        raise ConfigError(one_line(exc)) from None
    return validate(out)


# Hydra's message for a config group option that does not exist, and the options it lists.
_MISSING_OPTION = re.compile(r"Could not find '(?P<group>.+)/(?P<option>[^/']+)'")
_OPTIONS = re.compile(r"Available options in '[^']+':\n((?:\t.*\n?)*)")
# Keys that no longer exist, and what replaced them.
RENAMED = {
    "raid_rate": "was replaced by police.raid_capacity (raids a year in the jurisdiction, about the old "
    "rate x 75) and jurisdictions.<name>.raid_capacity_factor",
}


def one_line(exc: BaseException) -> str:
    """A one-line description of a Hydra/OmegaConf configuration error.

    An unknown key names the closest key of its section; a config group option that does not exist
    lists the group's options.
    """
    cause: Any = exc
    while cause.__cause__ is not None and cause.__cause__ is not cause:
        cause = cause.__cause__
    mark = getattr(cause, "problem_mark", None)
    if isinstance(cause, yaml.YAMLError) and mark is not None:
        return f"{mark.name}, line {mark.line + 1}: not valid YAML ({cause.problem})"
    full_key = getattr(cause, "full_key", None)
    message = str(getattr(cause, "msg", None) or cause).strip().splitlines()[0]
    if full_key and full_key.split(".")[-1] in RENAMED:
        return f"{full_key} {RENAMED[full_key.split('.')[-1]]}"
    if "not in" in message and full_key:
        section = getattr(cause, "object_type", None)
        if dataclasses.is_dataclass(section):
            keys = [f.name for f in dataclasses.fields(section)]
        else:  # a dict node (a policy, a jurisdiction): its own keys
            keys = [str(key) for key in getattr(cause, "parent_node", None) or ()]
        section_key, _, _ = str(full_key).rpartition(".")
        prefix = f"{section_key}." if section_key else ""
        hint = did_you_mean(str(full_key), [prefix + key for key in keys])
        return f"unknown config key '{full_key}'{hint} ({message})"
    if full_key:
        return f"{full_key}: {message}"
    text = str(exc)
    if (missing := _MISSING_OPTION.search(text)) and (listed := _OPTIONS.search(text)):
        options = [line.strip() for line in listed[1].splitlines() if line.strip()]
        group, option = missing["group"], missing["option"]
        return not_an_option(group, option, options)
    return text.strip().splitlines()[0]


def not_an_option(group: str, option: str, options: list[str]) -> str:
    """The one-line message for a config group option that does not exist (with the closest one)."""
    return f"{group}={option} is not an option of '{group}'{did_you_mean(option, options)}; " + (
        f"choose from {', '.join(options)}"
    )


def as_dict(config: ModelParams) -> dict[str, Any]:
    """Plain nested dict of a parameter set (for metadata and hashing)."""
    return dataclasses.asdict(config)
