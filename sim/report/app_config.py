"""The browser app's configuration and server start, apart from the app itself (light to import).

``scamsim app`` composes ``configs/app.yaml`` (the run keys plus ``host`` and ``port``), checks it and
starts a solara server for :mod:`sim.report.app` as its child, handing it the model configuration in
the environment variable :data:`CONFIG_ENV` (YAML); it says "serving" once the page answers, and
stops the server when it is stopped itself. Nothing here loads Mesa or solara, so bad input answers
at once.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass

from hydra.core.config_store import ConfigStore
from omegaconf import OmegaConf

from sim.model.schemas import param
from sim.runs.config import RunConfig, compose_config, fix_overridden

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


def fix_model_keys(config: AppConfig, overrides: Sequence[str]) -> AppConfig:
    """``config`` with the model keys set in ``overrides`` ``fixed`` (not ``host`` or ``port``)."""
    server = {f.name for f in dataclasses.fields(AppConfig)} - {f.name for f in dataclasses.fields(RunConfig)}
    return fix_overridden(config, [o for o in overrides if o.split("=")[0].lstrip("+~") not in server])


def compose_app(overrides: Sequence[str] = ()) -> tuple[RunConfig, str, int]:
    """Compose ``configs/app.yaml`` with Hydra overrides, as ``scamsim app`` does (their keys ``fixed``).

    Raises:
        ConfigError: On an unknown key or invalid value (one-line message).
    """
    register()
    return split(fix_model_keys(compose_config(list(overrides), "app", AppConfig), overrides))


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5):
            return True
    except OSError:
        return False


def serve(config: RunConfig, host: str, port: int, timeout: float = 300.0) -> int:
    """Run a solara server for the app's page at ``http://host:port`` until it or this process stops.

    "serving" is printed only once the page answers; stopping this process (Ctrl-C, SIGTERM) stops
    the server.

    Returns:
        The server's exit code.
    """
    env = {
        **os.environ,
        CONFIG_ENV: OmegaConf.to_yaml(OmegaConf.structured(config)),
        # No usage statistics: the app must not reach out to the internet.
        "SOLARA_TELEMETRY_MIXPANEL_ENABLE": "False",
    }
    args = ["--host", host, "--port", str(port), "--production", "--no-open", "--no-check-version"]
    url = f"http://{host}:{port}/"
    print(f"scamsim app: starting the server for {url} ...", flush=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run the clean-up below
    server = subprocess.Popen([sys.executable, "-m", "solara", "run", f"{APP_MODULE}:Page", *args], env=env)
    try:
        deadline = time.monotonic() + timeout
        while server.poll() is None and not _answers(url):
            if time.monotonic() > deadline:
                print(f"scamsim app: the server did not answer within {timeout:.0f} s", file=sys.stderr)
                return 1
            time.sleep(0.25)
        if server.poll() is None:
            print(f"scamsim app: serving {url} (Ctrl-C to stop)", flush=True)
        return server.wait()
    except KeyboardInterrupt:
        return 130
    finally:
        if server.poll() is None:
            server.terminate()
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
