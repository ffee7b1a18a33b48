"""Results directories: plain run names, one writer at a time, and who may replace what.

Every command writes one results directory (``results/<name>/``, ``results/calibration/<name>/``, ...)
and follows the same rules, so no command can delete or silently replace someone's work:

* a run name is a plain directory name (:func:`check_name`), so ``name=..`` or ``name=../x`` never
  leaves ``results/``;
* a command holds the directory's lock (:func:`lock`: ``fcntl.flock`` on ``.<name>.lock`` beside it)
  from the moment its configuration is checked until its results are in place, so a second command
  writing the same directory fails at once instead of both "succeeding";
* a directory is replaced only if it is empty or was written by this project (its ``metadata.json``
  carries :data:`MARKER`), never if it holds the working directory, and, when it holds results of
  another configuration (another ``config_hash``), only with ``overwrite=true`` (:func:`claim`);
* writers work in hidden siblings (``.<name>.tmp-*``); one killed before it could clean up leaves
  such a sibling (and its lock file), which the next command writing in the same folder removes
  (:func:`clean_debris`).

This module stays light (standard library only): commands call it before loading the model.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

from sim.model.schemas import ConfigError

# The key and value in metadata.json that mark a directory as written by this project.
MARKER = ("written_by", "scamsim")
METADATA = "metadata.json"
TMP_INFIX, LOCK_SUFFIX, OLD_SUFFIX = ".tmp-", ".lock", ".old"

# Locks this process holds: lock file -> (file descriptor, nesting depth).
_held: dict[Path, tuple[int, int]] = {}


def _drop_inherited_locks() -> None:
    """In a forked child, close the lock files' descriptors it inherited (the parent keeps its own).

    A flock belongs to the open file, shared by every copy of its descriptor: a forked worker that kept
    one would hold the lock after its launcher was killed, until the worker too had gone. Closing the
    copy (not unlocking, which would free the parent's lock) leaves the lock with the launcher alone.
    """
    for fd, _depth in _held.values():
        with contextlib.suppress(OSError):
            os.close(fd)
    _held.clear()


os.register_at_fork(after_in_child=_drop_inherited_locks)


class DirError(ConfigError):
    """A results directory may not be written (busy, not ours, or another configuration's)."""


def check_name(name: object, key: str = "name") -> str:
    """``name`` if it is a plain directory name.

    Raises:
        ConfigError: For an empty name, one with a path separator, ``.``, ``..`` or a leading dot.
    """
    text = str(name) if name is not None else ""
    if not text or "/" in text or "\\" in text or "\0" in text or text.startswith("."):
        raise ConfigError(
            f"{key}={text!r} is not allowed: a run name is a plain folder name (not empty, no '/' or "
            "'\\', not starting with '.'), e.g. name=more-raids"
        )
    return text


def command_line() -> list[str] | None:
    """The ``scamsim`` command line this process runs (None when not run as ``scamsim``)."""
    if not sys.argv or not sys.argv[0].startswith("scamsim"):
        return None
    return [*sys.argv[0].split(), *sys.argv[1:]]


def _lock_file(path: Path) -> Path:
    return path.parent.resolve() / f".{path.name}{LOCK_SUFFIX}"


@contextlib.contextmanager
def lock(path: Path) -> Iterator[None]:
    """Hold the write lock of results directory ``path`` (re-entrant within this process).

    Raises:
        DirError: At once, if another process holds it (the message names that process).
    """
    lock_file = _lock_file(path)
    if lock_file in _held:
        fd, depth = _held[lock_file]
        _held[lock_file] = (fd, depth + 1)
        try:
            yield
        finally:
            _held[lock_file] = (fd, _held[lock_file][1] - 1)
        return
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    while True:
        fd = os.open(lock_file, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read(lock_file) or "another process"
            os.close(fd)
            raise DirError(
                f"{path} is being written by another command ({holder}); wait for it to finish or "
                "choose another name="
            ) from None
        with contextlib.suppress(FileNotFoundError):
            if os.stat(lock_file).st_ino == os.fstat(fd).st_ino:
                break
        os.close(fd)  # its holder removed that file as we opened it: take the new one
    os.write(fd, f"pid {os.getpid()}: {' '.join(command_line() or sys.argv)}".encode())
    _held[lock_file] = (fd, 1)
    try:
        yield
    finally:
        del _held[lock_file]
        lock_file.unlink(missing_ok=True)  # before closing: whoever opens it next gets a fresh file
        os.close(fd)


def _read(path: Path) -> str:
    try:
        return path.read_text().strip()
    except OSError:
        return ""


def _metadata(path: Path) -> dict | None:
    try:
        data = json.loads((path / METADATA).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def check_replaceable(path: Path, config_hash: str | None = None, overwrite: bool = False) -> None:
    """Refuse to replace ``path`` unless nothing is lost.

    Args:
        path: The results directory about to be (re)written.
        config_hash: The new results' configuration hash; None skips the configuration check.
        overwrite: Replace results of another configuration (``overwrite=true``).

    Raises:
        DirError: If ``path`` holds the working directory, is not a directory this project wrote
            (nor empty), or holds results of another configuration and ``overwrite`` is false.
    """
    resolved = path.resolve()
    if Path.cwd().resolve().is_relative_to(resolved):
        raise DirError(f"{path} holds the working directory; results never replace it")
    if not path.exists():
        return
    if not path.is_dir():
        raise DirError(f"{path} exists and is not a directory; move it away or choose another name=")
    if not any(path.iterdir()):
        return
    metadata = _metadata(path)
    if metadata is None or metadata.get(MARKER[0]) != MARKER[1]:
        raise DirError(
            f"{path} exists and was not written by scamsim (no {METADATA} with "
            f'"{MARKER[0]}": "{MARKER[1]}"); move it away or choose another name='
        )
    old = metadata.get("config_hash")
    if config_hash is not None and old != config_hash and not overwrite:
        raise DirError(
            f"{path} holds results of another configuration (config_hash {old}, now {config_hash}); "
            "add overwrite=true to replace them, or choose another name="
        )


def clean_debris(parent: Path) -> None:
    """Remove what killed writers left in ``parent``: temporaries and lock files nobody holds.

    A directory left half-replaced (``.<name>.old`` without ``<name>``) is put back instead.
    """
    if not parent.is_dir():
        return
    for entry in list(parent.iterdir()):
        name, infix, _ = entry.name[1:].partition(TMP_INFIX)
        if not entry.name.startswith(".") or entry.is_symlink():
            continue
        if infix and entry.is_dir():
            target = parent / name
        elif entry.name.endswith((OLD_SUFFIX, LOCK_SUFFIX)):
            target = parent / entry.name[1:].rsplit(".", 1)[0]
        else:
            continue
        try:
            with lock(target):  # taken: nobody is writing ``target``; released: its lock file goes
                if entry.name.endswith(OLD_SUFFIX) and not target.exists():
                    os.replace(entry, target)  # killed between the two renames: put it back
                elif not entry.name.endswith(LOCK_SUFFIX):
                    shutil.rmtree(entry, ignore_errors=True)
        except DirError:
            continue  # a live writer's


@contextlib.contextmanager
def claim(path: Path, config_hash: str | None = None, overwrite: bool = False) -> Iterator[Path]:
    """Lock results directory ``path`` for this command and check it may be (re)written.

    Taken before the work starts, so a busy, foreign or other-configuration directory is refused at
    once; held until the results are in place. Arguments as for :func:`check_replaceable`.

    Yields:
        ``path``.

    Raises:
        DirError: As :func:`lock` and :func:`check_replaceable`.
    """
    with lock(path):
        clean_debris(path.parent)
        check_replaceable(path, config_hash, overwrite)
        yield path
