"""``scamsim app [Hydra overrides]``: check ``configs/app.yaml`` and serve the browser app.

This process never loads Mesa or solara: it composes and checks the configuration, then becomes the
solara server (:func:`sim.report.app_config.serve`).
"""

from __future__ import annotations

from collections.abc import Sequence

from omegaconf import DictConfig

from sim.cli.common import fail
from sim.cli.hydra_command import hydra_app
from sim.model.schemas import ConfigError
from sim.report.app_config import AppConfig, register, serve, split
from sim.runs.config import to_run_config


def _serve(cfg: DictConfig) -> None:
    try:
        config, host, port = split(to_run_config(cfg, AppConfig))
    except ConfigError as exc:
        fail(str(exc))  # SystemExit passes through Hydra's job runner without its error banner
    serve(config, host, port)


def main(argv: Sequence[str]) -> None:
    """``scamsim app``: compose ``configs/app.yaml`` with the command line's overrides and serve."""
    register()
    hydra_app("app", _serve, argv)
