"""``scamsim sbc``: simulation-based calibration of the calibration (:mod:`sim.analysis.sbc`).

Each truth's result is saved in ``results/sbc/<name>.truths/`` as soon as it is complete, so a re-run
of the same command skips the truths already done. Once every truth is done, ``results/sbc/<name>/``
receives, in one atomic step, ``coverage.csv`` (per parameter: coverage of the central 50% and 90%
intervals with standard errors, rank uniformity, contraction), ``truths.csv`` (per truth and parameter:
the truth, its rank, the posterior quantiles), ``targets.csv`` (each truth's synthetic targets),
``diagnostics.csv`` (each truth's calibration, per generation), ``summary.md``, ``metadata.json`` and
``figures/ranks.png``.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
from hydra.core.config_store import ConfigStore
from omegaconf import DictConfig

from sim.analysis import calibration, sbc
from sim.analysis.sbc import SbcConfig, TruthResult
from sim.cli.calibrate import config_dict, sampling_progress
from sim.cli.common import claim_or_fail, duration, fail, say, table, terminal
from sim.cli.hydra_command import hydra_app
from sim.model.schemas import ConfigError
from sim.report import figures, sbc_figures
from sim.runs import provenance
from sim.runs.config import load_overrides, results_dir, to_run_config
from sim.runs.results import atomic_dir, write_json

WORK_SUFFIX = ".truths"  # results/sbc/<name>.truths/: each truth's saved result, for resume


def register() -> None:
    """Register the SBC schema in Hydra's ConfigStore, in the calibration schema's place.

    ``configs/sbc.yaml`` composes ``configs/calibrate.yaml`` (one list of the calibration's config
    groups), whose first default is ``calibrate_schema``: for this command that name holds
    :class:`~sim.analysis.sbc.SbcConfig`, the calibration's schema with the ``sbc`` settings added.
    """
    ConfigStore.instance().store(name="calibrate_schema", node=SbcConfig)


def to_sbc_config(cfg: DictConfig) -> SbcConfig:
    """Validated SBC configuration (one-line ConfigError on bad input)."""
    config = to_run_config(cfg, SbcConfig)
    sbc.check(config, config)
    return config


def work_dir(out_dir: Path) -> Path:
    """Where the truths of the report ``out_dir`` are saved as they finish."""
    return out_dir.with_name(out_dir.name + WORK_SUFFIX)


def markdown(summary: pd.DataFrame, metadata: dict, by_fit: pd.DataFrame) -> str:
    """The coverage table as Markdown, with what the report checked and how long it took.

    After it, the coverage of the truths whose fits came closer against the others'
    (:func:`sim.analysis.sbc.coverage_by_fit`).
    """
    settings = metadata["config"]["sbc"]
    fit = metadata["config"]["calibration"]
    lines = [
        "# Simulation-based calibration",
        "",
        f"{settings['truths']} truths drawn from the prior (base seed {metadata['seeds']['base_seed']}), "
        f"each calibrated on its synthetic fit targets with {fit['population_size']} particles, up to "
        f"{fit['generations']} generations and {fit['seeds_per_particle']} seed(s) per particle "
        f"({', '.join(fit['model_overrides'])}); each truth ranked among {settings['posterior_draws']} "
        f"posterior draws. Commit {metadata['git']['commit']}, {duration(metadata['seconds'])} "
        f"({metadata['truths_computed']} truths computed in this run).",
        "",
        "Coverage: fraction of truths inside the central interval (± binomial standard error at the nominal "
        "level). Rank p: chi-square test of uniform ranks. Width: posterior 90% width / prior 90% width.",
        "",
        "| parameter | coverage 50% | coverage 90% | rank p | width |",
        "|---|---|---|---|---|",
    ]
    for row in summary.itertuples():
        lines.append(
            f"| `{row.parameter}` | {row.coverage50:.2f} ± {row.se50:.2f} "
            f"| {row.coverage90:.2f} ± {row.se90:.2f} | {row.rank_p:.2f} | {row.width90:.2f} |"
        )
    closer, further = (by_fit[by_fit["fit"] == name].iloc[0] for name in ("closer", "further"))
    if not further.truths:
        return "\n".join([*lines, "", "Every truth's fit ended at the same epsilon: no split by fit."]) + "\n"
    lines += [
        "",
        f"By how close each truth's fit came (split at the median of the final epsilons): the "
        f"{closer.truths} closer fits (epsilon {closer.epsilon_min:.3g} to {closer.epsilon_max:.3g}, median "
        f"ESS {closer.ess:.0f}) cover {closer.coverage50:.2f} at 50% and {closer.coverage90:.2f} at 90%; "
        f"the {further.truths} further (epsilon {further.epsilon_min:.3g} to {further.epsilon_max:.3g}, "
        f"median ESS {further.ess:.0f}) {further.coverage50:.2f} and {further.coverage90:.2f} (one-sided "
        f"permutation p {closer.p90:.2f} for the difference at 90%).",
    ]
    return "\n".join(lines) + "\n"


def write(config: SbcConfig, results: list[TruthResult], out_dir: Path, metadata: dict) -> pd.DataFrame:
    """Write the report of ``results`` to ``out_dir`` (atomically); returns the coverage table."""
    rows = sbc.rows_of(results)
    priors = calibration.priors(config)
    settings = config.sbc
    summary = sbc.summary(rows, priors, settings.posterior_draws, settings.bins)
    targets = pd.DataFrame(
        [{"truth_index": r.index, "target": name, **t} for r in results for name, t in r.targets.items()]
    )
    diagnostics = pd.DataFrame([{"truth_index": r.index, **d} for r in results for d in r.diagnostics])
    by_fit = sbc.coverage_by_fit(rows, diagnostics)
    figure = sbc_figures.ranks(rows, summary, settings.posterior_draws, settings.bins, metadata)
    with atomic_dir(out_dir) as tmp:
        summary.to_csv(tmp / "coverage.csv", index=False)
        rows.to_csv(tmp / "truths.csv", index=False)
        targets.to_csv(tmp / "targets.csv", index=False)
        diagnostics.to_csv(tmp / "diagnostics.csv", index=False)
        by_fit.to_csv(tmp / "coverage_by_fit.csv", index=False)
        (tmp / "summary.md").write_text(markdown(summary, metadata, by_fit))
        write_json(tmp / "metadata.json", metadata)
        figures.save(tmp / "figures", {"ranks": figure})
    return summary


def _sbc(cfg: DictConfig) -> None:
    try:
        config = to_sbc_config(cfg)
        params = load_overrides(config, config.calibration.model_overrides)
        sbc.check(config, params)
    except ConfigError as exc:
        fail(str(exc))
    out_dir = results_dir(config, "sbc")
    total = config.sbc.truths
    started = time.perf_counter()
    computed: list[float] = []

    def show(result: TruthResult, saved: bool) -> None:
        done = result.index + 1
        if saved:
            say(f"sbc: truth {done}/{total} saved before ({work_dir(out_dir)}): skipped")
            return
        computed.append(result.seconds)
        left = sum(computed) / len(computed) * (total - done)
        say(
            f"sbc: truth {done}/{total} done in {duration(result.seconds)}"
            + (f"; about {duration(left)} left" if done < total else "")
        )

    with claim_or_fail(out_dir, provenance.config_hash(config_dict(config)), config.overwrite):
        with sampling_progress(config.calibration.generations) as on_sampling:
            results = sbc.run(config, params, work_dir(out_dir), show, on_sampling=on_sampling)
        metadata = provenance.describe(config_dict(config), config.seed, total, "scamsim sbc")
        metadata["seeds"]["truths"] = (
            f"numpy.random.SeedSequence(base_seed, spawn_key=({sbc.SBC_STREAM:#x}, i)) for truth i: its "
            "prior draw, then the seeds of its synthetic data, calibration and posterior draws "
            "(truths.csv, targets.csv)"
        )
        metadata["seconds"] = time.perf_counter() - started
        metadata["truths_computed"] = len(computed)
        metadata["truth_seconds"] = {r.index: r.seconds for r in results}
        summary = write(config, results, out_dir, metadata)
    out = table(
        f"Simulation-based calibration over {total} truths: coverage (± SE at the nominal level)",
        ("parameter", "50%", "90%", "rank p", "width"),
        right=("50%", "90%", "rank p", "width"),
    )
    for row in summary.itertuples():
        out.add_row(
            row.parameter,
            f"{row.coverage50:.2f} ± {row.se50:.2f}",
            f"{row.coverage90:.2f} ± {row.se90:.2f}",
            f"{row.rank_p:.2f}",
            f"{row.width90:.2f}",
        )
    console = terminal()
    console.print(out)
    console.print(f"results written to {out_dir}")


def main(argv: Sequence[str]) -> None:
    """``scamsim sbc [Hydra overrides]``."""
    register()
    hydra_app("sbc", _sbc, argv)
