"""``scamsim app [Hydra overrides]``: check ``configs/app.yaml`` and serve the browser app.

This process never loads Mesa or solara: it composes and checks the configuration, then runs the
solara server and says "serving" once the page answers (:func:`sim.report.app_config.serve`). Keys
set on the command line keep their value at the calibrated baseline (``fixed``).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from sim.cli.common import fail
from sim.cli.hydra_command import hydra_app
from sim.model.schemas import ConfigError
from sim.report.app_config import AppConfig, fix_model_keys, register, serve, split
from sim.runs.config import to_run_config


def _serve(cfg: DictConfig) -> None:
    try:
        config = to_run_config(cfg, AppConfig)
    except ConfigError as exc:
        fail(str(exc))  # SystemExit passes through Hydra's job runner without its error banner
    config, host, port = split(fix_model_keys(config, HydraConfig.get().overrides.task))
    sys.exit(serve(config, host, port))


def main(argv: Sequence[str]) -> None:
    """``scamsim app``: compose ``configs/app.yaml`` with the command line's overrides and serve."""
    register()
    hydra_app("app", _serve, argv)
