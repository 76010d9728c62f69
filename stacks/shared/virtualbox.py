"""Config models shared by the VirtualBox labs: the keys every one has (login, image, VirtualBox
host), VM sizes, the lab network, and the rules that no two NAT forwards take the same host port
and that no disk is smaller than the image; what every lab makes first on its host (the host
check, the key that sees guests ready); and the one way they build a VM (its seed ISO, then the
machine)."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import pulumi
from pydantic import Field

from components.hostexec import Host
from components.renderers.cloudinit import Login, Seed
from components.virtualbox import (
    SEED_SCRIPT,
    AdapterMacs,
    Disk,
    DiskArgs,
    InternalNic,
    Machine,
    MachineArgs,
    PortForward,
    SeedIso,
    SeedIsoArgs,
    seed_environment,
    virtualbox_host,
)
from components.virtualbox.host import HostCheck, HostCheckArgs
from components.virtualbox.machine import colon_mac
from components.virtualbox.ready import ReadyKey, ReadyKeyArgs, ReadyLogin
from stacks.shared.errors import ConfigError, KeyPath, Problem, format_path
from stacks.shared.operations import MachinePlatform, Snapshotted
from stacks.shared.remote import RemoteHostConfig, seed_size_problems
from stacks.shared.types import (
    Bridge,
    Cidr,
    Executable,
    HostPath,
    IPv4,
    Name,
    OsType,
    SshPublicKey,
    Url,
)
from stacks.shared.validation import LabModel, check


class ImageConfig(LabModel):
    """The cloud image the VMs' disks are cloned from."""

    path: HostPath
    """A VirtualBox-readable image (VMDK, VDI or VHD) on the VirtualBox host, e.g. Ubuntu's
    ``noble-server-cloudimg-amd64.vmdk``."""
    url: Url | None = None
    """Downloaded to ``path`` when that file is missing."""
    virtual_size_mb: int = Field(10240, ge=1, le=4096 * 1024)
    """The image's virtual disk size in MB (``qemu-img info`` or ``VBoxManage showmediuminfo``
    shows it): a VM's disk, a clone of the image, cannot be smaller. The default is that of
    Ubuntu 24.04's ``noble-server-cloudimg-amd64.vmdk``, 10 GiB."""


class VboxLabConfig(LabModel):
    """The keys of every VirtualBox lab (a lab sets its own ``workDir`` default)."""

    ssh_public_key: SshPublicKey
    """The key that logs in as ``sshUser`` (set up by cloud-init)."""
    ssh_user: Name = "ubuntu"
    image: ImageConfig
    work_dir: HostPath
    """Where disks, seed ISOs and VM settings go on the VirtualBox host."""
    vbox_manage: Executable = "VBoxManage"
    """The VBoxManage program: a command on PATH or its absolute path."""
    remote_host: RemoteHostConfig | None = None
    os_type: OsType = "Ubuntu_64"

    def host(self) -> Host:
        """The components' view of where VirtualBox runs."""
        return vbox_host(self.vbox_manage, self.remote_host)

    def login(self, ready_key: str | None = None) -> Login:
        """The guests' login: ``sshUser`` with the user's key, and the ready key (once known)."""
        return Login(self.ssh_user, [self.ssh_public_key, *([ready_key] if ready_key else [])])

    def disk_sizes(self) -> list[tuple[KeyPath, int]]:
        """Each ``diskGb`` of the lab (its key and value): disks cloned from the image."""
        raise NotImplementedError

    @check
    def _disks(self) -> Iterator[Problem]:
        # VirtualBox cannot shrink a clone: the VM would fail at its first ``up``.
        floor = self.image.virtual_size_mb
        for path, gb in self.disk_sizes():
            if gb * 1024 < floor:
                yield Problem(
                    path,
                    f"{gb} GB ({gb * 1024} MB) is less than the image's virtual size, {floor} MB "
                    "(image.virtualSizeMb): a disk cannot be smaller than the image it is cloned "
                    "from",
                    gb,
                )


class VmSize(Snapshotted):
    """A VM's size, snapshots and restore."""

    PLATFORM: ClassVar[MachinePlatform] = "virtualbox"
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
    host_only_adapter: Bridge | None = None
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


def lab_host(config: VboxLabConfig) -> LabHost:
    """The lab's host, checked (``vbox-host``), with its ready key in ``<workDir>/ready-key``."""
    host = config.host()
    check = HostCheck("vbox-host", HostCheckArgs(host=host))
    key = ReadyKey(
        "ready-key",
        ReadyKeyArgs(path=f"{config.work_dir}/ready-key", host=host),
        opts=pulumi.ResourceOptions(depends_on=[check]),
    )
    return LabHost(host, check, key)


def image_disk(config: VboxLabConfig, lab: LabHost, name: str, path: str, size_mb: int = 0) -> Disk:
    """The lab's disk from ``image`` (downloaded first when missing), once the host is checked;
    the lab's other disks are clones of it."""
    return Disk(
        name,
        DiskArgs(
            path=path,
            source=config.image.path,
            source_url=config.image.url,
            size_mb=size_mb,
            host=lab.host,
        ),
        opts=pulumi.ResourceOptions(depends_on=[lab.check]),
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


def vm_name_problems(
    names: Sequence[tuple[KeyPath, str]],
    config: VboxLabConfig,
    taken: Mapping[str, str] | None = None,
) -> Iterator[Problem]:
    """The lab's VM names (with where each comes from): each its own, whatever the letter case
    (a VM's disk is ``<workDir>/disks/<name>.vdi``, on file systems that may ignore case, and its
    name is a host name), none of the disks ``taken`` (name: whose); the MAC addresses derived
    from them distinct; no VM's disk is the cloud image."""
    seen: dict[str, KeyPath] = {}
    macs: dict[str, KeyPath] = {}
    image = config.image.path
    for path, name in names:
        first = seen.setdefault(name.casefold(), path)
        whose = (taken or {}).get(name.casefold())
        if whose is not None:
            yield Problem(path, f"{name}.vdi is {whose}'s file", name)
        elif first != path:
            yield Problem(path, f"needs a name of its own: {format_path(first)} has it", name)
            continue
        adapters = AdapterMacs.of(name)
        for mac in (adapters.nat, adapters.internal):
            owner = macs.setdefault(mac, path)
            if owner != path:
                yield Problem(
                    path,
                    f"its adapters' MAC address {colon_mac(mac)} (derived from the name) is "
                    f"also {format_path(owner)}'s: pick another name",
                    name,
                )
        if image == f"{config.work_dir}/disks/{name}.vdi":
            yield Problem(("image", "path"), f"is the disk of VM {name!r}", image)


READY_KEY_SIZE = "ssh-ed25519 " + "A" * 68 + " cloudlabs-ready"
"""As long as the ready key's public half (``ssh-keygen -t ed25519 -C cloudlabs-ready``),
which is known only once it exists: seeds are measured with it before anything is created."""


def check_seeds(
    lab: str, config: VboxLabConfig, seeds: Iterable[tuple[str, Callable[[Login], Seed]]]
) -> None:
    """Stop before any resource when a VM's seed (``(name, seed)``, rendered for the lab's login
    with the ready key) does not fit in the command that writes its ISO."""
    host = config.host()
    login = config.login(READY_KEY_SIZE)
    problems = [
        problem
        for name, seed in seeds
        for problem in seed_size_problems(
            host,
            SEED_SCRIPT,
            seed_environment(f"{config.work_dir}/seeds", name, seed(login)),
            ("sshPublicKey",),
            name,
        )
    ]
    if problems:
        raise ConfigError(lab, problems)


def lab_machine(
    config: VboxLabConfig,
    lab: LabHost,
    role: str,
    name: str,
    size: VmSize,
    disk: Disk,
    seed: Callable[[Login], Seed],
    *,
    nat_mac: str,
    forwards: list[PortForward],
    internal: InternalNic | None = None,
    start: bool = True,
    seed_opts: pulumi.ResourceOptions | None = None,
    opts: pulumi.ResourceOptions | None = None,
) -> Machine:
    """The VM ``name`` of ``role`` on ``disk``, booting the seed ``seed`` renders for the lab's
    login (which takes the ready key too) from its ISO (``<role>-seed``); with forwards, it waits
    until the guest's SSH answers and its cloud-init has finished."""
    iso = SeedIso(
        f"{role}-seed",
        SeedIsoArgs(
            directory=f"{config.work_dir}/seeds",
            hostname=name,
            seed=lab.ready_key.public_key.apply(lambda key: seed(config.login(key))),
            host=lab.host,
        ),
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
            ready=ReadyLogin(config.ssh_user, lab.ready_key),
            host_check=lab.check,
            host=lab.host,
            snapshots=size.snapshot_specs(),
            restore=size.restore_spec(),
        ),
        opts=opts,
    )


def ssh_command(host: Host, user: str, port: int) -> str:
    """How to log in to a guest through its SSH forward on the VirtualBox host."""
    return host.ssh_to(user, "127.0.0.1", port)
