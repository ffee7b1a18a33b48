"""What a remake re-makes: each step's commands and outputs, and the committed results no step re-makes.

:data:`STEPS` lists, in the order :mod:`sim.report.remake` runs them, the commands the README documents
for every committed result that rests on the posterior (``{posterior}`` stands for the one being
re-made from), with the overrides of a smoke run; :data:`NOT_REMADE` names every other committed
result and why no step re-makes it. A committed result in neither stops the remake before it starts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

BRIEFS = ("raid_surge", "anti_corruption", "crackdown")
SOBOL_SELECT = (
    "sensitivity.select=[targets.invest_rate,compounds.expansion_rate,compounds.capacity_median,"
    "recruitment.ad_reach,compounds.punish_rate,police.corruption]"
)
CALIBRATION = "results/calibration/default"
TINY_RUN = ("scale=0.02", "n_seeds=2")  # --smoke: 2% of the population, 2 replicates


@dataclass(frozen=True)
class Step:
    """One step of the remake.

    Attributes:
        name: Its name (``--steps``).
        purpose: What rests on it (README section, notebook).
        minutes: Wall time on the project's 2 cores, as measured by the remake at commit 22b8baa
            (``results/MANIFEST.json``), rounded up.
        commands: Command lines, run in the step's staging folder; ``{posterior}`` is the posterior.
        smoke: Per command, the overrides of ``--smoke`` (each replaces the same key, or is added).
        outputs: Result directories the step makes (relative to the repository).
        committed: Whether the outputs are committed (the validation and baseline runs are not).
        sweep: The sweep directory the first command writes (checked complete before going on).
        reads: Committed results the step checks but does not make.
        copies: (file, published copy): written after the outputs are in place.
    """

    name: str
    purpose: str
    minutes: float
    commands: tuple[tuple[str, ...], ...] = ()
    smoke: tuple[tuple[str, ...], ...] = ()
    outputs: tuple[str, ...] = ()
    committed: bool = True
    sweep: str | None = None
    reads: tuple[str, ...] = ()
    copies: tuple[tuple[str, str], ...] = ()

    def command_lines(self, name: str, smoke: bool) -> list[list[str]]:
        """The step's command lines for posterior ``name`` (at tiny scale if ``smoke``)."""
        lines = [[arg.format(posterior=name) for arg in command] for command in self.commands]
        if smoke:
            lines = [with_overrides(line, extra) for line, extra in zip(lines, self.smoke, strict=True)]
        return lines


def with_overrides(argv: list[str], extra: Sequence[str]) -> list[str]:
    """``argv`` with each ``key=value`` of ``extra`` replacing the same key's, or added at the end."""
    out = list(argv)
    for item in extra:
        key = item.partition("=")[0]
        same = [i for i, arg in enumerate(out) if "=" in arg and arg.partition("=")[0] == key]
        if same:
            out[same[0]] = item
        else:
            out.append(item)
    return out


STEPS: tuple[Step, ...] = (
    Step(
        "calibration",
        "README, Calibration: the figures and fit of the calibration the posterior comes from",
        0,
        reads=(CALIBRATION,),
        copies=tuple(
            (f"{CALIBRATION}/{path}", f"docs/img/calibration/{Path(path).name}")
            for path in (
                "fit.csv",
                "validation.csv",
                "figures/fit.png",
                "figures/marginals.png",
                "figures/pairs.png",
            )
        ),
    ),
    Step(
        "validate",
        "README, Validation: the validate-only targets against the posterior",
        1,
        commands=(("scamsim", "validate", "posterior={posterior}"),),
        smoke=(("calibration.predictive_draws=2",),),
        outputs=("results/validation/default",),
        committed=False,
    ),
    Step(
        "baseline",
        "README, Running the model: the baseline table, its readings and figures",
        1,
        commands=(("scamsim", "run", "posterior={posterior}"),),
        smoke=(TINY_RUN,),
        outputs=("results/baseline",),
        committed=False,
        copies=tuple(
            (f"results/baseline/figures/{name}.png", f"docs/img/{name}.png")
            for name in ("compounds_active", "workers_held", "exits_by_route")
        ),
    ),
    Step(
        "phase",
        "README, The raid-rate x corruption phase diagram; notebook 2",
        11,
        # 20 runs a cell, each its own posterior draw (the README's design), as 20 draws x 1 seed.
        commands=(
            ("scamsim", "run", "experiment=phase", "posterior={posterior}", "n_draws=20", "n_seeds=1"),
            ("scamsim", "phase"),
        ),
        smoke=(("n_draws=2", "police.raid_capacity=0,20", "police.corruption=0.2,0.8", "scale=0.02"), ()),
        outputs=("results/phase",),
        sweep="results/multirun/phase",
    ),
    Step(
        "robustness",
        "README, Robustness: the structural variants",
        8,
        # The README's grid; 4 runs a cell as 4 posterior draws x 1 seed (4 seeds of one draw would
        # test one random particle).
        commands=(
            (
                "scamsim",
                "run",
                "experiment=robustness",
                "posterior={posterior}",
                "n_draws=4",
                "n_seeds=1",
                "police.raid_capacity=0,5,10,20,30,60,100,200",
                "police.corruption=0.2,0.4,0.6,1",
            ),
            ("python", "-m", "sim.report.robustness", "results/multirun/robustness", "--resamples=300"),
        ),
        smoke=(
            (
                "n_draws=2",
                "variant=v0,v4",
                "police.raid_capacity=0,20",
                "police.corruption=0.4,1",
                "scale=0.02",
            ),
            ("--resamples=20",),
        ),
        outputs=("results/robustness",),
        sweep="results/multirun/robustness",
    ),
    Step(
        "briefs",
        "README, Scenario briefs: the three committed briefs",
        3,
        commands=tuple(("scamsim", "brief", f"scenario={name}", "posterior={posterior}") for name in BRIEFS),
        smoke=(TINY_RUN,) * len(BRIEFS),
        outputs=tuple(f"results/briefs/{name}" for name in BRIEFS),
    ),
    Step(
        "sensitivity",
        "README, Sensitivity analysis (fit-consistent PAWN, levers, Morris, Sobol); notebook 5",
        35,
        commands=(
            ("scamsim", "sensitivity", "posterior={posterior}"),
            ("scamsim", "sensitivity", "sensitivity=levers", "posterior={posterior}"),
            ("scamsim", "sensitivity", "sensitivity=morris", "posterior={posterior}"),
            ("scamsim", "sensitivity", "sensitivity=sobol", SOBOL_SELECT, "posterior={posterior}"),
        ),
        smoke=(
            ("sensitivity.n=10", "scale=0.02"),
            ("sensitivity.n=2", "sensitivity.levers.points=2", "scale=0.02"),
            ("sensitivity.n=2", "n_seeds=1", "scale=0.02"),
            ("sensitivity.n=2", "scale=0.02"),
        ),
        outputs=tuple(f"results/sensitivity/{name}" for name in ("default", "levers", "morris", "sobol")),
    ),
)

# Committed results no step re-makes, and why.
NOT_REMADE = {
    "results/sbc/default": "the simulation-based calibration (scamsim sbc) draws its truths from the priors: "
    "it does not rest on the posterior",
    "results/calibration/checkpoints/seed1": "seed 1's pyabc History (converged; the posterior was "
    "published from it), kept so that another machine can re-read it or continue it with a higher cap "
    "(README: Calibration): the source of a result, not a result",
    "results/calibration/checkpoints/seed2": "seed 2's pyabc History (converged), kept so that another "
    "machine can re-read it for the convergence check (README: Calibration): the source of a result, not a "
    "result",
    "results/calibration/checkpoints/seed3": "seed 3's pyabc History (converged), kept so that another "
    "machine can re-read it for the convergence check (README: Calibration): the source of a result, not a "
    "result",
    "results/calibration/convergence": "the three-run convergence check (scamsim convergence runs= and "
    "history= over seeds 1-3, re-read from their checkpoints): it compares the calibrations themselves, "
    "not anything made from the published posterior",
}
