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
from rich.table import Table

from sim.cli.common import claim_or_fail, fail, number, progress_bar, table, terminal
from sim.cli.hydra_command import hydra_app
from sim.model.schemas import ConfigError
from sim.runs.config import RunConfig, as_dict, fix_overridden, results_dir, to_run_config
from sim.runs.provenance import config_hash

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
    """Simulated vs published figures, for a terminal of 100 columns (one line per row)."""
    out = table(
        "Simulated vs published: median (90% interval) over replicates",
        ("source", "statistic", "unit", "simulated", "published (range)", "met"),
        right=("simulated", "published (range)"),
    )
    for row in results.summary["published_comparison"]:
        unit = row["unit"]
        median = row["simulated_median"]
        if median is None:
            simulated = "n/a"
        else:
            low, high = (number(row[f"simulated_{q}"], unit) for q in ("q05", "q95"))
            simulated = f"{number(median, unit)} ({low}-{high})"
        low, high = number(row["published_low"], unit), number(row["published_high"], unit)
        out.add_row(
            row["id"],
            row["statistic"].replace("_", " "),
            unit,
            simulated,
            f"{number(row['published'], unit)} ({low}-{high})",
            "yes" if row["median_in_published_range"] else "no",
        )
    return out


def _run(cfg: DictConfig) -> None:
    if HydraConfig.get().mode == RunMode.MULTIRUN:
        # A sweep: each job writes one compact chunk of runs, not a full results directory.
        from sim.runs import multirun  # the work starts: load the model

        multirun.job(cfg)
        return
    config = configure(cfg)
    out_dir = results_dir(config)
    with claim_or_fail(out_dir, config_hash(as_dict(config)), config.overwrite):
        from sim.report import figures  # the work starts: load the model and plots
        from sim.runs.runner import run_config

        with progress_bar(f"{config.name}: replicates") as report:
            results = run_config(config, "scamsim run", report)
        results.write(out_dir, figures.files(figures.run_figures(results.timeseries, results.metadata)))
    out = terminal()
    out.print(comparison_table(results))
    out.print(f"results written to {out_dir}")


def main(argv: Sequence[str]) -> None:
    """``scamsim run [Hydra overrides] [-m]``."""
    hydra_app("run", _run, argv)
