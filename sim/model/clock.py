"""The simulated calendar: dates of steps and conversion of rates into per-step probabilities."""

from __future__ import annotations

import datetime as dt

import numpy as np

DAYS_PER_YEAR = 365.25
DAYS_PER_MONTH = DAYS_PER_YEAR / 12


class Clock:
    """Maps steps to calendar dates and natural-unit rates to per-step quantities.

    Every rate in the parameters is given per natural unit (per year or per month). A rate r becomes the
    probability ``1 - exp(-r * dt)`` that the event happens at least once in a step of length dt, so that
    halving the step leaves the process unchanged up to the order in which events are resolved.

    Args:
        start: First simulated day.
        end: Last simulated day; the run covers ``[start, end]``.
        step_days: Step length in days.
    """

    def __init__(self, start: dt.date, end: dt.date, step_days: float):
        self.start = start
        self.end = end
        self.step_days = float(step_days)
        span = (end - start).days + 1
        self.n_steps = int(np.ceil(span / self.step_days))
        self.dt_years = self.step_days / DAYS_PER_YEAR
        self.dt_months = self.step_days / DAYS_PER_MONTH

    def date(self, step: int) -> dt.date:
        """Date on which step ``step`` (0-based) begins."""
        return self.start + dt.timedelta(days=step * self.step_days)

    def dates(self) -> np.ndarray:
        """Start dates of all steps, as ``datetime64[D]``."""
        offsets = np.floor(np.arange(self.n_steps) * self.step_days).astype("timedelta64[D]")
        return np.datetime64(self.start, "D") + offsets

    def step_of(self, date: dt.date) -> int:
        """The step whose interval contains ``date`` (clipped to the simulated range)."""
        k = int((date - self.start).days // self.step_days)
        return min(max(k, 0), self.n_steps - 1)

    def p_year(self, rate: float | np.ndarray) -> float | np.ndarray:
        """Probability per step of an event with the given rate per year."""
        return -np.expm1(-np.asarray(rate) * self.dt_years)

    def p_month(self, rate: float | np.ndarray) -> float | np.ndarray:
        """Probability per step of an event with the given rate per month."""
        return -np.expm1(-np.asarray(rate) * self.dt_months)
