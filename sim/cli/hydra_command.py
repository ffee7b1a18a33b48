"""Commands that are Hydra apps: ``--help``, ``--cfg job`` and ``-m`` as usual, errors in one line."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

import hydra
from hydra.errors import HydraException
from omegaconf import DictConfig
from omegaconf.errors import OmegaConfBaseException

from sim.cli.common import fail
from sim.model.schemas import ConfigError
from sim.runs.config import CONFIG_DIR, one_line, register

# Hydra's run modes, of which a command line may name one (Hydra itself raises a traceback otherwise).
_MODE_FLAGS = {
    "-m": "--multirun",
    "--multirun": "--multirun",
    "-c": "--cfg",
    "--cfg": "--cfg",
    "-i": "--info",
    "--info": "--info",
    "-r": "--run",
    "--run": "--run",
    "-sc": "--shell-completion",
    "--shell-completion": "--shell-completion",
}


def hydra_app(config_name: str, task: Callable[[DictConfig], Any], argv: Sequence[str]) -> None:
    """Run ``task`` as the Hydra app of ``configs/<config_name>.yaml`` on the arguments ``argv``.

    ``--help``, ``--cfg job`` and ``-m`` work as usual. Configuration errors end the program with one
    line (:func:`fail`), never a traceback; so does naming two of Hydra's run modes.
    """
    register()
    # Let configuration errors reach us instead of Hydra's multi-line report, to print one line.
    os.environ.setdefault("HYDRA_FULL_ERROR", "1")
    modes = sorted({_MODE_FLAGS[a] for a in argv if a in _MODE_FLAGS})
    if len(modes) > 1:
        fail(f"{' and '.join(modes)} cannot be combined; use one of them (e.g. --cfg job without -m)")
    sys.argv = [sys.argv[0], *argv]
    try:
        hydra.main(config_path=CONFIG_DIR, config_name=config_name, version_base="1.3")(task)()
    except (ConfigError, HydraException, OmegaConfBaseException) as exc:
        fail(str(exc) if isinstance(exc, ConfigError) else one_line(exc))
