"""Benchmark documents for the tests, built from the real tool outputs in tests/fixtures/bench
(captured from hpcc, fio and sysbench on this kind of machine) through the real parsers."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from bench import SCHEMA_ID, parsers
from bench.figures import figure
from bench.sizing import QUICK, Resources, plan

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "bench"
SCHEMA = json.loads((FIXTURES.parent.parent.parent / "bench" / "schema.json").read_text())


def fixture(name: str) -> str:
    return (FIXTURES / name).read_text(encoding="utf-8")


def _bench(parsed: parsers.Parsed, raw: dict[str, str]) -> dict[str, Any]:
    return {
        "started": "2026-12-01T15:00:00Z",
        "finished": "2026-12-01T15:00:03Z",
        "seconds": 3.0,
        "commands": [["tool"]],
        "figures": {k: figure(k, v) for k, v in parsed.figures.items()},
        "details": parsed.details,
        "raw": raw,
        "error": None,
    }


def document(hostname: str = "vm", cores: int = 2, processes: int = 2) -> dict[str, Any]:
    """A whole document as the runner writes it (2 or 1 MPI processes' hpcc output)."""
    hpcc = fixture(f"hpccoutf-{processes}proc.txt")
    cpu, memory = fixture("sysbench-cpu.txt"), fixture("sysbench-memory.txt")
    first, second = parsers.parse_sysbench_cpu(cpu), parsers.parse_sysbench_memory(memory)
    sizes = plan(Resources(cores, 4 << 30, 32 << 20, 50 << 30), QUICK)
    return {
        "schema": SCHEMA_ID,
        "runner_version": "1.0.0",
        "profile": "quick",
        "started": "2026-12-01T15:00:00Z",
        "finished": "2026-12-01T15:00:09Z",
        "seconds": 9.0,
        "machine": {
            "hostname": hostname,
            "cpu_model": "Intel(R) Xeon(R) Processor",
            "architecture": "x86_64",
            "cores": cores,
            "memory_bytes": 4 << 30,
            "memory_total_bytes": 4 << 30,
            "memory_limit_bytes": None,
            "caches": [{"level": 3, "type": "Unified", "bytes": 32 << 20}],
            "llc_bytes": 32 << 20,
            "kernel": "6.1.0-cloud-amd64",
            "os": "Debian GNU/Linux 12 (bookworm)",
            "python": "3.11.2",
            "virtualization": "qemu",
            "virtualization_vm": "qemu",
            "virtualization_container": "none",
        },
        "sizes": sizes.as_dict(),
        "tools": {
            "hpcc": "1.5.0",
            "mpirun": "mpirun (Open MPI) 4.1.4",
            "fio": "fio-3.33",
            "sysbench": "sysbench 1.0.20",
            "openblas_core": "Prescott",
        },
        "packages": {"hpcc": "1.5.0-3"},
        "benchmarks": {
            "hpcc": _bench(parsers.parse_hpcc(hpcc), {"hpccoutf.txt": hpcc}),
            "fio": _bench(parsers.parse_fio(fixture("fio-iozone.json")), {"fio.json": "{}"}),
            "sysbench": _bench(
                parsers.Parsed({**first.figures, **second.figures}),
                {"sysbench-cpu": cpu, "sysbench-memory": memory},
            ),
        },
    }


def scaled(doc: dict[str, Any], factor: float, hostname: str) -> dict[str, Any]:
    """``doc`` with every figure multiplied by ``factor`` (a guest that gets that share)."""
    out = copy.deepcopy(doc)
    out["machine"]["hostname"] = hostname
    for bench in out["benchmarks"].values():
        for fig in bench["figures"].values():
            fig["value"] *= factor
    return out
