"""Run results as tables: extraction from a finished model, and atomic reading and writing.

A results directory holds:

* ``timeseries.parquet``: one row per replicate, step and jurisdiction; one column per variable of
  :data:`sim.model.ledger.VARIABLES` (people and money at full scale, i.e. divided by the population scale);
* ``raids.parquet``: the raid event log (date, compound, tipped off?, workers found, outcome);
* ``compounds.parquet``: one row per compound and replicate (dates opened, closed and first raided, raids,
  site);
* ``spells.parquet``: one row per site spell and replicate (the unit of the AM7 observation model; dates
  moved in, out and first investigated);
* ``metrics.parquet``: one row per replicate, one column per metric of :data:`sim.runs.metrics.METRICS`;
* ``summary.json``: median and 90% interval of each metric, and the comparison with published figures;
* ``metadata.json``: provenance (git commit, package versions, full config, seeds);
* ``figures/``: PNG figures.

Directories are written under a temporary name and swapped into place (:func:`atomic_dir`), so an
interrupted run never leaves a half-written or empty results directory behind, and the previous
results stay until the new ones are complete.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from sim.model.ledger import VARIABLES
from sim.model.population import SPELL_REASONS
from sim.runs import dirs

if TYPE_CHECKING:
    from sim.model.model import ScamModel

TABLES = ("timeseries", "raids", "compounds", "spells", "metrics")


@dataclass
class Results:
    """Tables of one or more replicates of a run, plus summary and provenance."""

    timeseries: pd.DataFrame
    raids: pd.DataFrame
    compounds: pd.DataFrame
    spells: pd.DataFrame
    metrics: pd.DataFrame
    summary: dict[str, Any] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)

    def write(self, path: str | Path, files: dict[str, bytes] | None = None) -> Path:
        """Write all tables, JSON files and ``files`` (e.g. encoded figures) to ``path`` atomically.

        Args:
            path: The results directory (replaced).
            files: Further files by path relative to ``path`` (``figures/<name>.png``), as bytes.
        """
        path = Path(path)
        with atomic_dir(path) as tmp:
            for name in TABLES:
                getattr(self, name).to_parquet(tmp / f"{name}.parquet", index=False)
            write_json(tmp / "summary.json", self.summary)
            write_json(tmp / "metadata.json", self.metadata)
            write_files(tmp, files or {})
        return path


@dataclass
class CalibrationResults:
    """What ``scamsim calibrate`` wrote to ``results/calibration/<name>/``.

    Attributes:
        posterior: Weighted particles of the last ABC-SMC generation: one column per free parameter
            (named by config key, in the parameter's unit, see docs/ODD.md) and ``weight`` (sums to 1).
        diagnostics: One row per generation: ``generation``, ``epsilon`` (distance threshold),
            ``simulations`` (model runs), ``acceptance_rate``, ``ess`` (effective sample size),
            ``seconds``, ``resumed`` (read from an earlier call's History rather than run by this one).
        predictive: The posterior predictive: one row per re-simulated posterior draw, with its
            parameters and every metric of :data:`sim.runs.metrics.METRICS`.
        fit: One row per fit target: its definition, observed value or range, kind, grade, and the
            predictive's ``q05``, ``median``, ``q95`` and whether the 90% interval meets it (``covered``).
        validation: The same for the validate targets (never used in fitting).
        metadata: Provenance (commit, versions, configuration, seeds, ``seconds``), ``stop`` (why the
            run stopped: ``reason``, ``converged``, ``message``) and ``priors`` (of the free parameters).
    """

    posterior: pd.DataFrame
    diagnostics: pd.DataFrame
    predictive: pd.DataFrame
    fit: pd.DataFrame
    validation: pd.DataFrame
    metadata: dict[str, Any]


def load_calibration(path: str | Path) -> CalibrationResults:
    """Read a calibration results directory (e.g. ``results/calibration/default``)."""
    path = Path(path)
    if not (path / "posterior.parquet").exists():
        raise FileNotFoundError(f"{path} is not a calibration results directory (no posterior.parquet)")
    return CalibrationResults(
        **{
            name: pd.read_parquet(path / f"{name}.parquet")
            for name in ("posterior", "diagnostics", "predictive")
        },
        fit=pd.read_csv(path / "fit.csv"),
        validation=pd.read_csv(path / "validation.csv"),
        metadata=json.loads((path / "metadata.json").read_text()),
    )


@dataclass
class SensitivityResults:
    """What ``scamsim sensitivity`` wrote to ``results/sensitivity/<name>/``.

    Attributes:
        indices: One row per output and parameter. Morris: ``mu``, ``mu_star``, ``sigma`` (output units
            per parameter range) and ``mu_star_conf``; Sobol: ``S1``, ``ST``, ``S1_conf``, ``ST_conf``.
            A ``_conf`` column is the half-width of the 95% bootstrap interval; ``n_used`` counts the
            trajectories or base samples with the output defined.
        parameters: The ranges analysed: ``parameter``, ``dist``, ``low``, ``high``, ``source``.
        samples: Every sample row (one column per parameter) and its outputs.
        metadata: Provenance (commit, versions, configuration, seeds, ``seconds``, ``runs``).
    """

    indices: pd.DataFrame
    parameters: pd.DataFrame
    samples: pd.DataFrame
    metadata: dict[str, Any]


def load_sensitivity(path: str | Path) -> SensitivityResults:
    """Read a sensitivity-analysis results directory (e.g. ``results/sensitivity/morris``)."""
    path = Path(path)
    if not (path / "indices.parquet").exists():
        raise FileNotFoundError(f"{path} is not a sensitivity results directory (no indices.parquet)")
    return SensitivityResults(
        indices=pd.read_parquet(path / "indices.parquet"),
        parameters=pd.read_csv(path / "parameters.csv"),
        samples=pd.read_parquet(path / "samples.parquet"),
        metadata=json.loads((path / "metadata.json").read_text()),
    )


@contextlib.contextmanager
def atomic_dir(path: Path) -> Iterator[Path]:
    """Yield a temporary sibling directory that replaces ``path`` only if the block succeeds.

    The one way results directories are (re)placed: under ``path``'s lock, only over an empty
    directory or one this project wrote (:func:`sim.runs.dirs.check_replaceable`), and by one atomic
    exchange of the two directories, so a kill at any moment leaves either the old or the new results
    in place (plus, at worst, a hidden temporary that the next command removes).

    Raises:
        sim.runs.dirs.DirError: If ``path`` is busy or may not be replaced.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with dirs.lock(path):
        dirs.check_replaceable(path)
        tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}{dirs.TMP_INFIX}", dir=path.parent))
        umask = os.umask(0)
        os.umask(umask)
        tmp.chmod(0o777 & ~umask)  # mkdtemp makes it private; results are meant to be shared
        try:
            yield tmp
            move_into_place(tmp, path)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)  # the failed results


def move_into_place(src: Path, path: Path) -> None:
    """Replace results directory ``path`` by the finished directory ``src`` (on the same file system).

    The rules and the one-step exchange of :func:`atomic_dir`, for results written elsewhere first (a
    re-make's staging folder): under ``path``'s lock, only over an empty directory or one this project
    wrote; the replaced results are removed afterwards (``src`` no longer exists).

    Raises:
        sim.runs.dirs.DirError: If ``path`` is busy or may not be replaced (nothing is moved).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with dirs.lock(path):
        dirs.check_replaceable(path)
        _replace_dir(src, path)
    shutil.rmtree(src, ignore_errors=True)  # the old results, if there were any


def atomic_write(path: Path, write: Callable[[Path], Any]) -> Path:
    """Write via ``write(tmp_path)`` to a hidden temporary in the same directory, then rename.

    Returns:
        ``path``.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}{dirs.TMP_INFIX}{os.getpid()}")
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def write_files(root: Path, files: dict[str, bytes]) -> None:
    """Write ``files`` (path relative to ``root`` -> bytes) under ``root``, making folders as needed."""
    for relative, data in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def write_json(path: Path, obj: Any) -> None:
    """Write ``obj`` as sorted, indented JSON."""
    path.write_text(json.dumps(obj, indent=2, sort_keys=True, default=_json_default) + "\n")


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    return str(obj)


_RENAME_EXCHANGE, _AT_FDCWD = 2, -100


def _replace_dir(src: Path, dst: Path) -> None:
    """Move directory ``src`` to ``dst``; an existing ``dst`` ends up at ``src`` (for the caller to remove).

    Where the system can (Linux: ``renameat2(RENAME_EXCHANGE)``) the two directories swap in one step;
    elsewhere ``dst`` is first renamed to ``.<dst>.old``, which :func:`sim.runs.dirs.clean_debris` puts
    back if the process dies before the second rename.
    """
    if not dst.exists():
        os.replace(src, dst)
        return
    libc = ctypes.CDLL(None, use_errno=True)
    exchange = getattr(libc, "renameat2", None)
    if exchange and exchange(_AT_FDCWD, bytes(src), _AT_FDCWD, bytes(dst), _RENAME_EXCHANGE) == 0:
        return
    old = dst.with_name(f".{dst.name}{dirs.OLD_SUFFIX}")
    os.replace(dst, old)
    os.replace(src, dst)
    os.replace(old, src)


def load_results(path: str | Path) -> Results:
    """Read a results directory written by :meth:`Results.write`."""
    path = Path(path)
    if not (path / "summary.json").exists():
        raise FileNotFoundError(f"{path} is not a scamsim results directory (no summary.json)")
    # Results written before site spells were recorded have no spells table.
    tables = {
        name: pd.read_parquet(path / f"{name}.parquet")
        if (path / f"{name}.parquet").exists()
        else pd.DataFrame()
        for name in TABLES
    }
    return Results(
        **tables,
        summary=json.loads((path / "summary.json").read_text()),
        metadata=json.loads((path / "metadata.json").read_text()),
    )


# ------------------------------------------------------------------------------------------------
# Extraction from a finished model
# ------------------------------------------------------------------------------------------------


def timeseries(model: ScamModel) -> pd.DataFrame:
    """The model's ledger as a tidy table: one row per step and jurisdiction."""
    ledger = model.ledger
    n_steps, n_j = model.clock.n_steps, len(model.juris_names)
    table = {
        "step": np.repeat(np.arange(n_steps), n_j),
        "date": np.repeat(model.clock.dates(), n_j),
        "jurisdiction": pd.Categorical(np.tile(model.juris_names, n_steps), categories=model.juris_names),
    }
    for name, var in VARIABLES.items():
        values = ledger.series[name].reshape(-1)
        table[name] = values / model.p.scale if var.scaled else values
    return pd.DataFrame(table)


def raids(model: ScamModel) -> pd.DataFrame:
    """The raid event log, with dates and jurisdiction names."""
    columns = [
        "step",
        "day",
        "compound",
        "juris",
        "town",
        "elite",
        "protected",
        "tipped_off",
        "workers_found",
        "outcome",
        "campaign",
    ]
    df = pd.DataFrame(model.ledger.raids, columns=columns)
    # int64 first: with no raids the empty columns are of object type, which has no timedelta cast.
    df["date"] = np.datetime64(model.clock.start, "D") + df["day"].astype("int64").astype("timedelta64[D]")
    df["jurisdiction"] = pd.Categorical.from_codes(df.pop("juris").astype(int), model.juris_names)
    df["workers_found"] = df["workers_found"] / model.p.scale
    return df


def compounds(model: ScamModel) -> pd.DataFrame:
    """One row per compound ever opened, its history as dates (``closed``, ``first_raid``: NaT if never)."""
    rows = [
        {
            "compound": c.cid,
            "boss": c.boss.unique_id,
            "elite": c.elite,
            "jurisdiction": model.juris_names[c.juris],
            "town": c.town,
            "capacity": c.capacity / model.p.scale,
            "opened": c.opened_day,
            "closed": c.closed_day,
            "first_raid": c.first_raid_day,
            "raids": c.raids,
            "tipoffs": c.tipoffs,
            "relocations": c.relocations,
            "protected": c.protected,
            "site": c.site,
            "entered": c.entered,
            "scam_income": model.accounts.scam_income[c.cid] / model.p.scale,
        }
        for c in model.compounds
    ]
    df = pd.DataFrame(rows)
    _to_dates(df, model, ("opened", "closed", "first_raid"))
    return df


def spells(model: ScamModel) -> pd.DataFrame:
    """One row per site spell (a compound on one site; see :class:`sim.model.population.SpellLog`)."""
    log = model.spells
    df = pd.DataFrame({name: getattr(log, name).copy() for name in log.COLUMNS})
    df.insert(0, "compound", df.pop("cid"))
    df["jurisdiction"] = pd.Categorical.from_codes(df.pop("juris"), model.juris_names)
    df["reason"] = pd.Categorical.from_codes(df["reason"], SPELL_REASONS)
    _to_dates(df, model, ("start", "end", "first_intervention", "first_raid"))
    return df


def _to_dates(df: pd.DataFrame, model: ScamModel, columns: tuple[str, ...]) -> None:
    """Turn ``columns`` of days since the run's start into dates (NaT where NaN), in place."""
    start = pd.Timestamp(model.clock.start)
    for col in columns:
        df[col] = start + pd.to_timedelta(df[col].astype(float), unit="D")
