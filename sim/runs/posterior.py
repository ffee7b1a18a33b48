"""The calibrated posterior as the default parameters: posterior draws for runs and sweeps.

``scamsim calibrate`` writes weighted particles; a small file of them is committed as
``configs/posterior_draws/<name>.csv`` (one column per calibrated parameter, plus ``weight``) with its
provenance in ``<name>.json``. A run with ``posterior=<name>`` gives replicate ``i`` posterior draw
``i``: draws are a weighted resample of the particles, fixed by the run's base seed, so two scenarios
run with the same seed share their draws as well as their random streams.

Parameters set explicitly (``fixed``; the CLI adds every key overridden on the command line) keep
their configured value in every draw, so ``scamsim run police.raid_capacity=60`` means "raid capacity
60, other parameters as calibrated".

A posterior fitted to an earlier version of the model, with a column that is no longer a parameter, is
refused with a one-line error.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.model import keys
from sim.model.schemas import ConfigError, ModelParams, check_value, value_type
from sim.model.validation import with_values
from sim.runs.config import CONFIG_DIR

POSTERIOR_DIR = Path(CONFIG_DIR) / "posterior_draws"


def path_of(name: str) -> Path:
    """The CSV file of a posterior given by name (in configs/posterior_draws/) or path."""
    path = Path(name)
    if path.suffix != ".csv":
        path = POSTERIOR_DIR / f"{name}.csv"
    if not path.exists():
        available = sorted(p.stem for p in POSTERIOR_DIR.glob("*.csv"))
        raise ConfigError(f"posterior={name!r} not found; available: {available} or a path to a .csv")
    return path


def load(name: str) -> pd.DataFrame:
    """Weighted particles of a posterior (columns: parameter keys and ``weight``), checked on load.

    Raises:
        ConfigError: One line naming the file and the problem: not a readable CSV, no rows, no
            ``weight`` column, a weight that is negative or not a finite number (or all zero), a column
            that is not a numeric model parameter, or a value outside the parameter's range.
    """
    path = path_of(name)
    try:
        particles = pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not a readable CSV ({str(exc).strip().splitlines()[0]})") from None
    if "weight" not in particles.columns:
        raise ConfigError(f"{path}: no 'weight' column; columns: {list(particles.columns)}")
    if particles.empty:
        raise ConfigError(f"{path}: no particles (the file has a header but no rows)")
    schema = ModelParams()
    for column in particles.columns:
        meta = {"lo": 0.0} if column == "weight" else _metadata(path, schema, column)
        for row, value in enumerate(particles[column].tolist(), start=2):  # row 1 is the header
            try:
                check_value(column, value, meta)
            except ConfigError as exc:
                raise ConfigError(f"{path}, line {row}: {exc}") from None
    if particles["weight"].sum() <= 0:
        raise ConfigError(f"{path}: the weights sum to 0; at least one particle needs weight > 0")
    return particles


def _metadata(path: Path, schema: ModelParams, column: str) -> dict[str, Any]:
    """Metadata of the numeric parameter a posterior column names (any entry of a named group)."""
    key = re.sub(r"^(jurisdictions|sources)\.[^.]+\.", r"\1.*.", column)
    try:
        node, field_name = keys.locate(schema, keys.expand(schema, key)[0])
    except ConfigError:
        raise ConfigError(f"{path}: column {column!r} is not a model parameter") from None
    f = next(f for f in dataclasses.fields(node) if f.name == field_name)
    if value_type(f)[0] not in ("int", "float"):
        raise ConfigError(f"{path}: column {column!r} is not a numeric parameter")
    return dict(f.metadata)


def digest(name: str) -> str:
    """SHA-256 of a posterior's CSV file: what its draws are made of, whatever its name."""
    return hashlib.sha256(path_of(name).read_bytes()).hexdigest()


def provenance(name: str) -> dict[str, Any]:
    """The provenance record saved beside a posterior (empty if there is none)."""
    meta = path_of(name).with_suffix(".json")
    return json.loads(meta.read_text()) if meta.exists() else {}


def resample(weights: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """Indices of ``n`` draws with replacement from particles with ``weights`` (need not sum to 1)."""
    return rng.choice(len(weights), size=n, p=weights / weights.sum())


def draws(name: str, n: int, seed: int, fixed: list[str] | tuple[str, ...] = ()) -> list[dict[str, float]]:
    """``n`` posterior draws (weighted resample fixed by ``seed``), without the ``fixed`` keys."""
    particles = load(name)
    weights = particles.pop("weight").to_numpy(float)
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0x905]))  # not a model stream
    rows = resample(weights, n, rng)
    keep = [c for c in particles.columns if c not in set(fixed)]
    return [dict(zip(keep, particles.iloc[r][keep].astype(float), strict=True)) for r in rows]


def weighted_quantiles(values: np.ndarray, weights: np.ndarray, qs: Sequence[float]) -> np.ndarray:
    """Quantiles of weighted particles (the weighted CDF, interpolated between particle midpoints)."""
    order = np.argsort(values)
    v, w = values[order], weights[order] / weights.sum()
    return np.interp(qs, np.cumsum(w) - w / 2, v)


def quantiles(name: str, qs: Sequence[float]) -> pd.DataFrame:
    """Quantiles ``qs`` (rows) of every calibrated parameter (columns) of a posterior."""
    particles = load(name)
    weights = particles.pop("weight").to_numpy(float)
    return pd.DataFrame(
        {key: weighted_quantiles(particles[key].to_numpy(float), weights, qs) for key in particles}, index=qs
    )


def for_run(config: Any) -> list[dict[str, float]] | None:
    """One draw per replicate of a run configuration, or None if it names no posterior."""
    if not config.posterior:
        return None
    return draws(config.posterior, config.n_seeds, config.seed, config.fixed)


def apply(params: ModelParams, values: dict[str, float]) -> ModelParams:
    """A validated copy of ``params`` with one draw's values."""
    return with_values(params, values)


def save(particles: pd.DataFrame, name: str, record: dict[str, Any], max_rows: int = 400) -> Path:
    """Commit-sized copy of a calibration's particles (the heaviest ``max_rows``) with provenance."""
    keep = particles.nlargest(max_rows, "weight").copy()
    keep["weight"] = keep["weight"] / keep["weight"].sum()
    POSTERIOR_DIR.mkdir(exist_ok=True)
    path = POSTERIOR_DIR / f"{name}.csv"
    keep.to_csv(path, index=False, float_format="%.6g")
    path.with_suffix(".json").write_text(json.dumps(record, indent=2, sort_keys=True, default=str) + "\n")
    return path
