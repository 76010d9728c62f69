"""Config models shared by the VirtualBox labs: the keys every one has (login, image, VirtualBox
host), VM sizes, the lab network, and the rule that no two NAT forwards take the same host port;
and the one way they build a VM (its seed ISO, then the machine)."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Iterator
from typing import Any, Literal

import pulumi
from pydantic import Field

from components.hostexec import Host
from components.renderers.cloudinit import Seed
from components.virtualbox import (
    Disk,
    InternalNic,
    Machine,
    MachineArgs,
    PortForward,
    SeedIso,
    SeedIsoArgs,
    virtualbox_host,
)
from stacks.shared.errors import KeyPath, Problem, format_path
from stacks.shared.remote import RemoteHostConfig
from stacks.shared.types import Cidr, HostPath, IPv4, Name, NonEmptyText, OsType, SshPublicKey, Url
from stacks.shared.validation import LabModel, check


class ImageConfig(LabModel):
    """The cloud image the VMs' disks are cloned from."""

    path: HostPath
    """A VirtualBox-readable image (VMDK, VDI or VHD) on the VirtualBox host, e.g. Ubuntu's
    ``noble-server-cloudimg-amd64.vmdk``."""
    url: Url | None = None
    """Downloaded to ``path`` when that file is missing."""


class VboxLabConfig(LabModel):
    """The keys of every VirtualBox lab (a lab sets its own ``workDir`` default)."""

    ssh_public_key: SshPublicKey
    """The key that logs in as ``sshUser`` (set up by cloud-init)."""
    ssh_user: Name = "ubuntu"
    image: ImageConfig
    work_dir: HostPath
    """Where disks, seed ISOs and VM settings go on the VirtualBox host."""
    vbox_manage: NonEmptyText = "VBoxManage"
    remote_host: RemoteHostConfig | None = None
    os_type: OsType = "Ubuntu_64"

    def host(self) -> Host:
        """The components' view of where VirtualBox runs."""
        return vbox_host(self.vbox_manage, self.remote_host)


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


def lab_machine(
    config: VboxLabConfig,
    host: Host,
    role: str,
    name: str,
    size: VmSize,
    disk: Disk,
    seed: Seed,
    *,
    nat_mac: str,
    forwards: list[PortForward],
    internal: InternalNic | None = None,
    start: bool = True,
    seed_opts: pulumi.ResourceOptions | None = None,
    opts: pulumi.ResourceOptions | None = None,
) -> Machine:
    """The VM ``name`` of ``role`` on ``disk``, booting ``seed`` from its ISO (``<role>-seed``);
    with forwards, it waits for the guest's SSH."""
    iso = SeedIso(
        f"{role}-seed",
        SeedIsoArgs(directory=f"{config.work_dir}/seeds", hostname=name, seed=seed, host=host),
        opts=seed_opts,
    )
    return Machine(
        role,
        MachineArgs(
            vm_name=name,
            base_folder=f"{config.work_dir}/vms",
            cpus=size.cpus,
            memory_mb=size.memory_mb,
            disk=disk,
            seed=iso,
            nat_mac=nat_mac,
            internal=internal,
            forwards=forwards,
            ostype=config.os_type,
            start=start,
            wait_for_ssh="ssh" if forwards else None,
            host=host,
        ),
        opts=opts,
    )


def ssh_command(host: Host, user: str, port: int) -> str:
    """How to log in to a guest through its SSH forward on the VirtualBox host."""
    return f"{host.ssh_prefix()} -p {port} {user}@127.0.0.1"
