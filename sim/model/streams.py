"""Independent random streams, one per random process, for reproducibility and common random numbers.

Each random process (recruitment, scam work, raids, ...) draws from its own generator, derived from the
replicate's :class:`numpy.random.SeedSequence` and the process name. Two scenarios run with the same seed
therefore share the random numbers of every process: where their mechanisms agree, so do their draws,
and differences come from the mechanisms rather than from noise (common random numbers). Deriving the
stream from the *name* rather than its position means adding a process never shifts the others.
"""

from __future__ import annotations

import zlib

import numpy as np


def stream_key(name: str) -> int:
    """Stable 32-bit key of a process name (the same on every machine and Python version)."""
    return zlib.crc32(name.encode("utf-8"))


class Streams:
    """Lazily created named generators derived from one seed sequence.

    Args:
        seed: A replicate's seed sequence (from ``SeedSequence.spawn``) or an integer seed.
    """

    def __init__(self, seed: np.random.SeedSequence | int):
        self.seed_seq = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
        self._generators: dict[str, np.random.Generator] = {}

    def __getitem__(self, name: str) -> np.random.Generator:
        """The generator of process ``name``."""
        gen = self._generators.get(name)
        if gen is None:
            seq = np.random.SeedSequence(
                self.seed_seq.entropy, spawn_key=(*self.seed_seq.spawn_key, stream_key(name))
            )
            gen = self._generators[name] = np.random.Generator(np.random.PCG64(seq))
        return gen


def replicate_seeds(seed: int, n: int) -> list[np.random.SeedSequence]:
    """Independent seed sequences for ``n`` replicates of a run with base seed ``seed``."""
    return np.random.SeedSequence(seed).spawn(n)
