"""The interactive browser app (``scamsim app``): Mesa's SolaraViz on a local page.

Two pages. *Page 0* runs the model with the values of the sidebar sliders: a map of the towns and their
compounds, and live plots of compounds operating, workers held, exits by route and target losses.
*Page 1* shows that scenario side by side with the baseline (the configuration the app was started
with: ``scamsim app police.corruption=0.3`` changes it), both run with the same seed, so they share
random numbers wherever their mechanisms agree and are identical when the sliders equal the baseline.
Mesa applies slider values when the model is reset (the "Reset" button).

The CLI (:mod:`sim.report.app_config`) hands the composed configuration to the solara server process
in the environment variable :data:`sim.report.app_config.CONFIG_ENV` (YAML). The browser fetches
nothing from the internet: solara serves its JavaScript from the ``solara-assets`` package, and plots
are PNGs drawn with matplotlib (Mesa's Altair backend would need more files from a CDN).
"""

from __future__ import annotations

import copy
import functools
import os
from collections.abc import Callable

import numpy as np
import solara
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from mesa import DataCollector
from mesa.visualization import SolaraViz, make_plot_component
from omegaconf import OmegaConf

from sim.model.ledger import EXIT_ROUTES
from sim.model.model import ScamModel
from sim.model.schemas import ModelParams
from sim.report.app_config import CONFIG_ENV, compose_app
from sim.runs.config import RunConfig, to_run_config

# Compounds on the map are coloured by their standing with the police.
PROTECTED = "#dd8452"  # pays protection: raids leaked, fewer raids planned
TIPPED_OFF = "#8172b3"  # has had a raid leaked to it without paying protection
PLAIN = "#4c72b0"
RAID = "#c44e52"  # ring around a compound raided in the last step


# -------------------------------------------------------------------------------------------------
# Configuration
# -------------------------------------------------------------------------------------------------


@functools.cache
def base_config() -> RunConfig:
    """The baseline: the configuration in :data:`CONFIG_ENV` if the CLI set it, else ``configs/app.yaml``."""
    text = os.environ.get(CONFIG_ENV)
    return to_run_config(OmegaConf.create(text)) if text else compose_app()[0]


# -------------------------------------------------------------------------------------------------
# The model as the app runs it
# -------------------------------------------------------------------------------------------------

LEVERS = ("raid_capacity", "corruption", "awareness", "target_awareness", "closure_prob", "rescue_success")


def lever_values(p: ModelParams) -> dict[str, float]:
    """The policy levers' values in ``p`` (``awareness``: the mean over source countries)."""
    return {
        "raid_capacity": p.police.raid_capacity,
        "corruption": p.police.corruption,
        "awareness": _common([s.awareness for s in p.sources.values()]),
        "target_awareness": p.targets.awareness,
        "closure_prob": p.police.closure_prob,
        "rescue_success": p.police.rescue_success,
    }


def _common(values: list[float]) -> float:
    # The shared value exactly when all are equal (a mean can differ in the last bit).
    return values[0] if len(set(values)) == 1 else float(np.mean(values))


def scenario_params(base: ModelParams, levers: dict[str, float]) -> ModelParams:
    """A copy of ``base`` with the policy levers set.

    Args:
        base: Baseline parameters (left unchanged).
        levers: ``raid_capacity``, ``corruption``, ``closure_prob``, ``rescue_success`` (``police.*``),
            ``awareness`` (of fake job ads, set in every source country), ``target_awareness``
            (``targets.awareness``). Jurisdictions with their own capacity factor or corruption keep it.
    """
    p = copy.deepcopy(base)
    for name in ("raid_capacity", "corruption", "closure_prob", "rescue_success"):
        setattr(p.police, name, float(levers[name]))
    for source in p.sources.values():
        source.awareness = float(levers["awareness"])
    p.targets.awareness = float(levers["target_awareness"])
    return p


def _cumulative(name: str, per: float = 1.0) -> Callable[[ScamModel], float]:
    """Reporter: ledger variable ``name`` summed over the steps so far, at full scale, in units of ``per``."""
    return lambda m: float(m.ledger.series[name][: m.steps].sum()) / m.p.scale / per


# What the plots show, at full population scale: stocks from the model's state, flows summed so far.
REPORTERS: dict[str, Callable[[ScamModel], float]] = {
    "compounds operating": lambda m: float(sum(c.active for c in m.compounds)),
    "workers held": lambda m: m.workers.n / m.p.scale,
    **{f"exits: {route}": _cumulative(f"exits_{route}") for route in EXIT_ROUTES},
    "target losses (USD bn)": _cumulative("target_losses", 1e9),
}
EXITS = tuple(f"exits: {route}" for route in EXIT_ROUTES)


class AppModel(ScamModel):
    """The scenario the sliders set, stepped in lockstep with the baseline under the same seed.

    Levers left at None take the baseline's value.

    Args:
        raid_capacity: Raids police can carry out per year (``police.raid_capacity``).
        corruption: Probability of a leaked raid, a passed-back help request, an accepted bribe.
        awareness: Awareness of fake job ads among would-be deceived jobseekers, in every source country.
        target_awareness: Awareness of scams among targets.
        closure_prob: Chance an un-leaked raid shuts the compound down.
        rescue_success: Chance an un-leaked help request gets the caller out.
        seed: Seed of both runs (the app's text box gives a string).
        base: Baseline parameters; by default :func:`base_config`.
    """

    def __init__(
        self,
        raid_capacity: float | None = None,
        corruption: float | None = None,
        awareness: float | None = None,
        target_awareness: float | None = None,
        closure_prob: float | None = None,
        rescue_success: float | None = None,
        seed: int | str | None = None,
        base: ModelParams | None = None,
    ):
        base = base_config() if base is None else base
        given = dict(
            zip(
                LEVERS,
                (raid_capacity, corruption, awareness, target_awareness, closure_prob, rescue_success),
                strict=True,
            )
        )
        self.baseline_levers = lever_values(base)
        self.levers = {k: self.baseline_levers[k] if v is None else float(v) for k, v in given.items()}
        self.seed = int(getattr(base, "seed", 0) if seed is None else seed)
        super().__init__(scenario_params(base, self.levers), self.seed)
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
    day = model.clock.date(max(model.steps - 1, 0))
    held = model.workers.n / model.p.scale
    return f"{day:%d %b %Y}: {sum(c.active for c in model.compounds)} compounds, {held:,.0f} held"


def map_figure(model: ScamModel) -> Figure:
    """The town map of one model."""
    fig = Figure(figsize=(6.4, 4.0), layout="constrained")
    draw_towns(fig.add_subplot(), model, _headline(model))
    _legend(fig)
    return fig


def side_by_side_figure(model: AppModel) -> Figure:
    """The town maps of the baseline and the scenario, side by side."""
    fig = Figure(figsize=(11, 5.5), layout="constrained")
    left, right = fig.subplots(1, 2)
    draw_towns(left, model.baseline, f"baseline\n{_headline(model.baseline)}")
    draw_towns(right, model, f"scenario\n{_headline(model)}")
    _legend(fig)
    return fig


def comparison_figure(model: AppModel) -> Figure:
    """Baseline (dashed) and scenario (solid) over time: compounds, workers, exits by route, losses."""
    ours = model.datacollector.get_model_vars_dataframe()
    theirs = model.baseline_data.get_model_vars_dataframe()
    fig = Figure(figsize=(11, 6), layout="constrained")
    panels = [["compounds operating"], ["workers held"], list(EXITS), ["target losses (USD bn)"]]
    titles = [
        "compounds operating",
        "workers held",
        "exits by route (so far)",
        "target losses, USD bn (so far)",
    ]
    for ax, names, title in zip(fig.subplots(2, 2).flat, panels, titles, strict=True):
        for i, name in enumerate(names):
            colour = f"C{i}"
            label = name.removeprefix("exits: ") if len(names) > 1 else None
            ax.plot(theirs[name], color=colour, ls="--", lw=1)
            ax.plot(ours[name], color=colour, lw=1.5, label=label)
        if len(names) > 1:
            ax.legend(fontsize=8, loc="upper left")
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("step (week)")
    fig.suptitle("scenario (solid) vs baseline (dashed), same seed", fontsize=10)
    return fig


def levers_table(model: AppModel) -> str:
    """Markdown table of the levers and the current headline figures of baseline and scenario."""
    lines = ["| | baseline | scenario |", "|---|---:|---:|"]
    for name in LEVERS:
        lines.append(f"| {SLIDERS[name][0]} | {model.baseline_levers[name]:g} | {model.levers[name]:g} |")
    now = [
        collector.get_model_vars_dataframe().iloc[-1]
        for collector in (model.baseline_data, model.datacollector)
    ]
    rows = [
        ("compounds operating", [f"{v['compounds operating']:,.0f}" for v in now]),
        ("workers held", [f"{v['workers held']:,.0f}" for v in now]),
        ("exits so far", [f"{sum(v[e] for e in EXITS):,.0f}" for v in now]),
        ("target losses so far (USD bn)", [f"{v['target losses (USD bn)']:,.2f}" for v in now]),
    ]
    lines += [f"| {name} | {base} | {scenario} |" for name, (base, scenario) in rows]
    return f"**Step {model.steps}, seed {model.seed}**\n\n" + "\n".join(lines)


# -------------------------------------------------------------------------------------------------
# The page
# -------------------------------------------------------------------------------------------------

# Slider label, lower and upper end, step, for each lever.
SLIDERS: dict[str, tuple[str, float, float, float]] = {
    "raid_capacity": ("raid capacity (raids per year)", 0.0, 200.0, 5.0),
    "corruption": ("police corruption", 0.0, 1.0, 0.05),
    "awareness": ("job-ad awareness (jobseekers)", 0.0, 1.0, 0.05),
    "target_awareness": ("scam awareness (targets)", 0.0, 1.0, 0.05),
    "closure_prob": ("raid shuts compound", 0.0, 1.0, 0.05),
    "rescue_success": ("help request rescues", 0.0, 1.0, 0.05),
}


def model_params(base: RunConfig) -> dict:
    """SolaraViz inputs: a slider per lever (starting at the baseline's value), the seed, the baseline."""
    values = lever_values(base)
    inputs: dict = {
        name: {
            "type": "SliderFloat",
            "label": label,
            "value": values[name],
            "min": lo,
            "max": max(hi, values[name]),
            "step": step,
        }
        for name, (label, lo, hi, step) in SLIDERS.items()
    }
    inputs["seed"] = {"type": "InputText", "label": "seed (baseline and scenario)", "value": str(base.seed)}
    inputs["base"] = base  # fixed: passed unchanged whenever the model is reset
    return inputs


def _titled(title: str) -> Callable[[Axes], None]:
    def post_process(ax: Axes) -> None:
        ax.set_title(title, fontsize=10)
        ax.figure.set_size_inches(6.4, 4.0)  # Mesa's default 6.4 x 4.8 overflows its grid cell

    return post_process


def town_map(model: ScamModel) -> solara.Element:
    """Page 0: the town map."""
    return solara.FigureMatplotlib(map_figure(model), format="png", bbox_inches="tight")


def levers_view(model: AppModel) -> solara.Element:
    """Page 1: levers and headline figures of the baseline and the scenario."""
    return solara.Markdown(levers_table(model))


def side_by_side_view(model: AppModel) -> solara.Element:
    """Page 1: the town maps of the baseline and the scenario."""
    return solara.FigureMatplotlib(side_by_side_figure(model), format="png", bbox_inches="tight")


def comparison_view(model: AppModel) -> solara.Element:
    """Page 1: the baseline and the scenario over time."""
    return solara.FigureMatplotlib(comparison_figure(model), format="png", bbox_inches="tight")


COMPONENTS = [
    (town_map, 0),
    make_plot_component("compounds operating", post_process=_titled("compounds operating")),
    make_plot_component("workers held", post_process=_titled("workers held")),
    make_plot_component(list(EXITS), post_process=_titled("exits by route (so far)")),
    make_plot_component("target losses (USD bn)", post_process=_titled("target losses, USD bn (so far)")),
    (levers_view, 1),
    (side_by_side_view, 1),
    (comparison_view, 1),
]


@solara.component
def Page() -> None:
    """The app: one model (and its baseline twin) per browser session."""
    base = base_config()
    model = solara.use_memo(lambda: AppModel(base=base), [])
    SolaraViz(
        model,
        components=COMPONENTS,
        model_params=model_params(base),
        name="scamsim: scam compounds, raids and police corruption",
    )
