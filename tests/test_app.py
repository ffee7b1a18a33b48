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
import pandas as pd
import pytest
from conftest import ARTIFACTS, offline_chromium

from sim.model.schemas import ConfigError, ModelParams
from sim.report import app, app_config
from sim.runs import posterior

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def base():
    config, _, _ = app_config.compose_app(["time.end=2021-12-31"])
    return config


def test_cli_config_gives_baseline_host_and_port():
    config, host, port = app_config.compose_app(["police.corruption=0.3", "port=8800"])
    assert (config.police.corruption, config.scale, host, port) == (0.3, 0.05, "127.0.0.1", 8800)
    assert config.fixed == ["police.corruption"]  # the model key keeps its value; port is no parameter
    with pytest.raises(ConfigError, match="port=0 is outside"):
        app_config.compose_app(["port=0"])


def test_slider_values_reach_the_scenario_but_not_the_baseline(base):
    levers = {
        "raids": 150.0,
        "corruption": 0.1,
        "job_ad_awareness": 0.5,
        "scam_awareness": 0.2,
        "closure": 0.9,
        "rescue": 0.3,
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
    with pytest.raises(TypeError, match="unknown levers"):
        app.AppModel(raid_rate=1.0, base=base)


def test_app_opens_at_the_calibrated_baseline_unless_there_is_none(tmp_path):
    fitted = tmp_path / "fitted.csv"
    pd.DataFrame(
        {"police.raid_capacity": [10.0, 30.0, 50.0], "police.corruption": [0.2, 0.3, 0.4], "weight": 1.0}
    ).to_csv(fitted, index=False)
    base, _, _ = app_config.compose_app([f"posterior={fitted}", "time.end=2021-12-31"])
    config, label = app.calibrated(base)
    median = posterior.quantiles(str(fitted), [0.5]).iloc[0]
    assert label == app.CALIBRATED
    assert config.police.raid_capacity == pytest.approx(median["police.raid_capacity"])
    assert config.police.corruption == pytest.approx(median["police.corruption"])
    assert base.police.raid_capacity == ModelParams().police.raid_capacity  # the configuration is left alone
    # A key set on the command line keeps its value at the calibrated baseline.
    fixed, _, _ = app_config.compose_app([f"posterior={fitted}", "police.corruption=0.35"])
    assert app.calibrated(fixed)[0].police.corruption == 0.35
    assert app.calibrated(fixed)[0].police.raid_capacity == pytest.approx(median["police.raid_capacity"])
    # The default opens at the committed posterior's medians; without a posterior (posterior=null) at the
    # hand-tuned defaults, labelled so.
    default, _, _ = app_config.compose_app()
    assert default.posterior == "calibrated" and app.calibrated(default)[1] == app.CALIBRATED
    unset, _, _ = app_config.compose_app(["posterior=null"])
    assert app.calibrated(unset) == (unset, app.HAND_TUNED)


def test_a_preset_adds_its_interventions_to_the_scenario_only():
    base, _, _ = app_config.compose_app()  # the whole period: the crackdown starts in 2024
    model = app.AppModel(base=base, preset="crackdown")
    assert set(model.p.policies) == {"raid_surge", "anti_corruption"}
    assert not model.baseline.p.policies
    assert app.AppModel(base=base, preset=app.NO_PRESET).p.policies == base.policies


def test_equal_levers_give_identical_runs_and_different_ones_diverge(base):
    same = app.AppModel(base=base)  # every lever at the baseline's value
    other = app.AppModel(raids=225.0, base=base)
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
    # The state after 60 weekly steps is that of 60 weeks after the start.
    assert ours["date"].iloc[0] == pd.Timestamp(base.time.start)
    assert ours["date"].iloc[-1] == pd.Timestamp(base.time.start) + pd.Timedelta(weeks=60)


def test_figures_and_table_draw_both_runs_with_dates(base):
    model = app.AppModel(raids=150.0, base=base)
    for _ in range(30):
        model.step()
    towns, compounds, _raided = app.map_figure(model).axes[0].collections
    assert len(towns.get_offsets()) == 16
    assert len(compounds.get_offsets()) == sum(c.active for c in model.compounds)
    assert len(app.side_by_side_figure(model).axes) == 2
    trends = app.trends_figure(model)
    assert len(trends.axes) == 4
    assert all(ax.get_xlabel() == "date" for ax in trends.axes)
    scenario_only = app.trends_figure(model, baseline=False)
    assert [len(ax.lines) for ax in scenario_only.axes] == [1, 1, len(app.EXITS), 1]
    assert [len(ax.lines) for ax in trends.axes] == [2, 2, 2 * len(app.EXITS), 2]
    table = app.levers_table(model)
    assert ">police raids (raids per year in a country)</td>" in table
    assert f">{base.police.raid_capacity:g}</td>" in table and ">150</td>" in table
    assert "29 July 2020 (week 30 of 105), seed 20250626" in table


def test_step_periods_in_model_steps(base):
    model = app.AppModel(base=base)
    assert app.steps_for(model, "1 week") == 1
    assert app.steps_for(model, "3 months") == 13
    assert app.steps_for(model, "1 year") == 52


# -------------------------------------------------------------------------------------------------
# The real page in Chromium
# -------------------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """``scamsim app`` on a free port, and its log; stopped (and killed if need be) at the end."""
    port = _free_port()
    env = {
        **os.environ,
        # Any attempt of the server to fetch from a CDN goes to a dead proxy, fails and shows up in its
        # log (solara: "Could not load URL") and as a failed response in the browser.
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
        while "serving" not in log.read_text():
            if proc.poll() is not None:
                pytest.fail(f"scamsim app exited with {proc.returncode}: {log.read_text()}")
            if time.monotonic() > deadline:
                pytest.fail(f"scamsim app did not say it is serving within 120 s: {log.read_text()}")
            time.sleep(0.2)
        # "serving" is said once the page answers: it answers at once.
        with urllib.request.urlopen(url, timeout=2) as response:
            assert response.status == 200
        yield url, log
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)
    # Stopping scamsim app stops its server.
    with pytest.raises(OSError):
        urllib.request.urlopen(url, timeout=2)


def _image_sources(page) -> list[str]:
    return page.locator("img").evaluate_all("imgs => imgs.map(i => i.src)")


@pytest.mark.browser
def test_page_in_chromium_slider_step_plots_change(server, tmp_path):
    sync_playwright = pytest.importorskip("playwright.sync_api").sync_playwright
    url, log = server
    ARTIFACTS.mkdir(exist_ok=True)
    # The app opens at the committed posterior's median (the default posterior).
    baseline_raids = f"{posterior.quantiles('calibrated', [0.5]).iloc[0]['police.raid_capacity']:.3g}"
    label = "police raids (raids per year in a country)"
    errors: list[str] = []
    failed: list[str] = []
    outside: list[str] = []
    with sync_playwright() as pw:
        browser = offline_chromium(
            pw,
            tmp_path / "chromium-profile",
            ("http://127.0.0.1", "blob:", "data:"),
            outside,
            viewport={"width": 1500, "height": 1250},
        )
        try:
            browser.set_default_timeout(60_000)
            page = browser.new_page()
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.on("response", lambda r: failed.append(f"{r.status} {r.url}") if r.status >= 400 else None)
            page.goto(url)
            page.get_by_text("Date: 01 Jan 2020 (week 0 of").wait_for()
            page.get_by_text(f"Baseline: {app.CALIBRATED}").wait_for()
            page.get_by_text("How to use").wait_for()
            page.wait_for_function("document.querySelectorAll('img').length >= 2")
            # Named tabs; none of Mesa's internals.
            assert page.get_by_role("tab", name="Scenario", exact=True).count() == 1
            assert page.get_by_role("tab", name="Scenario vs baseline").count() == 1
            for internal in ("Page 0", "Use Threads", "Play Interval", "Render Interval", "Time: 0.0"):
                assert page.get_by_text(internal).count() == 0, internal
            # The slider starts at the baseline and shows its value and unit.
            page.get_by_text(
                f"{baseline_raids} raids per year in a country (baseline {baseline_raids})"
            ).wait_for()

            # A preset, then the raid slider to its end (200 raids a year), then reset to apply.
            # One key press sends one update: a burst of them is coalesced by ipywidgets and can reach
            # the server after the click on Reset.
            page.get_by_label("policy preset").click(force=True)  # the list opens under the label
            page.get_by_role("option", name="crackdown").click()
            page.get_by_text("Raid surge with anti-corruption").wait_for()
            slider = page.get_by_role("slider", name="police raids")
            slider.press("End")
            assert slider.get_attribute("aria-valuenow") == "200"
            page.get_by_text(f"200 raids per year in a country (baseline {baseline_raids})").wait_for()
            page.wait_for_timeout(1000)
            page.get_by_role("button", name="Reset", exact=True).click()
            before = _image_sources(page)
            # One press of Step advances 3 months (13 weekly steps) by default.
            page.get_by_role("button", name="Step", exact=True).click()
            page.get_by_text("Date: 01 Apr 2020 (week 13 of").wait_for()
            page.wait_for_function(
                "before => { const now = [...document.querySelectorAll('img')].map(i => i.src);"
                " return now.length >= 2 && now.every((src, i) => src !== before[i]); }",
                arg=before,
            )
            page.get_by_label("Step advances by").click(force=True)
            page.get_by_role("option", name="2 years").click()
            page.get_by_role("button", name="Step", exact=True).click()
            page.get_by_text("Date: 30 Mar 2022 (week 117 of").wait_for()
            page.wait_for_timeout(1500)
            page.screenshot(path=str(ARTIFACTS / "app.png"))

            page.get_by_role("tab", name="Scenario vs baseline").click()
            row = page.locator("tr", has_text=label)
            row.wait_for()
            assert row.locator("td").all_inner_texts()[1:] == [baseline_raids, "200"]  # baseline, scenario
            # A slider left alone keeps the baseline's value (not the value snapped to the slider's step).
            row = page.locator("tr", has_text="police corruption")
            assert row.locator("td").all_inner_texts()[1] == row.locator("td").all_inner_texts()[2]
            assert page.locator("tr", has_text="policy preset").locator("td").all_inner_texts()[1:] == [
                "none",
                "crackdown",
            ]
            page.get_by_text("30 March 2022 (week 117 of").wait_for()
            page.wait_for_function("document.querySelectorAll('img').length >= 2")
            page.wait_for_timeout(1500)
            page.screenshot(path=str(ARTIFACTS / "app_comparison.png"))
        finally:
            browser.close()
    assert errors == [], errors
    assert failed == [], failed
    assert outside == [], outside
    server_log = log.read_text()
    assert "Could not load URL" not in server_log and "cdn" not in server_log.lower(), server_log
    if os.environ.get("SCAMSIM_UPDATE_SCREENSHOT"):  # refresh the README's screenshot on request only
        shutil.copyfile(ARTIFACTS / "app.png", ROOT / "docs" / "img" / "app.png")
    assert (ARTIFACTS / "app.png").stat().st_size > 50_000
