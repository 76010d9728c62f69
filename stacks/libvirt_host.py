"""libvirt-host: a KVM host prepared for the lab, its networks, and five VMs with fixed MACs.

The lab of docs/labs.md#libvirt-host. Everything runs through pulumi-command on the KVM host:
this machine, or a remote host over SSH (``connection``). The guests get a cloud-init seed ISO
(user, SSH key, static management address); the outputs are an Ansible inventory and ssh
commands.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Literal

import pulumi
from pydantic import Field

from components.hostexec import Host
from components.libvirt import (
    SEED_SCRIPT,
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
    script_path,
    seed_environment,
)
from components.libvirt.inventory import InventoryHost, render_inventory, ssh_command
from components.renderers.cloudinit import Login, Seed
from stacks.shared.benchmark import BenchmarkConfig
from stacks.shared.catalogue import Lab
from stacks.shared.errors import ConfigError, Problem
from stacks.shared.libvirt import (
    ConnectionConfig,
    HostPreparationConfig,
    ManagementNetworkConfig,
    NatNetworkConfig,
    PublicBridgeConfig,
    VmConfig,
    base_image_path,
    base_image_problems,
    default_vms,
    guest_nics,
    kvm_host,
    network_problems,
    network_spec,
    seed,
    stack_owner,
    vm_identity_problems,
    vm_paths,
    vm_size_problems,
)
from stacks.shared.mirror import PackageMirrorSetting, cloud_init_mirror, cloud_init_problems
from stacks.shared.operations import export_restored
from stacks.shared.remote import seed_size_problems
from stacks.shared.types import AbsPath, ImageSource, LibvirtUri, Name, SshPublicKey
from stacks.shared.validation import LabModel, check


class LibvirtHostConfig(LabModel):
    """Config of the ``libvirt-host`` lab (keys of ``Pulumi.<stack>.yaml``)."""

    connection: ConnectionConfig | None = None
    """The KVM host over SSH; omitted = this machine."""
    libvirt_uri: LibvirtUri = "qemu:///system"
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
    vms: list[VmConfig] = Field(default_factory=default_vms)
    autostart: bool = True
    allow_undersized: bool = False
    """Accept VMs below their role's minimum memory/disk (lifecycle tests, demos)."""
    benchmark: BenchmarkConfig = BenchmarkConfig()
    apt_mirror: PackageMirrorSetting = None
    """The primary apt mirror of the image's distribution the VMs install the suite's packages
    from (``benchmark.enabled``): its URL, or ``url`` with the ``key`` it is signed with;
    omitted = the image's own."""

    @check
    def _mirror_checked(self) -> Iterator[Problem]:
        yield from cloud_init_problems(self.apt_mirror, ("aptMirror",))

    @check
    def _networks_distinct(self) -> Iterator[Problem]:
        yield from network_problems(self.nat_network, self.management_network, self.public_bridge)

    @check
    def _vms(self) -> Iterator[Problem]:
        mgmt, public = self.management_network, self.public_bridge
        yield from vm_identity_problems(self.vms, mgmt, public)
        if not self.allow_undersized:
            yield from vm_size_problems(self.vms)

    @check
    def _files(self) -> Iterator[Problem]:
        yield from base_image_problems(self.base_image, self.storage_dir, self.vms)


def check_seeds(
    config: LibvirtHostConfig, host: Host, seeds: Mapping[str, Seed], owner: str
) -> None:
    """Stop before any resource when a VM's seed does not fit in the command writing its ISO."""
    problems = [
        problem
        for vm in config.vms
        for problem in seed_size_problems(
            host,
            script_path(SEED_SCRIPT),
            seed_environment(seeds[vm.name], vm_paths(config.storage_dir, vm)[1], owner),
            ("sshPublicKey",),
            vm.name,
        )
    ]
    if problems:
        raise ConfigError("libvirt-host", problems)


def build(config: LibvirtHostConfig) -> None:
    owner = stack_owner()
    host = kvm_host(config.libvirt_uri, config.connection)
    nat, mgmt, public = config.nat_network, config.management_network, config.public_bridge
    login = Login(config.ssh_user, [config.ssh_public_key], disable_root=True)
    nics = {vm.name: guest_nics(vm, nat, mgmt, public) for vm in config.vms}
    bench = config.benchmark.enabled
    mirror = cloud_init_mirror(config.apt_mirror)
    seeds = {vm.name: seed(vm, nics[vm.name], login, owner, bench, mirror) for vm in config.vms}
    check_seeds(config, host, seeds, owner)
    first: list[pulumi.Resource] = []
    if config.host_preparation.enabled:
        prep = HostPreparation(
            "host",
            HostPreparationArgs(host, config.domain_type, config.host_preparation.persist),
        )
        first.append(prep)
        pulumi.export("hostReport", prep.report)
    after_prep = pulumi.ResourceOptions(depends_on=first)

    def network(name: str, spec: NetworkSpec, adopt: bool = False) -> Network:
        args = NetworkArgs(host, spec, owner, adopt_existing=adopt, autostart=config.autostart)
        return Network(name, args, opts=after_prep)

    networks = [
        network("nat", network_spec(nat, "nat"), nat.adopt_existing),
        network("management", network_spec(mgmt, "isolated")),
    ]
    if public.enabled:
        spec = NetworkSpec(name=public.network, mode="bridge", bridge=public.bridge)
        networks.append(network("public", spec))
    base_path = base_image_path(config.base_image, config.storage_dir)
    base = BaseImage(
        "base-image", BaseImageArgs(host, config.base_image, base_path, owner), opts=after_prep
    )
    jump = host.remote.jump if host.remote is not None else None
    ssh_commands: dict[str, str] = {}
    domains: dict[str, Vm] = {}
    for vm in config.vms:
        disk_path, seed_path = vm_paths(config.storage_dir, vm)
        domains[vm.name] = Vm(
            f"vm-{vm.name}",
            VmArgs(
                host=host,
                owner=owner,
                domain_name=vm.name,
                domain_type=config.domain_type,
                memory_mib=vm.memory_mib,
                vcpus=vm.vcpus,
                nics=[NicSpec(nic.id, nic.mac) for nic in nics[vm.name]],
                base_image=base_path,
                disk_path=disk_path,
                disk_size_gib=vm.disk_gib,
                disk_mode=config.disk_mode,
                seed_path=seed_path,
                seed=seeds[vm.name],
                autostart=config.autostart,
                snapshots=vm.snapshot_specs(),
                restore=vm.restore_spec(),
            ),
            opts=pulumi.ResourceOptions(depends_on=[base, *networks]),
        )
        ssh_commands[vm.name] = ssh_command(config.ssh_user, str(vm.ip), jump)
    hosts = [InventoryHost(vm.name, vm.role, str(vm.ip)) for vm in config.vms]
    pulumi.export("inventory", render_inventory(hosts, config.ssh_user, jump))
    pulumi.export("sshCommands", ssh_commands)
    pulumi.export("networks", [n.network_name for n in networks])
    snapshots = {vm.name: [s.name for s in vm.snapshots] for vm in config.vms if vm.snapshots}
    pulumi.export("snapshots", snapshots)
    export_restored(domains)


LAB = Lab(config=LibvirtHostConfig, build=build)
