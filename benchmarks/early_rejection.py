"""How much CPU exact early rejection saves in a late generation of the calibration.

Run as ``.venv/bin/python benchmarks/early_rejection.py [--proposals N]`` (about 3 s of CPU a
proposal). It re-draws seed 1's generation 15: proposals from pyabc's multivariate normal transition
fitted to generation 14 (as pyabc fits it; proposals outside the priors re-drawn), judged against
generation 15's epsilon, both read from the committed History
(``results/calibration/checkpoints/seed1``). Each proposal is simulated whole and with early rejection
(:mod:`sim.analysis.early_rejection`), in CPU time; it checks that every run cut short is one the whole
run rejects, and reports the CPU saved with a bootstrap 95% interval over proposals (README,
"Calibration").
"""

from __future__ import annotations

import argparse
import lzma
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import pyabc
from bench_workers import calibration_setup

from sim.analysis import calibration, observations
from sim.analysis.early_rejection import EarlyRejecting, OutOfReach

CHECKPOINT = (
    Path(__file__).resolve().parents[1] / "results/calibration/checkpoints/seed1/abc-b774093c8a64.db.xz"
)


def proposals(history: pyabc.History, t: int, n: int, prior: pyabc.Distribution, seed: int) -> list[dict]:
    """``n`` proposals of generation ``t + 1``: the transition fitted to generation ``t``, in the priors."""
    np.random.seed(seed)  # noqa: NPY002 (pyabc's transitions draw from numpy's global generator)
    particles, weights = history.get_distribution(m=0, t=t)
    transition = pyabc.MultivariateNormalTransition()
    transition.fit(particles, weights)
    drawn = []
    while len(drawn) < n:
        proposal = transition.rvs()
        if prior.pdf(proposal) > 0:
            drawn.append(dict(proposal))
    return drawn


def cpu(call):
    """``call()`` and the CPU seconds it took."""
    start = time.process_time()
    out = call()
    return out, time.process_time() - start


def main() -> None:
    """Simulate the proposals both ways and print what early rejection saved."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--proposals", type=int, default=40, help="proposals simulated (default 40)")
    args = parser.parse_args()
    config, model_params = calibration_setup()
    key = calibration.history_key(config, model_params)
    if key != "b774093c8a64":
        raise SystemExit(
            f"the calibration's configuration changed (history key {key}): seed 1's History does not apply"
        )
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "abc.db"
        with lzma.open(CHECKPOINT) as packed, db.open("wb") as out:
            shutil.copyfileobj(packed, out)
        history = pyabc.History(f"sqlite:///{db}")
        last = history.max_t
        epsilon = float(history.get_all_populations().set_index("t").loc[last, "epsilon"])
        prior = calibration.pyabc_prior(calibration.priors(config))
        drawn = proposals(history, last - 1, args.proposals, prior, seed=last)
    simulate = calibration.Simulator(model_params, config.seed, config.calibration.seeds_per_particle)
    early_targets = EarlyRejecting(simulate, config.calibration.targets).early
    fit = {k: t for k, t in config.calibration.targets.items() if t.use is observations.Use.fit}
    simulate(drawn[0])  # compiled kernels, caches
    whole_cpu, early_cpu, cut = [], [], []
    for i, particle in enumerate(drawn):
        stats, whole = cpu(lambda p=particle: simulate(p))
        stopped, early = cpu(lambda p=particle: simulate(p, OutOfReach(early_targets, epsilon)))
        distance = observations.distance(fit, stats)
        if stopped is None and distance <= epsilon:
            raise SystemExit(
                f"proposal {i}: cut short, but its whole run is accepted (distance {distance:.3f})"
            )
        whole_cpu.append(whole)
        early_cpu.append(whole if stopped is not None else early)  # a run not cut short costs the same
        cut.append(stopped is None)
        print(
            f"{i + 1}/{len(drawn)}: distance {distance:.3g}, {'cut short' if cut[-1] else 'whole'}",
            flush=True,
        )
    whole_cpu, early_cpu = np.array(whole_cpu), np.array(early_cpu)
    saved = 1 - early_cpu.sum() / whole_cpu.sum()
    rng = np.random.default_rng(0)
    boot = [
        1 - early_cpu[i].sum() / whole_cpu[i].sum() for i in rng.integers(0, len(drawn), (2000, len(drawn)))
    ]
    low, high = np.quantile(boot, [0.025, 0.975])
    print(
        f"\ngeneration {last + 1} of seed 1 (epsilon {epsilon:.3g}), {len(drawn)} proposals: "
        f"{np.mean(cut):.0%} cut short in August 2023, each at "
        f"{np.median(early_cpu[cut] / whole_cpu[cut]):.0%} of its whole run's CPU (median); "
        f"CPU saved {saved:.0%} (95% {low:.0%}-{high:.0%}), "
        f"{1 / (1 - saved):.2f}x the simulations per CPU-second"
    )


if __name__ == "__main__":
    main()
