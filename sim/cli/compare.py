"""``scamsim compare scenario=NAME[,NAME...] [name=OUT] [Hydra overrides]``: paired scenario runs.

The configurations are composed and checked first (:func:`sim.runs.scenarios.configure`), so a bad
scenario or override answers at once; the runs load the model only then.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

from rich.table import Table

from sim.cli.common import check_repeated, claim_or_fail, fail, number, progress_bar, table, terminal
from sim.model.schemas import ConfigError
from sim.runs.config import RESULTS
from sim.runs.dirs import check_name
from sim.runs.scenarios import BASELINE, available_scenarios, configure

if TYPE_CHECKING:
    from sim.analysis.compare import Comparison

USAGE = """usage: scamsim compare scenario=NAME[,NAME...] [name=OUT] [Hydra overrides]

Run the baseline and each scenario with common random numbers (replicate i: the same seed and
posterior draw in every run) and report paired differences with 90% intervals, saying when an
effect is within noise. Writes results/compare/<name>/ (default name: the scenario names joined by
'+'). Overrides apply to the baseline and every scenario alike.

scenarios: {scenarios}

Examples:
  scamsim compare scenario=raid_surge,anti_corruption,crackdown
  scamsim compare scenario=cross_border jurisdictions=mekong n_seeds=10
  scamsim compare scenario=raid_surge policies.raid_surge.multiplier=5 name=raids-x5
"""


def parse_args(argv: Sequence[str]) -> tuple[list[str], list[str], str | None]:
    """(scenarios, overrides, output name) from ``scamsim compare`` arguments.

    Raises:
        ConfigError: If no ``scenario=`` is given.
    """
    check_repeated(argv)
    scenarios: list[str] = []
    overrides: list[str] = []
    name = None
    for arg in argv:
        key, _, value = arg.partition("=")
        if key == "scenario":
            scenarios = [s for s in value.split(",") if s]
        elif key == "name":
            name = check_name(value)
        else:
            overrides.append(arg)
    if not scenarios:
        raise ConfigError(
            f"scenario= is required, e.g. scenario=raid_surge; available: {', '.join(available_scenarios())}"
        )
    return scenarios, overrides, name


def _signed(x: float, unit: str) -> str:
    """A difference for the table: :func:`sim.cli.common.number` with its sign (n/a if undefined)."""
    if not math.isfinite(x):
        return "n/a"
    return ("+" if x > 0 else "") + number(x, unit)


def summary_table(comparison: Comparison, scenario: str) -> Table:
    """One scenario's differences for a terminal of 100 columns (one line per outcome; money in USD m)."""
    out = table(
        f"{scenario} - baseline: paired difference, median (90% interval) over replicates",
        ("outcome", "unit", "baseline", "difference", "verdict"),
        right=("baseline", "difference"),
    )
    rows = comparison.differences[comparison.differences["scenario"] == scenario]
    for row in rows.itertuples():
        # Billions of dollars would not fit: money in millions.
        unit, scale = ("USD m", 1e6) if row.unit == "USD" else (row.unit, 1.0)
        baseline = number(row.baseline_median / scale, unit) if math.isfinite(row.baseline_median) else "n/a"
        low, high = (_signed(v / scale, unit) for v in (row.diff_q05, row.diff_q95))
        diff = f"{_signed(row.diff_median / scale, unit)} ({low} to {high})"
        verdict = "within noise" if row.within_noise else ("up" if row.diff_median > 0 else "down")
        out.add_row(row.outcome.replace("_", " "), unit, baseline, diff, verdict)
    return out


def main(argv: Sequence[str]) -> None:
    """``scamsim compare``: run, write ``results/compare/<name>/`` and print the differences."""
    if any(a in ("-h", "--help") for a in argv):
        print(USAGE.format(scenarios=", ".join(available_scenarios())))
        return
    try:
        scenarios, overrides, name = parse_args(argv)
        configs, used = configure(scenarios, overrides)
    except ConfigError as exc:
        fail(str(exc))
    # The work starts: load the model, the comparison and its figure.
    from sim.analysis.compare import comparison_hash, run_comparison
    from sim.report import figures
    from sim.report.compare_figures import difference_figure

    out_dir = RESULTS / "compare" / (name or "+".join(scenarios))
    with claim_or_fail(out_dir, comparison_hash(configs), configs[BASELINE].overwrite):
        with progress_bar("compare: runs") as report:
            comparison = run_comparison(configs, used, report)
        comparison.write(out_dir, figures.files({"paired_differences": difference_figure(comparison)}))
    console = terminal()
    for scenario in comparison.scenarios:
        console.print(summary_table(comparison, scenario))
    console.print(f"comparison written to {out_dir}")
