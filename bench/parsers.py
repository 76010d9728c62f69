"""Tool outputs to figures: pure functions of the text the tools print.

Each parser returns a :class:`Parsed` (figure id -> value, in the units of
:mod:`bench.figures`, plus details worth keeping as data) or raises :class:`ParseError`
naming what it looked for. They are tested on outputs captured from the real tools.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any


class ParseError(ValueError):
    """A tool's output lacks what the parser needs (or reports a failed run)."""


@dataclass(frozen=True)
class Parsed:
    figures: dict[str, float]
    details: dict[str, Any] = field(default_factory=dict)


def _number(text: str) -> int | float | str:
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


# --- hpcc (HPC Challenge: HPL, DGEMM, STREAM, RandomAccess, FFT, PTRANS, latency) ------------

_HPCC_FIGURES = {
    # figure id: (summary key, factor to the catalogue's unit)
    "hpl": ("HPL_Tflops", 1000.0),
    "dgemm": ("StarDGEMM_Gflops", 1.0),
    "stream_copy": ("SingleSTREAM_Copy", 1.0),
    "stream_triad": ("SingleSTREAM_Triad", 1.0),
    "stream_triad_star": ("StarSTREAM_Triad", 1.0),
    "random_access": ("StarRandomAccess_GUPs", 1.0),
    "fft": ("StarFFT_Gflops", 1.0),
    "ptrans": ("PTRANS_GBs", 1.0),
    "mpi_latency": ("RandomlyOrderedRingLatency_usec", 1.0),
}
MULTI_PROCESS_ONLY = ("mpi_latency",)
"""Figures hpcc measures only between two or more MPI processes."""


def hpcc_summary(text: str) -> dict[str, int | float | str]:
    """The ``key=value`` lines of hpccoutf.txt's summary section."""
    match = re.search(
        r"^Begin of Summary section\.\n(.*?)^End of Summary section\.", text, re.M | re.S
    )
    if match is None:
        raise ParseError("hpcc: no 'Begin of Summary section.' ... 'End of Summary section.'")
    summary: dict[str, int | float | str] = {}
    for line in match.group(1).splitlines():
        key, sep, value = line.partition("=")
        if sep:
            summary[key.strip()] = _number(value.strip())
    return summary


def parse_hpcc(text: str) -> Parsed:
    """Figures of one hpcc run from its output file (``hpccoutf.txt``)."""
    summary = hpcc_summary(text)
    if summary.get("Success") != 1:
        raise ParseError(f"hpcc: the summary says Success={summary.get('Success')!r}")
    if "PASSED" not in text.partition("Begin of HPL section.")[2]:
        raise ParseError("hpcc: HPL's residual check did not pass")
    processes = summary.get("CommWorldProcs")
    figures: dict[str, float] = {}
    for figure_id, (key, factor) in _HPCC_FIGURES.items():
        if figure_id in MULTI_PROCESS_ONLY and processes == 1:
            continue
        value = summary.get(key)
        if not isinstance(value, int | float):
            raise ParseError(f"hpcc: no number for {key} in the summary (got {value!r})")
        figures[figure_id] = float(value) * factor
    version = re.search(r"HPC Challenge Benchmark version (\S+)", text)
    details = {
        "version": version.group(1) if version else None,
        "hpl_n": summary.get("HPL_N"),
        "hpl_nb": summary.get("HPL_NB"),
        "processes": processes,
        "stream_array_elements": summary.get("STREAM_VectorSize"),
        "summary": summary,
    }
    return Parsed(figures, details)


def openblas_core(text: str) -> str | None:
    """The kernel set OpenBLAS chose (``Core: Haswell``, printed with OPENBLAS_VERBOSE=2)."""
    match = re.search(r"^Core: (\S+)", text, re.M)
    return match.group(1) if match else None


# --- fio (iozone's write / rewrite / read / reread, see bench/fio.py) ---------------------------

_FIO_JOBS = {
    # figure id: (job name, direction)
    "fio_write": ("write", "write"),
    "fio_rewrite": ("rewrite", "write"),
    "fio_read": ("read", "read"),
    "fio_reread": ("reread", "read"),
}


def fio_document(text: str) -> dict[str, Any]:
    """fio's JSON output (``--output-format=json``), skipping any notice printed before it."""
    start = text.find("{")
    if start < 0:
        raise ParseError("fio: no JSON document in the output")
    try:
        doc = json.loads(text[start:])
    except json.JSONDecodeError as error:
        raise ParseError(f"fio: the output is not JSON ({error})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("jobs"), list):
        raise ParseError("fio: the JSON document has no 'jobs' list")
    return doc


def parse_fio(text: str) -> Parsed:
    """MB/s (10^6 bytes per second) of the four iozone-like jobs."""
    doc = fio_document(text)
    jobs = {job.get("jobname"): job for job in doc["jobs"]}
    figures: dict[str, float] = {}
    details: dict[str, Any] = {"version": doc.get("fio version"), "jobs": {}}
    for figure_id, (name, direction) in _FIO_JOBS.items():
        job = jobs.get(name)
        if job is None:
            raise ParseError(f"fio: no job named {name!r} (jobs: {sorted(map(str, jobs))})")
        if job.get("error"):
            raise ParseError(f"fio: job {name!r} failed with error {job['error']}")
        stats = job[direction]
        if not stats.get("io_bytes"):
            raise ParseError(f"fio: job {name!r} moved no bytes")
        figures[figure_id] = stats["bw_bytes"] / 1e6
        details["jobs"][name] = {
            "io_bytes": stats["io_bytes"],
            "runtime_ms": stats["runtime"],
            "iops": stats["iops"],
        }
    return Parsed(figures, details)


# --- sysbench -------------------------------------------------------------------------------


def _search(pattern: str, text: str, what: str) -> re.Match[str]:
    match = re.search(pattern, text, re.M)
    if match is None:
        raise ParseError(f"sysbench: no {what} in the output")
    return match


def sysbench_version(text: str) -> str | None:
    match = re.search(r"^sysbench (\S+)", text, re.M)
    return match.group(1) if match else None


def parse_sysbench_cpu(text: str) -> Parsed:
    """``sysbench cpu run``: events (prime searches) per second."""
    value = float(_search(r"events per second:\s+([\d.]+)", text, "'events per second'")[1])
    threads = int(_search(r"Number of threads: (\d+)", text, "'Number of threads'")[1])
    limit = int(_search(r"Prime numbers limit: (\d+)", text, "'Prime numbers limit'")[1])
    return Parsed(
        {"sysbench_cpu": value},
        {"version": sysbench_version(text), "threads": threads, "prime_limit": limit},
    )


def parse_sysbench_memory(text: str) -> Parsed:
    """``sysbench memory run``: MiB/s written."""
    rate = _search(r"MiB transferred \(([\d.]+) MiB/sec\)", text, "'MiB transferred (... MiB/sec)'")
    block = _search(r"block size: (\S+)", text, "'block size'")[1]
    operation = _search(r"operation: (\S+)", text, "'operation'")[1]
    threads = int(_search(r"Number of threads: (\d+)", text, "'Number of threads'")[1])
    return Parsed(
        {"sysbench_memory": float(rate[1])},
        {
            "version": sysbench_version(text),
            "threads": threads,
            "block_size": block,
            "operation": operation,
        },
    )
