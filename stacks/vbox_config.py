"""Config models shared by the VirtualBox labs: the VirtualBox host, the cloud image, sizes,
and the rule that no two NAT forwards take the same host port."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Annotated, Any

import pulumi
from pydantic import AfterValidator, Field

from components.virtualbox import RemoteHost, VBoxHost
from stacks.errors import Problem
from stacks.types import Name, NonEmptyText, Port
from stacks.validation import LabModel

Path = tuple[str | int, ...]


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


class RemoteHostConfig(LabModel):
    """A VirtualBox host reached over SSH (instead of this machine)."""

    address: NonEmptyText
    user: Name
    private_key: NonEmptyText
    """Set it as a secret: pulumi config set --secret --path remoteHost.privateKey ..."""
    port: Port = 22
    host_key: str | None = None
    """The host's public key line (``ssh-ed25519 AAAA...``) to verify it."""


class VmSize(LabModel):
    cpus: int = Field(1, ge=1, le=64)
    memory_mb: int = Field(1024, ge=256, le=1048576)
    disk_gb: int = Field(10, ge=3, le=4096)


def vbox_host(vbox_manage: str, remote: RemoteHostConfig | None) -> VBoxHost:
    """The components' view of where VirtualBox runs (the private key as a secret)."""
    if remote is None:
        return VBoxHost(vboxmanage=vbox_manage)
    return VBoxHost(
        vboxmanage=vbox_manage,
        remote=RemoteHost(
            address=remote.address,
            user=remote.user,
            private_key=pulumi.Output.secret(remote.private_key),
            port=remote.port,
            host_key=remote.host_key,
        ),
    )


def forward_problems(forwards: Iterable[tuple[Path, Any]]) -> Iterator[Problem]:
    """Host ports of NAT forwards: each used once (VirtualBox binds each on the host)."""
    taken: dict[int, Path] = {}
    for path, port in forwards:
        if not isinstance(port, int):
            continue
        if not 1 <= port <= 65535:
            yield Problem(path, "the host port must be between 1 and 65535", port)
        elif port in taken:
            first = Problem(taken[port], "").location
            yield Problem(path, f"host port {port} is already forwarded by {first}", port)
        else:
            taken[port] = path
