"""Run the suite on this machine and build its document (one JSON object, bench/schema.json).

Each benchmark runs in its own temporary directory with its inputs rendered by
:mod:`bench.jobs`; its raw outputs, its parsed figures (or the error that stopped it) and its
timing go into the document. A benchmark that fails does not stop the others.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any, TextIO

from bench import SCHEMA_ID, __version__, facts, parsers
from bench.figures import BENCHMARKS, figure
from bench.jobs import fio_jobs, hpccinf
from bench.sizing import Profile, Resources, Sizes, plan

HPCC_ENV = {
    # One BLAS thread per MPI process; print the kernels OpenBLAS picked ("Core: ...").
    "OPENBLAS_NUM_THREADS": "1",
    "OPENBLAS_VERBOSE": "2",
    # Guests and containers often run the suite as root.
    "OMPI_ALLOW_RUN_AS_ROOT": "1",
    "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1",
    # Single-copy shared memory (CMA) is refused in containers: copy through buffers everywhere,
    # so that every machine runs the same code path.
    "OMPI_MCA_btl_vader_single_copy_mechanism": "none",
    # Everything runs on this machine: no ssh/rsh is needed (nor installed in containers).
    "OMPI_MCA_plm_rsh_agent": "false",
}


EMULATED_BLAS_CORE = "Prescott"
"""OpenBLAS's kernels on a machine under software emulation. QEMU's TCG presents its default
CPU (``qemu64``) as an AMD family 15 part, for which OpenBLAS picks its Opteron kernels; those
use 3DNow! instructions that TCG does not implement, and hpcc dies on SIGILL. Prescott's
kernels need SSE2/SSE3 only."""


def blas_core_for(machine: Mapping[str, Any], asked: str | None) -> str | None:
    """OPENBLAS_CORETYPE for hpcc: the one asked for (``--blas-core``), else
    :data:`EMULATED_BLAS_CORE` where ``systemd-detect-virt --vm`` says ``qemu`` (QEMU without
    KVM), else None (OpenBLAS's own detection)."""
    if asked:
        return asked
    return EMULATED_BLAS_CORE if facts.emulated(machine) else None


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


@dataclass
class Outcome:
    """One benchmark's entry in the document."""

    command: list[list[str]] = field(default_factory=list)
    raw: dict[str, str] = field(default_factory=dict)
    figures: dict[str, float] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)
    error: str | None = None


@dataclass(frozen=True)
class Options:
    profile: Profile
    directory: str = "/var/tmp"
    """Where fio writes its file (a disk-backed directory: not a tmpfs)."""
    only: tuple[str, ...] = BENCHMARKS
    blas_core: str | None = None
    """OPENBLAS_CORETYPE for hpcc (None: OpenBLAS's own detection)."""


class ToolFailed(RuntimeError):
    pass


def _run(
    outcome: Outcome,
    name: str,
    argv: list[str],
    cwd: str,
    env: Mapping[str, str] | None = None,
) -> str:
    """Run one command, keep its output under ``raw[name]``; a failure raises ToolFailed."""
    outcome.command.append(argv)
    if shutil.which(argv[0]) is None:
        raise ToolFailed(f"{argv[0]} is not installed (Debian packages: bench/packages.txt)")
    run = subprocess.run(
        argv,
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        errors="replace",
        check=False,
        stdin=subprocess.DEVNULL,
    )
    outcome.raw[name] = run.stdout
    if run.stderr:
        outcome.raw[f"{name}.stderr"] = run.stderr
    if run.returncode != 0:
        tail = (run.stderr or run.stdout).strip().splitlines()[-5:]
        raise ToolFailed(f"{argv[0]} exited with status {run.returncode}: " + " | ".join(tail))
    return run.stdout


def run_hpcc(sizes: Sizes, workdir: str, options: Options, outcome: Outcome) -> None:
    Path(workdir, "hpccinf.txt").write_text(hpccinf(sizes), encoding="utf-8")
    outcome.raw["hpccinf.txt"] = hpccinf(sizes)
    env = dict(HPCC_ENV)
    if options.blas_core:
        env["OPENBLAS_CORETYPE"] = options.blas_core
    argv = ["mpirun", "--oversubscribe", "-np", str(sizes.processes), "hpcc"]
    try:
        stdout = _run(outcome, "mpirun", argv, workdir, env)
    finally:
        out = Path(workdir, "hpccoutf.txt")
        if out.exists():
            outcome.raw["hpccoutf.txt"] = out.read_text(encoding="utf-8", errors="replace")
    parsed = parsers.parse_hpcc(outcome.raw.get("hpccoutf.txt", ""))
    outcome.figures, outcome.details = parsed.figures, parsed.details
    outcome.details["openblas_core"] = parsers.openblas_core(
        stdout + outcome.raw.get("mpirun.stderr", "")
    )
    outcome.details["environment"] = env


def run_fio(sizes: Sizes, workdir: str, options: Options, outcome: Outcome) -> None:
    target = tempfile.mkdtemp(prefix="cloudlabs-bench-", dir=options.directory)
    try:
        jobs = fio_jobs(sizes, target)
        Path(workdir, "iozone.fio").write_text(jobs, encoding="utf-8")
        outcome.raw["iozone.fio"] = jobs
        argv = ["fio", "--output-format=json", "--output=fio.json", "iozone.fio"]
        try:
            _run(outcome, "fio", argv, workdir)
        finally:
            out = Path(workdir, "fio.json")
            if out.exists():
                outcome.raw["fio.json"] = out.read_text(encoding="utf-8", errors="replace")
    finally:
        shutil.rmtree(target, ignore_errors=True)
    parsed = parsers.parse_fio(outcome.raw.get("fio.json", ""))
    outcome.figures, outcome.details = parsed.figures, parsed.details
    outcome.details["directory"] = options.directory


def run_sysbench(sizes: Sizes, workdir: str, options: Options, outcome: Outcome) -> None:
    common = [f"--threads={sizes.sysbench_threads}", f"--time={sizes.sysbench_seconds}"]
    cpu = _run(outcome, "sysbench-cpu", ["sysbench", "cpu", *common, "run"], workdir)
    memory = _run(
        outcome,
        "sysbench-memory",
        [
            "sysbench",
            "memory",
            *common,
            "--memory-block-size=1M",
            "--memory-total-size=1024G",  # large enough for --time to end the test
            "run",
        ],
        workdir,
    )
    first, second = parsers.parse_sysbench_cpu(cpu), parsers.parse_sysbench_memory(memory)
    outcome.figures = {**first.figures, **second.figures}
    outcome.details = {"cpu": first.details, "memory": second.details}


RUNNERS: dict[str, Callable[[Sizes, str, Options, Outcome], None]] = {
    "hpcc": run_hpcc,
    "fio": run_fio,
    "sysbench": run_sysbench,
}
assert tuple(RUNNERS) == BENCHMARKS


def _first_line(argv: list[str]) -> str | None:
    if shutil.which(argv[0]) is None:
        return None
    run = subprocess.run(argv, capture_output=True, text=True, check=False)
    lines = (run.stdout or run.stderr).strip().splitlines()
    return lines[0] if lines else None


def packages_text() -> str:
    """bench/packages.txt (read through importlib.resources: works from the zip too)."""
    return resources.files("bench").joinpath("packages.txt").read_text(encoding="utf-8")


def package_names(text: str) -> list[str]:
    """The package names of bench/packages.txt (comments and blank lines skipped)."""
    return [line.strip() for line in text.splitlines() if line.strip() and line[0] != "#"]


def _package_versions(names: Iterable[str]) -> dict[str, str]:
    if shutil.which("dpkg-query") is None:
        return {}
    run = subprocess.run(
        ["dpkg-query", "-W", "-f=${Package}\t${Version}\n", *names],
        capture_output=True,
        text=True,
        check=False,
    )
    return dict(line.split("\t", 1) for line in run.stdout.splitlines() if "\t" in line)


def tool_versions() -> dict[str, str | None]:
    return {
        "mpirun": _first_line(["mpirun", "--version"]),
        "fio": _first_line(["fio", "--version"]),
        "sysbench": _first_line(["sysbench", "--version"]),
    }


def run(options: Options, log: TextIO = sys.stderr) -> dict[str, Any]:
    """Run the selected benchmarks and return the document."""
    started, clock = now(), time.monotonic()
    machine = facts.collect()
    os.makedirs(options.directory, exist_ok=True)
    resources = Resources(
        cores=machine["cores"],
        memory_bytes=machine["memory_bytes"],
        llc_bytes=machine["llc_bytes"],
        disk_free_bytes=shutil.disk_usage(options.directory).free,
    )
    sizes = plan(resources, options.profile)
    options = replace(options, blas_core=blas_core_for(machine, options.blas_core))
    print(f"bench: {options.profile.name} profile, sizes {sizes.as_dict()}", file=log, flush=True)
    benchmarks: dict[str, Any] = {}
    for name in options.only:
        print(f"bench: {name} ...", file=log, flush=True)
        begin, tick = now(), time.monotonic()
        with tempfile.TemporaryDirectory(prefix=f"cloudlabs-{name}-") as workdir:
            outcome = Outcome()
            try:
                RUNNERS[name](sizes, workdir, options, outcome)
            except (ToolFailed, parsers.ParseError, OSError) as error:
                outcome.figures, outcome.error = {}, str(error)
        seconds = round(time.monotonic() - tick, 3)
        status = f"error: {outcome.error}" if outcome.error else f"{len(outcome.figures)} figures"
        print(f"bench: {name} done in {seconds} s, {status}", file=log, flush=True)
        benchmarks[name] = {
            "started": begin,
            "finished": now(),
            "seconds": seconds,
            "commands": outcome.command,
            "figures": {k: figure(k, v) for k, v in outcome.figures.items()},
            "details": outcome.details,
            "raw": outcome.raw,
            "error": outcome.error,
        }
    hpcc = benchmarks.get("hpcc", {}).get("details", {})
    versions = tool_versions()
    versions["hpcc"] = hpcc.get("version")
    versions["openblas_core"] = hpcc.get("openblas_core")
    return {
        "schema": SCHEMA_ID,
        "runner_version": __version__,
        "profile": options.profile.name,
        "started": started,
        "finished": now(),
        "seconds": round(time.monotonic() - clock, 3),
        "machine": machine,
        "sizes": sizes.as_dict(),
        "tools": versions,
        "packages": _package_versions(package_names(packages_text())),
        "benchmarks": benchmarks,
    }
