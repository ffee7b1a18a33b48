"""What every command shares: the one-line error, the terminal, the progress bar, the argument rules.

Every command takes ``key=value`` arguments. Commands that configure model runs hand them to Hydra as
overrides (:func:`sim.cli.hydra_command.hydra_app`); the commands that only read saved files
(``collect``, ``phase``) take their own few keys by the same rules (:func:`parse_keys`). Either way a
bad argument ends the program with one line on stderr naming the key, the value and what is allowed,
and exit code 2.

This module stays light (no Hydra, pandas, matplotlib or Mesa), so that errors answer at once.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import NoReturn

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from sim.model.schemas import ConfigError, did_you_mean
from sim.runs.dirs import claim

console = Console(stderr=True)


def fail(message: str) -> NoReturn:
    """Print a one-line error for the current command and exit with code 2."""
    command = sys.argv[0] if sys.argv and sys.argv[0].startswith("scamsim") else "scamsim"
    print(f"{command}: error: {message}", file=sys.stderr)
    sys.exit(2)


def os_error_line(exc: OSError) -> str:
    """One line for a failure to read or write a file (e.g. a full disk): the file and the reason."""
    return f"{exc.filename}: {exc.strerror}" if exc.filename and exc.strerror else str(exc)


def check_repeated(argv: Sequence[str]) -> None:
    """Refuse a command line that sets one key twice (``police.raid_capacity=1 police.raid_capacity=2``).

    Raises:
        ConfigError: Naming the key and both values.
    """
    seen: dict[str, str] = {}
    for arg in argv:
        key, sep, value = arg.partition("=")
        key = key.lstrip("+~")
        if not sep or key.startswith("-"):
            continue
        if key in seen:
            raise ConfigError(
                f"{key} is given twice ({key}={seen[key]} and {key}={value}); give each key once"
            )
        seen[key] = value


@contextlib.contextmanager
def claim_or_fail(path: Path, config_hash: str | None, overwrite: bool) -> Iterator[Path]:
    """:func:`sim.runs.dirs.claim` for a command: a refusal ends the program with one line (exit 2)."""
    with contextlib.ExitStack() as stack:
        try:
            stack.enter_context(claim(path, config_hash, overwrite))
        except ConfigError as exc:
            fail(str(exc))
        yield path


def parse_keys(argv: Sequence[str], keys: dict[str, str], usage: str) -> dict[str, str]:
    """``key=value`` arguments of a command that is not a Hydra app, by the same rules.

    Args:
        argv: The arguments.
        keys: The keys the command takes -> their default value (``""``: none).
        usage: Printed for ``-h`` or ``--help`` (then the program exits with code 0).

    Returns:
        Every key of ``keys`` with its value.

    Raises:
        ConfigError: For an argument that is not ``key=value`` or names another key (one line).
    """
    if any(a in ("-h", "--help") for a in argv):
        print(usage)
        sys.exit(0)
    check_repeated(argv)
    values = dict(keys)
    for arg in argv:
        key, sep, value = arg.partition("=")
        if not sep:
            raise ConfigError(f"{arg!r} is not key=value; keys: {', '.join(keys)}")
        if key not in keys:
            raise ConfigError(f"unknown key {key!r}{did_you_mean(key, keys)}; keys: {', '.join(keys)}")
        values[key] = value
    return values


# Seconds between plain-text progress lines when stderr is not a terminal (a SLURM or nohup log).
PROGRESS_SECONDS_ENV = "SCAMSIM_PROGRESS_SECONDS"
PROGRESS_SECONDS = 30.0


def _duration(seconds: float) -> str:
    return str(dt.timedelta(seconds=round(seconds)))


@contextlib.contextmanager
def progress_bar(description: str) -> Iterator[Callable[[int, int], None]]:
    """Progress on stderr; yields ``report(done, total)`` to call after each task.

    On a terminal, a transient bar that appears at the first report (so a configuration error leaves
    the terminal untouched). Elsewhere (a log file), a plain line such as ``replicates: 12/40 (30%),
    elapsed 0:01:05, about 0:02:31 left`` at the first report, then at most every
    :data:`PROGRESS_SECONDS` seconds (environment variable :data:`PROGRESS_SECONDS_ENV`), and at the end.
    """
    if not console.is_terminal:
        yield _plain_lines(description, float(os.environ.get(PROGRESS_SECONDS_ENV, PROGRESS_SECONDS)))
        return
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    bar = Progress(*columns, console=console, transient=True)
    task = bar.add_task(description, total=None)

    def report(done: int, total: int) -> None:
        bar.start()  # once: starting a started bar does nothing
        bar.update(task, completed=done, total=total)

    try:
        yield report
    finally:
        if bar.live.is_started:  # stopping a bar never started still prints a newline
            bar.stop()


def _plain_lines(description: str, every: float) -> Callable[[int, int], None]:
    started = time.monotonic()
    last: float | None = None

    def report(done: int, total: int) -> None:
        nonlocal last
        now = time.monotonic()
        if last is not None and now - last < every and done < total:
            return
        last, elapsed = now, now - started
        line = f"{description}: {done:,}/{total:,} ({done / total:.0%}), elapsed {_duration(elapsed)}"
        if 0 < done < total:
            line += f", about {_duration(elapsed / done * (total - done))} left"
        print(line, file=sys.stderr, flush=True)

    return report
