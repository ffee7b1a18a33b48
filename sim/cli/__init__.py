"""Command-line interface: ``scamsim COMMAND [Hydra overrides]``.

Each command is a Hydra app, so ``--help``, ``--cfg job`` and ``-m`` (multirun) work as usual.
Configuration errors (unknown keys, values out of range, malformed overrides) and failures to read or
write files (a full disk) end the program with a one-line message and exit code 2, never a traceback.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

import hydra
import yaml
from hydra.core.hydra_config import HydraConfig
from hydra.errors import HydraException
from hydra.types import RunMode
from omegaconf import DictConfig
from omegaconf.errors import OmegaConfBaseException
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from sim.analysis.compare import main as compare_main
from sim.model.schemas import ConfigError
from sim.report import figures, phase
from sim.runs import collect, dask_sweep, multirun, posterior, provenance
from sim.runs.config import (
    CONFIG_DIR,
    RunConfig,
    as_dict,
    check_groups,
    hydra_output_dir,
    one_line,
    overridden_keys,
    register,
    to_run_config,
)
from sim.runs.results import Results
from sim.runs.runner import run_replicates

console = Console(stderr=True)


def run_and_write(config: RunConfig, out_dir: Path, command: str = "scamsim run") -> Results:
    """Run the replicates of ``config`` with a progress bar and write everything to ``out_dir``."""
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task(f"{config.name}: replicates", total=config.n_seeds)
        results = run_replicates(
            config,
            config.n_seeds,
            config.seed,
            config.n_jobs,
            progress=lambda done, total: bar.update(task, completed=done),
            draws=posterior.for_run(config),
        )
    results.metadata = provenance.describe(as_dict(config), config.seed, config.n_seeds, command)
    if config.posterior:
        results.metadata["posterior"] = posterior.provenance(config.posterior)
    results.write(out_dir, figures.run_figures(results.timeseries, results.metadata))
    return results


def comparison_table(results: Results) -> Table:
    """Simulated vs published figures, for the terminal."""
    table = Table(title="Simulated (median [90% interval] over replicates) vs published")
    for column in ("id", "statistic", "simulated", "published", "in range"):
        table.add_column(column)
    for row in results.summary["published_comparison"]:
        sim = row["simulated_median"]
        if sim is None:
            simulated = "n/a"
        else:
            simulated = f"{sim:,.3g} [{row['simulated_q05']:,.3g}, {row['simulated_q95']:,.3g}]"
        published = f"{row['published']:,.3g} ({row['published_low']:,.3g}-{row['published_high']:,.3g})"
        table.add_row(
            row["id"],
            row["statistic"],
            simulated,
            published,
            "yes" if row["median_in_published_range"] else "no",
        )
    return table


def fail(message: str) -> NoReturn:
    """Print a one-line error for the current command and exit with code 2."""
    command = sys.argv[0] if sys.argv and sys.argv[0].startswith("scamsim") else "scamsim"
    print(f"{command}: error: {message}", file=sys.stderr)
    sys.exit(2)


def os_error_line(exc: OSError) -> str:
    """One line for a failure to read or write a file: the file and the system's reason."""
    return f"{exc.filename}: {exc.strerror}" if exc.filename and exc.strerror else str(exc)


def one_line_errors(task: Callable[[DictConfig], None]) -> Callable[[DictConfig], None]:
    """A Hydra task that ends with one line and exit code 2 on a configuration or file error.

    Inside the job, because Hydra prints a banner over any exception but SystemExit that leaves it.
    """

    @functools.wraps(task)
    def wrapped(cfg: DictConfig) -> None:
        try:
            task(cfg)
        except ConfigError as exc:
            fail(str(exc))
        except OSError as exc:
            fail(os_error_line(exc))

    return wrapped


def _config(cfg: DictConfig) -> RunConfig:
    # SystemExit (not an Exception) passes through Hydra's job runner without its error banner.
    try:
        config = to_run_config(cfg)
    except ConfigError as exc:
        fail(str(exc))
    # What the user set on the command line wins over posterior draws.
    config.fixed = sorted(set(config.fixed) | overridden_keys(HydraConfig.get().overrides.task))
    return config


def _run(cfg: DictConfig) -> None:
    with hydra_output_dir() as out_dir:
        if HydraConfig.get().mode == RunMode.MULTIRUN:
            # A sweep: each job writes one compact chunk of runs, not a full results directory.
            multirun.job(cfg)
            return
        results = run_and_write(_config(cfg), out_dir)
    out = Console()
    out.print(comparison_table(results))
    out.print(f"results written to {out_dir}")


def _app() -> None:
    from sim.report.app import main  # imported on use: Mesa's browser stack takes seconds to import

    main()


def _calibrate() -> None:
    from sim.cli.calibrate import app  # imported on use: pyabc takes seconds to import

    app()


def _validate() -> None:
    from sim.cli.calibrate import validate_app

    validate_app()


def _sensitivity() -> None:
    from sim.cli.sensitivity import app  # imported on use: SALib pulls in scipy's statistics

    app()


def _brief() -> None:
    from sim.report.brief import main  # imported on use: jinja2 and the brief's figures

    main()


COMMANDS: dict[str, tuple[str, Callable[[], None]]] = {
    "run": (
        "run the model over n_seeds replicates and write results/<name>/",
        hydra.main(config_path=CONFIG_DIR, config_name="run", version_base="1.3")(one_line_errors(_run)),
    ),
    "app": ("start the interactive browser app (Mesa SolaraViz) on 127.0.0.1", _app),
    "calibrate": ("fit the free parameters with ABC-SMC; write results/calibration/<name>/", _calibrate),
    "validate": ("report the validate targets out of sample against the calibrated posterior", _validate),
    "collect": ("gather a sweep's chunks into DIR/runs.parquet (one row per run)", collect.main),
    "phase": ("draw the raid-rate x corruption phase diagram of a sweep -> results/phase/", phase.main),
    "sweep": ("run a sweep's chunks on a Dask cluster (--scheduler ADDRESS; default local)", dask_sweep.main),
    "sensitivity": ("Morris or Sobol indices (SALib) -> results/sensitivity/<name>/", _sensitivity),
    "compare": (
        "scenarios vs baseline, paired by common random numbers -> results/compare/<name>/",
        compare_main,
    ),
    "brief": ("a scenario's policy brief (HTML + PDF) -> results/briefs/<scenario>/", _brief),
}


def usage() -> str:
    """The top-level help text."""
    lines = ["usage: scamsim COMMAND [Hydra overrides] [--help | --cfg job | -m]", "", "commands:"]
    lines += [f"  {name:<10} {text}" for name, (text, _) in COMMANDS.items()]
    lines += ["", "Example: scamsim run police.raid_rate=1.0 police.corruption=0.5 n_seeds=10"]
    return "\n".join(lines)


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


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``scamsim`` console script."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(usage())
        sys.exit(0 if argv else 2)
    command = argv[0]
    if command not in COMMANDS:
        print(
            f"scamsim: error: unknown command {command!r}; choose from {', '.join(COMMANDS)}",
            file=sys.stderr,
        )
        sys.exit(2)
    register()
    # Let configuration errors reach us instead of Hydra's multi-line report, to print one line.
    os.environ.setdefault("HYDRA_FULL_ERROR", "1")
    sys.argv = [f"scamsim {command}", *argv[1:]]
    modes = sorted({_MODE_FLAGS[a] for a in argv[1:] if a in _MODE_FLAGS})
    if len(modes) > 1:
        fail(f"{' and '.join(modes)} cannot be combined; use one of them (e.g. --cfg job without -m)")
    try:
        check_groups(argv[1:])
        COMMANDS[command][1]()
    except (ConfigError, HydraException, OmegaConfBaseException, yaml.YAMLError) as exc:
        fail(str(exc) if isinstance(exc, ConfigError) else one_line(exc))
    except OSError as exc:  # e.g. a full disk: results are written atomically, so nothing is half-written
        fail(os_error_line(exc))
