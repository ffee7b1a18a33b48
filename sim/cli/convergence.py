"""``scamsim convergence runs=DIR1,DIR2,DIR3 [history=DIR,...] [out=DIR]``: have calibrations converged?

With ``runs``, reads two or more calibration results directories that differ only in their seed and writes
``agreement.csv`` (per parameter: pooled median and 90% interval, spread of the runs' medians as a share
of their 90% widths, whether they agree, 90% width as a share of the prior's, whether the targets
identify the parameter), ``runs.csv`` (each run's median and 90% interval), ``correlations.csv``
(posterior correlations of the pooled runs), ``metadata.json`` (with how each run stopped) and
``figures/pairs.png`` (:mod:`sim.analysis.convergence`). Runs that did not converge are named after the
table: their agreement is no evidence of convergence. Fewer than three runs are compared, but said to
be a comparison, not the check, which asks for three (``metadata.json``: ``check``).

With ``history``, reads each named calibration's pyabc History (kept beside its results directory) and
writes ``drift.csv``: from one generation to the next, how far each parameter's median moved and how
much its 90% width shrank (:func:`sim.analysis.convergence.drift`), printing the last three generations.
A posterior whose widths still shrink has not settled, however its epsilon falls.
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

USAGE = f"""usage: scamsim convergence [runs=DIR1,DIR2,DIR3[,...]] [history=DIR[,...]] [out=DIR]

Compare calibrations that differ only in their seed (runs=): whether their posterior medians agree
within 10% of their 90% widths, which parameters the targets do not identify (90% width above 80% of
the prior's), the posterior correlations and a pair plot; and which runs did not converge. Follow a
calibration over its generations (history=): how far each median moves and how much each 90% width
shrinks from one generation to the next.

keys:
  runs     comma-separated calibration results directories, at least 2 (the check asks for 3),
           e.g. runs=results/calibration/seed1,results/calibration/seed2,results/calibration/seed3
  history  comma-separated calibration results directories whose History (kept beside them) to follow,
           e.g. history=results/calibration/seed1
  out      where the tables and the figure go (default: {DEFAULT_OUT})
At least one of runs and history is required."""


def main(argv: Sequence[str]) -> None:
    """Write the comparison and the drift, and print their tables."""
    try:
        keys = parse_keys(argv, {"runs": "", "history": "", "out": DEFAULT_OUT}, USAGE)
        if not keys["runs"] and not keys["history"]:
            raise ConfigError(
                "runs= or history= is required: calibration results directories, comma-separated"
            )
    except ConfigError as exc:
        fail(str(exc))
    # The work starts: load pandas and matplotlib.
    import pandas as pd

    from sim.analysis import calibration, convergence
    from sim.report import calibration_figures, figures
    from sim.runs import provenance
    from sim.runs.results import atomic_dir, write_json

    try:
        runs = convergence.load(_paths(keys["runs"])) if keys["runs"] else None
        followed = {
            path.name: (calibration.generations(calibration.history_of(path)), convergence.priors_of(path))
            for path in _paths(keys["history"])
        }
    except ConfigError as exc:
        fail(str(exc))
    config = {"runs": _paths(keys["runs"]), "history": _paths(keys["history"])}
    config |= {"tolerance": convergence.TOLERANCE, "unidentified": convergence.UNIDENTIFIED}
    drift = (
        pd.concat(
            [convergence.drift(gens, priors).assign(run=name) for name, (gens, priors) in followed.items()],
            ignore_index=True,
        )
        if followed
        else None
    )
    if runs is None:
        metadata = provenance.describe(config, 0, 0, "scamsim convergence")
        metadata["seeds"] = {}
    else:
        agreement = convergence.agreement(runs.posteriors, runs.priors)
        seeds = [m["config"]["seed"] for m in runs.metadata.values()]
        metadata = provenance.describe(config, seeds[0], len(seeds), "scamsim convergence")
        # One calibration per seed: the figures' footer names them all.
        metadata["seeds"] = {
            "base_seed": ", ".join(map(str, seeds)),
            "n_seeds": len(seeds),
            "runs": dict(zip(runs.metadata, seeds, strict=True)),
            "summary": f"seeds {', '.join(map(str, seeds))}, one calibration each",
        }
        # How each run stopped: agreement between runs that did not converge is no evidence of convergence.
        metadata["stops"] = {name: m.get("stop") for name, m in runs.metadata.items()}
        metadata["check"] = len(runs.posteriors) >= convergence.CHECK_RUNS
        unidentified = agreement.loc[~agreement["identified"], "parameter"].tolist()
    out = Path(keys["out"])
    with claim_or_fail(out, None, False), atomic_dir(out) as tmp:
        if runs is not None:
            agreement.to_csv(tmp / "agreement.csv", index=False)
            convergence.per_run(runs.posteriors, runs.priors).to_csv(tmp / "runs.csv", index=False)
            convergence.correlations(runs.posteriors, runs.priors).to_csv(tmp / "correlations.csv")
            pairs = calibration_figures.pairs(runs.posteriors, runs.priors, metadata, unidentified)
            figures.save(tmp / "figures", {"pairs": pairs})
        if drift is not None:
            drift.to_csv(tmp / "drift.csv", index=False)
        write_json(tmp / "metadata.json", metadata)
    console = terminal()
    if runs is not None:
        console.print(agreement_table(agreement, len(runs.posteriors)))
        print(
            f"spread: max - min of the runs' medians as a share of their mean 90% width (agree: at most "
            f"{convergence.TOLERANCE:.0%});\nof prior: the mean 90% width as a share of the prior's "
            f"(identified: at most {convergence.UNIDENTIFIED:.0%});\nboth on the prior's scale (log for a "
            "log-uniform prior)"
        )
        if not metadata["check"]:
            print(
                f"{len(runs.posteriors)} calibrations: a comparison, not the convergence check, which asks "
                f"for {convergence.CHECK_RUNS}"
            )
        for name, stop in metadata["stops"].items():
            if not (stop or {}).get("converged"):
                message = stop["message"] if stop else "no record of how it stopped"
                print(textwrap.fill(f"{name}: {message}", 100, subsequent_indent="  "))
    for name in followed:
        console.print(drift_table(drift[drift["run"] == name], name))
    if followed:
        print(
            "shift: change of the median as a share of the 90% width; width: 90% width over the previous\n"
            "generation's; both on the prior's scale (log for a log-uniform prior)"
        )
    print(f"results written to {out}")


def _paths(value: str) -> list[Path]:
    return [Path(p) for p in value.split(",") if p]


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


def drift_table(drift: pd.DataFrame, name: str, last: int = 3) -> Table:
    """The last ``last`` generations of one run's :func:`sim.analysis.convergence.drift`."""
    shown = sorted(drift["generation"].unique())[-last:]
    out = table(
        f"{name}: how the posterior still moves (shift of the median / width ratio)",
        ("parameter", *(f"generation {g}" for g in shown)),
        right=tuple(f"generation {g}" for g in shown),
    )
    by = drift.set_index(["parameter", "generation"])
    for key in drift["parameter"].unique():
        cells = (by.loc[(key, g)] for g in shown)
        out.add_row(key, *(f"{c.median_shift:.0%} / {c.width_ratio:.2f}" for c in cells))
    return out
