"""The remake's record: ``results/MANIFEST.json`` and the table of it, ``results/MANIFEST.md``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sim.report.remake_steps import NOT_REMADE, STEPS

MANIFEST = Path("results") / "MANIFEST.json"
MANIFEST_MD = Path("results") / "MANIFEST.md"


def duration(seconds: float) -> str:
    """``seconds`` in words: ``52 s``, ``34 min 12 s``, ``1 h 05 min``."""
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    return f"{minutes} min {secs:02d} s" if minutes else f"{secs} s"


def read_manifest(dest: Path) -> dict[str, Any]:
    """The remake's record in ``dest`` (empty if there is none yet)."""
    path = dest / MANIFEST
    return json.loads(path.read_text()) if path.exists() else {}


def manifest_markdown(manifest: dict[str, Any]) -> str:
    """``results/MANIFEST.md``: every result of the record with its command, commit, posterior and time."""
    steps = manifest.get("steps", {})
    lines = [
        "# How the committed results were made",
        "",
        "Written by `make results POSTERIOR=<name>` (`python -m sim.report.remake`; README, Reproducibility)",
        "after each step it ran; the same record, machine-readable, is `MANIFEST.json`. Each step's",
        "commands ran in a staging folder of its own (`results/.remake/<commit>-<posterior>/<step>/`),",
        "whose results then replaced the committed ones; wall times are per step.",
        "",
    ]
    commits = sorted({entry["commit"][:10] for entry in steps.values()})
    if len(commits) > 1:
        lines += [f"**Not one commit:** these results were made from {', '.join(commits)}.", ""]
    lines += [
        "| result | step | command(s) | commit | posterior | step time | finished |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, entry in steps.items():
        post = entry["posterior"]
        fitted = post.get("fitted", {})
        fit = f"; fitted {fitted['created']}" if "created" in fitted else ""
        commit = entry["commit"][:10] + (" (with uncommitted changes)" if entry["dirty"] else "")
        commands = "<br>".join(f"`{c}`" for c in entry["commands"])
        where = {out: "" if entry["committed"] else " (not committed)" for out in entry["outputs"]}
        for out, note in where.items():
            lines.append(
                f"| `{out}`{note} | {name} | {commands} | {commit} | `{post['name']}` (sha256 "
                f"{post['sha256'][:12]}{fit}) | {duration(entry['seconds'])} | {entry['finished']} |"
            )
        for read, made in entry.get("reads", {}).items():
            dirty = " (with uncommitted changes)" if made.get("dirty") else ""
            lines.append(
                f"| `{read}` | {name} | checked, not re-made: the calibration `{post['name']}` was published "
                f"from (`scamsim calibrate`) | {str(made.get('commit'))[:10]}{dirty} | `{post['name']}` | "
                f"{duration(entry['seconds'])} | {entry['finished']} |"
            )
    copies = [(src, dst) for entry in steps.values() for src, dst in entry.get("copies", [])]
    if copies:
        lines += [
            "",
            "Published copies (for the README): " + "; ".join(f"`{d}` of `{s}`" for s, d in copies) + ".",
        ]
    lines += ["", *(f"Not re-made: `{path}`: {why}." for path, why in NOT_REMADE.items())]
    missing = [step.name for step in STEPS if step.name not in steps]
    if missing:
        lines += ["", f"Not made by a remake yet: {', '.join(missing)}."]
    return "\n".join(lines) + "\n"
