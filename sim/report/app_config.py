"""The browser app's configuration and server start, apart from the app itself (light to import).

``scamsim app`` composes ``configs/app.yaml`` (the run keys plus ``host`` and ``port``), checks it and
replaces its own process by a solara server for :mod:`sim.report.app`, handing it the model
configuration in the environment variable :data:`CONFIG_ENV` (YAML). Nothing here loads Mesa or
solara, so bad input answers at once.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass

from hydra.core.config_store import ConfigStore
from omegaconf import OmegaConf

from sim.model.schemas import param
from sim.runs.config import RunConfig, compose_config

CONFIG_ENV = "SCAMSIM_APP_CONFIG"
APP_MODULE = "sim.report.app"


@dataclass
class AppConfig(RunConfig):
    """A run configuration plus the address the app's server listens on."""

    host: str = param("127.0.0.1", "-", "Address the app's server listens on", "-")
    port: int = param(8765, "-", "Port the app's server listens on", "-", 1, 65535)


def register() -> None:
    """Register the app's schema in Hydra's ConfigStore (idempotent)."""
    ConfigStore.instance().store(name="app_schema", node=AppConfig)


def split(config: AppConfig) -> tuple[RunConfig, str, int]:
    """The model configuration, host and port of an app configuration."""
    run = RunConfig(**{f.name: getattr(config, f.name) for f in dataclasses.fields(RunConfig)})
    return run, config.host, config.port


def compose_app(overrides: Sequence[str] = ()) -> tuple[RunConfig, str, int]:
    """Compose ``configs/app.yaml`` with Hydra overrides, as ``scamsim app`` does.

    Raises:
        ConfigError: On an unknown key or invalid value (one-line message).
    """
    register()
    return split(compose_config(list(overrides), "app", AppConfig))


def serve(config: RunConfig, host: str, port: int) -> None:
    """Replace this process by a solara server for the app's page at ``http://host:port``.

    Replacing (rather than starting a child) means stopping this process stops the server.
    """
    env = {
        **os.environ,
        CONFIG_ENV: OmegaConf.to_yaml(OmegaConf.structured(config)),
        # No usage statistics: the app must not reach out to the internet.
        "SOLARA_TELEMETRY_MIXPANEL_ENABLE": "False",
    }
    args = ["--host", host, "--port", str(port), "--production", "--no-open", "--no-check-version"]
    print(f"scamsim app: serving http://{host}:{port} (Ctrl-C to stop)", flush=True)
    os.execve(sys.executable, [sys.executable, "-m", "solara", "run", f"{APP_MODULE}:Page", *args], env)
