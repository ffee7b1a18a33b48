"""``scamsim brief scenario=NAME [name=OUT] [Hydra overrides]``: a scenario's policy brief (HTML + PDF).

The brief goes to ``results/briefs/<name>/``; ``name`` defaults to the scenario's name.

Hydra only composes and checks the configuration; the runs happen after it returns, because the
comparison composes each scenario's configuration with Hydra itself. The scenario and the baseline
are composed and checked before anything loads the model, so bad input answers at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig
from rich.console import Console

from sim.cli.common import claim_or_fail, fail, progress_bar
from sim.cli.hydra_command import hydra_app
from sim.model.schemas import ConfigError
from sim.runs.config import results_dir, to_run_config
from sim.runs.scenarios import BASELINE, available_scenarios, configure


@dataclass
class Request:
    """What ``scamsim brief`` was asked for: the scenario, the other overrides, the output directory."""

    scenario: str
    overrides: list[str]
    out_dir: Path


def _request(cfg: DictConfig) -> Request:
    """Check the composed configuration (unknown keys, ranges) and note what to run."""
    # The brief is written after Hydra returns (see main).
    try:
        config = to_run_config(cfg)
    except ConfigError as exc:
        fail(str(exc))  # SystemExit passes Hydra's job runner without its multi-line banner
    if config.scenario == BASELINE:  # no scenario= given (null keeps --help and --cfg working)
        fail(
            f"scenario= is required, e.g. scenario=raid_surge; available: {', '.join(available_scenarios())}"
        )
    # Every override but the scenario itself applies to the baseline and the scenario alike.
    overrides = [o for o in HydraConfig.get().overrides.task if not o.startswith("scenario=")]
    return Request(config.scenario, overrides, results_dir(config, "briefs"))


def make(request: Request) -> None:
    """Compare the scenario with the baseline (with a progress bar), render the brief and write it."""
    try:
        configs, used = configure([request.scenario], request.overrides)
    except ConfigError as exc:
        fail(str(exc))
    # The work starts: load the model, the comparison and the brief's renderer.
    from sim.analysis.compare import comparison_hash, run_comparison
    from sim.report.brief import command_line, render

    with claim_or_fail(request.out_dir, comparison_hash(configs), configs[BASELINE].overwrite):
        with progress_bar(f"brief {request.scenario}: runs") as report:
            comparison = run_comparison(configs, used, report)
        brief = render(comparison, request.scenario, command_line(request.scenario, request.overrides))
        brief.write(request.out_dir)


def main(argv: Sequence[str]) -> None:
    """``scamsim brief``: check the configuration with Hydra, then run, render and write the brief."""
    requests: list[Request] = []
    hydra_app("brief", lambda cfg: requests.append(_request(cfg)), argv)
    for request in requests:  # none after --help or --cfg
        make(request)
        Console().print(f"brief written to {request.out_dir}/brief.html and brief.pdf")
