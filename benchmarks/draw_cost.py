"""How much of the worker rules' time at 100k workers is random draws that must stay as they are.

Run as ``.venv/bin/python benchmarks/draw_cost.py [--steps N]``. Builds the population of
``bench_workers.py`` (a) (about 100,000 workers, no raids, recruitment, openings or closures), warms it up
as (a) does, then runs the three worker-rule functions for ``N`` steps with every call to a random
generator timed (CPU time; the model's streams are wrapped, so the draws themselves are unchanged), and
prints each generator method's calls and CPU-ms a step beside the rules' CPU-ms a step and the time a
step may take at the goal of ``GOAL_STEPS_PER_S`` worker-steps a second.

The draws are the part of a step that keeping every output bit for bit leaves untouched: a faster path
may fuse everything else, but not change what is drawn, in what order. The wrapper adds a Python call
to each draw, so both figures are somewhat high; their ratio is the result (README, "Speed and memory").
"""

from __future__ import annotations

import argparse
import time
from collections import Counter, defaultdict
from typing import Any

import numpy as np
from bench_workers import GOAL_POPULATION, GOAL_STEPS_PER_S, build_model, time_vectorised, warm_up

WARM_STEPS = 5  # as bench_workers.bench_population


class TimedStreams:
    """The model's streams, handing out generators whose method calls add their CPU time to a tally."""

    def __init__(self, streams: Any):
        self.streams = streams
        self.seconds: defaultdict[str, float] = defaultdict(float)
        self.calls: Counter[str] = Counter()

    def __getitem__(self, name: str) -> Any:
        return _TimedGenerator(self.streams[name], self)

    def __getattr__(self, name: str) -> Any:  # anything else the model asks of its streams
        return getattr(self.streams, name)


class _TimedGenerator:
    def __init__(self, generator: np.random.Generator, tally: TimedStreams):
        self.generator, self.tally = generator, tally

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.generator, name)
        if not callable(method):
            return method

        def timed(*args: Any, **kwargs: Any) -> Any:
            tic = time.process_time()
            out = method(*args, **kwargs)
            self.tally.seconds[name] += time.process_time() - tic
            self.tally.calls[name] += 1
            return out

        return timed


def main() -> None:
    """Time the rules with their draws tallied and print the split."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=40, help="timed steps (default 40)")
    args = parser.parse_args()
    model = build_model(GOAL_POPULATION)
    warm_up(model, WARM_STEPS)
    counts: list[int] = []
    time_vectorised(model, WARM_STEPS, 3, counts)  # compiled kernels loaded, caches filled: untimed
    tally = TimedStreams(model.streams)
    model.streams = tally
    counts.clear()
    _, _, cpu = time_vectorised(model, WARM_STEPS + 3, args.steps, counts)
    per_step = cpu / args.steps * 1e3
    draws = sum(tally.seconds.values()) / args.steps * 1e3
    allowed = np.mean(counts) / GOAL_STEPS_PER_S * 1e3
    print(f"{np.mean(counts):,.0f} workers on average, {args.steps} steps\n")
    print("| generator method | calls a step | CPU-ms a step |\n|---|---|---|")
    for name, seconds in sorted(tally.seconds.items(), key=lambda item: -item[1]):
        print(f"| {name} | {tally.calls[name] / args.steps:.1f} | {seconds / args.steps * 1e3:.3f} |")
    rest, room = per_step - draws, allowed - draws
    print(
        f"\nworker rules: {per_step:.2f} CPU-ms a step, of which random draws {draws:.2f} ms "
        f"({draws / per_step:.0%}); the goal of {GOAL_STEPS_PER_S:.0e} worker-steps/s allows "
        f"{allowed:.2f} ms a step, so everything but the draws would have to fit in {room:.2f} ms "
        f"(now {rest:.2f} ms: {rest / room:.1f}x less)"
        if room > 0
        else f"\nworker rules: {per_step:.2f} CPU-ms a step; the random draws alone ({draws:.2f} ms) exceed "
        f"the {allowed:.2f} ms a step that the goal allows"
    )


if __name__ == "__main__":
    main()
