"""Typed model parameters: the schema every configuration is checked against.

Each parameter is declared with :func:`param`, which records its unit, meaning, source and allowed range
in the dataclass field's metadata. The source is a source id from ``docs/SOURCES.md``, the word
``calibrated`` (a free parameter fitted to published figures: exactly those in ``calibration.free`` of
``configs/calibration/default.yaml``, whose default is then a starting value) or ``assumption``. The
same metadata drives validation (:func:`validate`) and the parameter table in ``docs/ODD.md``
(:mod:`sim.report.odd`), so the documentation cannot drift from the code.

These dataclasses double as Hydra structured-config schemas (registered in :mod:`sim.runs.config`); they stay
mutable because frozen dataclasses break Hydra overrides. The model itself never sees Hydra: it receives a
:class:`ModelParams` instance.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import difflib
import math
import numbers
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

INF = math.inf


class ConfigError(ValueError):
    """A configuration value is invalid; the message is one line naming key, value and allowed range."""


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest of ``choices`` to a mistyped ``word``, else ``""``."""
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def param(
    default: Any,
    unit: str,
    doc: str,
    source: str,
    lo: float | None = None,
    hi: float | None = None,
    lo_open: bool = False,
    hi_open: bool = False,
) -> Any:
    """Declare a documented, range-checked parameter.

    A numeric parameter must be a finite number (never NaN or infinite, whatever its range) and, if its
    type is ``int``, a whole number; a parameter may be null only if its type says so (``float | None``).

    Args:
        default: Default value.
        unit: Unit of measure ("1/year", "USD", "share", "-" for a count or flag).
        doc: One-line meaning.
        source: Source id(s) (docs/SOURCES.md), "calibrated" or "assumption" (optionally with a note).
        lo: Smallest allowed value (inclusive unless ``lo_open``), or None.
        hi: Largest allowed value (inclusive unless ``hi_open``), or None.
        lo_open: Whether ``lo`` itself is excluded (for strictly positive quantities).
        hi_open: Whether ``hi`` itself is excluded (a share that must stay below 1).

    Returns:
        A dataclass field carrying the metadata.
    """
    meta = {
        "unit": unit,
        "doc": doc,
        "source": source,
        "lo": lo,
        "hi": hi,
        "lo_open": lo_open,
        "hi_open": hi_open,
    }
    if isinstance(default, dict | list):
        return field(default_factory=lambda: _copy(default), metadata=meta)
    return field(default=default, metadata=meta)


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    if dataclasses.is_dataclass(value):
        return dataclasses.replace(value)
    return value


def group(cls: type) -> Any:
    """A nested parameter group with default values."""
    return field(default_factory=cls)


# --------------------------------------------------------------------------------------------------
# Parameter groups
# --------------------------------------------------------------------------------------------------


@dataclass
class TimeParams:
    """Simulated calendar."""

    start: str = param("2020-01-01", "date", "First simulated day", "FACTS §7 (gambling ban in force)")
    end: str = param("2026-12-31", "date", "Last simulated day", "FACTS §7 (timeline); assumption")
    step_days: float = param(7.0, "day", "Length of one step", "assumption", lo=0.25, hi=31.0)


@dataclass
class JurisdictionParams:
    """A country whose police, towns and openness to compounds are modelled."""

    towns: int = param(16, "-", "Towns/cities that can host compounds", "AM1", lo=1, hi=1000)
    hub_share: float = param(
        0.42, "share", "Share of compound sites in the largest hub town", "AM3 (22 of 53)", 0.0, 1.0
    )
    initial_compounds: int = param(
        24,
        "-",
        "Compounds operating at the start date",
        "AM1, AM11: hand-tuned in issue 12 so that the count stays in AM1's range; not fitted",
        lo=0,
        hi=10000,
    )
    openness: float = param(
        1.0,
        "-",
        "Relative attractiveness for opening or relocating compounds",
        "assumption",
        0.0,
        100,
    )
    raid_capacity_factor: float = param(
        1.0,
        "-",
        "Raids a year here relative to police.raid_capacity",
        "assumption (in proportion to initial compounds where several jurisdictions are run)",
        0.0,
        100.0,
    )
    corruption: float | None = param(
        None,
        "probability",
        "Corruption here; null uses police.corruption",
        "assumption: null inherits police.corruption; a value set here is that jurisdiction's own assumption",
        0.0,
        1.0,
    )


@dataclass
class SourceParams:
    """A source country of trafficked workers."""

    weight: float = param(
        1.0, "-", "Relative share of recruits from this country", "RC9 (2025 arrest wave)", 0.0, INF
    )
    awareness: float = param(
        0.1, "share", "Awareness of fake job ads among deceived jobseekers", "assumption", 0.0, 1.0
    )


@dataclass
class CampaignParams:
    """A dated crackdown: extra raids and a capacity multiplier in one jurisdiction (EN1)."""

    start: str = param("2022-09-15", "date", "First day of the campaign", "EN1")
    end: str = param("2022-10-31", "date", "Last day of the campaign", "EN1")
    jurisdiction: str = param(
        "cambodia", "-", "Jurisdiction it takes place in (a key of jurisdictions)", "EN1"
    )
    towns: str = param("hub", "-", "Where its extra raids fall: hub (town 0) or all", "EN1")
    raids: float = param(0.0, "raids", "Extra raids over the campaign (Poisson)", "EN1", 0.0, 10000.0)
    capacity_multiplier: float = param(
        1.0,
        "-",
        "Factor on the jurisdiction's raid capacity during the campaign",
        "EN1; value assumption",
        0.0,
        100.0,
    )
    leak_factor: float = param(
        1.0,
        "-",
        "Factor on each raid's tip-off probability during the campaign",
        "EN1; value assumption",
        0.0,
        1.0,
    )


def _default_campaigns() -> dict[str, CampaignParams]:
    # EN1: close to 2,000 people taken out of four Sihanoukville sites in Sept-Oct 2022, un-leaked;
    # later raids found the sites emptied (the follow-up's capacity and leaks are assumptions).
    return {
        "en1_crackdown": CampaignParams(
            start="2022-09-15",
            end="2022-10-31",
            towns="hub",
            raids=4.0,
            capacity_multiplier=1.0,
            leak_factor=0.0,
        ),
        "en1_followup": CampaignParams(
            start="2022-11-01",
            end="2023-03-31",
            towns="all",
            raids=0.0,
            capacity_multiplier=2.0,
            leak_factor=1.0,
        ),
    }


@dataclass
class PoliceParams:
    """Police units, one per jurisdiction: raids, corruption and rescue practice."""

    raid_capacity: float = param(
        20.0,
        "raids/year",
        "Raids police can carry out per year in a jurisdiction (times its raid_capacity_factor), "
        "shared among its compounds",
        "calibrated (AM7, AM10); default hand-tuned in issue 12",
        0.0,
        5000.0,
    )
    reference_compounds: float = param(
        75.0,
        "compounds",
        "Per-compound variant only (mechanisms.raid_capacity=false): raids per compound per year = "
        "capacity / this",
        "AM1 (midpoint of 53-98)",
        0.0,
        10000.0,
        lo_open=True,
    )
    campaigns: dict[str, CampaignParams] = field(
        default_factory=_default_campaigns,
        metadata={
            "doc": "Dated crackdowns by name (time-varying enforcement in the baseline)",
            "unit": "-",
            "source": "EN1",
        },
    )
    protected_tipoff: float = param(
        0.7,
        "probability",
        "Chance a raid on a protection-paying compound is leaked (mechanisms.tipoff_decoupled)",
        "EN2; value assumption",
        0.0,
        1.0,
    )
    rescue_act: float = param(
        0.3,
        "probability",
        "Chance police act on a help request that reached them and was not leaked (mechanisms.exit_routes)",
        "AM8; value assumption",
        0.0,
        1.0,
    )
    corruption: float = param(
        0.411,
        "probability",
        "Chance a raid on an unprotected compound is leaked, a help request is passed to the boss, a bribe "
        "is accepted",
        "calibrated (AM7, AM9, EN4); default the old model's posterior median",
        0.0,
        1.0,
    )
    elite_raid_weight: float = param(
        0.2,
        "-",
        "Raid hazard of an elite-linked compound relative to others",
        "EN2; value assumption",
        0.0,
        1.0,
    )
    protected_raid_weight: float = param(
        0.5,
        "-",
        "Raid hazard of a protection-paying compound relative to others",
        "EN2; value assumption",
        0.0,
        1.0,
    )
    tipoff_evacuation: float = param(
        0.9,
        "share",
        "Share of workers moved out before a tipped-off raid",
        "EN1, EN2; value assumption",
        0.0,
        1.0,
    )
    closure_prob: float = param(
        0.2,
        "probability",
        "Chance an un-leaked raid shuts the compound down",
        "calibrated (AM7); default hand-tuned in issue 12",
        0.0,
        1.0,
    )
    relocate_after_raid: float = param(
        0.7,
        "probability",
        "Chance a raided compound that is not shut down moves to another town",
        "EN1; value hand-tuned to AM7 in issue 12",
        0.0,
        1.0,
    )
    relocate_after_tipoff: float = param(
        0.6,
        "probability",
        "Chance a tipped-off compound moves to another town",
        "EN1 (later raids found sites emptied); value hand-tuned in issue 12",
        0.0,
        1.0,
    )
    rescue_success: float = param(
        0.8,
        "probability",
        "Chance an un-leaked help request gets the caller (only) out",
        "AM8; value assumption",
        0.0,
        1.0,
    )
    bribe_per_worker: float = param(
        30.0,
        "USD/worker/month",
        "Protection paid to police by a protected compound",
        "EN4; value assumption",
        0.0,
        INF,
    )
    cross_border_friction: float = param(
        0.3,
        "-",
        "Weight of a site across a border relative to one at home, when relocating or opening",
        "EN1; value assumption",
        0.0,
        1.0,
    )
    help_leak_factor: float = param(
        1.0,
        "-",
        "Chance a help request is passed back to the boss, relative to the corruption probability "
        "(1: requests go through the local police; lowered by victim protection)",
        "AM9; assumption",
        0.0,
        1.0,
    )
    bribe_factor: float = param(
        1.0,
        "-",
        "Chance a bribe for protection is accepted, relative to the corruption probability (0: "
        "protection is not for sale, e.g. after kingpin removal)",
        "EN4; assumption",
        0.0,
        1.0,
    )


@dataclass
class RecruitmentParams:
    """Recruiters' deceptive job ads, prices and forced recruiting by captives."""

    recruiters_per_source: int = param(
        2,
        "-",
        "Recruiter agents operating in each source country",
        "RC1; value assumption",
        1,
        1000,
    )
    ad_reach: float = param(
        135000.0,
        "people/year",
        "Recruits all recruiters together can deliver per year with zero awareness, split among source "
        "countries by their weight",
        "calibrated (SC1); default hand-tuned in issue 12",
        0.0,
        1e7,  # 80 times the default: beyond it one step's supply is more than the recruit sampler takes
    )
    deceived_share: float = param(
        0.6,
        "share",
        "Share of would-be recruits deceived by fake job ads (rest join knowingly), before awareness",
        "RC3 (wide prior)",
        0.0,
        1.0,
    )
    price: float = param(
        2000.0,
        "USD",
        "Price a compound pays a recruiter per recruit (recruiter's fee)",
        "RC4, RC5 ($650-$3,500)",
        0.0,
        INF,
    )
    captive_recruit_rate: float = param(
        0.05,
        "people/worker/year",
        "Recruits delivered by captives forced to recruit",
        "RC1; value assumption",
        0.0,
        100.0,
    )
    covid_multiplier: float = param(
        1.5,
        "-",
        "Ad response multiplier during COVID unemployment (Mar 2020 - Dec 2021)",
        "FACTS §7; value assumption",
        0.0,
        100.0,
    )


@dataclass
class CompoundParams:
    """Compounds and their bosses: size, security, quotas, punishment, costs and growth."""

    bosses: int = param(15, "-", "Compound bosses (syndicates) at the start", "assumption", 1, 10000)
    elite_share: float = param(
        0.3,
        "share",
        "Share of bosses with elite links (raids steered away)",
        "EN2, EN4; value assumption",
        0.0,
        1.0,
    )
    capacity_median: float = param(
        1500.0,
        "workers",
        "Median compound capacity",
        "SC1 / AM1: about 100,000 held in 53-98 compounds; hand-set, not fitted",
        1.0,
        INF,
    )
    capacity_sigma: float = param(0.8, "-", "Log-normal spread of compound capacity", "assumption", 0.0, 5.0)
    initial_fill: float = param(
        0.3, "share", "Share of capacity filled at the start date", "assumption", 0.0, 1.0
    )
    security: float = param(
        0.9,
        "share",
        "How much compound security cuts escape attempts (1 = escape impossible)",
        "seed article (barbed wire, guards); value assumption",
        0.0,
        1.0,
    )
    quota: float = param(
        31000.0, "USD/worker/month", "Monthly revenue quota per worker", "AM13, IN2", 0.0, INF
    )
    grace_months: float = param(
        1.0,
        "month",
        "New recruits are not punished for missed quotas this long",
        "IN4; value assumption",
        0.0,
        120.0,
    )
    punish_rate: float = param(
        2.0,
        "levels/month",
        "Rate punishment escalates while a worker misses quota",
        "AM12, IN4; value assumption",
        0.0,
        INF,
    )
    punish_decay: float = param(
        1.0,
        "levels/month",
        "Rate punishment falls while a worker meets quota",
        "assumption",
        0.0,
        INF,
    )
    resale_level: int = param(
        4,
        "level",
        "Punishment level at which an underperformer is put up for resale",
        "RC6; value assumption",
        1,
        100,
    )
    resale_rate: float = param(
        2.0,
        "1/year",
        "Resale hazard of a worker at or above the resale level",
        "RC6; value assumption",
        0.0,
        INF,
    )
    resale_price: float = param(
        3500.0,
        "USD",
        "Price of a resold worker; added to the captive's buy-out price",
        "RC5, RC6",
        0.0,
        INF,
    )
    running_cost: float = param(
        300.0, "USD/worker/month", "Upkeep and guarding per worker held", "assumption", 0.0, INF
    )
    fixed_cost: float = param(
        100000.0,
        "USD/month",
        "Fixed running cost of a compound (at scale 1)",
        "assumption",
        0.0,
        INF,
    )
    seizure_share: float = param(
        0.0,
        "share",
        "Share of scam takings seized by financial authorities (0 in the baseline; raised by "
        "financial disruption)",
        "assumption",
        0.0,
        1.0,
    )
    laundering_cost: float = param(
        0.0,
        "share",
        "Share of scam takings spent on laundering them, on top of running costs (0 in the baseline, "
        "where it is part of running costs; raised by financial disruption)",
        "assumption",
        0.0,
        1.0,
    )
    expansion_rate: float = param(
        0.5,
        "1/year",
        "Rate a profitable boss opens a new compound",
        "calibrated (AM1); default hand-tuned in issue 12 (AM11's growth validates it)",
        0.0,
        INF,
    )
    close_rate: float = param(
        2.0, "1/year", "Rate an unprofitable compound is closed by its boss", "assumption", 0.0, INF
    )
    profit_months: float = param(
        6.0,
        "month",
        "Memory of the boss's trailing profit estimate",
        "assumption",
        0.25,
        120.0,
        lo_open=False,
    )


@dataclass
class WorkerParams:
    """Trafficked workers: productivity, help requests, escape, ransom."""

    skill_sigma: float = param(
        0.5, "-", "Log-normal spread of worker productivity", "RC8; value assumption", 0.0, 5.0
    )
    effort_per_level: float = param(
        0.1, "-", "Productivity gain per punishment level (coerced effort)", "assumption", 0.0, 10.0
    )
    help_rate: float = param(
        0.5,
        "1/year",
        "Help requests per worker per year (punishment level 0)",
        "AM8, AM9; assumption",
        0.0,
        INF,
    )
    escape_rate: float = param(
        1.0,
        "1/year",
        "Escape attempts per worker per year (before security)",
        "AM6; assumption",
        0.0,
        INF,
    )
    desperation: float = param(
        0.2,
        "-",
        "Relative rise of help requests and escapes per punishment level",
        "IN4; assumption",
        0.0,
        100.0,
    )
    ransom_rate: float = param(
        0.5,
        "1/year",
        "Rate a family pays a ransom at zero buy-out price",
        "RC7; assumption",
        0.0,
        INF,
    )
    ransom_scale: float = param(
        10000.0,
        "USD",
        "Buy-out price at which the ransom rate falls by a factor e",
        "RC7 ($2k-$30k); value assumption",
        1.0,
        INF,
    )
    leak_punishment: int = param(
        2,
        "levels",
        "Punishment added when a help request is passed back to the boss",
        "AM9; assumption",
        0,
        100,
    )
    leak_resale: float = param(
        0.3,
        "probability",
        "Chance a worker whose help request leaked is resold",
        "AM9, RC6; assumption",
        0.0,
        1.0,
    )
    help_reach: float = param(
        0.3,
        "probability",
        "Chance a help request reaches police at all (phones confiscated; mechanisms.exit_routes)",
        "AM8, seed article; value assumption",
        0.0,
        1.0,
    )
    escape_success: float = param(
        0.5,
        "probability",
        "Chance an escape attempt succeeds; a failed one is punished like a leaked request "
        "(mechanisms.exit_routes)",
        "AM6, seed article; value assumption",
        0.0,
        1.0,
    )
    retraffic_share: float = param(
        0.1,
        "probability",
        "Chance a person released after a raid or rescued is re-trafficked to another compound "
        "(mechanisms.exit_routes)",
        "RC6, EN3; value assumption",
        0.0,
        1.0,
    )
    extorted_share: float = param(
        0.5,
        "probability",
        "Chance a person leaving by release or rescue is extorted in detention (mechanisms.exit_routes)",
        "EN3; value assumption",
        0.0,
        1.0,
    )
    detention_bribe: float = param(
        300.0, "USD", "What an extorted person pays in detention", "EN3; value assumption", 0.0, INF
    )


@dataclass
class TargetParams:
    """Targets of the scams: grooming, investing, losses."""

    groom_rate: float = param(
        0.06,
        "targets/worker/month",
        "Targets a worker of unit productivity starts grooming",
        "calibrated (IN2, TG5: no published rate); default the old model's posterior median",
        0.0,
        INF,
    )
    invest_rate: float = param(
        1.0,
        "1/month",
        "Rate a groomed target of susceptibility 1 starts investing",
        "TG4, TG5 (free)",
        0.0,
        INF,
    )
    groom_dropout: float = param(
        1.0, "1/month", "Rate a groomed target breaks off before investing", "assumption", 0.0, INF
    )
    invest_dropout: float = param(
        0.3,
        "1/month",
        "Rate an investing target of susceptibility 0 stops paying",
        "assumption",
        0.0,
        INF,
    )
    wealth_median: float = param(
        127000.0,
        "USD",
        "Median wealth a target could be drained of",
        "calibrated (TG1); default hand-tuned in issue 12",
        0.0,
        INF,
        lo_open=True,
    )
    wealth_sigma: float = param(
        1.28,
        "-",
        "Log-normal spread of target wealth (losses inherit the heavy tail: TG1 mean/median = 3)",
        "calibrated (TG1 mean/median)",
        0.0,
        5.0,
    )
    # Shapes below 0.5 put noticeable mass within 1e-6 of 0 or 1, where the expected-yield quadrature's
    # grid does not reach (and near 1e-300 its density underflows to 0/0).
    susceptibility_a: float = param(
        2.0, "-", "Beta(a, b) susceptibility of targets: a", "assumption", 0.5, 100.0
    )
    susceptibility_b: float = param(
        5.0, "-", "Beta(a, b) susceptibility of targets: b", "assumption", 0.5, 100.0
    )
    awareness: float = param(
        0.0,
        "share",
        "Awareness of scams among targets; scales susceptibility by (1 - awareness)",
        "assumption",
        0.0,
        1.0,
    )
    drain_months: float = param(
        3.0,
        "month",
        "Time scale over which an investing target is drained",
        "TG4 (weeks to months)",
        0.01,
        120.0,
    )
    escalation: float = param(
        2.0, "-", "Weibull shape of cumulative deposits (> 1: deposits escalate)", "TG4", 0.1, 10.0
    )
    drain_share: float = param(
        0.95,
        "share",
        "Share of wealth at which a target counts as drained",
        "TG4; assumption",
        0.0,
        1.0,
        lo_open=True,
        hi_open=True,  # the deposit curve reaches the whole wealth only in the limit: a drain time of inf
    )


@dataclass
class MechanismParams:
    """Structural switches (issue 12): each mechanism can be switched off to show its effect.

    Structure cannot change mid-run, so interventions cannot touch this group.
    """

    raid_capacity: bool = param(
        True,
        "-",
        "Raids a year per jurisdiction shared among its compounds (false: a rate per compound, "
        "police.raid_capacity / police.reference_compounds)",
        "assumption (structural variant)",
    )
    raid_costs: bool = param(
        True,
        "-",
        "An un-leaked raid seizes money, breaks the compound's pipeline of targets and stops its work",
        "assumption (structural variant)",
    )
    site_state: bool = param(
        True,
        "-",
        "Sites carry state (raided sites cool off, raid closures are sealed); moving costs money and time",
        "assumption (structural variant)",
    )
    entry_exit: bool = param(
        True,
        "-",
        "New syndicates enter where a new compound would pay; bosses weigh expected raid losses",
        "assumption (structural variant)",
    )
    tipoff_decoupled: bool = param(
        True,
        "-",
        "Protected compounds are tipped off with police.protected_tipoff (false: always); leaked raids "
        "cost evacuation and downtime",
        "assumption (structural variant)",
    )
    workforce_economics: bool = param(
        True,
        "-",
        "Compounds stop ordering and shed workers whose expected value is negative",
        "assumption (structural variant)",
    )
    exit_routes: bool = param(
        True,
        "-",
        "Help requests must reach police who act; escapes can fail; the released may be re-trafficked "
        "or extorted",
        "assumption (structural variant)",
    )
    expected_profit: bool = param(
        True,
        "-",
        "Bosses decide on smoothed expected profit (false: on realised takings, which is not scale-neutral)",
        "assumption (correctness fix)",
    )


@dataclass
class RaidParams:
    """What a raid costs the compound (mechanisms.raid_costs, mechanisms.tipoff_decoupled)."""

    downtime_months: float = param(
        2.0, "month", "Work stops this long after an un-leaked raid", "assumption", 0.0, 24.0
    )
    cash_months: float = param(
        1.0, "month", "Months of expected takings seized in an un-leaked raid", "assumption", 0.0, 12.0
    )
    asset_loss_per_worker: float = param(
        500.0, "USD/worker", "Equipment seized per worker held (phones, computers)", "assumption", 0.0, INF
    )
    evacuation_cost: float = param(
        100.0, "USD/worker", "Cost of moving a worker out before a leaked raid", "assumption", 0.0, INF
    )
    evacuation_loss: float = param(
        0.05,
        "share",
        "Share of workers moved out before a leaked raid who are lost (released) on the way",
        "EN1, EN2 (workers seen leaving); value assumption",
        0.0,
        1.0,
    )
    leaked_downtime_months: float = param(
        0.25, "month", "Work stops this long after a leaked raid", "assumption", 0.0, 12.0
    )


@dataclass
class SiteParams:
    """Sites and moves (mechanisms.site_state)."""

    move_months: float = param(
        1.0,
        "month",
        "Work stops this long when a compound moves",
        "EN1 (moves happen); value assumption",
        0.0,
        12.0,
    )
    move_cost_per_worker: float = param(
        200.0, "USD/worker", "Cost of moving a held worker to a new site", "assumption", 0.0, INF
    )
    refit_cost: float = param(
        200000.0, "USD", "Cost of refitting a free existing site (at scale 1)", "assumption", 0.0, INF
    )
    build_cost: float = param(
        1000000.0,
        "USD",
        "Cost of a new site (at scale 1)",
        "AM11 (former casinos converted); value assumption",
        0.0,
        INF,
    )
    seal_months: float = param(
        24.0, "month", "A site shut by a raid is sealed this long", "assumption", 0.0, 240.0
    )
    cool_months: float = param(
        6.0,
        "month",
        "A site left within this long of a raid on it cannot be reused for this long",
        "assumption",
        0.0,
        120.0,
    )


@dataclass
class EntryParams:
    """Syndicates entering and leaving (mechanisms.entry_exit)."""

    rate: float = param(
        1.0,
        "1/year",
        "New syndicates a year in a jurisdiction of openness 1 when a new compound's margin is 1",
        "AM11 (growth in the window); hand-tuned",
        0.0,
        1000.0,
    )
    horizon_months: float = param(
        12.0,
        "month",
        "Months of margin a boss counts as lost if a raid shuts a compound",
        "assumption",
        0.0,
        120.0,
    )
    fill: float = param(
        0.8, "share", "Share of capacity a new compound expects to fill", "assumption", 0.0, 1.0, lo_open=True
    )


@dataclass
class WorkforceParams:
    """Workforces tied to economics (mechanisms.workforce_economics)."""

    tenure_months: float = param(
        9.0,
        "month",
        "Expected stay over which a boss values a new recruit",
        "IN3 (weeks to over a year); the model's mean stay",
        0.0,
        120.0,
        lo_open=True,
    )
    shed_rate: float = param(
        12.0, "1/year", "Rate a worker of negative expected value is shed", "assumption", 0.0, INF
    )
    sell_share: float = param(
        0.5,
        "share",
        "Share of shed workers offered for resale (the rest are abandoned)",
        "RC6; value assumption",
        0.0,
        1.0,
    )


@dataclass
class SurveyParams:
    """How Amnesty's site visits are read (the AM7 observation model)."""

    empty_share: float = param(
        0.1,
        "share",
        "A compound holding less than this share of its capacity at window end is seen as emptied",
        "assumption (what a visit would see as gone)",
        0.0,
        1.0,
    )


def _default_jurisdictions() -> dict[str, JurisdictionParams]:
    return {"cambodia": JurisdictionParams()}


def _default_sources() -> dict[str, SourceParams]:
    # RC9: nationality mix of one 2025 Cambodian arrest wave (n = 2,137).
    counts = {
        "china": 589,
        "vietnam": 429,
        "indonesia": 271,
        "bangladesh": 70,
        "korea": 57,
        "pakistan": 42,
        "other": 679,
    }
    return {name: SourceParams(weight=float(n)) for name, n in counts.items()}


@dataclass
class ModelParams:
    """Everything the model needs: the parameters of one simulated world."""

    time: TimeParams = group(TimeParams)
    scale: float = param(
        1.0,
        "-",
        "Population scale: multiplies compound capacities and recruiting; people and money "
        "outputs are divided by it",
        "assumption (speed knob)",
        0.0,
        10.0,
        lo_open=True,
    )
    focal: str = param("cambodia", "-", "Jurisdiction the published figures (AM*, SC1) refer to", "AM1, SC1")
    jurisdictions: dict[str, JurisdictionParams] = field(
        default_factory=_default_jurisdictions,
        metadata={"doc": "Jurisdictions by name", "unit": "-", "source": "AM1, AM3"},
    )
    sources: dict[str, SourceParams] = field(
        default_factory=_default_sources,
        metadata={"doc": "Source countries of recruits by name", "unit": "-", "source": "RC9, SC4"},
    )
    police: PoliceParams = group(PoliceParams)
    recruitment: RecruitmentParams = group(RecruitmentParams)
    compounds: CompoundParams = group(CompoundParams)
    workers: WorkerParams = group(WorkerParams)
    targets: TargetParams = group(TargetParams)
    mechanisms: MechanismParams = group(MechanismParams)
    raids: RaidParams = group(RaidParams)
    sites: SiteParams = group(SiteParams)
    entry: EntryParams = group(EntryParams)
    workforce: WorkforceParams = group(WorkforceParams)
    survey: SurveyParams = group(SurveyParams)
    policies: dict[str, Any] = field(
        default_factory=dict,
        metadata={
            "doc": "Interventions in force, by name: each has a `kind` (sim.model.interventions.KINDS), "
            "a window (`start`, `end`) and its settings; usually set by `scenario=<name>`",
            "unit": "-",
            "source": "assumption (policy levers; configs/policy/)",
        },
    )

    def police_for(self, name: str) -> tuple[float, float]:
        """Raid capacity (raids a year) and corruption in force in jurisdiction ``name``."""
        j = self.jurisdictions[name]
        capacity = self.police.raid_capacity * j.raid_capacity_factor
        corruption = self.police.corruption if j.corruption is None else j.corruption
        return capacity, corruption


# --------------------------------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------------------------------


def format_interval(meta: dict[str, Any], number: Callable[[Any], str] = "{:g}".format) -> str:
    """The allowed range in field metadata ``meta`` (see :func:`param`), e.g. ``[0, 1]`` or ``(0, inf)``.

    An open end (``lo_open``, ``hi_open``) gets a round bracket; so does an infinite or missing one,
    shown as ``-inf`` or ``inf``.

    Args:
        meta: The field's metadata.
        number: Formats a finite bound (error messages: ``{:g}``; the ODD its own table format).
    """
    lo, hi = meta.get("lo"), meta.get("hi")
    lo_inf, hi_inf = lo is None or lo == -INF, hi is None or hi == INF
    left = "(" if lo_inf or meta.get("lo_open") else "["
    right = ")" if hi_inf or meta.get("hi_open") else "]"
    return f"{left}{'-inf' if lo_inf else number(lo)}, {'inf' if hi_inf else number(hi)}{right}"


def check_value(key: str, value: Any, meta: dict[str, Any], integer: bool = False) -> None:
    """Check number ``value`` of ``key`` against the range in field metadata ``meta`` (see :func:`param`).

    Raises:
        ConfigError: If it is not a finite number (a whole one if ``integer``) or is outside the range
            (one line naming key, value and what is allowed).
    """
    allowed = f"allowed: {'whole' if integer else 'finite'} numbers in {format_interval(meta)}"
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ConfigError(f"{key}={value!r} is not a number; {allowed}")
    if not math.isfinite(value):
        raise ConfigError(f"{key}={value!r} is not a finite number; {allowed}")
    if integer and not isinstance(value, numbers.Integral):
        raise ConfigError(f"{key}={value!r} is not a whole number; {allowed}")
    lo, hi = meta.get("lo"), meta.get("hi")
    too_low = lo is not None and (value <= lo if meta.get("lo_open") else value < lo)
    too_high = hi is not None and (value >= hi if meta.get("hi_open") else value > hi)
    if too_low or too_high:
        raise ConfigError(f"{key}={value!r} is outside the allowed range {format_interval(meta)}")


def value_type(f: dataclasses.Field) -> tuple[str, bool]:
    """The declared type of field ``f`` without ``None`` ("float", "int", "list[str]", ...); nullable?"""
    parts = [part.strip() for part in str(f.type).split("|")]
    return " | ".join(p for p in parts if p != "None"), "None" in parts


def check_field(key: str, value: Any, f: dataclasses.Field) -> None:
    """Check ``value`` of ``key`` against the declaration of field ``f``: null, type and range.

    Raises:
        ConfigError: One line naming key, value and what is allowed.
    """
    kind, nullable = value_type(f)
    meta = dict(f.metadata)
    if value is None:
        if not nullable:
            names = {"int": "whole number", "float": "number", "str": "string", "list[str]": "list of names"}
            names["bool"] = "true or false"
            expected = f"a {names.get(kind, kind)}"
            if kind in ("int", "float"):
                expected += f" in {format_interval(meta)}"
            raise ConfigError(f"{key}=null is not allowed; expected {expected}")
    elif kind in ("int", "float"):
        check_value(key, value, meta, integer=kind == "int")
    elif kind == "str" and not isinstance(value, str):
        raise ConfigError(f"{key}={value!r} is not a string")
    elif kind == "bool" and not isinstance(value, bool):
        raise ConfigError(f"{key}={value!r} is not true or false")
    elif kind == "list[str]" and not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
        raise ConfigError(f"{key}={value!r} is not a list of names")


def _walk(obj: Any, prefix: str) -> None:
    for f in dataclasses.fields(obj):
        key = f"{prefix}{f.name}"
        value = getattr(obj, f.name)
        if dataclasses.is_dataclass(value):
            _walk(value, key + ".")
        elif isinstance(value, dict):
            for name, sub in value.items():
                if dataclasses.is_dataclass(sub):
                    _walk(sub, f"{key}.{name}.")
        else:
            check_field(key, value, f)


def parse_date(key: str, value: str) -> dt.date:
    """Parse an ISO date, raising a one-line :class:`ConfigError` naming the key on failure."""
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise ConfigError(f"{key}={value!r} is not a date; expected YYYY-MM-DD") from None


def check_ranges(obj: Any, prefix: str = "") -> None:
    """Check every field of dataclass ``obj`` (keys ``<prefix><field>``) with :func:`check_field`.

    Raises:
        ConfigError: On the first invalid value (one line naming key, value and what is allowed).
    """
    _walk(obj, prefix)
