"""Config models shared by the VirtualBox labs: the VirtualBox host, the cloud image, VM sizes,
the lab network, the rules that no two NAT forwards take the same host port and that no disk is
smaller than the image, and what every VirtualBox lab makes first on its host (the host check,
the key that sees guests ready)."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

import pulumi
from pydantic import Field

from components.hostexec import Host
from components.virtualbox import virtualbox_host
from components.virtualbox.host import HostCheck, HostCheckArgs
from components.virtualbox.ready import ReadyKey, ReadyKeyArgs
from stacks.shared.errors import KeyPath, Problem, format_path
from stacks.shared.remote import RemoteHostConfig
from stacks.shared.types import Cidr, HostPath, IPv4, Name, Url
from stacks.shared.validation import LabModel, check


class ImageConfig(LabModel):
    """The cloud image the VMs' disks are cloned from."""

    path: HostPath
    """A VirtualBox-readable image (VMDK, VDI or VHD) on the VirtualBox host, e.g. Ubuntu's
    ``noble-server-cloudimg-amd64.vmdk``."""
    url: Url | None = None
    """Downloaded to ``path`` when that file is missing."""
    virtual_size_mb: int = Field(10240, ge=1)
    """The image's virtual disk size in MB (``qemu-img info`` or ``VBoxManage showmediuminfo``
    shows it): a VM's disk, a clone of the image, cannot be smaller. The default is that of
    Ubuntu 24.04's ``noble-server-cloudimg-amd64.vmdk``, 10 GiB."""


class VmSize(LabModel):
    cpus: int = Field(1, ge=1, le=64)
    memory_mb: int = Field(1024, ge=256, le=1048576)
    disk_gb: int = Field(10, ge=3, le=4096)


class DhcpRange(LabModel):
    start: IPv4
    end: IPv4


class LabNetworkConfig(LabModel):
    """The lab network on adapter 2: master's static address and the range its DHCP serves."""

    name: Name = "CloudBasicNet"
    """The internal network's name (mode intnet)."""
    mode: Literal["intnet", "hostonly"] = "intnet"
    host_only_adapter: Name | None = None
    """The host-only interface (``vboxnet0``) for mode hostonly; its host address must not be
    master's, and VirtualBox's own DHCP server on it must be off (master serves DHCP)."""
    cidr: Cidr = ipaddress.IPv4Network("192.168.56.0/24")
    master_ip: IPv4 = ipaddress.IPv4Address("192.168.56.1")
    dhcp_range: DhcpRange = DhcpRange(
        start=ipaddress.IPv4Address("192.168.56.2"), end=ipaddress.IPv4Address("192.168.56.199")
    )
    """dnsmasq's range; the nodes get its first addresses, fixed by MAC address."""

    @property
    def range_size(self) -> int:
        return int(self.dhcp_range.end) - int(self.dhcp_range.start) + 1

    @property
    def attachment(self) -> str:
        """What adapter 2 is attached to: the internal network, or the host-only interface."""
        if self.mode == "hostonly" and self.host_only_adapter:
            return self.host_only_adapter
        return self.name

    @check
    def _addresses(self) -> Iterator[Problem]:
        hosts = self.cidr.num_addresses > 2
        net, bcast = self.cidr.network_address, self.cidr.broadcast_address
        if self.master_ip not in self.cidr or (hosts and self.master_ip in (net, bcast)):
            yield Problem(
                ("masterIp",), f"must be a host address in {self.cidr}", str(self.master_ip)
            )
        start, end = self.dhcp_range.start, self.dhcp_range.end
        for key, ip in (("start", start), ("end", end)):
            if ip not in self.cidr or (hosts and ip in (net, bcast)):
                yield Problem(("dhcpRange", key), f"must be a host address in {self.cidr}", str(ip))
        if start > end:
            yield Problem(("dhcpRange",), "the range ends before it starts", f"{start}-{end}")
        elif start <= self.master_ip <= end:
            yield Problem(
                ("dhcpRange",),
                f"the range contains master's address {self.master_ip}",
                f"{start}-{end}",
            )

    @check
    def _host_only(self) -> Iterator[Problem]:
        if self.mode == "hostonly" and self.host_only_adapter is None:
            yield Problem(("hostOnlyAdapter",), "mode hostonly needs the host-only interface")


def vbox_host(vbox_manage: str, remote: RemoteHostConfig | None) -> Host:
    """The components' view of where VirtualBox runs."""
    return virtualbox_host(vbox_manage, remote.remote() if remote is not None else None)


@dataclass(frozen=True)
class LabHost:
    """A VirtualBox lab's host and what the lab makes there before anything else."""

    host: Host
    check: HostCheck
    """VBoxManage's version and the tools, checked once; everything else depends on it."""
    ready_key: ReadyKey
    """The key that logs in to the guests to see cloud-init finished."""


def lab_host(vbox_manage: str, remote: RemoteHostConfig | None, work_dir: str) -> LabHost:
    """The lab's host, checked (``vbox-host``), with its ready key in ``<workDir>/ready-key``."""
    host = vbox_host(vbox_manage, remote)
    check = HostCheck("vbox-host", HostCheckArgs(host=host))
    key = ReadyKey(
        "ready-key",
        ReadyKeyArgs(path=f"{work_dir}/ready-key", host=host),
        opts=pulumi.ResourceOptions(depends_on=[check]),
    )
    return LabHost(host, check, key)


def login_keys(user_key: str, ready_key: str | None) -> list[str]:
    """The keys the guests' login user takes: the user's, and the ready key (once known)."""
    return [user_key, *([ready_key] if ready_key else [])]


def disk_problems(image: ImageConfig, sizes: Iterable[tuple[KeyPath, int]]) -> Iterator[Problem]:
    """Disks (``diskGb``) smaller than the image they are cloned from: VirtualBox cannot shrink
    a clone, so the VM would fail at its first ``up``."""
    floor = image.virtual_size_mb
    for path, gb in sizes:
        if gb * 1024 < floor:
            yield Problem(
                path,
                f"{gb} GB ({gb * 1024} MB) is less than the image's virtual size, {floor} MB "
                "(image.virtualSizeMb): a disk cannot be smaller than the image it is cloned from",
                gb,
            )


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
