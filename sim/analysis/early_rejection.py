"""Exact early rejection: a calibration run stops as soon as its fit is out of reach.

Every term of the ABC distance (:func:`sim.analysis.observations.discrepancies`) is non-negative, so
once the terms already final exceed the generation's epsilon, the particle is rejected whatever the
rest of the run does. SC1's statistic, the people held in August 2023
(:func:`sim.runs.metrics.workers_held_aug2023`), is final two thirds into a calibration run (which
ends in July 2025), and in the late generations about half of the proposals are rejected on it alone:
their last third is not simulated. Nothing else changes: the accepted particles, their statistics and
distances, and the rejected ones' count are those of whole runs, so a History is the same with early
rejection or without (``calibration.early_rejection=false``; test
``test_early_rejection_changes_no_generation_and_cuts_rejected_runs_short``).

Imports pyabc, which takes seconds: :mod:`sim.analysis.calibration` loads this module only to run.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pyabc

from sim.analysis import observations
from sim.model import facts
from sim.runs import metrics, results

if TYPE_CHECKING:
    from sim.analysis.calibration import Simulator
    from sim.analysis.observations import Target
    from sim.model.model import ScamModel

# The statistic final before a calibration run ends (SC1's), and the last day it depends on.
EARLY = "workers_held_aug2023"
FINAL_ON = facts.SC1_MONTH[1]


class OutOfReach:
    """Asked after each step of a run: whether the fit terms already final exceed ``epsilon``.

    Judged once, after the last step on or before :data:`FINAL_ON`; never if the run ends before the
    step after it (the statistic is then judged with the others at the end).
    """

    def __init__(self, targets: dict[str, Target], epsilon: float):
        self.targets = targets
        self.epsilon = epsilon

    def __call__(self, model: ScamModel) -> bool:
        """Whether to stop ``model``, which has just simulated a step."""
        clock, done = model.clock, model.steps
        if done >= clock.n_steps or not clock.date(done - 1) <= FINAL_ON < clock.date(done):
            return False
        series = results.timeseries(model)
        focal_rows = series[series["jurisdiction"] == model.p.focal]
        known = {EARLY: metrics.workers_held_aug2023(focal_rows, (clock.start, clock.end))}
        return sum(observations.discrepancies(self.targets, known).values()) > self.epsilon


class EarlyRejecting(pyabc.Model):
    """The model as pyabc sees it, stopping each run whose fit the early statistics put out of reach.

    Args:
        simulate: The particle's simulation (one world per particle).
        targets: The target registry; the fit targets on the statistic :data:`EARLY` alone are judged
            early.
    """

    def __init__(self, simulate: Simulator, targets: dict[str, Target]):
        # The name pyabc records for the plain simulator: a History reads the same either way.
        super().__init__(name=type(simulate).__name__)
        self.simulate = simulate
        self.early = {
            name: t
            for name, t in targets.items()
            if t.use is observations.Use.fit and t.statistic == EARLY and t.denominator is None
        }

    def sample(self, pars: pyabc.Parameter) -> dict[str, float] | None:
        """A whole run (the sample from the prior that sets the first epsilon has no epsilon yet)."""
        return self.simulate(dict(pars))

    def accept(
        self,
        t: int,
        pars: pyabc.Parameter,
        sum_stat_calculator: Any,
        distance_calculator: Any,
        eps_calculator: Any,
        acceptor: Any,
        x_0: dict,
    ) -> pyabc.ModelResult:
        """Simulate, stopping early if the fit is out of reach; otherwise judge as ``pyabc.Model`` does."""
        stats = self.simulate(dict(pars), OutOfReach(self.early, eps_calculator(t)))
        if stats is None:
            return pyabc.ModelResult(accepted=False)
        result = pyabc.ModelResult(sum_stat=sum_stat_calculator(stats))
        verdict = acceptor(
            distance_function=distance_calculator,
            eps=eps_calculator,
            x=result.sum_stat,
            x_0=x_0,
            t=t,
            par=pars,
        )
        result.distance, result.accepted, result.weight = verdict.distance, verdict.accept, verdict.weight
        return result
