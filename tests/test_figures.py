"""The one figure style: palette, bands, date and number axes, resolution and the vector copy."""

from __future__ import annotations

import datetime as dt
import struct
import xml.etree.ElementTree as ET

import matplotlib.dates as mdates
import numpy as np
import pandas as pd
import pytest
from matplotlib.colors import to_hex, to_rgba

from sim.report import figures

METADATA = {"git": {"commit": "0123456789abcdef", "dirty": False}, "config_hash": "cafe", "seeds": {}}
START = dt.date(2024, 1, 1)


@pytest.fixture
def timeseries() -> pd.DataFrame:
    """Two scenarios x 5 replicates, weekly 2022-2026; the second holds about half as many workers."""
    dates = pd.date_range("2022-01-01", "2026-12-31", freq="7D")
    rng = np.random.default_rng(0)
    rows = []
    for k, scenario in enumerate(("baseline", "policy")):
        for replicate in range(5):
            level = 120_000 * (1 - 0.5 * k) * rng.uniform(0.9, 1.1)
            rows.append(
                pd.DataFrame(
                    {
                        "scenario": scenario,
                        "replicate": replicate,
                        "date": dates,
                        "workers_held": level * np.linspace(0.5, 1, len(dates)),
                        "target_losses": level * 100.0,
                    }
                )
            )
    return pd.concat(rows, ignore_index=True)


def _png_dpi(data: bytes) -> float:
    """Resolution recorded in a PNG's pHYs chunk (pixels per metre), in dots per inch."""
    at = data.index(b"pHYs")
    x_per_metre, _, unit = struct.unpack(">IIB", data[at + 4 : at + 13])
    assert unit == 1  # metres
    return x_per_metre * 0.0254


def test_every_figure_is_saved_as_png_at_200_dpi_with_an_svg_beside_it(timeseries, tmp_path):
    fig = figures.band_plot(timeseries, "workers_held", METADATA, "Workers held", by="scenario")
    written = figures.save(tmp_path / "figures", {"workers_held": fig})
    assert sorted(p.name for p in written) == ["workers_held.png", "workers_held.svg"]
    png = (tmp_path / "figures" / "workers_held.png").read_bytes()
    assert _png_dpi(png) == pytest.approx(figures.DPI, abs=0.5) and figures.DPI >= 200
    width = struct.unpack(">I", png[16:20])[0]
    assert width >= 8 * 200 * 0.9  # an 8-inch figure at 200 dpi, less the trimmed margin
    svg = ET.parse(tmp_path / "figures" / "workers_held.svg").getroot()
    assert svg.tag == "{http://www.w3.org/2000/svg}svg"
    assert len(list(svg.iter("{http://www.w3.org/2000/svg}path"))) > 20  # drawn as vectors
    # The same figure drawn again gives the same files (no dates, fixed ids).
    again = figures.band_plot(timeseries, "workers_held", METADATA, "Workers held", by="scenario")
    assert figures.encode(again) == {
        "png": png,
        "svg": (tmp_path / "figures" / "workers_held.svg").read_bytes(),
    }


def test_time_axes_show_dates_counts_with_separators_and_money_in_millions(timeseries):
    fig = figures.band_plot(timeseries, "workers_held", METADATA, "Workers held", by="scenario", start=START)
    ax = fig.axes[0]
    assert isinstance(ax.xaxis.get_major_formatter(), mdates.ConciseDateFormatter)
    fig.canvas.draw()
    years = [t.get_text() for t in ax.get_xticklabels() if t.get_text()]
    assert {"2023", "2024", "2025", "2026"} <= set(years)
    counts = [t.get_text() for t in ax.get_yticklabels() if t.get_text()]
    assert any("," in label for label in counts) and "100,000" in counts
    assert ax.get_ylabel() == "workers held [people]"
    # The policy start is marked where it is, and says so.
    lines = [line for line in ax.get_lines() if line.get_linestyle() == "--"]
    assert [pd.Timestamp(line.get_xdata()[0]).date() for line in lines] == [START]
    assert any("policy starts, Jan 2024" in t.get_text() for t in ax.texts)

    money = figures.band_plot(timeseries, "target_losses", METADATA, "Losses", cumulative=True, by="scenario")
    assert money.axes[0].get_ylabel() == "target losses, cumulative [USD billion]"
    assert figures.money_scale(3.2e7) == (1e6, "USD million")
    assert figures.GROUPED(1_234_567, 0) == "1,234,567" and figures.GROUPED(-2500.0, 0) == "\u22122,500"
    assert figures.GROUPED(0.25, 0) == "0.25"


def test_palette_is_okabe_ito_and_overlapping_bands_stay_apart(timeseries):
    okabe_ito = {"#000000", "#e69f00", "#56b4e9", "#009e73", "#f0e442", "#0072b2", "#d55e00", "#cc79a7"}
    assert {c.lower() for c in figures.COLOURS} == okabe_ito
    fig = figures.band_plot(timeseries, "workers_held", METADATA, "Workers held", by="scenario")
    ax = fig.axes[0]
    medians = [to_hex(line.get_color()) for line in ax.get_lines()]
    assert medians == [c.lower() for c in figures.COLOURS[:2]]
    bands = ax.collections
    assert len(bands) == 2
    for k, band in enumerate(bands):
        face, edge = band.get_facecolor()[0], band.get_edgecolor()[0]
        assert tuple(face) == pytest.approx(to_rgba(figures.COLOURS[k], figures.BAND_ALPHA))
        assert edge[3] > face[3]  # an outline stronger than the fill marks each band's edge
    # Light fills: where the two bands overlap, the lines and the second band's hatch still show.
    assert figures.BAND_ALPHA <= 0.2
    assert not bands[0].get_hatch() and bands[1].get_hatch()
