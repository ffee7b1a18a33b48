"""Checkpoints of a calibration's pyabc History: saved compressed beside the results, restored to go on.

A calibration of many hours keeps its History in ``results/calibration/.<name>.history/``, which git
ignores: a new machine would start it afresh. ``save NAME`` copies each History database there
(``abc-<key>.db``; by sqlite's online backup, so the copy is consistent) xz-compressed, with the record
of the code that began it (``abc-<key>.json``) and the particles kept of a generation in progress
(``abc-<key>.kept/``, as ``abc-<key>.kept.tar.xz``, in the order they were kept), into
``results/calibration/checkpoints/<name>/``, which is committed; ``restore NAME`` puts them back,
after which the calibration's own command (``scamsim calibrate name=NAME ...``) continues from the
last generation saved, starting the one in progress from the particles it had kept. So a machine
lost mid-generation costs only what ran after the last save, not the whole generation.

``save`` may run while the calibration does: it copies the kept particles first and the database
second, so the copy never holds particles of a generation later than the one the database continues
with (particles of a generation the database already holds are set aside by the resumed run, as
after any sitting). Two saves of one name do not run at once (the checkpoint folder's lock).
``restore`` takes the results directory's lock, so it never runs while a calibration of that name is
writing, and never replaces a History or kept particles that are there (they may hold generations the
checkpoint lacks). Both check everything before writing anything, and write each file atomically;
``save`` checks each compressed database against the copy it was made from.

Run as ``python -m sim.analysis.checkpoint {save,restore} NAME`` (exit 2 with one line on bad input).
"""

from __future__ import annotations

import argparse
import filecmp
import lzma
import os
import shutil
import sqlite3
import tarfile
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from sim.analysis import calibration
from sim.model.schemas import ConfigError
from sim.runs import dirs
from sim.runs.config import RESULTS
from sim.runs.results import atomic_write

CALIBRATIONS = RESULTS / "calibration"
PACKED = ".xz"
BACKUP_PAGES = 1024  # database pages copied per step of the online backup (4 MiB at sqlite's default)
KEPT = ".kept.tar.xz"  # beside abc-<key>.db.xz: the particles kept of the generation in progress


def history_dir(name: str, root: Path = CALIBRATIONS) -> Path:
    """Where calibration ``name`` keeps its History."""
    return calibration.history_dir(root / name)


def checkpoint_dir(name: str, root: Path = CALIBRATIONS) -> Path:
    """Where calibration ``name``'s checkpoint is saved: ``checkpoints/<name>/``."""
    return root / "checkpoints" / name


def _record(db: Path) -> Path:
    return db.with_suffix(".json")


def _kept_dir(db: Path) -> Path:
    """Where the calibration keeps the particles of its generation in progress (see sampling)."""
    return db.with_suffix(".kept")


def _compress(source: Path, packed: Path) -> None:
    with source.open("rb") as raw, lzma.open(packed, "wb", preset=9) as out:
        shutil.copyfileobj(raw, out)


def _decompress(packed: Path, target: Path) -> None:
    with lzma.open(packed, "rb") as raw, target.open("wb") as out:
        shutil.copyfileobj(raw, out)


def _begun(db: Path) -> bool:
    """Whether the History database ``db`` holds a calibration run (pyabc writes it after its tables)."""
    with sqlite3.connect(db) as connection:
        tables = {row[0] for row in connection.execute("select name from sqlite_master where type = 'table'")}
        return "abc_smc" in tables and connection.execute("select count(*) from abc_smc").fetchone()[0] > 0


def _snapshot_kept(kept_dir: Path, into: Path) -> None:
    """Copy the particles kept in ``kept_dir`` into ``into`` (empty), numbered in the order they were kept.

    Copies none if their sample ends during the copy (the calibration removes them once it has stored
    their generation, which the database, copied after this, then holds).
    """
    from sim.analysis.sampling import kept_in_order  # imports pyabc (seconds): not on importing this module

    try:
        for folder in sorted(kept_dir.iterdir()) if kept_dir.is_dir() else ():
            (into / folder.name).mkdir()
            for order, path in enumerate(kept_in_order(folder)):
                shutil.copyfile(path, into / folder.name / f"{order:06d}-{path.name}")
    except FileNotFoundError:
        for partial in into.iterdir():
            shutil.rmtree(partial)


def _pack_kept(snapshot: Path, packed: Path) -> None:
    """Archive a snapshot of kept particles (``<sample>/<order>-<file>.pkl``) as xz-compressed tar."""
    with tarfile.open(packed, "w:xz", preset=9) as tar:
        for path in sorted(snapshot.glob("*/*.pkl")):
            tar.add(path, arcname=f"{path.parent.name}/{path.name}")


def _check_kept(packed: Path) -> None:
    """Raise a one-line ConfigError unless ``packed`` holds only ``<sample>/<order>-<file>.pkl`` files."""
    with tarfile.open(packed, "r:xz") as tar:
        for member in tar.getmembers():
            parts = Path(member.name).parts
            if not (member.isfile() and len(parts) == 2 and parts[1].endswith(".pkl") and ".." not in parts):
                raise ConfigError(f"{packed}: holds {member.name!r}, not a kept particle <sample>/<file>.pkl")


def _unpack_kept(packed: Path, kept_dir: Path) -> None:
    """Put archived kept particles (checked by :func:`_check_kept`) back in ``kept_dir``, whole or not at all.

    Their files' times are set in the order they were kept, which is the order a resumed sample takes.
    """
    with tempfile.TemporaryDirectory(dir=kept_dir.parent, prefix=f".{kept_dir.name}.restoring-") as tmp:
        staged = Path(tmp) / kept_dir.name
        with tarfile.open(packed, "r:xz") as tar:
            tar.extractall(staged, filter="data")
        now = time.time_ns()
        for order, path in enumerate(sorted(staged.glob("*/*.pkl"))):
            renamed = path.with_name(path.name.split("-", 1)[1])
            path.rename(renamed)
            os.utime(renamed, ns=(now + order, now + order))
        if staged.is_dir():  # an empty archive (no generation in progress) leaves nothing to put back
            staged.rename(kept_dir)


def save(name: str, root: Path = CALIBRATIONS) -> list[Path]:
    """Save calibration ``name``'s History databases, records and kept particles as a checkpoint.

    May run while the calibration does (module docstring).

    Returns:
        The files written: per History its compressed database and its kept particles (an empty
        archive when no generation is in progress).

    Raises:
        ConfigError: If ``name`` is not a plain folder name, there is no History, a database has no
            record or holds no calibration run yet (pyabc is creating it), or another save of that name
            is running (:class:`sim.runs.dirs.DirError`); nothing is written then.
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
    with dirs.lock(dest):
        for db in dbs:
            packed, kept = dest / f"{db.name}{PACKED}", dest / f"{db.stem}{KEPT}"
            with tempfile.TemporaryDirectory() as tmp:
                copy, compressed, check, snapshot = (
                    Path(tmp) / f for f in (db.name, "packed.xz", "check.db", "kept")
                )
                snapshot.mkdir()
                _snapshot_kept(_kept_dir(db), snapshot)  # before the database: never a later generation's
                with sqlite3.connect(db) as live, sqlite3.connect(copy) as backup:
                    # In steps, so a running calibration is never kept from writing for long; a write
                    # between steps makes sqlite start the copy again, so it is still consistent.
                    live.backup(backup, pages=BACKUP_PAGES)
                if not _begun(copy):
                    raise ConfigError(
                        f"name={name}: {db} holds no calibration run yet (pyabc is creating it); save once "
                        "its first sample has begun"
                    )
                _compress(copy, compressed)
                _decompress(compressed, check)
                # Checked before it replaces the previous checkpoint, which a bad copy must not cost.
                if not filecmp.cmp(copy, check, shallow=False):
                    raise ConfigError(f"{packed}: the compressed copy does not decompress to the History")
                atomic_write(packed, lambda path, compressed=compressed: shutil.copyfile(compressed, path))
                atomic_write(_record(dest / db.name), lambda path, db=db: shutil.copyfile(_record(db), path))
                atomic_write(kept, lambda path, snapshot=snapshot: _pack_kept(snapshot, path))
            written += [packed, kept]
    return written


def restore(name: str, root: Path = CALIBRATIONS) -> list[Path]:
    """Put calibration ``name``'s checkpoint back where the calibration continues from it.

    Returns:
        The History databases written (their records and kept particles are put back beside them).

    Raises:
        ConfigError: If ``name`` is not a plain folder name, there is no checkpoint, one has no record,
            a History or kept particles of the same key are already there, or a calibration of that
            name is running; nothing is written then.
    """
    source, target = checkpoint_dir(dirs.check_name(name), root), history_dir(name, root)
    packs = sorted(source.glob(f"abc-*.db{PACKED}"))
    if not packs:
        raise ConfigError(f"name={name}: {source} holds no checkpoint (abc-*.db{PACKED}) to restore")
    dbs = [target / pack.name.removesuffix(PACKED) for pack in packs]
    for db in dbs:
        if not _record(source / db.name).is_file():
            raise ConfigError(f"name={name}: {source} has no record {_record(db).name} for {db.name}{PACKED}")
    # Checkpoints saved before kept particles were saved have none.
    kept = {db: source / f"{db.stem}{KEPT}" for db in dbs if (source / f"{db.stem}{KEPT}").is_file()}
    for packed in kept.values():
        _check_kept(packed)
    written = []
    with dirs.lock(root / name):
        there = [path for db in dbs for path in (db, _kept_dir(db)) if path.exists()]
        if there:
            raise ConfigError(
                f"name={name}: {there[0]} exists and may hold generations the checkpoint lacks; move it away "
                "to restore the checkpoint, or continue the calibration from it"
            )
        for pack, db in zip(packs, dbs, strict=True):
            atomic_write(db, lambda path, pack=pack: _decompress(pack, path))
            atomic_write(_record(db), lambda path, db=db: shutil.copyfile(_record(source / db.name), path))
            if db in kept:
                _unpack_kept(kept[db], _kept_dir(db))
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
    for kept_dir in sorted(history_dir(args.name).glob("abc-*.kept")) if args.action == "restore" else ():
        for sample in sorted(kept_dir.iterdir()):
            print(f"restored {len(list(sample.glob('*.pkl')))} particle(s) kept of sample {sample.name}")


if __name__ == "__main__":
    main()
