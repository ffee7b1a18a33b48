"""What every command shares: the one-line error, the progress bar, terminal tables, the argument rules.

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
from collections.abc import Callable, Collection, Iterator, Sequence
from pathlib import Path
from typing import NoReturn

from rich import box
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

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

Report = Callable[..., None]  # report(done, total, note="", already=0): see progress_bar


def duration(seconds: float) -> str:
    """A duration as ``H:MM:SS``."""
    return str(dt.timedelta(seconds=round(seconds)))


@contextlib.contextmanager
def progress_bar(description: str) -> Iterator[Report]:
    """Progress on stderr; yields ``report(done, total, note="", already=0)`` to call as the work advances.

    ``note`` follows the count (e.g. ``accepted, 412 simulations``). ``already``, read at the first
    report, is the part of ``done`` finished before this display began (work kept from an earlier
    sitting): it counts as done but not in the time estimate, which would otherwise take it for speed.
    On a terminal, a transient bar that appears at the first report (so a configuration error leaves
    the terminal untouched).
    Elsewhere (a log file), a plain line such as ``replicates: 12/40 (30%), elapsed 0:01:05, about
    0:02:31 left`` at the first report, then at most every :data:`PROGRESS_SECONDS` seconds
    (environment variable :data:`PROGRESS_SECONDS_ENV`), and the last report when the work ends.
    """
    if not console.is_terminal:
        every = float(os.environ.get(PROGRESS_SECONDS_ENV, PROGRESS_SECONDS))
        with _plain_lines(description, every) as report:
            yield report
        return
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(bar_width=20),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        TextColumn("{task.fields[note]}"),
    )
    bar = Progress(*columns, console=console, transient=True)
    task = bar.add_task(description, total=None, note="")

    def report(done: int, total: int, note: str = "", already: int = 0) -> None:
        if not bar.live.is_started:  # the first report; rich's estimate starts from ``already``
            bar.reset(task, total=total, completed=already)
            bar.start()
        bar.update(task, completed=done, total=total, note=note)

    try:
        yield report
    finally:
        if bar.live.is_started:  # stopping a bar never started still prints a newline
            bar.stop()


@contextlib.contextmanager
def _plain_lines(description: str, every: float) -> Iterator[Report]:
    started = time.monotonic()
    printed: float | None = None  # when the last line was printed
    pending: tuple[int, int, str, float] | None = None  # the last report, if not printed yet
    before: int | None = None  # the first report's ``already``

    def emit(done: int, total: int, note: str, now: float) -> None:
        nonlocal printed, pending
        elapsed = now - started
        line = f"{description}: {done:,}/{total:,}" + (f" ({done / total:.0%})" if total else "")
        line += f" {note}" if note else ""
        line += f", elapsed {duration(elapsed)}"
        if before < done < total:
            line += f", about {duration(elapsed / (done - before) * (total - done))} left"
        print(line, file=sys.stderr, flush=True)
        printed, pending = now, None

    def report(done: int, total: int, note: str = "", already: int = 0) -> None:
        nonlocal pending, before
        before = already if before is None else before
        now = time.monotonic()
        if printed is None or now - printed >= every:
            emit(done, total, note, now)
        else:
            pending = (done, total, note, now)

    yield report
    if pending:
        emit(*pending)


def say(line: str) -> None:
    """Print a line of progress that stays: above the live bar on a terminal, as it is in a log."""
    console.print(line, soft_wrap=True, markup=False, highlight=False)


def number(x: float, unit: str) -> str:
    """A value for a terminal table: three significant digits, thousands separators, never an exponent.

    57,821 gives 57,800; shares have two decimals, or two significant digits below 0.1 (0.038).
    """
    if unit == "share":
        return f"{x:.2f}" if abs(x) >= 0.1 else f"{x:.2g}"
    return f"{float(f'{x:.3g}'):,.0f}" if abs(x) >= 100 else f"{x:,.3g}"


def table(title: str, columns: Sequence[str], right: Collection[str] = ()) -> Table:
    """An empty table for the terminal in the style of every command: one line per row, no cell cut.

    Args:
        title: Printed above the table.
        columns: Column headers.
        right: The headers of the columns aligned right (numbers).
    """
    out = Table(
        title=title,
        box=box.SIMPLE_HEAD,
        padding=(0, 1),
        collapse_padding=True,
        pad_edge=False,
        min_width=len(title),  # the title on one line
    )
    for column in columns:
        out.add_column(column, no_wrap=True, justify="right" if column in right else "left")
    return out


def terminal() -> Console:
    """The console for tables on stdout: the terminal's width, or 100 columns in a log file."""
    return Console(width=None if sys.stdout.isatty() else 100)
