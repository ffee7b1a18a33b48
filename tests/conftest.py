"""Shared helpers: small, fast parameter sets and model runs."""

from __future__ import annotations

import functools
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

from sim.model import keys
from sim.model.ledger import EXIT_ROUTES
from sim.model.model import ScamModel
from sim.model.schemas import ModelParams

# Property-based tests (tests/test_fuzz.py): a bounded number of examples in the default suite, many more
# in the slow suite. No deadline: a model run's time varies with the configuration drawn. The bounded
# profile is derandomized, so the default suite draws the same examples on every run and machine.
settings.register_profile("bounded", max_examples=8, deadline=None, database=None, derandomize=True)
settings.register_profile(
    "full", max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)


def params(**overrides: object) -> ModelParams:
    """Baseline parameters at 5% population scale, with dotted-key overrides (``police__raid_capacity``)."""
    p = ModelParams()
    p.scale = 0.05
    for key, value in overrides.items():
        keys.set_value(p, key.replace("__", "."), value)
    return p


def run(p: ModelParams, seed: int = 1) -> ScamModel:
    """Run a model to the end and return it."""
    model = ScamModel(p, seed)
    model.run_model()
    return model


def total(model: ScamModel, name: str) -> np.ndarray:
    """Per-step series of a ledger variable summed over jurisdictions."""
    return model.ledger.series[name].sum(axis=1)


# Everything that moves workers around switched off, to isolate one mechanism at a time.
QUIET = {
    "police__raid_capacity": 0.0,
    "police__campaigns": {},
    "entry__rate": 0.0,
    "workforce__shed_rate": 0.0,
    "recruitment__ad_reach": 0.0,
    "recruitment__captive_recruit_rate": 0.0,
    "workers__help_rate": 0.0,
    "workers__escape_rate": 0.0,
    "workers__ransom_rate": 0.0,
    "compounds__resale_rate": 0.0,
    "compounds__close_rate": 0.0,
    "compounds__expansion_rate": 0.0,
}


def assert_people_conserved(model: ScamModel) -> None:
    """Every step: people held at the start + recruited so far = people held + exits so far."""
    recruited = np.cumsum(total(model, "recruited"))
    exits = np.cumsum(sum(total(model, f"exits_{r}") for r in EXIT_ROUTES))
    held = total(model, "workers_held")
    np.testing.assert_array_equal(model.initial_workers + recruited, held + exits)
    assert held[-1] == model.workers.n


def assert_money_conserved(model: ScamModel) -> float:
    """What targets lost (finished targets and those still paying) is what compounds took in.

    Returns:
        The compounds' scam income (USD).
    """
    taken = model.accounts.scam_income.sum()
    lost = model.ledger.loss_total + model.targets.paid.sum()
    assert taken == pytest.approx(lost, rel=1e-9)
    assert total(model, "target_losses").sum() == pytest.approx(total(model, "scam_revenue").sum(), rel=1e-12)
    assert total(model, "target_losses").sum() == pytest.approx(taken, rel=1e-9)
    return float(taken)


@functools.cache
def baseline_run(seed: int = 1) -> ScamModel:
    """One small baseline run, shared by read-only tests."""
    return run(params(), seed)


@pytest.fixture
def baseline() -> ScamModel:
    return baseline_run()


ARTIFACTS = Path(__file__).resolve().parent / "artifacts"  # screenshots kept after a browser test
# Executables tried in order, after $SCAMSIM_CHROMIUM: Debian's package (make test installs it where it
# can), other system names, then a browser Playwright has installed itself.
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium(pw: Any) -> str:
    """Path of a Chromium to drive: ``$SCAMSIM_CHROMIUM``, a system one, or Playwright's own.

    Skips the calling test, with a one-line reason, when there is none.
    """
    candidates = [os.environ.get("SCAMSIM_CHROMIUM", "")]
    candidates += [shutil.which(name) or "" for name in CHROMIUM_NAMES]
    candidates.append(pw.chromium.executable_path)
    for path in candidates:
        if path and Path(path).is_file() and os.access(path, os.X_OK):
            return path
    pytest.skip(
        "no Chromium found: install one (Debian: apt-get install chromium; or playwright install "
        "chromium) or set SCAMSIM_CHROMIUM=/path/to/chromium"
    )


def offline_chromium(
    pw: Any, profile: Path, allowed: tuple[str, ...], outside: list[str], **options: Any
) -> Any:
    """Headless Chromium (a Playwright persistent context) that aborts, noting them in ``outside``,
    all requests whose URL starts with none of ``allowed``."""
    browser = pw.chromium.launch_persistent_context(
        str(profile), executable_path=chromium(pw), args=CHROMIUM_ARGS, headless=True, **options
    )

    def local_only(route: Any) -> None:
        if route.request.url.startswith(allowed):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    browser.route("**/*", local_only)
    return browser
