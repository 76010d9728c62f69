"""libvirt-host: a KVM host prepared for the lab, its networks, and five VMs with fixed MACs.

LABS.md, seed 004. Everything runs through pulumi-command on the KVM host: this machine, or a
remote host over SSH (``connection``). The guests get a cloud-init seed ISO (user, SSH key,
static management address); the outputs are an Ansible inventory and ssh commands.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator
from typing import Annotated, Any, Literal

import pulumi
from pydantic import BeforeValidator, Field

from components.hostexec import Host
from components.libvirt import (
    BaseImage,
    BaseImageArgs,
    HostPreparation,
    HostPreparationArgs,
    Network,
    NetworkArgs,
    NetworkSpec,
    NicSpec,
    Vm,
    VmArgs,
    libvirt_host,
)
from components.libvirt.inventory import InventoryHost, render_inventory, ssh_command
from components.renderers.cloudinit import (
    Hostname,
    Login,
    Nic,
    Seed,
    content_instance_id,
    render_meta_data,
    render_network_config,
    render_user_data,
)
from stacks.errors import Problem, format_path
from stacks.openstack_config import usable
from stacks.registry import Lab
from stacks.remote import RemoteHostConfig
from stacks.types import Cidr, IPv4, Name, NonEmptyText, SshPublicKey
from stacks.validation import LabModel, check

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

_MAC_RE = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")
_BRIDGE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}$")


def parse_mac(value: Any) -> str:
    """A unicast MAC address ``52:54:00:xx:xx:xx`` (normalised to lower case)."""
    if not isinstance(value, str) or not _MAC_RE.match(value.strip().lower()):
        raise ValueError("expected a MAC address such as 52:54:00:00:00:02")
    mac = value.strip().lower()
    if int(mac[:2], 16) & 1:
        raise ValueError("a NIC needs a unicast MAC (the first byte must be even)")
    return mac


def parse_bridge(value: Any) -> str:
    """A Linux interface name: 1-15 letters, digits, '.', '_' or '-'."""
    if not isinstance(value, str) or not _BRIDGE_RE.match(value):
        raise ValueError("expected a bridge name of 1-15 letters, digits, '.', '_' or '-'")
    return value


def parse_abs_path(value: Any) -> str:
    """An absolute path on the KVM host."""
    if not isinstance(value, str) or not value.startswith("/") or "\n" in value:
        raise ValueError("expected an absolute path such as /var/lib/libvirt/images/cloudlabs")
    return value.rstrip("/") or "/"


def parse_image_source(value: Any) -> str:
    """An absolute path on the KVM host or an http(s) URL."""
    if isinstance(value, str) and re.match(r"^https?://[^\s/]+/\S+$", value):
        return value
    try:
        return parse_abs_path(value)
    except ValueError:
        raise ValueError(
            "expected an absolute path on the KVM host or an http(s) URL of a cloud image"
        ) from None


Mac = Annotated[str, BeforeValidator(parse_mac)]
Bridge = Annotated[str, BeforeValidator(parse_bridge)]
AbsPath = Annotated[str, BeforeValidator(parse_abs_path)]
ImageSource = Annotated[str, BeforeValidator(parse_image_source)]


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


class VmConfig(LabModel):
    name: Name
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
    memory_mib: int = Field(2048, ge=64)
    disk_gib: int = Field(20, ge=1)


def _vm(name: str, role: str, n: int, vcpus: int, memory: int, disk: int) -> dict[str, Any]:
    return {
        "name": name,
        "role": role,
        "ip": f"10.0.0.{n}",
        "mac": f"52:54:00:00:00:{n:02x}",
        "natMac": f"52:54:00:00:01:{n:02x}",
        "publicMac": f"52:54:00:00:02:{n:02x}" if role == "gateway" else None,
        "vcpus": vcpus,
        "memoryMib": memory,
        "diskGib": disk,
    }


DEFAULT_VMS = [
    _vm("gateway", "gateway", 2, 2, 2048, 20),
    _vm("storage", "storage", 3, 2, 2048, 40),
    _vm("controller", "controller", 4, 4, 8192, 40),
    _vm("kvm1", "compute", 5, 4, 4096, 40),
    _vm("kvm2", "compute", 6, 4, 4096, 40),
]


class LibvirtHostConfig(LabModel):
    """Config of the ``libvirt-host`` lab (keys of ``Pulumi.<stack>.yaml``)."""

    connection: ConnectionConfig | None = None
    """The KVM host over SSH; omitted = this machine."""
    libvirt_uri: NonEmptyText = "qemu:///system"
    domain_type: Literal["kvm", "qemu"] = "kvm"
    """``qemu`` = software emulation, for a host without KVM (slow)."""
    host_preparation: HostPreparationConfig = HostPreparationConfig()
    storage_dir: AbsPath = "/var/lib/libvirt/images/cloudlabs"
    """Where disks, seed ISOs and a downloaded base image go on the KVM host."""
    base_image: ImageSource
    """The Ubuntu cloud image: a path on the KVM host or an http(s) URL."""
    disk_mode: Literal["backing", "copy"] = "backing"
    ssh_public_key: SshPublicKey
    ssh_user: Name = "ubuntu"
    nat_network: NatNetworkConfig = NatNetworkConfig()
    management_network: ManagementNetworkConfig = ManagementNetworkConfig()
    public_bridge: PublicBridgeConfig = PublicBridgeConfig()
    vms: list[VmConfig] = Field(default_factory=lambda: [VmConfig(**v) for v in DEFAULT_VMS])
    autostart: bool = True
    allow_undersized: bool = False
    """Accept VMs below their role's minimum memory/disk (lifecycle tests, demos)."""

    def on_public_bridge(self, vm: VmConfig) -> bool:
        return self.public_bridge.enabled and vm.role == "gateway"

    @check
    def _networks_distinct(self) -> Iterator[Problem]:
        nat, mgmt = self.nat_network, self.management_network
        if nat.cidr.overlaps(mgmt.cidr):
            yield Problem(
                ("managementNetwork", "cidr"),
                f"overlaps natNetwork.cidr ({nat.cidr})",
                str(mgmt.cidr),
            )
        names = [("natNetwork", nat.name), ("managementNetwork", mgmt.name)]
        bridges = [("natNetwork", nat.bridge), ("managementNetwork", mgmt.bridge)]
        if self.public_bridge.enabled:
            names.append(("publicBridge", self.public_bridge.network))
            bridges.append(("publicBridge", self.public_bridge.bridge))
        for key, items in (("name", names), ("bridge", bridges)):
            for i, (where, value) in enumerate(items):
                for other, other_value in items[:i]:
                    if value == other_value:
                        path = (
                            where,
                            "network" if where == "publicBridge" and key == "name" else key,
                        )
                        yield Problem(path, f"already used by {other}", value)

    @check
    def _vms(self) -> Iterator[Problem]:
        mgmt = self.management_network
        names: dict[str, int] = {}
        ips: dict[ipaddress.IPv4Address, int] = {}
        macs: dict[str, str] = {}
        if not self.vms:
            yield Problem(("vms",), "at least one VM is needed")
        for i, vm in enumerate(self.vms):
            if vm.name in names:
                yield Problem(
                    ("vms", i, "name"), f"already the name of vms[{names[vm.name]}]", vm.name
                )
            names.setdefault(vm.name, i)
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
            if vm.ip in ips:
                yield Problem(
                    ("vms", i, "ip"), f"already the address of vms[{ips[vm.ip]}]", str(vm.ip)
                )
            ips.setdefault(vm.ip, i)
            nics = [("mac", vm.mac), ("natMac", vm.nat_mac)]
            if vm.public_mac is not None:
                nics.append(("publicMac", vm.public_mac))
            for key, mac in nics:
                where = format_path(("vms", i, key))
                if mac in macs:
                    yield Problem(("vms", i, key), f"already the MAC of {macs[mac]}", mac)
                macs.setdefault(mac, where)
            if self.on_public_bridge(vm) and vm.public_mac is None:
                yield Problem(
                    ("vms", i, "publicMac"),
                    "a gateway needs a MAC for its NIC on the public bridge (publicBridge.enabled)",
                )
            if not self.allow_undersized:
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


def _host(config: LibvirtHostConfig) -> Host:
    conn = config.connection
    if conn is None:
        return libvirt_host(config.libvirt_uri)
    return libvirt_host(config.libvirt_uri, conn.remote(), conn.sudo)


def base_image_path(config: LibvirtHostConfig) -> str:
    """Where the base image is on the KVM host (a URL is downloaded into the storage dir)."""
    source = config.base_image
    if source.startswith(("http://", "https://")):
        return f"{config.storage_dir}/base-{source.rstrip('/').rsplit('/', 1)[-1]}"
    return source


def guest_nics(config: LibvirtHostConfig, vm: VmConfig) -> list[Nic]:
    """The VM's NICs in order: NAT first, then the public bridge, then management.

    Each entry is named after its libvirt network; only the DHCP NICs may carry the default
    route, the management NIC gets its static address alone.
    """
    mgmt = config.management_network
    nics = [Nic(config.nat_network.name, vm.nat_mac, dhcp4=True)]
    if config.on_public_bridge(vm) and vm.public_mac is not None:
        nics.append(Nic(config.public_bridge.network, vm.public_mac, dhcp4=True))
    nics.append(Nic(mgmt.name, vm.mac, addresses=[f"{vm.ip}/{mgmt.cidr.prefixlen}"]))
    return nics


def seed(config: LibvirtHostConfig, vm: VmConfig, owner: str) -> Seed:
    """The VM's cloud-init documents. The instance id follows the other two (and the stack),
    so a changed document is applied at the guest's next boot."""
    user_data = render_user_data(
        Hostname(vm.name, preserve_hostname=None, manage_etc_hosts=True),
        Login(config.ssh_user, [config.ssh_public_key], disable_root=True),
    )
    network_config = render_network_config(guest_nics(config, vm))
    instance = content_instance_id(vm.name, owner + user_data + network_config)
    return Seed(user_data, render_meta_data(instance, vm.name), network_config)


def _network_spec(net: RoutedNetworkConfig, mode: Literal["nat", "isolated"]) -> NetworkSpec:
    """The libvirt network ``net`` describes, in ``mode`` (``nat`` or ``isolated``)."""
    dhcp = None
    if net.dhcp_start is not None and net.dhcp_end is not None:
        dhcp = (str(net.dhcp_start), str(net.dhcp_end))
    return NetworkSpec(
        name=net.name, mode=mode, bridge=net.bridge, address=net.interface, dhcp_range=dhcp
    )


def build(config: LibvirtHostConfig) -> None:
    owner = f"{pulumi.get_project()}/{pulumi.get_stack()}"
    host = _host(config)
    first: list[pulumi.Resource] = []
    if config.host_preparation.enabled:
        prep = HostPreparation(
            "host",
            HostPreparationArgs(
                host=host,
                domain_type=config.domain_type,
                persist=config.host_preparation.persist,
            ),
        )
        first.append(prep)
        pulumi.export("hostReport", prep.report)
    nat, mgmt = config.nat_network, config.management_network
    networks = [
        Network(
            "nat",
            NetworkArgs(
                host=host,
                spec=_network_spec(nat, "nat"),
                owner=owner,
                adopt_existing=nat.adopt_existing,
                autostart=config.autostart,
            ),
            opts=pulumi.ResourceOptions(depends_on=first),
        ),
        Network(
            "management",
            NetworkArgs(
                host=host,
                spec=_network_spec(mgmt, "isolated"),
                owner=owner,
                autostart=config.autostart,
            ),
            opts=pulumi.ResourceOptions(depends_on=first),
        ),
    ]
    if config.public_bridge.enabled:
        public = config.public_bridge
        networks.append(
            Network(
                "public",
                NetworkArgs(
                    host=host,
                    spec=NetworkSpec(name=public.network, mode="bridge", bridge=public.bridge),
                    owner=owner,
                    autostart=config.autostart,
                ),
                opts=pulumi.ResourceOptions(depends_on=first),
            )
        )
    base_path = base_image_path(config)
    base = BaseImage(
        "base-image",
        BaseImageArgs(host=host, source=config.base_image, path=base_path, owner=owner),
        opts=pulumi.ResourceOptions(depends_on=first),
    )
    jump = host.remote.jump if host.remote is not None else None
    ssh_commands: dict[str, str] = {}
    for vm in config.vms:
        nics = guest_nics(config, vm)
        Vm(
            f"vm-{vm.name}",
            VmArgs(
                host=host,
                owner=owner,
                domain_name=vm.name,
                domain_type=config.domain_type,
                memory_mib=vm.memory_mib,
                vcpus=vm.vcpus,
                nics=[NicSpec(nic.id, nic.mac) for nic in nics],
                base_image=base_path,
                disk_path=f"{config.storage_dir}/{vm.name}.qcow2",
                disk_size_gib=vm.disk_gib,
                disk_mode=config.disk_mode,
                seed_path=f"{config.storage_dir}/{vm.name}-cidata.iso",
                seed=seed(config, vm, owner),
                autostart=config.autostart,
            ),
            opts=pulumi.ResourceOptions(depends_on=[base, *networks]),
        )
        ssh_commands[vm.name] = ssh_command(config.ssh_user, str(vm.ip), jump)
    pulumi.export(
        "inventory",
        render_inventory(
            [InventoryHost(vm.name, vm.role, str(vm.ip)) for vm in config.vms],
            config.ssh_user,
            jump,
        ),
    )
    pulumi.export("sshCommands", ssh_commands)
    pulumi.export("networks", [n.network_name for n in networks])


LAB = Lab(
    name="libvirt-host",
    platform="libvirt/KVM",
    summary="host preparation, libvirt networks, five VMs with fixed MACs, Ansible inventory",
    config=LibvirtHostConfig,
    build=build,
)
