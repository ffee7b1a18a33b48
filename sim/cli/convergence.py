"""``scamsim convergence runs=DIR1,DIR2,DIR3 [out=DIR]``: do independent calibrations agree?

Reads three or more calibration results directories that differ only in their seed and writes
``agreement.csv`` (per parameter: pooled median and 90% interval, spread of the runs' medians as a share
of their 90% widths, whether they agree, 90% width as a share of the prior's, whether the targets
identify the parameter), ``runs.csv`` (each run's median and 90% interval), ``correlations.csv``
(posterior correlations of the pooled runs), ``metadata.json`` (with how each run stopped) and
``figures/pairs.png`` (:mod:`sim.analysis.convergence`). Runs that did not converge are named after the
table: their agreement is no evidence of convergence.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from sim.cli.common import claim_or_fail, fail, number, parse_keys, table, terminal
from sim.model.schemas import ConfigError

if TYPE_CHECKING:
    import pandas as pd
    from rich.table import Table

DEFAULT_OUT = "results/calibration/convergence"

USAGE = f"""usage: scamsim convergence runs=DIR1,DIR2,DIR3[,...] [out=DIR]

Compare calibrations that differ only in their seed: whether their posterior medians agree within
10% of their 90% widths, which parameters the targets do not identify (90% width above 80% of the
prior's), the posterior correlations and a pair plot; and which runs did not converge.

keys:
  runs  comma-separated calibration results directories, at least 3 (required),
        e.g. runs=results/calibration/seed1,results/calibration/seed2,results/calibration/seed3
  out   where the tables and the figure go (default: {DEFAULT_OUT})"""


def main(argv: Sequence[str]) -> None:
    """Write the comparison and print its table."""
    try:
        keys = parse_keys(argv, {"runs": "", "out": DEFAULT_OUT}, USAGE)
        if not keys["runs"]:
            raise ConfigError(
                "runs= is required: at least 3 calibration results directories, comma-separated"
            )
    except ConfigError as exc:
        fail(str(exc))
    # The work starts: load pandas and matplotlib.
    from sim.analysis import convergence
    from sim.report import calibration_figures, figures
    from sim.runs import provenance
    from sim.runs.results import atomic_dir, write_json

    try:
        runs = convergence.load([Path(p) for p in keys["runs"].split(",") if p])
    except ConfigError as exc:
        fail(str(exc))
    agreement = convergence.agreement(runs.posteriors, runs.priors)
    config = {"runs": keys["runs"].split(","), "tolerance": convergence.TOLERANCE}
    config["unidentified"] = convergence.UNIDENTIFIED
    seeds = [m["config"]["seed"] for m in runs.metadata.values()]
    metadata = provenance.describe(config, seeds[0], len(seeds), "scamsim convergence")
    # One calibration per seed: the figures' footer names them all.
    metadata["seeds"] = {
        "base_seed": ", ".join(map(str, seeds)),
        "n_seeds": len(seeds),
        "runs": dict(zip(runs.metadata, seeds, strict=True)),
    }
    # How each run stopped: agreement between runs that did not converge is no evidence of convergence.
    metadata["stops"] = {name: m.get("stop") for name, m in runs.metadata.items()}
    unidentified = agreement.loc[~agreement["identified"], "parameter"].tolist()
    out = Path(keys["out"])
    with claim_or_fail(out, None, False), atomic_dir(out) as tmp:
        agreement.to_csv(tmp / "agreement.csv", index=False)
        convergence.per_run(runs.posteriors, runs.priors).to_csv(tmp / "runs.csv", index=False)
        convergence.correlations(runs.posteriors, runs.priors).to_csv(tmp / "correlations.csv")
        write_json(tmp / "metadata.json", metadata)
        pairs = calibration_figures.pairs(runs.posteriors, runs.priors, metadata, unidentified)
        figures.save(tmp / "figures", {"pairs": pairs})
    terminal().print(agreement_table(agreement, len(runs.posteriors)))
    print(
        f"spread: max - min of the runs' medians as a share of their mean 90% width (agree: at most "
        f"{convergence.TOLERANCE:.0%});\nof prior: the mean 90% width as a share of the prior's (identified: "
        f"at most {convergence.UNIDENTIFIED:.0%});\nboth on the prior's scale (log for a log-uniform prior)"
    )
    for name, stop in metadata["stops"].items():
        if not (stop or {}).get("converged"):
            message = stop["message"] if stop else "no record of how it stopped"
            print(textwrap.fill(f"{name}: {message}", 100, subsequent_indent="  "))
    print(f"results written to {out}")


def agreement_table(agreement: pd.DataFrame, n_runs: int) -> Table:
    """The rows of :func:`sim.analysis.convergence.agreement` for a terminal of 100 columns."""
    out = table(
        f"{n_runs} calibrations: pooled posterior and whether the runs agree",
        ("parameter", "median (90%)", "spread", "agree", "of prior", "identified"),
        right=("median (90%)", "spread", "of prior"),
    )
    for row in agreement.itertuples():
        out.add_row(
            row.parameter,
            f"{number(row.median, '')} ({number(row.q05, '')}-{number(row.q95, '')})",
            f"{row.median_spread:.0%}",
            "yes" if row.agree else "no",
            f"{row.width_of_prior:.0%}",
            "yes" if row.identified else "no: not identified by the targets",
        )
    return out
