"""Provenance of a run: code version, package versions, configuration and seeds."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import platform
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

from sim.runs import dirs

PACKAGES = (
    "scamsim",
    "mesa",
    "numpy",
    "scipy",
    "pandas",
    "pyarrow",
    "matplotlib",
    "hydra-core",
    "omegaconf",
)


ROOT = Path(__file__).resolve().parents[2]
# Folders that hold only what the code made (results, and pictures of them for the docs): changing them
# changes nothing a run computes, so it does not make the tree dirty. Otherwise a result re-made after
# another (make results) would say "uncommitted changes" because of the one before.
OUTPUTS = ("results", "docs/img")


def uncommitted(root: Path = ROOT) -> list[str] | None:
    """Tracked files of the git tree at ``root`` that differ from its commit, outside :data:`OUTPUTS`.

    Returns:
        ``git status --porcelain`` lines (e.g. ``" M sim/x.py"``); None outside git.
    """
    excluded = [f":(exclude){path}" for path in OUTPUTS]
    try:
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no", "--", ".", *excluded],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    return status.splitlines()


def git_commit(root: Path = ROOT) -> dict[str, Any]:
    """Commit hash of the source tree and whether it has uncommitted changes (None outside git).

    Changes under :data:`OUTPUTS` do not count (:func:`uncommitted`).
    """
    changed = uncommitted(root)
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return {"commit": None, "dirty": None}
    return {"commit": commit, "dirty": None if changed is None else bool(changed)}


def sources_sha256(root: Path = ROOT) -> str:
    """SHA-256 of the package's Python sources (``sim/**/*.py``, by path): the code that computed something.

    Unlike the commit it ignores documentation, configurations and results, and it is defined outside
    git too (an unpacked archive).
    """
    digest = hashlib.sha256()
    package = root / "sim"
    for path in sorted(package.rglob("*.py")):
        digest.update(path.relative_to(package).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def versions() -> dict[str, str | None]:
    """Installed versions of the packages the results depend on."""
    out: dict[str, str | None] = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


# Run settings that do not change any output: left out of the configuration hash.
NOT_HASHED = ("name", "n_jobs", "overwrite", "force")


def config_hash(config: dict[str, Any]) -> str:
    """Short stable hash of what determines a run's outputs (sorted-key JSON, without NOT_HASHED).

    A configuration that names a posterior (``posterior``) is hashed with the posterior's content, not
    only its name: re-publishing ``calibrated`` changes every run drawn from it, so results and sweep
    chunks made from the earlier file must not pass for the new configuration's.
    """
    relevant = {k: v for k, v in config.items() if k not in NOT_HASHED}
    if relevant.get("posterior"):
        from sim.runs import posterior  # here: it imports Hydra, and most callers name no posterior

        relevant["posterior_sha256"] = posterior.digest(relevant["posterior"])
    blob = json.dumps(relevant, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:12]


def describe(config: dict[str, Any], seed: int, n_seeds: int, command: str) -> dict[str, Any]:
    """Metadata for a results directory.

    ``created`` and ``argv`` (the full command line, None outside the ``scamsim`` command) are the only
    fields that differ between reruns; ``written_by`` marks the directory as one this project may
    replace (:mod:`sim.runs.dirs`).
    """
    return {
        dirs.MARKER[0]: dirs.MARKER[1],
        "command": command,
        "argv": dirs.command_line(),
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "git": git_commit(),
        "versions": versions(),
        "config": config,
        "config_hash": config_hash(config),
        "seeds": {
            "base_seed": seed,
            "n_seeds": n_seeds,
            "replicates": "numpy.random.SeedSequence(base_seed).spawn(n_seeds)[i] for replicate i",
        },
    }
