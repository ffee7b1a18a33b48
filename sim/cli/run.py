"""``scamsim run``: run a configuration's replicates and write ``results/<name>/``; with ``-m``, a sweep.

Keys set on the command line keep their value in every posterior draw (``fixed``). With ``-m`` every
grid cell is one Hydra job that writes one chunk of runs (:mod:`sim.runs.multirun`).

The modules that run the model (Mesa, pandas, matplotlib) load only once the configuration is valid,
so a configuration error answers at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig
from rich.console import Console
from rich.table import Table

from sim.cli.common import fail, progress_bar
from sim.cli.hydra_command import hydra_app
from sim.model.schemas import ConfigError
from sim.runs.config import RunConfig, fix_overridden, hydra_output_dir, to_run_config

if TYPE_CHECKING:
    from sim.runs.results import Results


def configure(cfg: DictConfig) -> RunConfig:
    """The validated configuration of the current Hydra job, its command-line keys ``fixed``."""
    # SystemExit (not an Exception) passes through Hydra's job runner without its error banner.
    try:
        config = to_run_config(cfg)
    except ConfigError as exc:
        fail(str(exc))
    return fix_overridden(config, HydraConfig.get().overrides.task)


def comparison_table(results: Results) -> Table:
    """Simulated vs published figures, for the terminal."""
    table = Table(title="Simulated (median [90% interval] over replicates) vs published")
    for column in ("id", "statistic", "simulated", "published", "in range"):
        table.add_column(column)
    for row in results.summary["published_comparison"]:
        median = row["simulated_median"]
        if median is None:
            simulated = "n/a"
        else:
            simulated = f"{median:,.3g} [{row['simulated_q05']:,.3g}, {row['simulated_q95']:,.3g}]"
        published = f"{row['published']:,.3g} ({row['published_low']:,.3g}-{row['published_high']:,.3g})"
        table.add_row(
            row["id"],
            row["statistic"],
            simulated,
            published,
            "yes" if row["median_in_published_range"] else "no",
        )
    from sim.runs.metrics import am7_line  # loaded with the results already

    table.caption = am7_line(results.summary["metrics"])
    return table


def _run(cfg: DictConfig) -> None:
    with hydra_output_dir() as out_dir:
        if HydraConfig.get().mode == RunMode.MULTIRUN:
            # A sweep: each job writes one compact chunk of runs, not a full results directory.
            from sim.runs import multirun  # the work starts: load the model

            multirun.job(cfg)
            return
        config = configure(cfg)
        from sim.report import figures  # the work starts: load the model and plots
        from sim.runs.runner import run_config

        with progress_bar(f"{config.name}: replicates") as report:
            results = run_config(config, "scamsim run", report)
        results.write(out_dir, figures.files(figures.run_figures(results.timeseries, results.metadata)))
    out = Console()
    out.print(comparison_table(results))
    out.print(f"results written to {out_dir}")


def main(argv: Sequence[str]) -> None:
    """``scamsim run [Hydra overrides] [-m]``."""
    hydra_app("run", _run, argv)
