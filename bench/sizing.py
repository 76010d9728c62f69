"""Problem sizes from the machine's memory, cores and last-level cache: pure functions.

Rules (see :func:`plan`):

- **MPI processes** = cores (one OpenBLAS thread each), on the most square P x Q grid (P <= Q).
- **HPL's N** is the largest multiple of NB whose N x N matrix of doubles fills
  ``hpl_memory_fraction`` of the memory: N = NB * floor(sqrt(f * memory / 8) / NB).
- **STREAM's array** (hpcc derives it from N: N^2 / (3 P Q) doubles per process) must be at
  least 4x the last-level cache; when the HPL rule gives a smaller N, N is raised to the
  smallest multiple of NB that meets it, but never above ``max_memory_fraction`` of the memory.
  A document records whether the cache rule was met.
- **fio**: one file of ``fio_size`` bytes (at most a tenth of the free space of its directory);
  reads drop the file's cached pages first (fio's ``invalidate``), so the file need not exceed
  the memory as iozone's rule (twice the memory) would have it.
- **sysbench**: every core, for ``sysbench_seconds`` per test.

The quick profile keeps the same rules with a small memory fraction, N at most
``max_n`` and short times; it makes no attempt at the cache rule (it runs in seconds).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

MIB = 1 << 20
GIB = 1 << 30
DOUBLE = 8
STREAM_ARRAYS = 3
CACHE_FACTOR = 4


@dataclass(frozen=True)
class Profile:
    name: str
    hpl_memory_fraction: float
    """Share of the memory HPL's matrix takes."""
    max_memory_fraction: float
    """Ceiling on the matrix when it is grown for STREAM's cache rule."""
    nb: int
    """HPL's block size."""
    max_n: int | None
    """Ceiling on N (the quick profile's), None for none."""
    cache_rule: bool
    """Grow N until STREAM's array is 4x the last-level cache."""
    fio_size: int
    fio_block_size: int
    sysbench_seconds: int


QUICK = Profile(
    name="quick",
    hpl_memory_fraction=0.05,
    max_memory_fraction=0.05,
    nb=64,
    max_n=1024,
    cache_rule=False,
    fio_size=32 * MIB,
    fio_block_size=MIB,
    sysbench_seconds=1,
)
FULL = Profile(
    name="full",
    hpl_memory_fraction=0.25,
    max_memory_fraction=0.5,
    nb=128,
    max_n=None,
    cache_rule=True,
    fio_size=GIB,
    fio_block_size=MIB,
    sysbench_seconds=20,
)
PROFILES = {p.name: p for p in (QUICK, FULL)}


@dataclass(frozen=True)
class Resources:
    """What the sizes are derived from (see :mod:`bench.facts`)."""

    cores: int
    memory_bytes: int
    llc_bytes: int | None
    disk_free_bytes: int


@dataclass(frozen=True)
class Sizes:
    processes: int
    p: int
    q: int
    hpl_n: int
    hpl_nb: int
    hpl_matrix_bytes: int
    hpl_memory_fraction: float
    stream_array_elements: int
    stream_array_bytes: int
    stream_required_bytes: int | None
    """4x the last-level cache (None: cache size unknown)."""
    stream_cache_rule_met: bool
    fio_size: int
    fio_block_size: int
    sysbench_threads: int
    sysbench_seconds: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def process_grid(processes: int) -> tuple[int, int]:
    """The most square grid P x Q = processes with P <= Q (HPL prefers flat grids)."""
    if processes < 1:
        raise ValueError(f"processes must be >= 1, not {processes}")
    p = max(d for d in range(1, math.isqrt(processes) + 1) if processes % d == 0)
    return p, processes // p


def hpl_n(memory_bytes: int, fraction: float, nb: int) -> int:
    """The largest multiple of ``nb`` whose matrix fits ``fraction`` of ``memory_bytes``."""
    elements = fraction * memory_bytes / DOUBLE
    return max(nb, nb * (math.isqrt(int(elements)) // nb))


def stream_elements(n: int, processes: int) -> int:
    """hpcc's STREAM array length per process for HPL's N (the matrix split three ways)."""
    return n * n // (STREAM_ARRAYS * processes)


def n_for_stream(llc_bytes: int, processes: int, nb: int) -> int:
    """The smallest multiple of ``nb`` giving STREAM arrays of 4x ``llc_bytes``."""
    elements = math.ceil(CACHE_FACTOR * llc_bytes / DOUBLE)
    n = math.isqrt(elements * STREAM_ARRAYS * processes)
    while stream_elements(n, processes) < elements:
        n += 1
    return nb * math.ceil(n / nb)


def plan(resources: Resources, profile: Profile) -> Sizes:
    """Every problem size of one run of the suite."""
    processes = max(1, resources.cores)
    p, q = process_grid(processes)
    nb = profile.nb
    n = hpl_n(resources.memory_bytes, profile.hpl_memory_fraction, nb)
    required = CACHE_FACTOR * resources.llc_bytes if resources.llc_bytes else None
    if profile.cache_rule and resources.llc_bytes:
        ceiling = hpl_n(resources.memory_bytes, profile.max_memory_fraction, nb)
        n = max(n, min(n_for_stream(resources.llc_bytes, processes, nb), ceiling))
    if profile.max_n is not None:
        n = min(n, max(nb, profile.max_n // nb * nb))
    elements = stream_elements(n, processes)
    fio_size = min(profile.fio_size, resources.disk_free_bytes // 10)
    fio_size = max(
        profile.fio_block_size, fio_size // profile.fio_block_size * profile.fio_block_size
    )
    return Sizes(
        processes=processes,
        p=p,
        q=q,
        hpl_n=n,
        hpl_nb=nb,
        hpl_matrix_bytes=n * n * DOUBLE,
        hpl_memory_fraction=round(n * n * DOUBLE / resources.memory_bytes, 4),
        stream_array_elements=elements,
        stream_array_bytes=elements * DOUBLE,
        stream_required_bytes=required,
        stream_cache_rule_met=required is not None and elements * DOUBLE >= required,
        fio_size=fio_size,
        fio_block_size=profile.fio_block_size,
        sysbench_threads=processes,
        sysbench_seconds=profile.sysbench_seconds,
    )
