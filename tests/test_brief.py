"""The scenario brief: page 1 and the body against the comparison, plain words, print layout, CLI."""

from __future__ import annotations

import dataclasses
import html
import os
import re
import shutil
import subprocess
import sys
import typing
import zlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import ARTIFACTS, offline_chromium

from sim.analysis.compare import Comparison, compare
from sim.model.schemas import ModelParams
from sim.report import brief
from sim.runs.scenarios import BASELINE, available_scenarios

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = "raid_surge"
# Small runs: 2% of the population over the whole period (the raid surge starts in January 2024), 3 pairs.
# Without a posterior, so that the assumptions table shows the hand-tuned values (a posterior is given below).
TINY = ["scale=0.02", "n_seeds=3", "n_jobs=1", "posterior=null"]
HOSTILE = "<script>alert(1)</script>"
START = pd.Timestamp("2024-01-01")  # the raid surge's first day (configs/policy/raid_surge.yaml)


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


def test_change_words_give_unit_direction_and_interval_once():
    assert brief.change_words(-19_900, -37_600, -10_300, "people") == (
        "19,900 fewer people (90% interval 10,300 to 37,600 fewer)"
    )
    assert brief.change_words(27.0, 15.2, 89.8, "raids") == "27 more raids (90% interval 15.2 to 89.8 more)"
    assert brief.change_words(-96_100_000, -140e6, 2e6, "USD") == (
        "$96.1 m less (90% interval $140 m less to $2 m more)"
    )
    assert brief.change_words(-0.0457, -0.063, -0.00667, "share") == (
        "4.57 percentage points lower (90% interval 0.667 to 6.3 percentage points lower)"
    )
    assert brief.change_words(0.0, -2.0, 3.0, "compounds") == "no change (90% interval 2 fewer to 3 more)"
    assert brief.change_words(0.0, 0.0, 0.0, "compounds") == "no change in any pair of runs"
    assert brief.format_value(8.37e9, "USD") == "$8.37 bn"
    assert brief.format_level(103_009, "people") == "103,000 people"
    assert brief.format_level(0.981, "share") == "98.1%"


def _text(fragment: str) -> str:
    """The text of an HTML fragment, whitespace collapsed."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


def _section(page: str, start: str, end: str) -> str:
    return page.split(start, 1)[1].split(end, 1)[0]


def _paired(table: pd.DataFrame, column: str) -> tuple[float, float, float]:
    """Median, 5th and 95th percentile of the paired change (scenario - baseline) of ``column``."""
    wide = table.pivot(index="replicate", columns="scenario", values=column)
    change = wide[SCENARIO] - wide[BASELINE]
    return float(change.median()), *np.quantile(change, [0.05, 0.95])


def test_page_one_numbers_are_the_comparisons_over_the_policy_period(comparison, rendered):
    ts = comparison.timeseries
    after = ts[pd.to_datetime(ts["date"]) >= START]
    per_run = after.groupby(["scenario", "replicate", "variable"])["value"]
    sums, means = per_run.sum().unstack().reset_index(), per_run.mean().unstack().reset_index()
    sums["person_years"] = sums["workers_held"] * 7 / 365.25  # weekly steps
    expected = {
        "person_years_held": brief.change_words(*_paired(sums, "person_years"), "person-years"),
        "target_losses": brief.change_words(*_paired(sums, "target_losses"), "USD"),
        "compounds_active": brief.change_words(*_paired(means, "compounds_active"), "compounds"),
    }
    bottom = _section(rendered.html, 'id="bottom-line"', "</div>")
    sentences = dict(re.findall(r'<span data-outcome="(\w+)" class="\w+">(.*?)</span>', bottom))
    assert list(sentences) == list(expected)
    for outcome, change in expected.items():
        assert change in html.unescape(sentences[outcome])
    text = _text(bottom)
    assert len(re.findall(r"\.(?:\s|$)", text)) <= 3  # at most three sentences
    for words in ("2024\u20132026", "person-years", "$"):  # period and units
        assert words in text
    # The paired runs are the same until the policy starts, so the whole run's change in time held is
    # the policy period's: the body does not state it again.
    whole_run = comparison.per_replicate.assign(person_years=comparison.per_replicate["person_years_held"])
    assert _paired(whole_run, "person_years") == pytest.approx(_paired(sums, "person_years"), rel=1e-6)


def test_body_states_every_other_change_once_as_the_paired_change(comparison, rendered):
    body = _section(rendered.html, '<section id="body">', '<section id="appendix">')
    rows = dict(re.findall(r'<tr data-outcome="(\w+)".*?>(.*?)</tr>', body, re.S))
    differences = comparison.differences[comparison.differences["scenario"] == SCENARIO]
    assert set(rows) == set(differences["outcome"]) - set(brief.STATED_ON_PAGE_ONE)
    assert not differences["within_noise"].all(), "a tripled raid rate must move something beyond noise"
    page = _text(rendered.html)
    for row in differences.itertuples():
        if row.outcome not in rows:
            continue
        change = brief.change_of(row)
        cells = _text(rows[row.outcome])
        assert cells.startswith(row.label) and change in cells
        assert ("within noise" in cells) == row.within_noise == (row.diff_q05 <= 0 <= row.diff_q95)
        assert page.count(f"{brief.format_level(row.baseline_median, row.unit)} {change}") == 1
        # Never the scenario's median beside the paired change: that would be a difference of medians.
        assert brief.format_level(row.scenario_median, row.unit) not in cells or (
            row.scenario_median == row.baseline_median
        )
    assert "<h3>Trafficked workers</h3>" in body and "<h3>Targets of the scams</h3>" in body


# Internal ids and jargon, and the code names of scenarios (those that are not also plain English words,
# like "crackdown") and of the run without a policy.
CODE_NAMES = [BASELINE, *(name for name in available_scenarios() if "_" in name)]
CODE_WORDS = re.compile(
    r"\b[A-Z]{2,3}\d+\b|\bpp\b|focal|ABC-SMC|\bESS\b|posterior|Amnesty window|replicate|"
    + "|".join(rf"\b{name}\b" for name in CODE_NAMES)
)


def test_page_one_and_body_use_plain_words(rendered):
    shown = _text(_section(rendered.html, "<body>", '<section id="appendix">'))
    assert CODE_WORDS.findall(shown) == []
    assert CODE_WORDS.search(_text(_section(rendered.html, '<section id="appendix">', "</body>")))


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


def test_assumptions_table_has_every_model_parameter_and_marks_the_calibrated(comparison, rendered, tmp_path):
    found = re.findall(r'<tr data-key="([^"]+)" data-basis="(\w+)">', rendered.html)
    rows = {html.unescape(key): basis for key, basis in found}
    expected = [k for k in _schema_keys(ModelParams) if k != "policies"]  # policies: their own table
    assert list(rows) == expected
    # These runs draw from no posterior (posterior=null), so no parameter is marked calibrated; the
    # hand-tuned ones say so and show their value.
    config = brief.config_of(comparison, SCENARIO)
    assert config.posterior is None
    assert "calibrated" not in rows.values()
    assert rows["compounds.quota"] == "published"  # AM13, IN2
    assert rows["compounds.running_cost"] == "assumption"
    assert rows["police.raid_capacity"] == "tuned"
    value = re.search(
        r'data-key="police.raid_capacity".*?<td class="value">([^<]+)</td>', rendered.html, re.S
    )
    assert float(value.group(1).replace(",", "")) == config.police.raid_capacity
    # With a posterior, exactly its parameters are calibrated and show their posterior median and 90%
    # interval, e.g. "0.11 [0.0563, 0.263]".
    drawn = pd.DataFrame(
        {
            "police.raid_capacity": np.linspace(10.0, 40.0, 21),
            "police.corruption": np.linspace(0.2, 0.6, 21),
            "weight": 1.0,
        }
    )
    path = tmp_path / "fitted.csv"
    drawn.to_csv(path, index=False)
    table = {row.key: row for row in brief.assumptions(dataclasses.replace(config, posterior=str(path)))}
    assert {key for key, row in table.items() if row.basis == "calibrated"} == set(drawn.columns) - {"weight"}
    assert re.fullmatch(r"[\d.,]+ \[[\d.,]+, [\d.,]+\]", table["police.raid_capacity"].value)
    assert table["police.raid_capacity"].value.startswith("25 ")  # the median of 10..40


def test_calibration_status_lists_fit_and_validation_targets(rendered):
    rows = dict(re.findall(r'<tr data-target="([^"]+)" data-use="(\w+)">', rendered.html))
    # Issue 12: AM10 (the only measure of enforcement volume) is fitted; EN1's outcomes are held out.
    assert rows["AM10"] == "fit"
    assert rows["EN1_removed"] == rows["EN1_tipoffs"] == "validate"
    assert rows["SC1"] == rows["AM7_shut"] == rows["AM7_remaining"] == "fit"
    section = rendered.html.split('<section id="calibration">')[1].split("</section>")[0]
    assert "validation only (never fitted)" in section and "fitted;" in section


# -------------------------------------------------------------------------------------------------
# Self-contained, escaped, PDF
# -------------------------------------------------------------------------------------------------


def test_html_is_self_contained(rendered):
    assert re.search(r"https?://", rendered.html) is None
    sources = re.findall(r'<img src="([^"]*)"', rendered.html)
    assert len(sources) == len(rendered.images) == 3
    assert all(src.startswith("data:image/png;base64,") for src in sources)
    assert "<link" not in rendered.html and "@import" not in rendered.html and "<script" not in rendered.html
    assert all(set(files) == {"png", "svg"} for files in rendered.images.values())


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
# Print layout (WeasyPrint's pages, as in brief.pdf)
# -------------------------------------------------------------------------------------------------


def _printed_pages(document) -> list[dict]:
    """Per printed page: its text (spaces removed: lines may break anywhere), element ids and image alts."""
    pages = []
    for page in document.pages:
        boxes = list(page._page_box.descendants())
        pages.append(
            {
                "text": "".join(b.text for b in boxes if hasattr(b, "text")).replace(" ", ""),
                "ids": {b.element.get("id") for b in boxes if getattr(b, "element", None) is not None}
                - {None},
                "images": [b.element.get("alt") for b in boxes if type(b).__name__.endswith("ReplacedBox")],
            }
        )
    return pages


def test_printed_page_one_holds_bottom_line_chart_and_limitations_and_the_body_fits_four_pages(rendered):
    pages = _printed_pages(rendered.layout())
    first = pages[0]
    sentences = re.findall(r'<span data-outcome="\w+" class="\w+">(.*?)</span>', rendered.html)
    assert len(sentences) == 3
    for sentence in sentences:
        assert html.unescape(sentence).replace(" ", "") in first["text"]
    assert {"bottom-line", "headline-chart", "key-limitations"} <= first["ids"]
    assert len(first["images"]) == 1 and "the policy starts in January 2024" in first["images"][0]
    assert "body" not in first["ids"]  # page 1 is the summary alone
    assert pages[1]["text"].startswith("Whatwassimulated")
    appendix = next(i for i, page in enumerate(pages) if "appendix" in page["ids"])
    assert 1 < appendix <= 4, f"the body runs to page {appendix} (at most 4 pages before the appendix)"
    assert "body" not in pages[appendix]["ids"]  # the appendix starts a page
    later = "".join(page["text"] for page in pages[appendix:])
    for heading in ("Assumptions:everymodelparameter", "Calibrationstatus", "Provenance"):
        assert heading in later and heading not in "".join(p["text"] for p in pages[:appendix])


# -------------------------------------------------------------------------------------------------
# In Chromium
# -------------------------------------------------------------------------------------------------

A4_CONTENT_PX = (688, 1009)  # A4 less the print margins (182 x 267 mm) in CSS pixels (96 per inch)


def _open_in_chromium(path: Path, profile: Path, page_one: Path | None = None) -> dict:
    """Load a brief from disk offline, laid out for print at A4's width; report errors, requests, page 1.

    With ``page_one``, save a screenshot of page 1 (the summary) there.
    """
    sync_playwright = pytest.importorskip("playwright.sync_api").sync_playwright
    report: dict = {"errors": [], "dialogs": [], "outside": []}
    width, height = A4_CONTENT_PX
    with sync_playwright() as pw:
        browser = offline_chromium(
            pw,
            profile,
            ("file://", "data:"),
            report["outside"],
            viewport={"width": width, "height": height},
            device_scale_factor=1.5,
        )
        try:
            page = browser.new_page()
            page.on("pageerror", lambda exc: report["errors"].append(str(exc)))
            page.on("dialog", lambda dialog: (report["dialogs"].append(dialog.message), dialog.dismiss()))
            page.emulate_media(media="print")
            page.goto(path.as_uri())
            page.wait_for_load_state("load")
            report["images"] = page.locator("img").evaluate_all(
                "imgs => imgs.map(i => i.complete && i.naturalWidth > 0)"
            )
            report["scripts"] = page.locator("script").count()
            report["title"] = page.locator("h1").inner_text()
            one = page.locator("#page-one")
            report["page_one"] = one.bounding_box()
            report["page_one_holds"] = [
                one.locator(selector).count() for selector in ("#bottom-line span", "#headline-chart img")
            ]
            if page_one:
                one.screenshot(path=str(page_one))
        finally:
            browser.close()
    return report


@pytest.mark.browser
def test_brief_renders_in_chromium_with_page_one_on_one_printed_page(comparison, rendered, tmp_path):
    page = tmp_path / "brief.html"
    page.write_text(rendered.html, encoding="utf-8")
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "brief_page1.png"
    report = _open_in_chromium(page, tmp_path / "profile", shot)
    assert report["errors"] == [] and report["dialogs"] == [] and report["outside"] == []
    assert report["images"] == [True] * 3
    assert report["title"] == comparison.scenarios[SCENARIO]
    # Page 1 (bottom line, the chart, limitations) fits on one printed A4 page in Chromium too.
    assert report["page_one_holds"] == [3, 1]
    assert report["page_one"]["height"] <= A4_CONTENT_PX[1]
    assert shot.stat().st_size > 100_000
    if os.environ.get("SCAMSIM_UPDATE_SCREENSHOT"):  # refresh the README's screenshot on request only
        shutil.copyfile(shot, ROOT / "docs" / "img" / "brief_page1.png")


@pytest.mark.browser
def test_scenario_name_with_html_is_shown_as_text_and_never_run(hostile, tmp_path):
    page = tmp_path / "hostile.html"
    page.write_text(hostile.html, encoding="utf-8")
    report = _open_in_chromium(page, tmp_path / "profile")
    assert report["title"] == 'Raids & "more" <img src=x onerror=alert(2)>'  # the text, not an element
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
    # Page 1, the body, and the appendix and its parameter table each start a page: at least four pages.
    assert _pdf_pages(pdf) >= 4
    page = (out / "brief.html").read_text(encoding="utf-8")
    assert f'<code class="command">scamsim brief scenario={SCENARIO} {" ".join(settings)}</code>' in page
    # The intervention's own setting reaches the scenario (and only it: the baseline has no raid surge).
    assert re.search(r"policies.raid_surge.multiplier</code></td><td class=\"value\">5</td>", page)
    assert sorted(p.name for p in (out / "figures").iterdir()) == [
        f"{name}.{fmt}"
        for name in ("compounds_active", "people_held", "target_losses")
        for fmt in ("png", "svg")
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
