"""The scenario brief: its sentences and tables against the comparison, escaping, HTML, PDF and CLI."""

from __future__ import annotations

import dataclasses
import html
import re
import subprocess
import sys
import typing
import zlib
from pathlib import Path
from types import SimpleNamespace

import pytest
from conftest import ARTIFACTS, offline_chromium

from sim.analysis.compare import Comparison, compare
from sim.model.schemas import ModelParams
from sim.report import brief
from sim.runs import posterior

SCENARIO = "raid_surge"
# Tiny runs: 2% of the population, to mid-2024 (the raid surge starts in January 2024), 3 pairs.
TINY = ["scale=0.02", "time.end=2024-06-30", "n_seeds=3", "n_jobs=1"]
HOSTILE = "<script>alert(1)</script>"


@pytest.fixture(scope="module")
def comparison() -> Comparison:
    return compare([SCENARIO], TINY)


@pytest.fixture(scope="module")
def rendered(comparison) -> brief.Brief:
    return brief.render(comparison, SCENARIO)


def _renamed(comparison: Comparison, name: str, description: str, overrides: list[str]) -> Comparison:
    """The same comparison with the scenario renamed and described by user text, and extra overrides."""

    def rename(frame):
        return frame.assign(scenario=frame["scenario"].replace(SCENARIO, name))

    metadata = dict(comparison.metadata, overrides=overrides)
    metadata["scenarios"] = {
        (name if key == SCENARIO else key): value for key, value in comparison.metadata["scenarios"].items()
    }
    return Comparison(
        scenarios={name: description},
        per_replicate=rename(comparison.per_replicate),
        differences=rename(comparison.differences),
        harm=rename(comparison.harm),
        timeseries=rename(comparison.timeseries),
        metadata=metadata,
    )


@pytest.fixture(scope="module")
def hostile(comparison) -> brief.Brief:
    description = 'Raids & "more" <img src=x onerror=alert(2)>'
    return brief.render(_renamed(comparison, HOSTILE, description, ["name=<b>x</b>"]), HOSTILE)


# -------------------------------------------------------------------------------------------------
# Words and numbers
# -------------------------------------------------------------------------------------------------


def _row(**values):
    defaults = {"label": "Compounds operating at the end of the Amnesty window", "unit": "compounds"}
    return SimpleNamespace(**(defaults | values))


def test_sentence_gives_levels_change_interval_and_says_within_noise():
    effect = _row(
        baseline_median=52.0,
        scenario_median=47.0,
        diff_median=-5.0,
        diff_q05=-9.0,
        diff_q95=-1.0,
        within_noise=False,
    )
    assert brief.sentence(effect) == (
        "Compounds operating at the end of the Amnesty window: "
        "52 → 47 (\u22125, 90% interval \u22129 to \u22121)"
    )
    noise = _row(
        baseline_median=52.0,
        scenario_median=53.0,
        diff_median=1.0,
        diff_q05=-2.0,
        diff_q95=3.0,
        within_noise=True,
    )
    assert brief.sentence(noise).endswith(
        "(+1, 90% interval \u22122 to +3): within noise, the interval includes no change"
    )
    share = _row(
        unit="share",
        baseline_median=0.981,
        scenario_median=0.9,
        diff_median=-0.05,
        diff_q05=-0.1,
        diff_q95=-0.01,
        within_noise=False,
    )
    assert "98.1% → 90% (\u22125 pp, 90% interval \u221210 pp to \u22121 pp)" in brief.sentence(share)
    still = _row(
        baseline_median=3.0,
        scenario_median=3.0,
        diff_median=0.0,
        diff_q05=0.0,
        diff_q95=0.0,
        within_noise=True,
    )
    assert brief.sentence(still).endswith("(0, 90% interval 0 to 0): no change in any pair")
    assert brief.format_value(8.37e9, "USD") == "$8.37 bn"
    assert brief.format_change(-96_100_000, "USD") == "\u2212$96.1 m"
    assert brief.format_value(103_009, "people") == "103,000"


def _summary_items(page: str) -> dict[str, tuple[str, str]]:
    items = re.findall(r'<li data-outcome="([^"]+)" class="(\w+)">(.*?)</li>', page, re.S)
    return {outcome: (kind, html.unescape(text)) for outcome, kind, text in items}


def test_summary_numbers_are_the_comparisons_differences(comparison, rendered):
    items = _summary_items(rendered.html)
    differences = comparison.differences[comparison.differences["scenario"] == SCENARIO]
    assert set(items) == set(differences["outcome"])
    assert not differences["within_noise"].all(), "a tripled raid rate must move something beyond noise"
    for row in differences.itertuples():
        kind, text = items[row.outcome]
        u = row.unit
        value, change = brief.format_value, brief.format_change
        numbers = (
            f"{value(row.baseline_median, u)} → {value(row.scenario_median, u)} "
            f"({change(row.diff_median, u)}, "
            f"90% interval {change(row.diff_q05, u)} to {change(row.diff_q95, u)})"
        )
        assert text.startswith(f"{row.label}: {numbers}")
        assert (
            ("within noise" in text or "no change in any pair" in text)
            == row.within_noise
            == (kind == "noise")
        )
        assert row.within_noise == (row.diff_q05 <= 0 <= row.diff_q95)


def test_harm_ledger_shows_both_groups_of_victims(rendered):
    section = rendered.html.split('<section id="harm">')[1].split("</section>")[0]
    assert "<h3>Trafficked workers</h3>" in section and "<h3>Targets</h3>" in section


# -------------------------------------------------------------------------------------------------
# Assumptions and calibration
# -------------------------------------------------------------------------------------------------


def _schema_keys(cls: type, prefix: str = "") -> list[str]:
    """Every parameter of a schema, walked independently of sim.report.odd and sim.report.brief."""
    keys = []
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        hint = hints[f.name]
        if dataclasses.is_dataclass(hint):
            keys += _schema_keys(hint, f"{prefix}{f.name}.")
        elif typing.get_origin(hint) is dict and dataclasses.is_dataclass(typing.get_args(hint)[1]):
            keys.append(f"{prefix}{f.name}")
            keys += _schema_keys(typing.get_args(hint)[1], f"{prefix}{f.name}.<name>.")
        else:
            keys.append(f"{prefix}{f.name}")
    return keys


def test_assumptions_table_has_every_model_parameter_and_marks_the_calibrated(rendered):
    found = re.findall(r'<tr data-key="([^"]+)" data-basis="(\w+)">', rendered.html)
    rows = {html.unescape(key): basis for key, basis in found}
    expected = [k for k in _schema_keys(ModelParams) if k != "policies"]  # policies: their own table
    assert list(rows) == expected
    calibrated = set(posterior.load("calibrated").columns) - {"weight"}
    assert {key for key, basis in rows.items() if basis == "calibrated"} == calibrated
    assert rows["compounds.quota"] == "published"  # AM13, IN2
    assert rows["compounds.running_cost"] == "assumption"
    # Calibrated parameters show their posterior median and 90% interval, e.g. "0.11 [0.0563, 0.263]".
    value = re.search(r'data-key="police.raid_rate".*?<td class="value">([^<]+)</td>', rendered.html, re.S)
    assert re.fullmatch(r"[\d.,]+ \[[\d.,]+, [\d.,]+\]", value.group(1))


def test_calibration_status_lists_fit_and_validation_targets(rendered):
    rows = dict(re.findall(r'<tr data-target="([^"]+)" data-use="(\w+)">', rendered.html))
    assert rows["AM10"] == "validate"
    assert rows["SC1"] == rows["AM7_share"] == "fit"
    section = rendered.html.split('<section id="calibration">')[1].split("</section>")[0]
    assert "fitted; met" in section and "validation only (never fitted)" in section


# -------------------------------------------------------------------------------------------------
# Self-contained, escaped, PDF
# -------------------------------------------------------------------------------------------------


def test_html_is_self_contained(rendered):
    assert re.search(r"https?://", rendered.html) is None
    sources = re.findall(r'<img src="([^"]*)"', rendered.html)
    assert len(sources) == len(rendered.images) == 4
    assert all(src.startswith("data:image/png;base64,") for src in sources)
    assert "<link" not in rendered.html and "@import" not in rendered.html and "<script" not in rendered.html


def test_user_text_is_escaped(hostile):
    page = hostile.html
    assert (
        HOSTILE not in page and "<script" not in page and "<img src=x" not in page and "<b>x</b>" not in page
    )
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "Raids &amp; &#34;more&#34; &lt;img src=x onerror=alert(2)&gt;" in page
    assert "name=&lt;b&gt;x&lt;/b&gt;" in page  # the overrides, shown and in the re-create command


def _pdf_pages(pdf: bytes) -> int:
    """Page count of a PDF whose page tree may sit in compressed object streams."""
    text = pdf
    for stream in re.findall(rb"stream\r?\n(.*?)\r?\nendstream", pdf, re.S):
        try:
            text += zlib.decompress(stream)
        except zlib.error:
            continue  # image data in another encoding
    counts = re.findall(rb"/Type\s*/Pages\b[^>]*?/Count (\d+)", text)
    return max(int(c) for c in counts)


# -------------------------------------------------------------------------------------------------
# In Chromium
# -------------------------------------------------------------------------------------------------


def _open_in_chromium(path: Path, profile: Path, screenshot: Path | None = None) -> dict:
    """Load a brief from disk offline; report page errors, dialogs, outside requests and images."""
    sync_playwright = pytest.importorskip("playwright.sync_api").sync_playwright
    report: dict = {"errors": [], "dialogs": [], "outside": []}
    with sync_playwright() as pw:
        browser = offline_chromium(
            pw, profile, ("file://", "data:"), report["outside"], viewport={"width": 1200, "height": 900}
        )
        try:
            page = browser.new_page()
            page.on("pageerror", lambda exc: report["errors"].append(str(exc)))
            page.on("dialog", lambda dialog: (report["dialogs"].append(dialog.message), dialog.dismiss()))
            page.goto(path.as_uri())
            page.wait_for_load_state("load")
            report["images"] = page.locator("img").evaluate_all(
                "imgs => imgs.map(i => i.complete && i.naturalWidth > 0)"
            )
            report["scripts"] = page.locator("script").count()
            report["title"] = page.locator("h1").inner_text()
            if screenshot:
                page.screenshot(path=str(screenshot), full_page=True)
        finally:
            browser.close()
    return report


@pytest.mark.browser
def test_brief_renders_in_chromium_without_errors_or_broken_images(rendered, tmp_path):
    page = tmp_path / "brief.html"
    page.write_text(rendered.html, encoding="utf-8")
    ARTIFACTS.mkdir(exist_ok=True)
    report = _open_in_chromium(page, tmp_path / "profile", ARTIFACTS / "brief.png")
    assert report["errors"] == [] and report["dialogs"] == [] and report["outside"] == []
    assert report["images"] == [True] * 4
    assert report["title"] == SCENARIO
    assert (ARTIFACTS / "brief.png").stat().st_size > 100_000


@pytest.mark.browser
def test_scenario_name_with_html_is_shown_as_text_and_never_run(hostile, tmp_path):
    page = tmp_path / "hostile.html"
    page.write_text(hostile.html, encoding="utf-8")
    report = _open_in_chromium(page, tmp_path / "profile")
    assert report["title"] == HOSTILE  # the text itself, not an element
    assert report["scripts"] == 0 and report["dialogs"] == [] and report["errors"] == []


# -------------------------------------------------------------------------------------------------
# The command
# -------------------------------------------------------------------------------------------------

SCAMSIM = Path(sys.executable).parent / "scamsim"


def test_cli_writes_html_pdf_and_figures(tmp_path):
    settings = ["scale=0.02", "time.end=2024-03-31", "n_seeds=2", "policies.raid_surge.multiplier=5"]
    args = ["brief", f"scenario={SCENARIO}", *settings]
    done = subprocess.run([str(SCAMSIM), *args], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    out = tmp_path / "results" / "briefs" / SCENARIO
    pdf = (out / "brief.pdf").read_bytes()
    assert pdf.startswith(b"%PDF")
    # Figures, calibration and assumptions each start a page in print: at least four pages.
    assert _pdf_pages(pdf) >= 4
    page = (out / "brief.html").read_text(encoding="utf-8")
    assert f'<code class="command">scamsim brief scenario={SCENARIO} {" ".join(settings)}</code>' in page
    # The intervention's own setting reaches the scenario (and only it: the baseline has no raid surge).
    assert re.search(r"policies.raid_surge.multiplier</code></td><td class=\"value\">5</td>", page)
    assert sorted(p.name for p in (out / "figures").iterdir()) == [
        "compounds_active.png",
        "paired_differences.png",
        "target_losses.png",
        "workers_held.png",
    ]
    assert [p.name for p in (tmp_path / "results" / "briefs").iterdir()] == [SCENARIO]  # no temporary left


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            [f"scenario={SCENARIO}", "police.corruption=1.5"],
            "police.corruption=1.5 is outside the allowed range",
        ),
        # Each subprocess spends most of its time importing; the default suite runs one.
        pytest.param(
            [f"scenario={SCENARIO}", "police.corrupton=0.5"],
            "unknown config key 'police.corrupton'",
            marks=pytest.mark.slow,
        ),
        pytest.param(["scenario=no_such_scenario"], "no_such_scenario", marks=pytest.mark.slow),
        pytest.param([], "scenario", marks=pytest.mark.slow),
    ],
)
def test_cli_bad_input_is_one_line_exit_2_and_leaves_nothing(tmp_path, args, message):
    done = subprocess.run(
        [str(SCAMSIM), "brief", *args, *TINY], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("scamsim brief: error:") and message in lines[0], (
        done.stderr
    )
    results = tmp_path / "results"
    assert not results.exists() or [p for p in results.rglob("*") if p.is_file()] == []
    assert not (results / "briefs" / SCENARIO).exists()
