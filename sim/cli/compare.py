"""``scamsim compare scenario=NAME[,NAME...] [name=OUT] [Hydra overrides]``: paired scenario runs.

The configurations are composed and checked first (:func:`sim.runs.scenarios.configure`), so a bad
scenario or override answers at once; the runs load the model only then.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

from rich.console import Console
from rich.table import Table

from sim.cli.common import check_repeated, claim_or_fail, fail, progress_bar
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


def _number(x: float, unit: str, sign: str = "+") -> str:
    """``x`` to 3 significant digits (shares to 3 decimals), thousands grouped, never in exponent form."""
    if unit == "share" or x == 0 or not math.isfinite(x):
        return f"{x:{sign}.3f}" if unit == "share" else f"{x:{sign}g}"
    digits = 2 - math.floor(math.log10(abs(x)))
    return f"{round(x, digits):{sign},.{max(digits, 0)}f}"


def summary_table(comparison: Comparison) -> Table:
    """The differences as a rich table for the terminal."""
    table = Table(title="Paired differences, scenario - baseline: median [90% interval] over replicates")
    for column in ("scenario", "outcome [unit]", "baseline", "difference", "verdict"):
        table.add_column(column)
    for row in comparison.differences.itertuples():
        baseline = _number(row.baseline_median, row.unit, sign="-")
        diff = (
            f"{_number(row.diff_median, row.unit)} "
            f"[{_number(row.diff_q05, row.unit)}, {_number(row.diff_q95, row.unit)}]"
        )
        verdict = "within noise" if row.within_noise else ("up" if row.diff_median > 0 else "down")
        table.add_row(row.scenario, f"{row.outcome} [{row.unit}]", baseline, diff, verdict)
    return table


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
    console = Console()
    console.print(summary_table(comparison))
    console.print(f"comparison written to {out_dir}")
