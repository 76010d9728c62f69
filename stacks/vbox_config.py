"""Config models shared by the VirtualBox labs: the VirtualBox host, the cloud image, sizes,
and the rule that no two NAT forwards take the same host port."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Annotated, Any

from pydantic import AfterValidator, Field

from components.hostexec import Host
from components.virtualbox import virtualbox_host
from stacks.errors import KeyPath, Problem, format_path
from stacks.remote import RemoteHostConfig
from stacks.validation import LabModel


def parse_host_path(value: str) -> str:
    """A path on the VirtualBox host: absolute, or ``~/...`` (that user's home)."""
    if "\n" in value or "\0" in value:
        raise ValueError("a path must be one line")
    if not (value.startswith("/") or value.startswith("~/")):
        raise ValueError("expected an absolute path, or one starting with ~/ (the home directory)")
    return value.rstrip("/") or "/"


def parse_url(value: str) -> str:
    if not re.fullmatch(r"https?://[^\s'\"]+", value):
        raise ValueError("expected an http:// or https:// URL")
    return value


HostPath = Annotated[str, AfterValidator(parse_host_path)]
Url = Annotated[str, AfterValidator(parse_url)]
OsType = Annotated[str, Field(pattern=r"^[A-Za-z0-9_]+$")]


class ImageConfig(LabModel):
    """The cloud image the VMs' disks are cloned from."""

    path: HostPath
    """A VirtualBox-readable image (VMDK, VDI or VHD) on the VirtualBox host, e.g. Ubuntu's
    ``noble-server-cloudimg-amd64.vmdk``."""
    url: Url | None = None
    """Downloaded to ``path`` when that file is missing."""


class VmSize(LabModel):
    cpus: int = Field(1, ge=1, le=64)
    memory_mb: int = Field(1024, ge=256, le=1048576)
    disk_gb: int = Field(10, ge=3, le=4096)


def vbox_host(vbox_manage: str, remote: RemoteHostConfig | None) -> Host:
    """The components' view of where VirtualBox runs."""
    return virtualbox_host(vbox_manage, remote.remote() if remote is not None else None)


def forward_problems(forwards: Iterable[tuple[KeyPath, Any]]) -> Iterator[Problem]:
    """Host ports of NAT forwards: each used once (VirtualBox binds each on the host)."""
    taken: dict[int, KeyPath] = {}
    for path, port in forwards:
        if not isinstance(port, int):
            continue
        if not 1 <= port <= 65535:
            yield Problem(path, "the host port must be between 1 and 65535", port)
        elif port in taken:
            first = format_path(taken[port])
            yield Problem(path, f"host port {port} is already forwarded by {first}", port)
        else:
            taken[port] = path
