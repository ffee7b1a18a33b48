"""``scamsim sensitivity``: run a sensitivity study and write its tables and figures.

``results/sensitivity/<name>/`` receives ``indices.csv`` and ``indices.parquet`` (one row per output and
parameter: PAWN ``pawn``, ``pawn_conf``, ``pawn_max``, ``influential``; Morris ``mu``, ``mu_star``,
``sigma``, ``mu_star_conf``; Sobol ``S1``, ``ST`` and their ``_conf``, the half-width of the 95%
bootstrap interval; for the lever study one row per lever, value and output with the effect's median,
90% interval and mean, see :func:`sim.analysis.sensitivity.lever_effects`), ``parameters.csv`` (the
parameters and how each was sampled, or the levers and their ranges), ``samples.parquet`` (every row and
its outputs; for PAWN also the fit statistics, each fit target's discrepancy and whether the row was
kept), ``metadata.json`` and ``figures/<method>.png``.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from omegaconf import DictConfig
from rich.table import Table

from sim.analysis import sensitivity
from sim.analysis.sensitivity import Method
from sim.cli.common import claim_or_fail, fail, number, progress_bar, say, table, terminal
from sim.cli.hydra_command import hydra_app
from sim.model.levers import LEVERS
from sim.model.schemas import ConfigError
from sim.report import figures, sensitivity_figures
from sim.runs import metrics, posterior, provenance
from sim.runs.config import as_dict, results_dir, to_run_config
from sim.runs.results import atomic_dir, write_json


def parameters_table(config: sensitivity.SensitivityConfig) -> pd.DataFrame:
    """What was varied: each parameter's distribution, range, source and how it was sampled, or the levers."""
    settings = config.sensitivity
    if settings.method is Method.levers:
        return pd.DataFrame(
            [
                {"lever": name, "keys": ", ".join(LEVERS[name].keys), "low": LEVERS[name].low}
                | {
                    "high": LEVERS[name].high,
                    "points": settings.levers.points,
                    "start": settings.levers.start,
                }
                | {"meaning": LEVERS[name].doc}
                for name in settings.levers.names
            ]
        )
    drawn = set(sensitivity.posterior_columns(config)) if settings.method is Method.pawn else set()
    how = {
        Method.pawn: "Latin hypercube over the range",
        Method.morris: "Morris trajectories over the range",
        Method.sobol: "Saltelli sample over the range",
    }[settings.method]
    return pd.DataFrame(
        [
            {"parameter": key, "dist": r.dist.value, "low": r.low, "high": r.high, "source": r.source}
            | {"sampled": "posterior draws, jointly (range: central 90%)" if key in drawn else how}
            for key, r in sensitivity.ranges(config).items()
        ]
    )


def summary(config: sensitivity.SensitivityConfig, analysis: sensitivity.Analysis) -> dict:
    """What the metadata records beyond the run's provenance: the design and, for PAWN, the rows kept."""
    out: dict = {"design": sensitivity.design(config)}
    if analysis.method == Method.pawn.value:
        samples = analysis.samples
        failing = (samples.filter(like="discrepancy_") > config.sensitivity.fit_tolerance).mean()
        out["kept"] = {
            "rows": int(samples["kept"].sum()),
            "fraction": float(samples["kept"].mean()),
            "fit_tolerance": config.sensitivity.fit_tolerance,
            "failing_share": {k.removeprefix("discrepancy_"): float(v) for k, v in failing.items()},
        }
    return out


def run_and_write(config: sensitivity.SensitivityConfig, out_dir: Path) -> sensitivity.Analysis:
    """Run the study with a progress bar (ETA) and write everything to ``out_dir`` atomically."""
    started = time.perf_counter()
    with progress_bar(f"{config.name}: {config.sensitivity.method.value} rows") as report:
        analysis = sensitivity.run(config, report)
    metadata = provenance.describe(as_dict(config), config.seed, config.n_seeds, "scamsim sensitivity")
    metadata["seconds"] = round(time.perf_counter() - started, 1)
    metadata["rows"] = len(analysis.samples)
    metadata["runs"] = len(analysis.samples) * config.n_seeds
    metadata["posterior"] = posterior.provenance(config.posterior) if config.posterior else None
    metadata |= summary(config, analysis)
    figure = sensitivity_figures.FIGURES[analysis.method](analysis.indices, metadata)
    with atomic_dir(out_dir) as tmp:
        analysis.indices.to_csv(tmp / "indices.csv", index=False, float_format="%.6g")
        analysis.indices.to_parquet(tmp / "indices.parquet", index=False)
        parameters_table(config).to_csv(tmp / "parameters.csv", index=False)
        analysis.samples.to_parquet(tmp / "samples.parquet", index=False)
        write_json(tmp / "metadata.json", metadata)
        figures.save(tmp / "figures", {analysis.method: figure})
    return analysis


def kept_line(config: sensitivity.SensitivityConfig, analysis: sensitivity.Analysis) -> str:
    """How many rows the fit filter kept, and the targets missed most often."""
    kept = summary(config, analysis)["kept"]
    worst = sorted(kept["failing_share"].items(), key=lambda kv: -kv[1])[:3]
    missed = ", ".join(f"{name} {share:.0%}" for name, share in worst)
    line = (
        f"{kept['rows']:,} of {len(analysis.samples):,} rows ({kept['fraction']:.1%}) consistent with the "
        f"fit targets (each target's weighted discrepancy <= {kept['fit_tolerance']:g}); rows missing "
        f"each target most often: {missed}"
    )
    if kept["rows"] < 2 * config.sensitivity.slices:
        line += (
            f". Too few for PAWN ({2 * config.sensitivity.slices} needed: 2 per slice): the indices are "
            "empty; raise sensitivity.n, or name a fitted posterior"
        )
    return line


def ranking_table(analysis: sensitivity.Analysis, top: int = 5) -> Table:
    """The most influential parameters per output, for the terminal (long cells wrap)."""
    key, conf = {"morris": ("mu_star", "mu_star_conf"), "sobol": ("ST", "ST_conf")}.get(
        analysis.method, ("pawn", "pawn_conf")
    )
    out = Table(title=f"Most influential parameters ({key} ± 95% CI half-width)")
    out.add_column("output")
    out.add_column("parameters")
    for output, group in analysis.indices.groupby("output", sort=False):
        ranked = group[group["parameter"] != sensitivity.DUMMY].dropna(subset=[key])
        cells = [
            f"{r.parameter} {getattr(r, key):.3g}±{getattr(r, conf):.2g}"
            for r in ranked.nlargest(top, key).itertuples()
        ]
        if analysis.method == Method.pawn.value and cells:
            dummy = group[group["parameter"] == sensitivity.DUMMY].iloc[0]
            cells.append(f"(dummy, no influence: {dummy['pawn']:.3g}±{dummy['pawn_conf']:.2g})")
        out.add_row(str(output), ", ".join(cells) or "n/a")
    return out


def levers_table(effects: pd.DataFrame) -> Table:
    """Each lever's effect at both ends of its range, one line per lever, end and output."""
    out = table(
        "Effect of each lever at the ends of its range (median and 90% interval over draws)",
        ("lever", "set to", "output", "effect", "90% interval"),
        right=("set to", "effect", "90% interval"),
    )
    for (lever, output), group in effects.groupby(["lever", "output"], sort=False):
        unit = metrics.METRICS[output][0]
        scale, label = (1e9, f"{output} (USD bn)") if unit == "USD" else (1.0, output)
        for row in group.sort_values("value").iloc[[0, -1]].itertuples():
            if not np.isfinite(row.effect_median):
                out.add_row(lever, f"{row.value:g}", label, "n/a", "")
                continue
            low, high = (number(v / scale, unit) for v in (row.effect_q05, row.effect_q95))
            out.add_row(
                lever, f"{row.value:g}", label, number(row.effect_median / scale, unit), f"{low} to {high}"
            )
    return out


def _sensitivity(cfg: DictConfig) -> None:
    try:
        config = to_run_config(cfg, sensitivity.SensitivityConfig)
        sensitivity.check(config)
    except ConfigError as exc:
        fail(str(exc))
    out_dir = results_dir(config, "sensitivity")
    say(f"sensitivity: {sensitivity.design(config)}")
    with claim_or_fail(out_dir, provenance.config_hash(as_dict(config)), config.overwrite):
        analysis = run_and_write(config, out_dir)
    console = terminal()
    if analysis.method == Method.levers.value:
        console.print(levers_table(analysis.indices))
    else:
        console.print(ranking_table(analysis))
    if analysis.method == Method.pawn.value:
        console.print(kept_line(config, analysis))
    console.print(f"results written to {out_dir}")


def main(argv: Sequence[str]) -> None:
    """``scamsim sensitivity [Hydra overrides]``."""
    sensitivity.register()
    hydra_app("sensitivity", _sensitivity, argv)
