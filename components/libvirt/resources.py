"""The libvirt components: host preparation, networks, base image, VMs (disk, seed, domain).

Each one runs a script of ``scripts/libvirt/`` through pulumi-command on the KVM host (see
:mod:`components.hostexec`); what a script creates carries the stack's ownership mark
(``owner``), and its delete removes only what carries that mark.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import pulumi

from components.children import child_options
from components.hostexec import Host
from components.libvirt.commands import run_script
from components.libvirt.xml_render import (
    DiskSpec,
    DomainSpec,
    NetworkSpec,
    NicSpec,
    definition_digest,
    render_domain,
    render_network,
)
from components.operations import RestoreSpec, SnapshotSpec, machine_operations
from components.renderers.cloudinit import Seed


@dataclass(frozen=True)
class HostPreparationArgs:
    host: Host
    """The KVM host."""
    domain_type: Literal["kvm", "qemu"] = "kvm"
    """With ``kvm``, a host without /dev/kvm is an error."""
    persist: bool = True
    """Also write the settings to sysctl.d and modules-load.d (removed on destroy)."""


class HostPreparation(pulumi.ComponentResource):
    report: pulumi.Output[str]
    """What the host looks like afterwards: ip_forward, bridge netfilter, nested KVM."""

    def __init__(
        self, name: str, args: HostPreparationArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("cloudlabs:libvirt:HostPreparation", name, None, opts)
        env = {"DOMAIN_TYPE": args.domain_type, "PERSIST": "1" if args.persist else "0"}
        cmd = run_script(
            f"{name}-kernel", args.host, "host-prep.sh", env, child_options(self, opts)
        )
        self.report = cmd.stdout
        self.register_outputs({"report": self.report})


@dataclass(frozen=True)
class NetworkArgs:
    host: Host
    """The KVM host."""
    spec: NetworkSpec
    """The network's definition."""
    owner: str
    """Ownership mark of this stack."""
    adopt_existing: bool = False
    """Use a same-named network the stack did not create (left in place on destroy)."""
    autostart: bool = True
    """Start the network when libvirtd starts."""


class Network(pulumi.ComponentResource):
    network_name: pulumi.Output[str]
    """The libvirt network's name."""
    xml: pulumi.Output[str]
    """The definition the stack declares."""

    def __init__(
        self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("cloudlabs:libvirt:Network", name, None, opts)
        xml = render_network(args.spec, args.owner)
        env = {
            "NETWORK_NAME": args.spec.name,
            "NETWORK_XML": xml,
            "OWNER": args.owner,
            "DIGEST": definition_digest(xml),
            "ADOPT_EXISTING": "1" if args.adopt_existing else "0",
            "AUTOSTART": "1" if args.autostart else "0",
        }
        cmd = run_script(
            f"{name}-define",
            args.host,
            "network.sh",
            env,
            child_options(self, opts),
        )
        self.network_name = cmd.stdout.apply(lambda _: args.spec.name)
        self.xml = pulumi.Output.from_input(xml)
        self.register_outputs({"network_name": self.network_name, "xml": self.xml})


@dataclass(frozen=True)
class BaseImageArgs:
    host: Host
    """The KVM host."""
    source: str
    """A path on the KVM host, or an http(s) URL downloaded once."""
    path: str
    """Where the image is on the KVM host (the source itself when it is a path)."""
    owner: str
    """Ownership mark of this stack (a downloaded image is removed on destroy)."""


class BaseImage(pulumi.ComponentResource):
    path: pulumi.Output[str]
    """The image's path on the KVM host, once it is there."""

    def __init__(
        self, name: str, args: BaseImageArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("cloudlabs:libvirt:BaseImage", name, None, opts)
        env = {"BASE_SOURCE": args.source, "BASE_PATH": args.path, "OWNER": args.owner}
        cmd = run_script(
            f"{name}-fetch",
            args.host,
            "base-image.sh",
            env,
            child_options(self, opts),
        )
        self.path = cmd.stdout.apply(lambda _: args.path)
        self.register_outputs({"path": self.path})


@dataclass(frozen=True)
class VmArgs:
    host: Host
    """The KVM host."""
    owner: str
    """Ownership mark of this stack."""
    domain_name: str
    """Name of the libvirt domain."""
    domain_type: Literal["kvm", "qemu"]
    """``kvm``, or ``qemu`` for software emulation."""
    memory_mib: int
    """Memory in MiB."""
    vcpus: int
    """Virtual CPUs."""
    nics: Sequence[NicSpec]
    """NICs in the guest's order (fixed MACs)."""
    base_image: str
    """Path of the base image on the KVM host (its BaseImage goes in ``depends_on``, with the
    VM's networks)."""
    disk_path: str
    """Path of the VM's system disk."""
    disk_size_gib: int
    """Size of the system disk."""
    disk_mode: Literal["backing", "copy"]
    """``backing``: a qcow2 overlay on the base image; ``copy``: a full copy."""
    seed_path: str
    """Path of the cloud-init seed ISO."""
    seed: Seed
    """The documents of the seed (its network-config is required: the management address)."""
    autostart: bool = True
    """Start the domain when libvirtd starts."""
    snapshots: Sequence[SnapshotSpec] = ()
    """Internal snapshots of the domain (``scripts/libvirt/snapshot.sh``), each taken once."""
    restore: RestoreSpec | None = None
    """A revert to one of ``snapshots`` (``scripts/libvirt/restore.sh``)."""


SEED_SCRIPT = "seed-iso.sh"
"""The script writing a VM's seed ISO (``scripts/libvirt/``)."""


def seed_environment(seed: Seed, iso_path: str, owner: str) -> dict[str, str]:
    """The parameters of the seed ISO's script: its path, the documents, the stack's mark."""
    return {
        "ISO_PATH": iso_path,
        "META_DATA": seed.meta_data,
        "USER_DATA": seed.user_data,
        "NETWORK_CONFIG": seed.network_config or "",
        "OWNER": owner,
    }


class Vm(pulumi.ComponentResource):
    domain_name: pulumi.Output[str]
    """The libvirt domain's name."""
    xml: pulumi.Output[str]
    """The domain definition the stack declares."""
    macs: pulumi.Output[list[str]]
    """The NICs' MACs, in order."""
    restored: pulumi.Output[str] | None
    """What the domain was last restored to (``snapshot@generation``); None: no restore."""

    def __init__(self, name: str, args: VmArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("cloudlabs:libvirt:Vm", name, None, opts)
        disk = run_script(
            f"{name}-disk",
            args.host,
            "disk.sh",
            {
                "DISK_PATH": args.disk_path,
                "BASE_PATH": args.base_image,
                "DISK_SIZE_GIB": str(args.disk_size_gib),
                "DISK_MODE": args.disk_mode,
                "OWNER": args.owner,
                "DOMAIN_NAME": args.domain_name,
            },
            child_options(self, opts),
        )
        seed = run_script(
            f"{name}-seed",
            args.host,
            SEED_SCRIPT,
            seed_environment(args.seed, args.seed_path, args.owner),
            child_options(self, opts),
        )
        spec = DomainSpec(
            name=args.domain_name,
            domain_type=args.domain_type,
            memory_mib=args.memory_mib,
            vcpus=args.vcpus,
            disks=[
                DiskSpec(args.disk_path, "qcow2", "disk"),
                DiskSpec(args.seed_path, "raw", "cdrom"),
            ],
            nics=args.nics,
        )
        xml = render_domain(spec, args.owner)
        domain = run_script(
            f"{name}-domain",
            args.host,
            "domain.sh",
            {
                "DOMAIN_NAME": args.domain_name,
                "DOMAIN_XML": xml,
                "OWNER": args.owner,
                "DIGEST": definition_digest(xml),
                "AUTOSTART": "1" if args.autostart else "0",
            },
            child_options(self, opts, after=[disk, seed]),
        )
        operations = machine_operations(
            self,
            name,
            args.host,
            "libvirt",
            {"DOMAIN_NAME": args.domain_name, "OWNER": args.owner},
            args.snapshots,
            args.restore,
            opts,
            after=[domain],
        )
        self.domain_name = domain.stdout.apply(lambda _: args.domain_name)
        self.xml = pulumi.Output.from_input(xml)
        self.macs = pulumi.Output.from_input([nic.mac for nic in args.nics])
        self.restored = operations.restored
        self.register_outputs(
            {
                "domain_name": self.domain_name,
                "xml": self.xml,
                "macs": self.macs,
                "restored": self.restored,
            }
        )
