"""The machine as seen from inside: CPU, cores, memory, caches, kernel, virtualization.

The ``parse_*`` functions are pure (tested on this machine's real files); :func:`collect`
reads ``/proc``, ``/sys`` and ``/etc/os-release`` and runs ``systemd-detect-virt``.
"""

from __future__ import annotations

import os
import platform
import re
import shutil
import socket
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30}


def parse_size(text: str) -> int:
    """A sysfs cache size (``48K``, ``266240K``, ``2M``) in bytes."""
    match = re.fullmatch(r"\s*(\d+)\s*([KMG]?)i?B?\s*", text)
    if match is None:
        raise ValueError(f"not a size: {text!r}")
    return int(match[1]) * _UNITS[match[2]]


def parse_cpu_model(cpuinfo: str) -> str | None:
    """The first ``model name`` (x86) or ``Model``/``Hardware`` line (other arches)."""
    for key in ("model name", "Model", "Hardware", "cpu model"):
        match = re.search(rf"^{key}\s*:\s*(.+?)\s*$", cpuinfo, re.M)
        if match:
            return match[1]
    return None


def parse_meminfo(meminfo: str) -> int:
    """MemTotal in bytes."""
    match = re.search(r"^MemTotal:\s+(\d+) kB", meminfo, re.M)
    if match is None:
        raise ValueError("no MemTotal in /proc/meminfo")
    return int(match[1]) * 1024


def parse_cgroup_limit(text: str) -> int | None:
    """A cgroup v2 ``memory.max`` (``max`` or bytes) or v1 ``limit_in_bytes``."""
    text = text.strip()
    if not text.isdigit():
        return None
    value = int(text)
    return value if value < 1 << 60 else None  # v1 writes a huge number for "no limit"


def parse_os_release(text: str) -> str | None:
    match = re.search(r'^PRETTY_NAME="?([^"\n]*)"?', text, re.M)
    return match[1] if match else None


def last_level_cache(caches: list[tuple[int, str, int]]) -> int | None:
    """Size of the highest-level data or unified cache among (level, type, bytes)."""
    usable = [(level, size) for level, kind, size in caches if kind in ("Data", "Unified")]
    return max(usable)[1] if usable else None


def _read(path: str | Path) -> str | None:
    try:
        return Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None


def _caches() -> list[tuple[int, str, int]]:
    found = []
    for index in sorted(Path("/sys/devices/system/cpu/cpu0/cache").glob("index*")):
        level, kind, size = (_read(index / name) for name in ("level", "type", "size"))
        if level and kind and size:
            try:
                found.append((int(level), kind.strip(), parse_size(size)))
            except ValueError:
                continue
    return found


def _detect_virt(*flags: str) -> str | None:
    if shutil.which("systemd-detect-virt") is None:
        return None
    run = subprocess.run(
        ["systemd-detect-virt", *flags], capture_output=True, text=True, check=False
    )
    return run.stdout.strip() or None  # prints "none" (exit status 1) on bare metal


def cores() -> int:
    """The CPUs this process may run on (a container's cpuset, a guest's vCPUs)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def memory() -> tuple[int, int | None]:
    """(MemTotal, the cgroup's memory limit or None)."""
    total = parse_meminfo(_read("/proc/meminfo") or "")
    limit = None
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        text = _read(path)
        if text is not None:
            limit = parse_cgroup_limit(text)
            break
    return total, limit


EMULATED = "qemu"
"""``systemd-detect-virt --vm`` inside a QEMU guest without KVM: software emulation (TCG)."""


def emulated(machine: Mapping[str, Any]) -> bool:
    """Whether the ``machine`` object (:func:`collect`) is a guest under software emulation
    (QEMU's TCG, no hardware virtualization), as it sees itself."""
    return machine.get("virtualization_vm") == EMULATED


def collect() -> dict[str, Any]:
    """The ``machine`` object of a document (see bench/schema.json)."""
    total, limit = memory()
    caches = _caches()
    return {
        "hostname": socket.gethostname(),
        "cpu_model": parse_cpu_model(_read("/proc/cpuinfo") or ""),
        "architecture": platform.machine(),
        "cores": cores(),
        "memory_bytes": min(total, limit) if limit else total,
        "memory_total_bytes": total,
        "memory_limit_bytes": limit,
        "caches": [{"level": lv, "type": kind, "bytes": size} for lv, kind, size in caches],
        "llc_bytes": last_level_cache(caches),
        "kernel": platform.release(),
        "os": parse_os_release(_read("/etc/os-release") or ""),
        "python": platform.python_version(),
        "virtualization": _detect_virt(),
        "virtualization_vm": _detect_virt("--vm"),
        "virtualization_container": _detect_virt("--container"),
    }
