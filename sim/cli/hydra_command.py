"""Commands that are Hydra apps: ``--help``, ``--cfg job`` and ``-m`` as usual, errors in one line."""

from __future__ import annotations

import contextlib
import functools
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import hydra
import yaml
from hydra.core.hydra_config import HydraConfig
from hydra.errors import HydraException
from omegaconf import DictConfig
from omegaconf.errors import OmegaConfBaseException

from sim.cli.common import check_repeated, fail, os_error_line
from sim.model.schemas import ConfigError
from sim.runs.config import CONFIG_DIR, check_groups, one_line, register
from sim.runs.launch import Refused

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

    ``--help``, ``--cfg job`` and ``-m`` work as usual. Configuration errors, broken YAML and failures
    to read or write files end the program with one line (:func:`fail`), never a traceback; so does
    naming two of Hydra's run modes or a config group option that does not exist.
    """
    register()
    # Let configuration errors reach us instead of Hydra's multi-line report, to print one line.
    os.environ.setdefault("HYDRA_FULL_ERROR", "1")
    modes = sorted({_MODE_FLAGS[a] for a in argv if a in _MODE_FLAGS})
    if len(modes) > 1:
        fail(f"{' and '.join(modes)} cannot be combined; use one of them (e.g. --cfg job without -m)")
    try:
        check_repeated(argv)
    except ConfigError as exc:
        fail(str(exc))
    sys.argv = [sys.argv[0], *argv]
    try:
        check_groups(list(argv))
        hydra.main(config_path=CONFIG_DIR, config_name=config_name, version_base="1.3")(_one_line(task))()
    except (ConfigError, Refused, HydraException, OmegaConfBaseException, yaml.YAMLError) as exc:
        fail(str(exc) if isinstance(exc, ConfigError | Refused) else one_line(exc))


def _one_line(task: Callable[[DictConfig], Any]) -> Callable[[DictConfig], Any]:
    """``task`` ending with one line and exit code 2 on a configuration or file error.

    Inside the job, because Hydra prints its banner over any exception but a SystemExit that leaves it.
    A run directory Hydra made for the job (``hydra.run.dir=DIR`` given) goes again if left empty.
    """

    @functools.wraps(task)
    def wrapped(cfg: DictConfig) -> Any:
        try:
            return task(cfg)
        except ConfigError as exc:
            fail(str(exc))
        except OSError as exc:
            fail(os_error_line(exc))
        finally:
            out_dir = Path(HydraConfig.get().runtime.output_dir)
            if out_dir.resolve() != Path.cwd().resolve():
                with contextlib.suppress(OSError):  # not empty: the job wrote its results there
                    out_dir.rmdir()

    return wrapped
