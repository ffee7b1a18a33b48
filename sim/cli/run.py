"""``scamsim run``: run a configuration's replicates and write ``results/<name>/``; with ``-m``, a sweep.

Keys set on the command line keep their value in every posterior draw (``fixed``). With ``-m`` every
grid cell is one Hydra job that writes one chunk of runs (:mod:`sim.runs.multirun`), and the launching
process reports the runs done (:class:`SweepProgress`).

The modules that run the model (Mesa, pandas, matplotlib) load only once the configuration is valid,
so a configuration error answers at once.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hydra.core.hydra_config import HydraConfig
from hydra.experimental.callback import Callback
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf
from rich.table import Table

from sim.cli.common import claim_or_fail, fail, number, progress_bar, say, table, terminal
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
    from sim.runs.metrics import am7_line  # loaded with the results already

    out.caption = am7_line(results.summary["metrics"])
    return out


SWEEP_POLL_SECONDS = 1.0
_sweep = contextlib.ExitStack()  # the launching process's progress display (launchers pickle callbacks)


class SweepProgress(Callback):
    """Hydra callback of ``scamsim run -m``, in the launching process: the sweep's runs done, elapsed, ETA.

    Whichever launcher runs the jobs (joblib's processes, SLURM's nodes), each leaves a chunk file in
    the sweep directory; a thread of the launching process counts the runs of the chunk files written
    and reports them through :func:`sim.cli.common.progress_bar` (a bar on a terminal, plain lines in a
    log). Chunks done before a resumed sweep started are left out of the count.
    """

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        """Start reporting (after :class:`sim.runs.launch.SweepGuard` has prepared the directory)."""
        from sim.runs.sweep import CHUNK_DIR, cell_runs, chunk_key, expand, multirun_overrides, runs_written

        cells = expand(multirun_overrides(OmegaConf.to_container(config, resolve=False)))
        runs = {chunk_key(cell): cell_runs(cell, config) for cell in cells}
        chunk_dir = Path(str(config.hydra.sweep.dir)) / CHUNK_DIR
        before = runs_written(chunk_dir, runs)
        total = sum(runs.values()) - before
        if before:
            say(f"sweep: {before:,} runs done before, {total:,} to run")
        report = _sweep.enter_context(progress_bar("sweep: runs"))
        stop = threading.Event()

        def poll() -> None:
            last = None
            while True:
                final = stop.is_set()
                done = runs_written(chunk_dir, runs) - before
                if done != last:
                    report(done, total)
                    last = done
                if final:
                    return
                stop.wait(SWEEP_POLL_SECONDS)

        watcher = threading.Thread(target=poll, name="scamsim-sweep-progress", daemon=True)
        watcher.start()
        _sweep.callback(watcher.join)  # closed in reverse: the last count is reported, then the bar goes
        _sweep.callback(stop.set)

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        """Report the last count and end the display."""
        _sweep.close()


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
