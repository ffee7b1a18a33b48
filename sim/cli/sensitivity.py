"""``scamsim sensitivity``: run a sensitivity analysis and write its tables and figures.

``results/sensitivity/<name>/`` receives ``indices.csv`` and ``indices.parquet`` (one row per output and
parameter: Morris ``mu``, ``mu_star``, ``sigma``, ``mu_star_conf`` or Sobol ``S1``, ``ST`` and their
``_conf``, the half-width of the 95% bootstrap interval), ``parameters.csv`` (the ranges analysed and
their sources), ``samples.parquet`` (every sample row and its outputs), ``metadata.json`` and
``figures/<method>.png``.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
from omegaconf import DictConfig
from rich.console import Console
from rich.table import Table

from sim.analysis import sensitivity
from sim.cli.common import claim_or_fail, fail, progress_bar
from sim.cli.hydra_command import hydra_app
from sim.model.schemas import ConfigError
from sim.report import figures, sensitivity_figures
from sim.runs import posterior, provenance
from sim.runs.config import as_dict, results_dir, to_run_config
from sim.runs.results import atomic_dir, write_json


def parameters_table(config: sensitivity.SensitivityConfig) -> pd.DataFrame:
    """The parameters analysed: key, distribution, range and where the range comes from."""
    return pd.DataFrame(
        [
            {"parameter": key, "dist": r.dist.value, "low": r.low, "high": r.high, "source": r.source}
            for key, r in sensitivity.ranges(config).items()
        ]
    )


def run_and_write(config: sensitivity.SensitivityConfig, out_dir: Path) -> sensitivity.Analysis:
    """Run the analysis with a progress bar (ETA) and write everything to ``out_dir`` atomically."""
    started = time.perf_counter()
    with progress_bar(f"{config.name}: {config.sensitivity.method.value} rows") as report:
        analysis = sensitivity.run(config, report)
    metadata = provenance.describe(as_dict(config), config.seed, config.n_seeds, "scamsim sensitivity")
    metadata["seconds"] = round(time.perf_counter() - started, 1)
    metadata["rows"] = len(analysis.samples)
    metadata["runs"] = len(analysis.samples) * config.n_seeds
    metadata["posterior"] = posterior.provenance(config.posterior) if config.posterior else None
    figure = sensitivity_figures.FIGURES[analysis.method](analysis.indices, metadata)
    with atomic_dir(out_dir) as tmp:
        analysis.indices.to_csv(tmp / "indices.csv", index=False, float_format="%.6g")
        analysis.indices.to_parquet(tmp / "indices.parquet", index=False)
        parameters_table(config).to_csv(tmp / "parameters.csv", index=False)
        analysis.samples.to_parquet(tmp / "samples.parquet", index=False)
        write_json(tmp / "metadata.json", metadata)
        figures.save(tmp / "figures", {analysis.method: figure})
    return analysis


def ranking_table(analysis: sensitivity.Analysis, top: int = 5) -> Table:
    """The most influential parameters per output, for the terminal."""
    key, conf = ("mu_star", "mu_star_conf") if analysis.method == "morris" else ("ST", "ST_conf")
    table = Table(title=f"Most influential parameters ({key} ± 95% CI half-width)")
    table.add_column("output")
    table.add_column("parameters")
    for output, group in analysis.indices.groupby("output", sort=False):
        best = group.nlargest(top, key)
        table.add_row(
            str(output),
            ", ".join(
                f"{r.parameter} {getattr(r, key):.3g}±{getattr(r, conf):.2g}" for r in best.itertuples()
            ),
        )
    return table


def _sensitivity(cfg: DictConfig) -> None:
    try:
        config = to_run_config(cfg, sensitivity.SensitivityConfig)
        sensitivity.check(config)
    except ConfigError as exc:
        fail(str(exc))
    out_dir = results_dir(config, "sensitivity")
    with claim_or_fail(out_dir, provenance.config_hash(as_dict(config)), config.overwrite):
        analysis = run_and_write(config, out_dir)
    terminal = Console()
    terminal.print(ranking_table(analysis))
    terminal.print(f"results written to {out_dir}")


def main(argv: Sequence[str]) -> None:
    """``scamsim sensitivity [Hydra overrides]``."""
    sensitivity.register()
    hydra_app("sensitivity", _sensitivity, argv)
