"""``scamsim sweep [scheduler=ADDRESS] [n_workers=N] [Hydra overrides]``: a sweep on a Dask cluster.

``scheduler`` and ``n_workers`` are this command's own keys; every other argument is a Hydra override
of ``configs/run.yaml`` as for ``scamsim run -m`` (comma lists are swept).
"""

from __future__ import annotations

from collections.abc import Sequence

from sim.cli.common import fail, parse_keys, progress_bar
from sim.model.schemas import ConfigError

OWN_KEYS = {"scheduler": "", "n_workers": "2"}

USAGE = """usage: scamsim sweep [scheduler=ADDRESS] [n_workers=N] [Hydra overrides]

Run a sweep (Hydra override syntax, e.g. experiment=phase or police.raid_capacity=0,20,60) on a Dask
cluster; the chunks, resume and `scamsim collect` are those of `scamsim run -m`.

keys:
  scheduler  Dask scheduler address, e.g. tcp://host:8786 (default: a local cluster)
  n_workers  processes of the local cluster (default 2)"""


def main(argv: Sequence[str]) -> None:
    """Run the sweep and print how many chunks were done, skipped and failed."""
    own = [a for a in argv if a.partition("=")[0] in OWN_KEYS or a in ("-h", "--help")]
    overrides = [a for a in argv if a not in own]
    try:
        keys = parse_keys(own, OWN_KEYS, USAGE)
        if not keys["n_workers"].isdigit() or int(keys["n_workers"]) < 1:
            raise ConfigError(f"n_workers={keys['n_workers']} is not a whole number >= 1")
    except ConfigError as exc:
        fail(str(exc))
    from sim.runs import dask_sweep  # the work starts: load the model and Dask

    try:
        with progress_bar("sweep: runs") as report:
            counts = dask_sweep.run(overrides, keys["scheduler"] or None, int(keys["n_workers"]), report)
    except ConfigError as exc:
        fail(str(exc))
    print(", ".join(f"{n} chunks {status}" for status, n in counts.items()))
