"""The ODD document is current, and every parameter is documented with unit, meaning and source."""

from __future__ import annotations

import dataclasses
import re

import pytest

from sim.model.schemas import ConfigError, JurisdictionParams, SourceParams
from sim.model.validation import validate
from sim.report import odd
from sim.runs.config import RunConfig

# Ids in docs/SOURCES.md (its tables), and the timeline's old name ("FACTS §7").
FACTS_IDS = {
    *(f"AM{i}" for i in range(1, 14)),
    *(f"SC{i}" for i in range(1, 5)),
    *(f"TG{i}" for i in range(1, 6)),
    *(f"RC{i}" for i in range(1, 10)),
    *(f"IN{i}" for i in range(1, 5)),
    *(f"EN{i}" for i in range(1, 5)),
}
FACTS_SECTIONS = {f"FACTS §{i}" for i in range(1, 8)}
ID_PATTERN = re.compile(r"\b(?:AM|SC|TG|RC|IN|EN)\d+\b")
SECTION_PATTERN = re.compile(r"FACTS §\d+")
WORD_PATTERN = re.compile(r"\b(?:calibrated|assumption)\b")

# Parameters whose source is allowed to be something else, with the reason. Keep this short: a new
# entry should come with a FACTS id, "calibrated" or "assumption" instead.
SOURCE_EXCEPTIONS: dict[str, str] = {}


def test_generated_regions_are_current():
    text = odd.ODD_PATH.read_text(encoding="utf-8")
    assert odd.render(text) == text, "docs/ODD.md is stale: run `python -m sim.report.odd` (or `make docs`)"


def test_every_region_has_its_markers_once():
    text = odd.ODD_PATH.read_text(encoding="utf-8")
    for name in odd.REGIONS:
        assert text.count(odd.begin_marker(name)) == 1, name
        assert text.count(odd.end_marker(name)) == 1, name
        assert text.index(odd.begin_marker(name)) < text.index(odd.end_marker(name)), name


def test_check_mode_detects_stale_file(tmp_path):
    stale = tmp_path / "ODD.md"
    stale.write_text(odd.ODD_PATH.read_text(encoding="utf-8").replace("`police.raid_capacity`", "`x`"))
    assert odd.main(["--check", str(stale)]) == 1
    assert odd.main([str(stale)]) == 0
    assert odd.main(["--check", str(stale)]) == 0


def test_missing_marker_is_an_error():
    with pytest.raises(ValueError, match="exactly once"):
        odd.replace_region("no markers here", "PARAMETERS", "x")


def test_rows_cover_every_schema_field():
    keys = {row.key for row in odd.parameter_rows()}
    for f in dataclasses.fields(RunConfig):
        value = getattr(RunConfig(), f.name)
        if dataclasses.is_dataclass(value):
            for sub in dataclasses.fields(value):
                assert f"{f.name}.{sub.name}" in keys
        else:
            assert f.name in keys
    for f in dataclasses.fields(JurisdictionParams):
        assert f"jurisdictions.<name>.{f.name}" in keys
    for f in dataclasses.fields(SourceParams):
        assert f"sources.<name>.{f.name}" in keys
    assert len(keys) == len(odd.parameter_rows()), "duplicate keys"


def _source_problem(key: str, source: str) -> str | None:
    """Why ``source`` is not an acceptable source for parameter ``key`` (None if it is)."""
    if key in odd.RUN_SETTINGS:
        return None if source == "-" else "run settings have source '-'"
    if source == "-":
        return "'-' is only for run settings"
    unknown = [i for i in ID_PATTERN.findall(source) if i not in FACTS_IDS]
    unknown += [s for s in SECTION_PATTERN.findall(source) if s not in FACTS_SECTIONS]
    if unknown:
        return f"cites ids not in docs/SOURCES.md: {unknown}"
    if key in SOURCE_EXCEPTIONS:
        return None
    if ID_PATTERN.search(source) or SECTION_PATTERN.search(source) or WORD_PATTERN.search(source):
        return None
    return "needs a FACTS id, 'FACTS §n', 'calibrated' or 'assumption'"


def test_every_parameter_is_documented():
    problems = []
    for row in odd.parameter_rows():
        for name in ("unit", "doc", "source"):
            if not getattr(row, name).strip():
                problems.append(f"{row.key}: empty {name}")
        why = _source_problem(row.key, row.source.strip())
        if why:
            problems.append(f"{row.key}: source {row.source!r}: {why}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize(
    ("key", "source", "ok"),
    [
        ("police.raid_capacity", "calibrated (AM7, AM10)", True),
        ("compounds.security", "seed article (barbed wire, guards); value assumption", True),
        ("time.start", "FACTS §7 (gambling ban in force)", True),
        ("targets.wealth_sigma", "TG1", True),
        ("seed", "-", True),
        ("police.raid_capacity", "-", False),
        ("police.raid_capacity", "AM99", False),
        ("police.raid_capacity", "FACTS §9", False),
        ("police.raid_capacity", "guess", False),
        ("police.raid_capacity", "assumptions", False),
        ("seed", "assumption", False),
    ],
)
def test_source_rule(key, source, ok):
    assert (_source_problem(key, source) is None) is ok


def test_exceptions_are_still_needed():
    rows = {row.key: row for row in odd.parameter_rows()}
    for key in SOURCE_EXCEPTIONS:
        assert key in rows, f"{key} no longer exists; drop it from SOURCE_EXCEPTIONS"
        source = rows[key].source
        has_source = ID_PATTERN.search(source) or WORD_PATTERN.search(source)
        assert not has_source, f"{key} now has a proper source; drop it from SOURCE_EXCEPTIONS"


def test_odd_cites_only_existing_facts_ids():
    text = odd.ODD_PATH.read_text(encoding="utf-8")
    unknown = sorted({i for i in ID_PATTERN.findall(text) if i not in FACTS_IDS})
    unknown += sorted({s for s in SECTION_PATTERN.findall(text) if s not in FACTS_SECTIONS})
    assert not unknown


def _base() -> RunConfig:
    config = RunConfig()
    config.jurisdictions = {"cambodia": JurisdictionParams()}
    return config


def test_cross_field_rules_are_enforced():
    assert set(odd.CROSS_FIELD_RULES) <= {row.key for row in odd.parameter_rows()}
    validate(_base())
    broken = []
    c = _base()
    c.time.end = c.time.start
    broken.append(c)
    c = _base()
    c.focal = "nowhere"
    broken.append(c)
    c = _base()
    c.jurisdictions = {}
    broken.append(c)
    c = _base()
    c.jurisdictions = {"cambodia": JurisdictionParams(initial_compounds=0)}
    broken.append(c)
    c = _base()
    c.sources = {}
    broken.append(c)
    c = _base()
    c.sources = {"x": SourceParams(weight=0.0)}
    broken.append(c)
    for config in broken:
        with pytest.raises(ConfigError):
            validate(config)


def test_formatting():
    assert odd.format_range({"lo": 0.0, "hi": 1.0}) == "[0, 1]"
    assert odd.format_range({"lo": 0.0, "hi": float("inf"), "lo_open": True}) == "(0, inf)"
    assert odd.format_range({"lo": 0.0, "hi": 1.0, "lo_open": True, "hi_open": True}) == "(0, 1)"
    assert odd.format_range({"lo": 0, "hi": 2**63 - 1}) == "[0, 2^63 - 1]"
    assert odd.format_range({"lo": None, "hi": 5.0}) == "(-inf, 5]"  # an infinite end is open
    assert odd.format_range({"lo": None, "hi": None}) == "any"
    assert odd.format_default(100000.0) == "100,000"
    assert odd.format_default(0.05) == "0.05"
    assert odd.format_default(20250626) == "20250626"
    assert odd.format_default(None) == "null"
    assert odd.format_default("cambodia") == "`cambodia`"


def test_source_weights_listed():
    rows = odd.source_rows()
    assert [r[0] for r in rows] == [f"`{n}`" for n in RunConfig().sources]
    assert rows[0][1] == "589"  # RC9: China


def test_every_source_id_the_model_may_cite_is_listed_in_docs_sources():
    text = (odd.ODD_PATH.parent / "SOURCES.md").read_text()
    listed = set(re.findall(r"^\| ((?:AM|SC|TG|RC|IN|EN)\d+) \|", text, flags=re.M))
    assert listed >= FACTS_IDS, sorted(FACTS_IDS - listed)
