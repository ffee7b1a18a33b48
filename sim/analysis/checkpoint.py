"""Checkpoints of a calibration's pyabc History: saved compressed beside the results, restored to go on.

A calibration of many hours keeps its History in ``results/calibration/.<name>.history/``, which git
ignores: a new machine would start it afresh. ``save NAME`` copies each History database there
(``abc-<key>.db``; by sqlite's online backup, so the copy is consistent) xz-compressed, with the record
of the code that began it (``abc-<key>.json``), into ``results/calibration/checkpoints/<name>/``,
which is committed; ``restore NAME`` puts them back, after which the calibration's own command
(``scamsim calibrate name=NAME ...``) continues from the last generation saved. Particles kept of a
generation in progress (``abc-<key>.kept/``) are not saved: a restored run begins that generation
again.

Both take the results directory's lock, so neither runs while a calibration of that name is writing;
both check everything before writing anything, and write each file atomically. ``save`` checks each
compressed file against the copy it was made from; ``restore`` never replaces a History that is there
(it may hold generations the checkpoint lacks).

Run as ``python -m sim.analysis.checkpoint {save,restore} NAME`` (exit 2 with one line on bad input).
"""

from __future__ import annotations

import argparse
import filecmp
import lzma
import shutil
import sqlite3
import tempfile
from collections.abc import Sequence
from pathlib import Path

from sim.analysis import calibration
from sim.model.schemas import ConfigError
from sim.runs import dirs
from sim.runs.config import RESULTS
from sim.runs.results import atomic_write

CALIBRATIONS = RESULTS / "calibration"
PACKED = ".xz"


def history_dir(name: str, root: Path = CALIBRATIONS) -> Path:
    """Where calibration ``name`` keeps its History."""
    return calibration.history_dir(root / name)


def checkpoint_dir(name: str, root: Path = CALIBRATIONS) -> Path:
    """Where calibration ``name``'s checkpoint is saved: ``checkpoints/<name>/``."""
    return root / "checkpoints" / name


def _record(db: Path) -> Path:
    return db.with_suffix(".json")


def _compress(source: Path, packed: Path) -> None:
    with source.open("rb") as raw, lzma.open(packed, "wb", preset=9) as out:
        shutil.copyfileobj(raw, out)


def _decompress(packed: Path, target: Path) -> None:
    with lzma.open(packed, "rb") as raw, target.open("wb") as out:
        shutil.copyfileobj(raw, out)


def save(name: str, root: Path = CALIBRATIONS) -> list[Path]:
    """Save calibration ``name``'s History databases and records as a checkpoint.

    Returns:
        The compressed databases written.

    Raises:
        ConfigError: If ``name`` is not a plain folder name, there is no History, a database has no
            record, or a calibration of that name is running (:class:`sim.runs.dirs.DirError`); nothing
            is written then.
    """
    source, dest = history_dir(dirs.check_name(name), root), checkpoint_dir(name, root)
    dbs = sorted(source.glob("abc-*.db"))
    if not dbs:
        raise ConfigError(f"name={name}: {source} holds no History (abc-*.db) to save")
    missing = [db for db in dbs if not _record(db).is_file()]
    if missing:
        raise ConfigError(
            f"name={name}: {missing[0]} has no record {_record(missing[0]).name} of the code that began it; "
            "a checkpoint without it could not be continued"
        )
    written = []
    with dirs.lock(root / name):
        for db in dbs:
            packed = dest / f"{db.name}{PACKED}"
            with tempfile.TemporaryDirectory() as tmp:
                copy, compressed, check = (Path(tmp) / f for f in (db.name, "packed.xz", "check.db"))
                with sqlite3.connect(db) as live, sqlite3.connect(copy) as backup:
                    live.backup(backup)
                _compress(copy, compressed)
                _decompress(compressed, check)
                # Checked before it replaces the previous checkpoint, which a bad copy must not cost.
                if not filecmp.cmp(copy, check, shallow=False):
                    raise ConfigError(f"{packed}: the compressed copy does not decompress to the History")
                atomic_write(packed, lambda path, compressed=compressed: shutil.copyfile(compressed, path))
            atomic_write(_record(dest / db.name), lambda path, db=db: shutil.copyfile(_record(db), path))
            written.append(packed)
    return written


def restore(name: str, root: Path = CALIBRATIONS) -> list[Path]:
    """Put calibration ``name``'s checkpoint back where the calibration continues from it.

    Returns:
        The History databases written.

    Raises:
        ConfigError: If ``name`` is not a plain folder name, there is no checkpoint, one has no record,
            a History of the same key is already there, or a calibration of that name is running;
            nothing is written then.
    """
    source, target = checkpoint_dir(dirs.check_name(name), root), history_dir(name, root)
    packs = sorted(source.glob(f"abc-*.db{PACKED}"))
    if not packs:
        raise ConfigError(f"name={name}: {source} holds no checkpoint (abc-*.db{PACKED}) to restore")
    dbs = [target / pack.name.removesuffix(PACKED) for pack in packs]
    for db in dbs:
        if not _record(source / db.name).is_file():
            raise ConfigError(f"name={name}: {source} has no record {_record(db).name} for {db.name}{PACKED}")
    written = []
    with dirs.lock(root / name):
        there = [db for db in dbs if db.exists()]
        if there:
            raise ConfigError(
                f"name={name}: {there[0]} exists and may hold generations the checkpoint lacks; move it away "
                "to restore the checkpoint, or continue the calibration from it"
            )
        for pack, db in zip(packs, dbs, strict=True):
            atomic_write(db, lambda path, pack=pack: _decompress(pack, path))
            atomic_write(_record(db), lambda path, db=db: shutil.copyfile(_record(source / db.name), path))
            written.append(db)
    return written


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m sim.analysis.checkpoint {save,restore} NAME``."""
    parser = argparse.ArgumentParser(prog="checkpoint", description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=("save", "restore"))
    parser.add_argument("name", help="the calibration's name= (e.g. seed2)")
    args = parser.parse_args(argv)
    try:
        done = (save if args.action == "save" else restore)(args.name)
    except ConfigError as exc:
        parser.exit(2, f"checkpoint: error: {exc}\n")
    for path in done:
        print(f"{args.action}d {path} ({path.stat().st_size / 2**20:.1f} MB)")
    kept = sorted(history_dir(args.name).glob("abc-*.kept/*/*.pkl"))
    if args.action == "save" and kept:
        print(f"not saved: {len(kept)} particle(s) kept of a generation in progress (it is begun again)")


if __name__ == "__main__":
    main()
