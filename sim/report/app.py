"""The interactive browser app (``scamsim app``): a Mesa model on a local page, for workshops.

The page has a sidebar (how to use it, the policy preset and lever sliders, the seed, how far one
press of *Step* goes, and Mesa's Reset / Play / Step controls) and two tabs. *Scenario* shows the run
the sidebar sets: a map of the towns and their compounds, and compounds operating, workers held,
exits by route and target losses over time. *Scenario vs baseline* shows it beside the baseline, with
a table of the levers and headline figures. Both runs use the same seed, so they share random numbers
wherever their mechanisms agree and are identical when the scenario equals the baseline. The sidebar's
settings take effect when the model is reset (the "Reset" button).

The baseline is the configuration the app was started with (``scamsim app police.corruption=0.3``
changes it), at the **calibrated baseline** when a posterior is given (``posterior=<name>``, by
default the committed ``calibrated``): its median for every calibrated parameter not set on the command
line, as the briefs use it. Without a posterior (``posterior=null``) it runs the configured parameters,
labelled "hand-tuned defaults".

The CLI (:mod:`sim.report.app_config`) hands the composed configuration to the solara server process
in the environment variable :data:`sim.report.app_config.CONFIG_ENV` (YAML). The browser fetches
nothing from the internet: solara serves its JavaScript from the ``solara-assets`` package, plots are
PNGs drawn with matplotlib in the report's figure style, and the page uses no Markdown component
(solara's would load KaTeX from a CDN).
"""

from __future__ import annotations

import copy
import datetime as dt
import functools
import html
import os
from collections.abc import Callable

import numpy as np
import pandas as pd
import solara
import solara.lab
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from mesa import DataCollector
from mesa.visualization.solara_viz import ModelController
from mesa.visualization.utils import update_counter
from omegaconf import OmegaConf

from sim.model.ledger import EXIT_ROUTES
from sim.model.levers import LEVERS, Lever
from sim.model.model import ScamModel
from sim.model.schemas import ConfigError, ModelParams
from sim.report.app_config import CONFIG_ENV, compose_app
from sim.report.figures import COLOURS, PALETTE, time_axes
from sim.runs import posterior, scenarios
from sim.runs.config import RunConfig, to_run_config

# Compounds on the map are coloured by their standing with the police (the report's palette).
PROTECTED = PALETTE["orange"]  # pays protection: raids leaked, fewer raids planned
TIPPED_OFF = PALETTE["purple"]  # has had a raid leaked to it without paying protection
PLAIN = PALETTE["blue"]
RAID = PALETTE["vermillion"]  # ring around a compound raided in the last step

CALIBRATED = "calibrated baseline (posterior median)"
HAND_TUNED = "hand-tuned defaults (no calibrated posterior)"
NO_PRESET = "none (levers only)"


# -------------------------------------------------------------------------------------------------
# Configuration
# -------------------------------------------------------------------------------------------------


def calibrated(config: RunConfig) -> tuple[RunConfig, str]:
    """``config`` at its posterior's median, and which baseline that is (:data:`CALIBRATED` or not).

    Keys in ``config.fixed`` (set on the command line) keep their configured value. Without a usable
    posterior the configuration is returned as it is, labelled :data:`HAND_TUNED`.
    """
    if not config.posterior:
        return config, HAND_TUNED
    try:
        median = posterior.quantiles(config.posterior, [0.5]).iloc[0]
        values = {key: float(v) for key, v in median.items() if key not in config.fixed}
        return posterior.apply(config, values), CALIBRATED
    except ConfigError:
        return config, HAND_TUNED


@functools.cache
def base_config() -> tuple[RunConfig, str]:
    """The baseline and its label: :data:`CONFIG_ENV` if the CLI set it, else ``configs/app.yaml``."""
    text = os.environ.get(CONFIG_ENV)
    return calibrated(to_run_config(OmegaConf.create(text)) if text else compose_app()[0])


@functools.cache
def preset_policies(name: str) -> tuple[dict, str]:
    """The interventions (``policies``) and description of scenario ``name`` (``configs/scenario/``)."""
    config = scenarios.scenario_config(name)
    return copy.deepcopy(config.policies), config.description


# -------------------------------------------------------------------------------------------------
# The model as the app runs it
# -------------------------------------------------------------------------------------------------

# The levers with a slider, in order (declared in sim.model.levers).
SLIDERS = ("raids", "corruption", "job_ad_awareness", "scam_awareness", "closure", "rescue")


def lever_values(p: ModelParams) -> dict[str, float]:
    """The slider levers' values in ``p`` (a lever set in several places, e.g. countries: the mean)."""
    return {name: LEVERS[name].value(p) for name in SLIDERS}


def scenario_params(base: ModelParams, levers: dict[str, float], policies: dict | None = None) -> ModelParams:
    """A copy of ``base`` with the slider levers set and a preset's interventions added.

    Args:
        base: Baseline parameters (left unchanged).
        levers: Lever name (:data:`SLIDERS`) -> value. Jurisdictions with their own raid rate or
            corruption keep it.
        policies: Interventions added to the baseline's (``policies.<name>``), e.g. a preset's.
    """
    p = copy.deepcopy(base)
    for name, value in levers.items():
        LEVERS[name].set(p, value)
    if policies:
        p.policies = {**(p.policies or {}), **copy.deepcopy(policies)}
    return p


def now(model: ScamModel) -> dt.date:
    """The date the model's state describes: the end of its last step (the start before any step)."""
    return model.clock.date(model.steps)


def _cumulative(name: str, per: float = 1.0) -> Callable[[ScamModel], float]:
    """Reporter: ledger variable ``name`` summed over the steps so far, at full scale, in units of ``per``."""
    return lambda m: float(m.ledger.series[name][: m.steps].sum()) / m.p.scale / per


# What the plots show, at full population scale: stocks from the model's state, flows summed so far.
REPORTERS: dict[str, Callable[[ScamModel], float]] = {
    "date": lambda m: pd.Timestamp(now(m)),
    "compounds operating": lambda m: float(sum(c.active for c in m.compounds)),
    "workers held": lambda m: m.workers.n / m.p.scale,
    **{f"exits: {route}": _cumulative(f"exits_{route}") for route in EXIT_ROUTES},
    "target losses (USD billion)": _cumulative("target_losses", 1e9),
}
EXITS = tuple(f"exits: {route}" for route in EXIT_ROUTES)


class AppModel(ScamModel):
    """The scenario the sidebar sets, stepped in lockstep with the baseline under the same seed.

    Args:
        seed: Seed of both runs (the app's text box gives a string).
        base: Baseline parameters; by default :func:`base_config`'s.
        preset: A scenario of ``configs/scenario/`` whose interventions the scenario adds (None or
            :data:`NO_PRESET`: none).
        scenario: Mesa's scenario object, which its Reset button passes; unused (the scenario here is
            the levers and the preset).
        **levers: Slider levers (:data:`SLIDERS`) by name; a lever not given (or None) takes the
            baseline's value.
    """

    def __init__(
        self,
        seed: int | str | None = None,
        base: ModelParams | None = None,
        preset: str | None = None,
        scenario: object = None,
        **levers: float | None,
    ):
        base = base_config()[0] if base is None else base
        unknown = set(levers) - set(SLIDERS)
        if unknown:
            raise TypeError(f"unknown levers {sorted(unknown)}; levers: {', '.join(SLIDERS)}")
        self.baseline_levers = lever_values(base)
        self.levers = {
            name: self.baseline_levers[name] if levers.get(name) is None else float(levers[name])
            for name in SLIDERS
        }
        self.preset = None if preset in (None, NO_PRESET) else preset
        policies = preset_policies(self.preset)[0] if self.preset else None
        self.seed = int(getattr(base, "seed", 0) if seed is None else seed)
        super().__init__(scenario_params(base, self.levers, policies), self.seed)
        self.baseline = ScamModel(copy.deepcopy(base), self.seed)
        self.datacollector = DataCollector(model_reporters=REPORTERS)
        self.baseline_data = DataCollector(model_reporters=REPORTERS)
        self._collect()

    def step(self) -> None:
        """Advance the scenario and the baseline by one step and record both."""
        super().step()
        self.baseline.step()
        self._collect()

    def _collect(self) -> None:
        self.datacollector.collect(self)
        self.baseline_data.collect(self.baseline)


# -------------------------------------------------------------------------------------------------
# Drawing
# -------------------------------------------------------------------------------------------------


def town_positions(model: ScamModel) -> list[np.ndarray]:
    """Map coordinates of each jurisdiction's towns: the hub in the middle, the others on a ring."""
    positions = []
    for j, weights in enumerate(model.town_weights):
        n = len(weights)
        angle = 2 * np.pi * np.arange(n - 1) / max(n - 1, 1)
        ring = 1.6 * np.column_stack([np.cos(angle), np.sin(angle)])
        positions.append(np.vstack([[0.0, 0.0], ring]) + np.array([4.2 * j, 0.0]))
    return positions


def raided_last_step(model: ScamModel) -> set[int]:
    """Ids of the compounds raided in the last step."""
    step = model.steps - 1
    raided = set()
    for row in reversed(model.ledger.raids):  # the log is in time order: stop at the previous step
        if row["step"] != step:
            break
        raided.add(row["compound"])
    return raided


def draw_towns(ax: Axes, model: ScamModel, title: str) -> None:
    """Towns as a hub-and-spoke network, with their operating compounds around them.

    Marker area grows with the workers held (full scale); colour shows protection and tip-offs; a red
    ring marks a compound raided in the last step.
    """
    towns = town_positions(model)
    for j, xy in enumerate(towns):
        for x, y in xy[1:]:
            ax.plot([xy[0, 0], x], [xy[0, 1], y], color="#cccccc", lw=1, zorder=0)
        ax.scatter(xy[:, 0], xy[:, 1], s=500, color="#eeeeee", edgecolors="#bbbbbb", zorder=1)
        if len(towns) > 1:
            ax.text(xy[0, 0], -2.2, model.juris_names[j], ha="center", fontsize=9, weight="bold")
    held = model.held_by_compound() / model.p.scale
    raided = raided_last_step(model)
    placed: dict[tuple[int, int], int] = {}
    rows = []
    for c in model.compounds:
        if not c.active:
            continue
        k = placed.get((c.juris, c.town), 0)
        placed[(c.juris, c.town)] = k + 1
        # A sunflower spiral keeps a town's compounds apart without overlapping the next town.
        r, a = 0.13 * np.sqrt(k), k * 2.39996
        x, y = towns[c.juris][c.town] + r * np.array([np.cos(a), np.sin(a)])
        colour = PROTECTED if c.protected else TIPPED_OFF if c.tipoffs else PLAIN
        rows.append((x, y, 8 + held[c.cid] / 25, colour, c.cid in raided))
    if rows:
        x, y, size, colour, hit = (np.array(v) for v in zip(*rows, strict=True))
        ax.scatter(x, y, s=size, c=list(colour), edgecolors="white", linewidths=0.5, zorder=2)
        ax.scatter(x[hit], y[hit], s=size[hit] * 2 + 60, facecolors="none", edgecolors=RAID, lw=2, zorder=3)
    ax.set_title(title, fontsize=10)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.margins(0.08)


def _legend(fig: Figure) -> None:
    def dot(colour: str, label: str, ring: bool = False) -> Line2D:
        face = "none" if ring else colour
        return Line2D(
            [], [], ls="", marker="o", ms=8, mfc=face, mec=colour, mew=2 if ring else 0, label=label
        )

    handles = [
        dot(PLAIN, "compound"),
        dot(PROTECTED, "pays protection"),
        dot(TIPPED_OFF, "tipped off before a raid"),
        dot(RAID, "raided this step", ring=True),
    ]
    fig.legend(handles=handles, loc="outside lower center", ncol=4, fontsize=8, frameon=False)


def _headline(model: ScamModel) -> str:
    held = model.workers.n / model.p.scale
    return f"{now(model):%d %b %Y}: {sum(c.active for c in model.compounds):,} compounds, {held:,.0f} held"


def map_figure(model: ScamModel) -> Figure:
    """The town map of one model."""
    fig = Figure(figsize=(6.4, 4.0), layout="constrained")
    draw_towns(fig.add_subplot(), model, _headline(model))
    _legend(fig)
    return fig


def side_by_side_figure(model: AppModel) -> Figure:
    """The town maps of the baseline and the scenario, side by side."""
    fig = Figure(figsize=(11, 5.0), layout="constrained")
    left, right = fig.subplots(1, 2)
    draw_towns(left, model.baseline, f"baseline\n{_headline(model.baseline)}")
    draw_towns(right, model, f"scenario\n{_headline(model)}")
    _legend(fig)
    return fig


# Panels of the time plots: columns shown, title, y-axis label.
PANELS = (
    (("compounds operating",), "Compounds operating", "compounds"),
    (("workers held",), "Workers held", "people"),
    (EXITS, "Exits from captivity by route, so far", "people"),
    (("target losses (USD billion)",), "Money lost by targets, so far", "USD billion"),
)


def trends_figure(model: AppModel, baseline: bool = True) -> Figure:
    """Compounds, workers held, exits by route and target losses over time (dates on the x axis).

    Args:
        model: The app's model.
        baseline: Also draw the baseline (dashed) beside the scenario (solid).
    """
    ours = model.datacollector.get_model_vars_dataframe().set_index("date")
    theirs = model.baseline_data.get_model_vars_dataframe().set_index("date")
    fig = Figure(figsize=(11, 6), layout="constrained")
    for ax, (names, title, unit) in zip(fig.subplots(2, 2).flat, PANELS, strict=True):
        for colour, name in zip(COLOURS, names, strict=False):
            label = name.removeprefix("exits: ") if len(names) > 1 else None
            if baseline:
                ax.plot(theirs.index, theirs[name], color=colour, ls="--", lw=1)
            ax.plot(
                ours.index,
                ours[name],
                color=colour,
                lw=1.5,
                label=label,
                marker="." if len(ours) < 3 else None,
            )
        time_axes(ax, unit, title)
        ax.set_xlim(pd.Timestamp(model.clock.start), pd.Timestamp(model.clock.end))
        if len(names) > 1:
            ax.legend(loc="upper left", ncols=2)
    if baseline:
        fig.suptitle("scenario (solid) and baseline (dashed), same seed")
    return fig


def _number(value: float) -> str:
    return f"{value:,.2f}" if abs(value) < 10 else f"{value:,.0f}"


def levers_table(model: AppModel) -> str:
    """HTML table of the levers and the headline figures of baseline and scenario so far."""
    rows = [("", "baseline", "scenario")]
    for name in SLIDERS:
        label = slider_label(LEVERS[name])
        rows.append((label, f"{model.baseline_levers[name]:.3g}", f"{model.levers[name]:.3g}"))
    rows.append(("policy preset", "none", model.preset or "none"))
    now_rows = [
        collector.get_model_vars_dataframe().iloc[-1]
        for collector in (model.baseline_data, model.datacollector)
    ]
    rows += [
        ("compounds operating", *(f"{v['compounds operating']:,.0f}" for v in now_rows)),
        ("workers held (people)", *(f"{v['workers held']:,.0f}" for v in now_rows)),
        ("exits so far (people)", *(f"{sum(v[e] for e in EXITS):,.0f}" for v in now_rows)),
        (
            "money lost by targets so far (USD billion)",
            *(_number(v["target losses (USD billion)"]) for v in now_rows),
        ),
    ]
    head, *body = rows
    cell = "padding:2px 12px;border-bottom:1px solid #ddd"
    header = "".join(f'<th style="{cell}">{html.escape(h)}</th>' for h in head)
    lines = [
        f'<tr><td style="{cell}">{html.escape(name)}</td>'
        + "".join(f'<td style="{cell};text-align:right">{html.escape(v)}</td>' for v in values)
        + "</tr>"
        for name, *values in body
    ]
    caption = f"{now(model):%d %B %Y} (week {model.steps} of {model.clock.n_steps}), seed {model.seed}"
    return (
        f'<table style="border-collapse:collapse;font-size:14px"><caption style="text-align:left;'
        f'font-weight:bold;padding-bottom:4px">{html.escape(caption)}</caption>'
        f"<tr>{header}</tr>{''.join(lines)}</table>"
    )


# -------------------------------------------------------------------------------------------------
# The page
# -------------------------------------------------------------------------------------------------

HOW_TO = (
    "Choose a policy preset or move the sliders: they set the scenario. The baseline stays as labelled "
    "above the sliders.",
    "Press Reset to start both runs with the new settings (same seed: the same random numbers).",
    "Press Step to advance by the period chosen below, or ▶ to play; the date shows how far the runs are.",
    "The tab 'Scenario vs baseline' sets the two runs side by side.",
)
# How far one press of Step goes: label -> days.
STEP_PERIODS = {"1 week": 7, "1 month": 30, "3 months": 91, "1 year": 365, "2 years": 730}
PLAY_INTERVAL_MS = 300


def steps_for(model: ScamModel, period: str) -> int:
    """Model steps in one press of Step for ``period`` (a key of :data:`STEP_PERIODS`), at least 1."""
    return max(1, round(STEP_PERIODS[period] / model.clock.step_days))


def slider_label(lever: Lever) -> str:
    """A slider's label: the lever's plain label and unit."""
    return f"{lever.label} ({lever.unit})"


def _figure(make: Callable[[AppModel], Figure], model: AppModel) -> solara.Element:
    update_counter.get()  # redraw after every step
    return solara.FigureMatplotlib(make(model), format="png", bbox_inches="tight")


@solara.component
def ScenarioTab(model: AppModel) -> None:
    """The scenario: its map and its time plots."""
    update_counter.get()
    if model.steps == 0:
        solara.Info("Press Step or ▶ in the sidebar to run the model; Reset applies the sidebar's settings.")
    with solara.Column(style={"max-width": "760px"}):
        _figure(map_figure, model)
    _figure(functools.partial(trends_figure, baseline=False), model)


@solara.component
def ComparisonTab(model: AppModel) -> None:
    """Scenario and baseline: the lever table, both maps, both runs over time."""
    update_counter.get()
    solara.HTML(tag="div", unsafe_innerHTML=levers_table(model))
    _figure(side_by_side_figure, model)
    _figure(trends_figure, model)


@solara.component
def Page() -> None:
    """The app: one model (and its baseline twin) per browser session."""
    base, baseline_label = base_config()
    model = solara.use_reactive(solara.use_memo(lambda: AppModel(base=base), []))
    start = {**lever_values(base), "seed": str(base.seed), "preset": NO_PRESET, "base": base}
    settings = solara.use_reactive(start)
    period = solara.use_reactive("3 months")
    render_interval = solara.use_reactive(steps_for(model.value, period.value))
    play_interval = solara.use_reactive(PLAY_INTERVAL_MS)
    threads = solara.use_reactive(False)

    def change(name: str, value: object) -> None:
        settings.value = {**settings.value, name: value}

    def move(name: str, value: float) -> None:
        # The slider snaps to its step: within half a step of the baseline means the baseline's value.
        baseline = model.value.baseline_levers[name]
        change(name, baseline if abs(value - baseline) < LEVERS[name].step / 2 else value)

    def choose_period(value: str) -> None:
        period.set(value)
        render_interval.set(steps_for(model.value, value))

    solara.Title("scamsim app")
    with solara.AppBar():
        solara.AppBarTitle("scamsim: scam compounds, raids and police corruption")
    with solara.Sidebar(), solara.Column():
        with solara.Card("How to use"):
            items = "".join(f"<li>{html.escape(line)}</li>" for line in HOW_TO)
            solara.HTML(tag="ol", unsafe_innerHTML=items, style={"padding-left": "18px", "font-size": "14px"})
        with solara.Card("Scenario"):
            solara.Text(f"Baseline: {baseline_label}", style={"font-weight": "bold"})
            names = [NO_PRESET, *scenarios.available_scenarios()]
            solara.Select(
                "policy preset",
                values=names,
                value=settings.value["preset"],
                on_value=lambda v: change("preset", v),
            )
            if settings.value["preset"] != NO_PRESET:
                solara.Text(preset_policies(settings.value["preset"])[1], style={"font-size": "13px"})
            for name in SLIDERS:
                lever = LEVERS[name]
                value = settings.value[name]
                solara.SliderFloat(
                    lever.label,
                    value=value,
                    min=lever.low,
                    max=max(lever.high, value),
                    step=lever.step,
                    thumb_label=False,
                    on_value=functools.partial(move, name),
                )
                solara.Text(
                    f"{value:.3g} {lever.unit} (baseline {model.value.baseline_levers[name]:.3g})",
                    style={"font-size": "13px", "margin-top": "-16px", "margin-bottom": "8px"},
                )
            solara.InputText(
                "seed (baseline and scenario)",
                value=settings.value["seed"],
                on_value=functools.partial(change, "seed"),
            )
        with solara.Card("Run"):
            solara.Select(
                "Step advances by", values=list(STEP_PERIODS), value=period.value, on_value=choose_period
            )
            ModelController(
                model,
                model_parameters=settings,
                play_interval=play_interval,
                render_interval=render_interval,
                use_threads=threads,
            )
            DateLine(model.value)
    with solara.lab.Tabs():
        with solara.lab.Tab("Scenario"):
            ScenarioTab(model.value)
        with solara.lab.Tab("Scenario vs baseline"):
            ComparisonTab(model.value)


@solara.component
def DateLine(model: AppModel) -> None:
    """How far the runs are: the date and the week."""
    update_counter.get()
    solara.Text(f"Date: {now(model):%d %b %Y} (week {model.steps} of {model.clock.n_steps})")
