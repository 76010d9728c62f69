"""The libvirt-host lab's building blocks: its config models (the KVM host, its networks, the
VMs and the least each role needs), their rules, and what the build derives from them (the
guests' NICs and cloud-init seeds, the networks' definitions)."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator, Sequence
from typing import ClassVar, Literal

import pulumi
from pydantic import Field

from bench.archive import guest_suite
from components.hostexec import Host
from components.libvirt import NetworkSpec, libvirt_host
from components.renderers.cloudinit import (
    AptMirror,
    Files,
    Hostname,
    Login,
    Nic,
    Packages,
    Seed,
    content_instance_id,
    render_meta_data,
    render_network_config,
    render_user_data,
)
from stacks.shared.errors import Problem, format_path
from stacks.shared.openstack import usable
from stacks.shared.operations import MachinePlatform, Snapshotted
from stacks.shared.remote import RemoteHostConfig
from stacks.shared.types import Bridge, Cidr, HostLabel, IPv4, Mac, Name
from stacks.shared.validation import LabModel, check

Role = Literal["gateway", "storage", "controller", "compute"]

MIN_MEMORY_MIB: dict[str, int] = {
    "gateway": 1024,
    "storage": 1024,
    "controller": 6144,
    "compute": 2048,
}
"""The smallest memory each role is known to work with. The controller runs MariaDB,
RabbitMQ and the OpenStack APIs: the lab's notes report its database crashing with 4 GB."""
MIN_DISK_GIB = 10
"""The smallest system disk (an Ubuntu cloud image plus packages)."""
MAX_MEMORY_MIB = 1048576
"""The most memory of a VM: 1 TiB, what QEMU's default 40-bit guest physical addresses reach."""
MAX_DISK_GIB = 65536
"""The largest system disk: 64 TiB (a qcow2 image with its default 64 KiB clusters holds more;
the host's storage is the real bound)."""


class ConnectionConfig(RemoteHostConfig):
    """The KVM host over SSH."""

    sudo: bool = False
    """Run the scripts with sudo -n (when ``user`` is not root)."""


class HostPreparationConfig(LabModel):
    enabled: bool = True
    persist: bool = True
    """Also write sysctl.d / modules-load.d files so the settings survive a reboot."""


class RoutedNetworkConfig(LabModel):
    """A network libvirt creates: a bridge with the host's address on it."""

    name: Name
    bridge: Bridge
    cidr: Cidr
    address: IPv4
    """The host's address on the network (the guests' gateway on a NAT network)."""
    dhcp_start: IPv4 | None = None
    dhcp_end: IPv4 | None = None

    @check
    def _addresses(self) -> Iterator[Problem]:
        if not usable(self.cidr, self.address):
            yield Problem(
                ("address",), f"must be a host address inside {self.cidr}", str(self.address)
            )
        if (self.dhcp_start is None) != (self.dhcp_end is None):
            yield Problem(("dhcpEnd",), "give both dhcpStart and dhcpEnd, or neither")
            return
        if self.dhcp_start is None or self.dhcp_end is None:
            return
        for key, ip in (("dhcpStart", self.dhcp_start), ("dhcpEnd", self.dhcp_end)):
            if not usable(self.cidr, ip):
                yield Problem((key,), f"must be a host address inside {self.cidr}", str(ip))
        if self.dhcp_start > self.dhcp_end:
            yield Problem(
                ("dhcpEnd",), f"the range ends before {self.dhcp_start}", str(self.dhcp_end)
            )
        elif self.dhcp_start <= self.address <= self.dhcp_end:
            yield Problem(
                ("dhcpStart",),
                f"the DHCP range contains the host's address {self.address}",
                f"{self.dhcp_start}-{self.dhcp_end}",
            )

    @property
    def interface(self) -> str:
        return f"{self.address}/{self.cidr.prefixlen}"


class NatNetworkConfig(RoutedNetworkConfig):
    name: Name = "default"
    bridge: Bridge = "virbr0"
    cidr: Cidr = ipaddress.IPv4Network("192.168.122.0/24")
    address: IPv4 = ipaddress.IPv4Address("192.168.122.1")
    dhcp_start: IPv4 | None = ipaddress.IPv4Address("192.168.122.2")
    dhcp_end: IPv4 | None = ipaddress.IPv4Address("192.168.122.254")
    adopt_existing: bool = True
    """Use a same-named network already on the host (the usual ``default``) as it is."""


class ManagementNetworkConfig(RoutedNetworkConfig):
    name: Name = "privatenet"
    bridge: Bridge = "privatebr0"
    cidr: Cidr = ipaddress.IPv4Network("10.0.0.0/24")
    address: IPv4 = ipaddress.IPv4Address("10.0.0.1")


class PublicBridgeConfig(LabModel):
    """An existing host bridge on a physical NIC (``br0``), offered to the guests."""

    enabled: bool = False
    bridge: Bridge = "br0"
    network: Name = "br0"
    """Name of the libvirt network (forward mode bridge) over it."""


class VmConfig(Snapshotted):
    PLATFORM: ClassVar[MachinePlatform] = "libvirt"
    name: HostLabel
    """The domain's name, the guest's host name and its name in the inventory."""
    role: Role
    ip: IPv4
    """Static address on the management network."""
    mac: Mac
    """MAC of the management NIC."""
    nat_mac: Mac
    """MAC of the NAT NIC (the first NIC)."""
    public_mac: Mac | None = None
    """MAC of the NIC on the public bridge (VMs of role gateway, when it is enabled)."""
    vcpus: int = Field(2, ge=1, le=64)
    memory_mib: int = Field(2048, ge=64, le=MAX_MEMORY_MIB)
    disk_gib: int = Field(20, ge=1, le=MAX_DISK_GIB)


def _vm(name: str, role: Role, n: int, vcpus: int, memory_mib: int, disk_gib: int) -> VmConfig:
    """The lab's VM number ``n``: 10.0.0.n, MACs ending in n (public MAC for the gateway)."""
    return VmConfig(
        name=name,
        role=role,
        ip=ipaddress.IPv4Address(f"10.0.0.{n}"),
        mac=f"52:54:00:00:00:{n:02x}",
        nat_mac=f"52:54:00:00:01:{n:02x}",
        public_mac=f"52:54:00:00:02:{n:02x}" if role == "gateway" else None,
        vcpus=vcpus,
        memory_mib=memory_mib,
        disk_gib=disk_gib,
    )


def default_vms() -> list[VmConfig]:
    """The lab's five VMs; the controller has the most memory."""
    return [
        _vm("gateway", "gateway", 2, 2, 2048, 20),
        _vm("storage", "storage", 3, 2, 2048, 40),
        _vm("controller", "controller", 4, 4, 8192, 40),
        _vm("kvm1", "compute", 5, 4, 4096, 40),
        _vm("kvm2", "compute", 6, 4, 4096, 40),
    ]


def on_public_bridge(public_bridge: PublicBridgeConfig, vm: VmConfig) -> bool:
    """Whether ``vm`` has a NIC on the public bridge (the gateway, when the bridge is on)."""
    return public_bridge.enabled and vm.role == "gateway"


def network_problems(
    nat: NatNetworkConfig, mgmt: ManagementNetworkConfig, public_bridge: PublicBridgeConfig
) -> Iterator[Problem]:
    """The networks apart: no overlap, no name or bridge used twice."""
    if nat.cidr.overlaps(mgmt.cidr):
        yield Problem(
            ("managementNetwork", "cidr"), f"overlaps natNetwork.cidr ({nat.cidr})", str(mgmt.cidr)
        )
    names = [("natNetwork", nat.name), ("managementNetwork", mgmt.name)]
    bridges = [("natNetwork", nat.bridge), ("managementNetwork", mgmt.bridge)]
    if public_bridge.enabled:
        names.append(("publicBridge", public_bridge.network))
        bridges.append(("publicBridge", public_bridge.bridge))
    for key, items in (("name", names), ("bridge", bridges)):
        for i, (where, value) in enumerate(items):
            for other, other_value in items[:i]:
                if value == other_value:
                    path = (where, "network" if where == "publicBridge" and key == "name" else key)
                    yield Problem(path, f"already used by {other}", value)


def vm_identity_problems(
    vms: Sequence[VmConfig], mgmt: ManagementNetworkConfig, public_bridge: PublicBridgeConfig
) -> Iterator[Problem]:
    """Each VM's name, management address and MACs: its own, and where they belong."""
    names: dict[str, int] = {}
    ips: dict[ipaddress.IPv4Address, int] = {}
    macs: dict[str, str] = {}
    dhcp = (mgmt.dhcp_start, mgmt.dhcp_end)
    if not vms:
        yield Problem(("vms",), "at least one VM is needed")
    for i, vm in enumerate(vms):
        # Domain names, host names and inventory names: the same whatever the letter case.
        key = vm.name.casefold()
        if key in names:
            yield Problem(("vms", i, "name"), f"already the name of vms[{names[key]}]", vm.name)
        names.setdefault(key, i)
        if not usable(mgmt.cidr, vm.ip):
            yield Problem(
                ("vms", i, "ip"),
                f"must be a host address in the management network {mgmt.cidr}",
                str(vm.ip),
            )
        elif vm.ip == mgmt.address:
            yield Problem(
                ("vms", i, "ip"), "is the host's address on the management network", str(vm.ip)
            )
        elif dhcp[0] is not None and dhcp[1] is not None and dhcp[0] <= vm.ip <= dhcp[1]:
            yield Problem(
                ("vms", i, "ip"),
                f"is inside the management network's DHCP range {dhcp[0]}-{dhcp[1]}, which "
                "libvirt's dnsmasq hands to other guests",
                str(vm.ip),
            )
        if vm.ip in ips:
            yield Problem(("vms", i, "ip"), f"already the address of vms[{ips[vm.ip]}]", str(vm.ip))
        ips.setdefault(vm.ip, i)
        if vm.public_mac is not None and vm.role != "gateway":
            yield Problem(
                ("vms", i, "publicMac"),
                "only a gateway has a NIC on the public bridge; remove it",
                vm.public_mac,
            )
        nics = [("mac", vm.mac), ("natMac", vm.nat_mac)]
        if vm.public_mac is not None:
            nics.append(("publicMac", vm.public_mac))
        for key, mac in nics:
            if mac in macs:
                yield Problem(("vms", i, key), f"already the MAC of {macs[mac]}", mac)
            macs.setdefault(mac, format_path(("vms", i, key)))
        if on_public_bridge(public_bridge, vm) and vm.public_mac is None:
            yield Problem(
                ("vms", i, "publicMac"),
                "a gateway needs a MAC for its NIC on the public bridge (publicBridge.enabled)",
            )


def vm_size_problems(vms: Sequence[VmConfig]) -> Iterator[Problem]:
    """Each VM at least as large as its role needs (MIN_MEMORY_MIB, MIN_DISK_GIB)."""
    for i, vm in enumerate(vms):
        least = MIN_MEMORY_MIB[vm.role]
        if vm.memory_mib < least:
            yield Problem(
                ("vms", i, "memoryMib"),
                f"a {vm.role} needs at least {least} MiB (allowUndersized: true to force)",
                vm.memory_mib,
            )
        if vm.disk_gib < MIN_DISK_GIB:
            yield Problem(
                ("vms", i, "diskGib"),
                f"needs at least {MIN_DISK_GIB} GiB (allowUndersized: true to force)",
                vm.disk_gib,
            )


def vm_paths(storage_dir: str, vm: VmConfig) -> tuple[str, str]:
    """The VM's disk and seed ISO on the KVM host."""
    return f"{storage_dir}/{vm.name}.qcow2", f"{storage_dir}/{vm.name}-cidata.iso"


def base_image_problems(
    base_image: str, storage_dir: str, vms: Sequence[VmConfig]
) -> Iterator[Problem]:
    """The base image is no VM's disk or seed ISO (they would be written over it)."""
    base = base_image_path(base_image, storage_dir)
    for i, vm in enumerate(vms):
        if base in vm_paths(storage_dir, vm):
            yield Problem(
                ("baseImage",),
                f"the base image would be {base}, the file of vms[{i}] ({vm.name})",
                base_image,
            )


def stack_owner() -> str:
    """The mark of what this stack creates on the KVM host (``<project>/<stack>``)."""
    return f"{pulumi.get_project()}/{pulumi.get_stack()}"


def kvm_host(uri: str, connection: ConnectionConfig | None) -> Host:
    """The components' view of the KVM host."""
    if connection is None:
        return libvirt_host(uri)
    return libvirt_host(uri, connection.remote(), connection.sudo)


def base_image_path(source: str, storage_dir: str) -> str:
    """Where the base image is on the KVM host (a URL is downloaded into the storage dir)."""
    if source.startswith(("http://", "https://")):
        return f"{storage_dir}/base-{source.rstrip('/').rsplit('/', 1)[-1]}"
    return source


def guest_nics(
    vm: VmConfig,
    nat: NatNetworkConfig,
    mgmt: ManagementNetworkConfig,
    public_bridge: PublicBridgeConfig,
) -> list[Nic]:
    """The VM's NICs in order: NAT first, then the public bridge, then management.

    Each entry is named after its libvirt network; only the DHCP NICs may carry the default
    route, the management NIC gets its static address alone.
    """
    nics = [Nic(nat.name, vm.nat_mac, dhcp4=True)]
    if on_public_bridge(public_bridge, vm) and vm.public_mac is not None:
        nics.append(Nic(public_bridge.network, vm.public_mac, dhcp4=True))
    nics.append(Nic(mgmt.name, vm.mac, addresses=[f"{vm.ip}/{mgmt.cidr.prefixlen}"]))
    return nics


def seed(
    vm: VmConfig,
    nics: Sequence[Nic],
    login: Login,
    owner: str,
    benchmark: bool = False,
    mirror: AptMirror | None = None,
) -> Seed:
    """The VM's cloud-init documents (with ``benchmark``, the suite's files and packages,
    from ``mirror`` when given). The instance id follows the other two (and the stack), so a
    changed document is applied at the guest's next boot."""
    files, packages = guest_suite(benchmark)
    user_data = render_user_data(
        Hostname(vm.name, preserve_hostname=None, manage_etc_hosts=True),
        login,
        mirror,
        Files(files),
        Packages(packages),
    )
    network_config = render_network_config(nics)
    instance = content_instance_id(vm.name, owner + user_data + network_config)
    return Seed(user_data, render_meta_data(instance, vm.name), network_config)


def network_spec(net: RoutedNetworkConfig, mode: Literal["nat", "isolated"]) -> NetworkSpec:
    """The libvirt network ``net`` describes, in ``mode`` (``nat`` or ``isolated``)."""
    dhcp = None
    if net.dhcp_start is not None and net.dhcp_end is not None:
        dhcp = (str(net.dhcp_start), str(net.dhcp_end))
    return NetworkSpec(
        name=net.name, mode=mode, bridge=net.bridge, address=net.interface, dhcp_range=dhcp
    )
