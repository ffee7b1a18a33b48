"""Re-make every committed result from one clean commit: ``make results POSTERIOR=<name>``.

``python -m sim.report.remake --posterior NAME [--steps a,b] [--dry-run] [--smoke [DIR]]`` runs the
steps of :data:`sim.report.remake_steps.STEPS` in order, each with the commands the README documents
(plus ``posterior=``): the check of the committed calibration, ``scamsim validate``, the baseline
``scamsim run``, the phase diagram sweep and ``scamsim phase``, the robustness sweep and its report,
the three briefs and the two sensitivity analyses. The notebooks read results these steps make
(:func:`notebook_inputs`).

It refuses to start (one line, exit 2) when the posterior is missing or refused
(:func:`sim.runs.posterior.load`), when the git tree has uncommitted changes outside the folders of
outputs (:func:`sim.runs.provenance.uncommitted`), or when a committed result is in no step
(:func:`committed_results`), so that every result names one clean commit and none is forgotten.

Each step runs in its own staging folder, ``results/.remake/<commit>-<posterior hash>/<step>/`` (the
commands write their ``results/...`` there). Only when every command succeeded, its sweep is complete
and every output's ``metadata.json`` names this commit (clean) and this posterior are the outputs moved
over the committed ones (:func:`sim.runs.results.move_into_place`: the project's replace rules and
one-step exchange) and their published copies written (``docs/img``). A step done at this commit with
this posterior is skipped when the remake is run again; a killed one starts over, except its sweep,
which skips the chunks it finished. ``results/MANIFEST.json`` records each step (commands, outputs,
commit, posterior, wall time) and ``results/MANIFEST.md`` lists every committed result with them
(:mod:`sim.report.manifest`).

``--smoke`` runs the same steps at a tiny scale into a new temporary folder (or ``DIR``, outside the
repository) and never over the committed results; uncommitted changes are allowed there (the results
say so). ``--dry-run`` prints the plan after the same checks and runs nothing.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from sim.model.schemas import ConfigError
from sim.report.manifest import MANIFEST, MANIFEST_MD, duration, manifest_markdown, read_manifest
from sim.report.remake_steps import NOT_REMADE, STEPS, Step
from sim.runs import dirs, posterior, provenance
from sim.runs.collect import collect
from sim.runs.results import atomic_write, move_into_place, write_json

STAGING = Path("results") / ".remake"
# Committed files under results/ that are no result: this remake's record and the folder's README.
OWN_FILES = ("results/README.md", str(MANIFEST), str(MANIFEST_MD))


class StepFailed(Exception):
    """A step could not finish; its staged work stays for the next attempt."""


def committed_results(root: Path) -> set[str]:
    """Result directories committed under ``results/`` (relative paths).

    A committed file belongs to the nearest folder above it that holds a committed ``metadata.json``
    (``results/briefs/crackdown/figures/x.png`` to ``results/briefs/crackdown``); a file in none counts as
    a result of its own folder, so that no committed output goes unnoticed. :data:`OWN_FILES` are not
    results.
    """
    listed = subprocess.run(
        ["git", "ls-files", "-z", "results"], cwd=root, capture_output=True, text=True, check=True
    ).stdout
    files = [Path(f) for f in listed.split("\0") if f and f not in OWN_FILES]
    described = {f.parent for f in files if f.name == "metadata.json"}
    return {str(next((p for p in f.parents if p in described), f.parent)) for f in files}


def notebook_inputs(root: Path) -> dict[str, list[str]]:
    """Saved results the notebooks load (``ROOT / "results" / ...``) -> the notebooks that load them."""
    found: dict[str, list[str]] = {}
    for notebook in sorted((root / "experiments" / "notebooks").glob("*.ipynb")):
        source = "".join("".join(c["source"]) for c in json.loads(notebook.read_text())["cells"])
        for parts in re.findall(r'ROOT((?:\s*/\s*"[^"]+")+)', source):
            found.setdefault("/".join(re.findall(r'"([^"]+)"', parts)), []).append(notebook.name)
    return found


def recorded_posterior(metadata: dict[str, Any]) -> str | None:
    """The posterior a result's ``metadata.json`` says it used.

    Runs, validations and sensitivity analyses keep it in their configuration, comparisons and briefs in
    the baseline's, sweeps (phase, robustness) as ``posterior_name``.
    """
    config = metadata.get("config") or {}
    return config["posterior"] if "posterior" in config else metadata.get("posterior_name")


class Remake:
    """A checked remake: posterior, commit, steps and where the results go.

    Attributes:
        root: The repository (its code runs the commands; its committed results are the ones re-made).
        dest: Where results go: ``root``, or the smoke folder.
        posterior: The posterior's name or path, as the commands get it.
        digest: SHA-256 of the posterior's file.
        commit: The commit every result must name.
        dirty: Whether the tree has uncommitted changes (only allowed with ``--smoke``).
        steps: The steps to run, in order.
        smoke: Tiny scale, outside the repository.
    """

    def __init__(self, root: Path, name: str, steps: str, smoke: str | None, create: bool = True) -> None:
        """Check everything a remake needs before anything runs.

        Args:
            root: The repository.
            name: The posterior (``--posterior``).
            steps: Comma-separated step names, or empty for all.
            smoke: None, or the smoke folder ("" for a new temporary one).
            create: Make the temporary smoke folder (not for a dry run).

        Raises:
            ConfigError: One line: no or a refused posterior, an unknown step, a tree with uncommitted
                changes (unless smoke), a committed result in no step, a smoke folder in the repository.
        """
        self.root = root.resolve()
        if not name:
            raise ConfigError(
                "posterior= is required: a posterior of configs/posterior_draws/ (e.g. POSTERIOR=calibrated) "
                "or a path to a .csv"
            )
        try:
            posterior.load(name)
        except ConfigError as exc:
            text = str(exc)
            raise ConfigError(
                text if text.startswith("posterior=") else f"posterior={name} is refused: {text}"
            ) from None
        self.posterior = name
        self.digest = posterior.digest(name)
        known = {step.name: step for step in STEPS}
        chosen = [s for s in steps.split(",") if s] or list(known)
        unknown = [s for s in chosen if s not in known]
        if unknown:
            raise ConfigError(f"steps={steps}: {unknown[0]!r} is not a step; choose from {', '.join(known)}")
        self.steps = [step for step in STEPS if step.name in chosen]
        git = provenance.git_commit(self.root)
        changed = provenance.uncommitted(self.root)
        if git["commit"] is None or changed is None:
            raise ConfigError(f"{self.root} is not a git checkout: results could not name a commit")
        self.commit, self.dirty, self.smoke = git["commit"], bool(changed), smoke is not None
        if changed and not self.smoke:
            raise ConfigError(
                f"the git tree has uncommitted changes outside {' and '.join(provenance.OUTPUTS)} "
                f"({len(changed)} file(s), e.g. {changed[0].strip()}): commit or stash them, so that every "
                "result names one clean commit"
            )
        covered = {out for step in STEPS for out in (*step.outputs, *step.reads)} | set(NOT_REMADE)
        forgotten = sorted(committed_results(self.root) - covered)
        if forgotten:
            raise ConfigError(
                f"{forgotten[0]} is committed but no step re-makes it: add it to STEPS or NOT_REMADE in "
                "sim/report/remake_steps.py"
            )
        if smoke is None:
            self.dest = self.root
        elif smoke:
            self.dest = Path(smoke).resolve()
        else:
            prefix = "scamsim-remake-smoke-"
            self.dest = Path(
                tempfile.mkdtemp(prefix=prefix) if create else Path(tempfile.gettempdir()) / f"{prefix}*"
            )
        if self.smoke and self.dest.is_relative_to(self.root):
            raise ConfigError(
                f"--smoke={smoke}: a smoke run writes outside the repository, never near the committed "
                "results (default: a new temporary folder)"
            )

    @property
    def staging(self) -> Path:
        """The staging folder of this commit and posterior (a step's work is in ``<staging>/<step>``)."""
        return self.dest / STAGING / f"{self.commit[:12]}-{self.digest[:12]}"

    def posterior_record(self) -> dict[str, Any]:
        """The posterior as the manifest names it: name, file hash and its provenance record."""
        record = posterior.provenance(self.posterior)
        fitted = {k: record[k] for k in ("created", "config_hash") if k in record}
        if record.get("git"):
            fitted["commit"] = record["git"].get("commit")
        return {"name": self.posterior, "sha256": self.digest, "fitted": fitted}

    def done(self, entry: dict[str, Any] | None, step: Step) -> bool:
        """Whether ``entry`` of the manifest is ``step`` made at this commit, clean, with this posterior."""
        return bool(
            entry
            and not self.dirty
            and entry.get("commit") == self.commit
            and not entry.get("dirty")
            and entry.get("posterior", {}).get("sha256") == self.digest
            and all((self.dest / out).is_dir() for out in step.outputs)
        )

    # ----------------------------------------------------------------------------------------------
    # The plan
    # ----------------------------------------------------------------------------------------------

    def plan(self) -> str:
        """The plan of a dry run: every step's commands, outputs and copies; what is not re-made."""
        entries = read_manifest(self.dest).get("steps", {})
        state = "with uncommitted changes" if self.dirty else "clean"
        lines = [
            f"remake: posterior={self.posterior} (sha256 {self.digest[:12]}), commit {self.commit[:10]} "
            f"({state}), into {self.dest}" + (" at tiny scale (smoke)" if self.smoke else ""),
            f"each step runs in {self.staging / '<step>'}; its outputs replace the committed ones only when "
            "it succeeded",
        ]
        for k, step in enumerate(self.steps, start=1):
            skip = (
                " [done at this commit with this posterior: skipped]"
                if self.done(entries.get(step.name), step)
                else ""
            )
            time_ = "" if self.smoke else f" (about {step.minutes:g} min)" if step.minutes else " (seconds)"
            lines.append(f"{k}. {step.name}{time_}: {step.purpose}{skip}")
            lines += [
                f"     check {read} is the calibration posterior={self.posterior} came from"
                for read in step.reads
            ]
            lines += [f"     {shlex.join(line)}" for line in step.command_lines(self.posterior, self.smoke)]
            committed = "" if step.committed else " (not committed)"
            lines += [f"     -> {out}{committed}" for out in step.outputs]
            lines += [f"     copy {src} -> {dst}" for src, dst in step.copies]
        if not self.smoke:
            total = sum(step.minutes for step in self.steps)
            lines.append(f"about {duration(60 * total)} on the 2 cores, as last measured (README)")
        makers = {out: step.name for step in STEPS for out in (*step.outputs, *step.reads)}
        for path, notebooks in notebook_inputs(self.root).items():
            lines.append(f"{', '.join(notebooks)} read {path} (step {makers.get(path, 'none')})")
        lines += [f"not re-made: {path}: {why}" for path, why in NOT_REMADE.items()]
        return "\n".join(lines)

    # ----------------------------------------------------------------------------------------------
    # Running
    # ----------------------------------------------------------------------------------------------

    def run(self) -> None:
        """Run the steps in order, recording each in the manifest as it finishes.

        Raises:
            StepFailed: At the first step that fails (the steps before it stay done and recorded).
            sim.runs.dirs.DirError: If another remake writes the same results.
        """
        (self.dest / "results").mkdir(parents=True, exist_ok=True)
        with dirs.lock(self.dest / MANIFEST_MD):  # one remake at a time
            manifest = read_manifest(self.dest)
            for step in self.steps:
                if self.done(manifest.setdefault("steps", {}).get(step.name), step):
                    print(
                        f"remake: {step.name}: done at this commit with this posterior, skipped", flush=True
                    )
                    continue
                started = time.monotonic()
                print(f"remake: {step.name}: {step.purpose}", flush=True)
                reads = self.run_step(step)
                seconds = time.monotonic() - started
                manifest["steps"][step.name] = {
                    "commands": [shlex.join(line) for line in step.command_lines(self.posterior, self.smoke)],
                    "outputs": list(step.outputs),
                    "committed": step.committed,
                    "copies": [list(copy) for copy in step.copies],
                    "reads": reads,
                    "commit": self.commit,
                    "dirty": self.dirty,
                    "posterior": self.posterior_record(),
                    "seconds": round(seconds, 1),
                    "finished": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                }
                atomic_write(self.dest / MANIFEST, lambda tmp: write_json(tmp, manifest))
                atomic_write(self.dest / MANIFEST_MD, lambda tmp: tmp.write_text(manifest_markdown(manifest)))
                print(f"remake: {step.name}: done in {duration(seconds)}", flush=True)
        print(f"remake: manifest in {self.dest / MANIFEST_MD}")

    def run_step(self, step: Step) -> dict[str, Any]:
        """Run one step in its staging folder and move its outputs into place.

        Returns:
            The provenance of the committed results it checked (``reads``): path -> commit, config hash.

        Raises:
            StepFailed: If a check or command fails, a sweep is incomplete, an output does not name this
                commit and posterior, or an output may not be replaced.
        """
        work = self.staging / step.name
        if self.dirty:  # an earlier attempt ran other uncommitted code: none of its work is reused
            shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True, exist_ok=True)
        for out in step.outputs:  # an earlier attempt's, or results swapped out by a killed move
            shutil.rmtree(work / out, ignore_errors=True)
        reads = {read: self.check_calibration(read) for read in step.reads}
        env = {**os.environ, "PYTHONPATH": str(self.root)}  # this checkout's code, whatever is installed
        for k, line in enumerate(step.command_lines(self.posterior, self.smoke)):
            print(f"remake: {step.name}: {shlex.join(line)}", flush=True)
            started = time.monotonic()
            program = {"scamsim": [str(Path(sys.executable).parent / "scamsim")], "python": [sys.executable]}
            code = subprocess.run([*program[line[0]], *line[1:]], cwd=work, env=env).returncode
            if code != 0:
                raise StepFailed(
                    f"`{shlex.join(line)}` exited with {code}; its work stays in {work}, and the same "
                    "command resumes it"
                )
            print(f"remake: {step.name}: command done in {duration(time.monotonic() - started)}", flush=True)
            if k == 0 and step.sweep:
                self.check_sweep(work / step.sweep)
        for out in step.outputs:
            self.check_output(work / out)
        try:
            for out in step.outputs:
                move_into_place(work / out, self.dest / out)
        except dirs.DirError as exc:
            raise StepFailed(str(exc)) from None
        for src, dst in step.copies:
            made = any(Path(src).is_relative_to(out) for out in step.outputs)
            source = (self.dest if made else self.root) / src
            atomic_write(self.dest / dst, lambda tmp, source=source: shutil.copyfile(source, tmp))
        shutil.rmtree(work, ignore_errors=True)  # the sweep's chunks: its runs are in the outputs
        for empty in (work.parent, work.parent.parent):  # the staging folders, when no step is left there
            with contextlib.suppress(OSError):
                empty.rmdir()
        return reads

    def check_calibration(self, path: str) -> dict[str, Any]:
        """Check that the committed calibration at ``path`` is the one the posterior was published from.

        Raises:
            StepFailed: If it is not (another configuration hash) or has no metadata.
        """
        try:
            made = json.loads((self.root / path / "metadata.json").read_text())
        except (OSError, ValueError) as exc:
            raise StepFailed(f"{path}: no readable metadata.json ({exc})") from None
        published = posterior.provenance(self.posterior).get("config_hash")
        if made.get("config_hash") != published:
            raise StepFailed(
                f"{path} (config_hash {made.get('config_hash')}) is not the calibration posterior="
                f"{self.posterior} was published from (config_hash {published}): commit that calibration "
                "with the posterior"
            )
        return {
            "commit": (made.get("git") or {}).get("commit"),
            "dirty": (made.get("git") or {}).get("dirty"),
        }

    def check_sweep(self, sweep_dir: Path) -> None:
        """Check that a sweep has every chunk and no failed run.

        Raises:
            StepFailed: Naming the first problem.
        """
        found = collect(sweep_dir)
        problems = found.warnings() or ([] if len(found.runs) else ["no runs"])
        if problems:
            raise StepFailed(f"the sweep in {sweep_dir} is not complete: {problems[0]}")

    def check_output(self, path: Path) -> None:
        """Check that a result names this commit (with this tree's state) and this posterior.

        Raises:
            StepFailed: If it does not, or has no readable ``metadata.json``.
        """
        try:
            metadata = json.loads((path / "metadata.json").read_text())
        except (OSError, ValueError) as exc:
            raise StepFailed(f"{path}: no readable metadata.json ({exc})") from None
        git = metadata.get("git") or {}
        if (git.get("commit"), git.get("dirty")) != (self.commit, self.dirty):
            raise StepFailed(
                f"{path} names commit {git.get('commit')} (dirty: {git.get('dirty')}), not {self.commit} "
                f"(dirty: {self.dirty}): the tree changed while the remake ran"
            )
        if recorded_posterior(metadata) != self.posterior:
            raise StepFailed(
                f"{path} records posterior {recorded_posterior(metadata)!r}, not {self.posterior!r}"
            )


def main(argv: list[str] | None = None, root: Path = provenance.ROOT) -> None:
    """Check, then print the plan (``--dry-run``) or run it."""
    parser = argparse.ArgumentParser(prog="remake", description=__doc__.splitlines()[0])
    parser.add_argument("--posterior", default="", help="posterior name in configs/posterior_draws/ or .csv")
    parser.add_argument(
        "--steps", default="", help=f"comma-separated, of: {', '.join(s.name for s in STEPS)}"
    )
    parser.add_argument("--dry-run", action="store_true", help="print the plan after the checks; run nothing")
    parser.add_argument(
        "--smoke",
        nargs="?",
        const="",
        default=None,
        metavar="DIR",
        help="tiny scale, into DIR or a temp folder",
    )
    args = parser.parse_args(argv)
    try:
        remake = Remake(root, args.posterior, args.steps, args.smoke, create=not args.dry_run)
    except ConfigError as exc:
        parser.exit(2, f"remake: error: {exc}\n")
    if args.dry_run:
        print(remake.plan())
        return
    try:
        remake.run()
    except (StepFailed, dirs.DirError) as exc:
        parser.exit(1, f"remake: error: {exc}\n")
    except KeyboardInterrupt:
        parser.exit(130, "remake: interrupted; the same command resumes (finished steps are skipped)\n")


if __name__ == "__main__":
    main()
