"""The browser app: its model wrapper, its figures, and the real page driven in Chromium."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from conftest import ARTIFACTS, offline_chromium

from sim.model.schemas import ConfigError
from sim.report import app, app_config

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def base():
    config, _, _ = app_config.compose_app(["time.end=2021-12-31"])
    return config


def test_cli_config_gives_baseline_host_and_port():
    config, host, port = app_config.compose_app(["police.corruption=0.3", "port=8800"])
    assert (config.police.corruption, config.scale, host, port) == (0.3, 0.05, "127.0.0.1", 8800)
    with pytest.raises(ConfigError, match="port=0 is outside"):
        app_config.compose_app(["port=0"])


def test_slider_values_reach_the_scenario_but_not_the_baseline(base):
    levers = {
        "raid_capacity": 150.0,
        "corruption": 0.1,
        "awareness": 0.5,
        "target_awareness": 0.2,
        "closure_prob": 0.9,
        "rescue_success": 0.3,
    }
    model = app.AppModel(**levers, seed="7", base=base)
    p = model.p
    assert (p.police.raid_capacity, p.police.corruption, p.police.closure_prob, p.police.rescue_success) == (
        150.0,
        0.1,
        0.9,
        0.3,
    )
    assert {s.awareness for s in p.sources.values()} == {0.5}
    assert p.targets.awareness == 0.2
    assert [police.raid_capacity for police in model.police] == [150.0]
    assert model.baseline.p.police.raid_capacity == base.police.raid_capacity != 150.0
    assert model.levers == levers and model.seed == 7
    assert app.lever_values(model.baseline.p) == model.baseline_levers


def test_equal_levers_give_identical_runs_and_different_ones_diverge(base):
    same = app.AppModel(base=base)  # every lever at the baseline's value
    other = app.AppModel(raid_capacity=225.0, base=base)
    for _ in range(60):
        same.step()
        other.step()
    ours = same.datacollector.get_model_vars_dataframe()
    assert ours.equals(same.baseline_data.get_model_vars_dataframe())
    assert np.array_equal(same.ledger.series["workers_held"], same.baseline.ledger.series["workers_held"])
    assert len(ours) == 61  # the initial state and 60 steps
    # Same seed: the baselines of both app models are the same run.
    assert other.baseline_data.get_model_vars_dataframe().equals(
        same.baseline_data.get_model_vars_dataframe()
    )
    assert not other.datacollector.get_model_vars_dataframe().equals(ours)
    assert set(ours.columns) == set(app.REPORTERS)
    assert ours["compounds operating"].iloc[0] == base.jurisdictions["cambodia"].initial_compounds


def test_figures_and_table_draw_both_runs(base):
    model = app.AppModel(raid_capacity=300.0, base=base)
    for _ in range(30):
        model.step()
    towns, compounds, _raided = app.map_figure(model).axes[0].collections
    assert len(towns.get_offsets()) == 16
    assert len(compounds.get_offsets()) == sum(c.active for c in model.compounds)
    assert len(app.side_by_side_figure(model).axes) == 2
    assert len(app.comparison_figure(model).axes) == 4
    table = app.levers_table(model)
    # The raid lever is the jurisdiction's raid capacity (issue 12), the baseline's beside the scenario's.
    assert f"| raid capacity (raids per year) | {base.police.raid_capacity:g} | 300 |" in table
    assert "**Step 30, seed 20250626**" in table


# -------------------------------------------------------------------------------------------------
# The real page in Chromium
# -------------------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """``scamsim app`` on a free port; stopped (and killed if need be) at the end."""
    port = _free_port()
    env = {
        **os.environ,
        # Any attempt of the server to fetch from a CDN goes to a dead proxy, fails and shows up as a
        # failed response in the browser: the page must be served from local files only.
        "HTTP_PROXY": "http://127.0.0.1:9",
        "HTTPS_PROXY": "http://127.0.0.1:9",
        "NO_PROXY": "127.0.0.1,localhost",
    }
    scamsim = Path(sys.executable).parent / "scamsim"
    log = tmp_path_factory.mktemp("app") / "server.log"
    with log.open("w") as out:
        # Output goes to a file: a pipe nobody reads would fill up and stall the server.
        proc = subprocess.Popen(
            [str(scamsim), "app", f"port={port}"], cwd=ROOT, env=env, stdout=out, stderr=out
        )
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 120
    try:
        while True:
            if proc.poll() is not None:
                pytest.fail(f"scamsim app exited with {proc.returncode}: {log.read_text()}")
            try:
                with urllib.request.urlopen(url, timeout=5):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(f"scamsim app did not answer within 120 s: {log.read_text()}")
                time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)


def _image_sources(page) -> list[str]:
    return page.locator("img").evaluate_all("imgs => imgs.map(i => i.src)")


@pytest.mark.browser
def test_page_in_chromium_slider_step_plots_change(server, tmp_path):
    sync_playwright = pytest.importorskip("playwright.sync_api").sync_playwright
    ARTIFACTS.mkdir(exist_ok=True)
    errors: list[str] = []
    failed: list[str] = []
    outside: list[str] = []
    with sync_playwright() as pw:
        browser = offline_chromium(
            pw,
            tmp_path / "chromium-profile",
            ("http://127.0.0.1", "blob:", "data:"),
            outside,
            viewport={"width": 1600, "height": 1320},  # tall enough for all five panels of page 0
        )
        try:
            browser.set_default_timeout(60_000)
            page = browser.new_page()
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.on("response", lambda r: failed.append(f"{r.status} {r.url}") if r.status >= 400 else None)
            page.goto(server)
            page.get_by_text("Time: 0.0").wait_for()
            page.wait_for_function("document.querySelectorAll('img').length >= 5")
            before = _image_sources(page)

            # Move the raid-capacity slider to its end (200 raids a year), then reset to apply it.
            # One key press sends one update: a burst of them is coalesced by ipywidgets and can reach
            # the server after the click on Reset.
            slider = page.get_by_role("slider", name="raid capacity (raids per year)")
            slider.press("End")
            assert slider.get_attribute("aria-valuenow") == "200"
            page.wait_for_timeout(1000)
            page.get_by_role("button", name="Reset").click()
            # One press of Step runs "Render Interval" steps: set it to its maximum (100).
            page.get_by_role("slider", name="Render Interval (steps)").press("End")
            page.get_by_role("button", name="Step").click()
            page.get_by_text("Time: 100.0").wait_for()
            page.wait_for_function(
                "before => { const now = [...document.querySelectorAll('img')].map(i => i.src);"
                " return now.length >= 5 && now.every((src, i) => src !== before[i]); }",
                arg=before,
            )
            page.screenshot(path=str(ARTIFACTS / "app.png"))

            page.get_by_role("tab", name="Page 1").click()
            row = page.locator("tr", has_text="raid capacity (raids per year)")
            row.wait_for()
            assert row.locator("td").all_inner_texts()[1:] == ["20", "200"]  # baseline, scenario
            page.get_by_text("Step 100, seed 20250626").wait_for()
            page.wait_for_function("document.querySelectorAll('img').length >= 2")
            page.screenshot(path=str(ARTIFACTS / "app_comparison.png"))
        finally:
            browser.close()
    assert errors == [], errors
    assert failed == [], failed
    assert outside == [], outside
    if os.environ.get("SCAMSIM_UPDATE_SCREENSHOT"):  # refresh the README's screenshot on request only
        shutil.copyfile(ARTIFACTS / "app.png", ROOT / "docs" / "img" / "app.png")
    assert (ARTIFACTS / "app.png").stat().st_size > 50_000
