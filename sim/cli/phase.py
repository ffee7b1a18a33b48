"""``scamsim phase [sweep=DIR] [out=DIR]``: the raid-rate x corruption phase diagram of a sweep."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from sim.cli.common import fail, parse_keys
from sim.model.schemas import ConfigError
from sim.runs.dirs import DirError

USAGE = """usage: scamsim phase [sweep=DIR] [out=DIR] [overwrite=true]

Draw the raid-rate x corruption phase diagram of a sweep (see experiment=phase): heatmaps, cuts,
summary.csv, and the sweep's runs with their provenance.

keys:
  sweep  a sweep directory, or one this command wrote (to redraw) (default: results/multirun/phase)
  out    where the figures go (default: results/phase); replaced only by the same sweep's figures
  overwrite  true: replace out even if it was drawn from another sweep or an incomplete one"""


def main(argv: Sequence[str]) -> None:
    """Draw the figures and print the files written."""
    try:
        keys = parse_keys(
            argv, {"sweep": "results/multirun/phase", "out": "results/phase", "overwrite": "false"}, USAGE
        )
        if keys["overwrite"] not in ("true", "false"):
            raise ConfigError(f"overwrite={keys['overwrite']} is not allowed; use true or false")
    except ConfigError as exc:
        fail(str(exc))
    from sim.report.phase import draw  # the work starts: load pandas and matplotlib

    try:
        written = draw(Path(keys["sweep"]), Path(keys["out"]), keys["overwrite"] == "true")
    except DirError as exc:
        fail(f"out={keys['out']}: {exc}")
    except (FileNotFoundError, ValueError) as exc:
        fail(f"sweep={keys['sweep']}: {exc}")
    print("\n".join(str(p) for p in written))
