"""Command-line interface: ``scamsim COMMAND [key=value ...]``, one module per command.

Every command takes ``key=value`` arguments (:mod:`sim.cli.common`): Hydra overrides for the commands
that configure model runs (:mod:`sim.cli.hydra_command`), so ``--help``, ``--cfg job`` and ``-m``
(multirun) work as usual, and the same syntax for ``collect``, ``phase`` and ``convergence``. Bad
input (an unknown command or key, a value out of range, a config group option that does not exist) ends
the program with a one-line message and exit code 2, never a traceback; so does a failure to read or
write a file (a full disk: results are written atomically, so nothing is half-written); Ctrl-C ends it
with one line and exit code 130.

This module loads only the command asked for (``sim.cli.<command>``), so ``scamsim --help`` and a
mistyped command answer at once.
"""

from __future__ import annotations

import importlib
import sys

from sim.cli.common import fail, os_error_line
from sim.model.schemas import did_you_mean

COMMANDS: dict[str, str] = {
    "run": "run the model over n_seeds replicates -> results/<name>/ (-m: a sweep, one chunk per cell)",
    "app": "start the interactive browser app (Mesa SolaraViz) on 127.0.0.1",
    "calibrate": "fit the free parameters with ABC-SMC -> results/calibration/<name>/",
    "validate": "report the validate targets out of sample against the calibrated posterior",
    "sbc": "simulation-based calibration: coverage of posteriors of prior draws -> results/sbc/<name>/",
    "convergence": "do calibrations of different seeds agree? runs=DIR1,DIR2,DIR3 -> agreement, pair plot",
    "collect": "gather a sweep's chunks: dir=DIR -> DIR/runs.parquet (one row per run)",
    "phase": "draw the raid-rate x corruption phase diagram of a sweep -> results/phase/",
    "sweep": "run a sweep's chunks on a Dask cluster (scheduler=ADDRESS; default: local)",
    "sensitivity": "Morris or Sobol indices (SALib) -> results/sensitivity/<name>/",
    "compare": "scenarios vs baseline, paired by common random numbers -> results/compare/<name>/",
    "brief": "a scenario's policy brief (HTML + PDF) -> results/briefs/<name>/ (default: the scenario)",
}


def usage() -> str:
    """The top-level help text."""
    lines = ["usage: scamsim COMMAND [key=value ...] [--help | --cfg job | -m]", "", "commands:"]
    lines += [f"  {name:<12} {text}" for name, text in COMMANDS.items()]
    lines += [
        "",
        "Every argument is key=value. Commands that run the model take Hydra overrides of configs/*.yaml",
        "(keys and units: docs/ODD.md; a comma list with -m is a sweep); collect, phase and convergence",
        "take their own keys the same way. `scamsim COMMAND --help` lists a command's keys.",
        "",
        "Examples:",
        "  scamsim run police.raid_capacity=60 police.corruption=0.5 n_seeds=10",
        "  scamsim run -m police.raid_capacity=10,40 name=grid && scamsim collect dir=results/multirun/grid",
        "  scamsim phase sweep=results/multirun/phase out=results/phase",
        "  scamsim sweep scheduler=tcp://10.0.0.5:8786 experiment=phase",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``scamsim`` console script: run the command named by the first argument."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(usage())
        sys.exit(0 if argv else 2)
    command = argv[0]
    if command not in COMMANDS:
        print(
            f"scamsim: error: unknown command {command!r}{did_you_mean(command, COMMANDS)}; "
            f"choose from {', '.join(COMMANDS)}",
            file=sys.stderr,
        )
        sys.exit(2)
    sys.argv = [f"scamsim {command}", *argv[1:]]
    from sim.model import kernels  # here, not at the top: `scamsim --help` need not import numpy
    from sim.model.schemas import ConfigError

    try:
        kernels.requested()  # a bad SCAMSIM_KERNELS fails now, not at a run's first step
    except ConfigError as exc:
        fail(str(exc))
    try:
        importlib.import_module(f"sim.cli.{command}").main(argv[1:])
    except OSError as exc:
        fail(os_error_line(exc))
    except KeyboardInterrupt:
        # Ctrl-C: one line, not the traceback of wherever the model happened to be. Results are written
        # whole or not at all, and the long commands keep what they finished for a re-run.
        print(
            f"{sys.argv[0]}: interrupted; nothing half-written is left (a re-run of calibrate, sbc or a "
            "sweep resumes where it stopped)",
            file=sys.stderr,
        )
        sys.exit(130)
