"""Published figures the model is compared with (ids from ``docs/SOURCES.md``).

Only figures with an exact definition the model can reproduce are listed; each says which model
statistic it is compared with (see :mod:`sim.runs.metrics`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

# AM4: Amnesty's 18 months of research, roughly Jan 2024 - Jun 2025.
AMNESTY_WINDOW = (dt.date(2024, 1, 1), dt.date(2025, 6, 30))
# SC1: UN human rights office estimate of people held in Cambodia, Aug 2023.
SC1_MONTH = (dt.date(2023, 8, 1), dt.date(2023, 8, 31))
# Timeline (docs/SOURCES.md): COVID closures and unemployment fed recruitment in 2020-21.
COVID_PERIOD = (dt.date(2020, 3, 1), dt.date(2021, 12, 31))
# EN1: the Sept-Oct 2022 crackdown on Sihanoukville sites, and the months after it.
EN1_CRACKDOWN = (dt.date(2022, 9, 15), dt.date(2022, 10, 31))
EN1_AFTER = (dt.date(2022, 11, 1), dt.date(2023, 12, 31))
# SC3: sites in Cambodia "by January 2026" (to its end), counted from the gambling ban's coming into
# force on 1 Jan 2020 (AM11), when casino and hotel property became scam space.
SC3_WINDOW = (dt.date(2020, 1, 1), dt.date(2026, 1, 31))


@dataclass(frozen=True)
class Published:
    """A published figure and the model statistic it is compared with."""

    id: str
    statistic: str
    value: float
    low: float
    high: float
    text: str


PUBLISHED: tuple[Published, ...] = (
    Published(
        "AM1",
        "compounds_in_window",
        53,
        53,
        98,
        "compounds operating in the focal jurisdiction during Jan 2024-Jun 2025: >= 53 confirmed, "
        "about 98 with suspected sites (AM1, AM2)",
    ),
    Published(
        "AM7",
        "am7_remaining_share",
        36 / 51,
        36 / 51,
        39 / 51,
        "of those not shut, share never investigated or operating as before rather than investigated "
        "and gone: more than two-thirds of 53, read as 36-39 of 51",
    ),
    Published(
        "AM7",
        "am7_shut",
        2,
        0,
        5,
        "of those compounds, number shut by the authorities by the end of the window: about 2 of 53",
    ),
    Published(
        "AM10",
        "am10_raided",
        28,
        14,
        56,
        "locations the government says it cracked down on: 28 (a factor 2 either way: a government figure)",
    ),
    Published(
        "SC1",
        "workers_held_aug2023",
        100_000,
        10_000,
        150_000,
        "people held in the focal jurisdiction, Aug 2023: about 100,000 (SC2 range 10k-150k)",
    ),
    Published(
        "TG1",
        "loss_median",
        52_000,
        35_000,
        75_000,
        "median loss per defrauded target: about $52,000 (survey of 550; range is our tolerance)",
    ),
    Published(
        "TG1",
        "loss_mean",
        155_000,
        100_000,
        220_000,
        "mean loss per defrauded target: about $155,000 (TG2 $160k, TG3 $140k; range is our tolerance)",
    ),
    Published(
        "AM13",
        "quota_met_share",
        0.02,
        0.0,
        0.1,
        "share of held workers meeting the $31k monthly quota: about 2% (one compound, W grade)",
    ),
)
