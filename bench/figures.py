"""The figures the suite reports: identifier, label, unit and which direction is better.

Every parser returns ``{figure id: value}`` for the ids of its benchmark; :func:`figure`
attaches the catalogue's metadata, so each document carries its own units and directions and
stays readable by later versions of the comparison.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Figure:
    id: str
    benchmark: str
    """The benchmark (tool run) that produces it: ``hpcc``, ``fio`` or ``sysbench``."""
    label: str
    unit: str
    higher_is_better: bool


CATALOGUE: tuple[Figure, ...] = (
    Figure("hpl", "hpcc", "HPL (LU solve, all processes)", "GFLOPS", True),
    Figure("dgemm", "hpcc", "DGEMM (per process, all running)", "GFLOPS", True),
    Figure("stream_copy", "hpcc", "STREAM Copy (one process)", "GB/s", True),
    Figure("stream_triad", "hpcc", "STREAM Triad (one process)", "GB/s", True),
    Figure("stream_triad_star", "hpcc", "STREAM Triad (per process, all running)", "GB/s", True),
    Figure("random_access", "hpcc", "RandomAccess (per process, all running)", "GUP/s", True),
    Figure("fft", "hpcc", "FFT (per process, all running)", "GFLOPS", True),
    Figure("ptrans", "hpcc", "PTRANS (matrix transpose)", "GB/s", True),
    Figure("mpi_latency", "hpcc", "MPI ring latency (random order)", "us", False),
    Figure("fio_write", "fio", "write (iozone: write)", "MB/s", True),
    Figure("fio_rewrite", "fio", "rewrite (iozone: rewrite)", "MB/s", True),
    Figure("fio_read", "fio", "read, cache dropped (iozone: read)", "MB/s", True),
    Figure("fio_reread", "fio", "reread, cached (iozone: reread)", "MB/s", True),
    Figure("sysbench_cpu", "sysbench", "sysbench CPU (primes, all threads)", "events/s", True),
    Figure("sysbench_memory", "sysbench", "sysbench memory write (all threads)", "MiB/s", True),
)

BY_ID = {f.id: f for f in CATALOGUE}
BENCHMARKS = tuple(dict.fromkeys(f.benchmark for f in CATALOGUE))
"""The benchmarks in the order the suite runs them."""


def ids_of(benchmark: str) -> tuple[str, ...]:
    """The figure ids ``benchmark`` produces, in catalogue order."""
    return tuple(f.id for f in CATALOGUE if f.benchmark == benchmark)


def figure(figure_id: str, value: float) -> dict[str, Any]:
    """One figure as stored in a document."""
    meta = BY_ID[figure_id]
    return {
        "label": meta.label,
        "value": value,
        "unit": meta.unit,
        "higher_is_better": meta.higher_is_better,
    }
