"""vbox-nat: a VirtualBox VM behind NAT with an SSH forward, and a second VM from a clone of
its disk (docs/labs.md#vbox-nat).

The clone of the first VM's disk is taken before the first VM boots, so both VMs start from the
same clean disk and cloud-init configures each one (its own host name, the user's key).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pulumi
from pydantic import Field

from components.renderers.cloudinit import Login, Seed
from components.virtualbox import AdapterMacs, Disk, DiskArgs, Machine, PortForward
from components.virtualbox.guests import nat_seed
from stacks.shared.benchmark import BenchmarkConfig
from stacks.shared.catalogue import Lab
from stacks.shared.errors import KeyPath, Problem
from stacks.shared.operations import export_restored
from stacks.shared.types import HostLabel, HostPath, Port
from stacks.shared.validation import check
from stacks.shared.virtualbox import (
    LabHost,
    VboxLabConfig,
    VmSize,
    check_seeds,
    forward_problems,
    image_disk,
    lab_host,
    lab_machine,
    ssh_command,
    vm_name_problems,
)


class NatVmConfig(VmSize):
    name: HostLabel
    """The VM's name in VirtualBox and its host name."""
    ssh_port: Port
    """Host port forwarded from 127.0.0.1 to the guest's port 22."""


class CloneVmConfig(NatVmConfig):
    disk_gb: int | None = Field(None, ge=3, le=4096)  # type: ignore[assignment]
    """The clone's disk grown to this size; omitted = ``vm``'s (a disk never shrinks)."""


class VboxNatConfig(VboxLabConfig):
    """Config of the ``vbox-nat`` lab (keys of ``Pulumi.<stack>.yaml``)."""

    work_dir: HostPath = "~/cloudlabs-vbox/vbox-nat"
    vm: NatVmConfig = NatVmConfig(name="lab-vm", ssh_port=2222, disk_gb=10)
    clone: CloneVmConfig = CloneVmConfig(name="lab-vm-clone", ssh_port=2223)
    benchmark: BenchmarkConfig = BenchmarkConfig()
    """The second VM, on a clone of ``vm``'s disk."""

    @check
    def _distinct(self) -> Iterator[Problem]:
        yield from forward_problems(
            [(("vm", "sshPort"), self.vm.ssh_port), (("clone", "sshPort"), self.clone.ssh_port)]
        )
        yield from vm_name_problems(
            [(("vm", "name"), self.vm.name), (("clone", "name"), self.clone.name)],
            self,
        )

    @check
    def _clone_disk(self) -> Iterator[Problem]:
        size = self.clone.disk_gb
        if size is not None and size < self.vm.disk_gb:
            yield Problem(
                ("clone", "diskGb"),
                f"the clone is a copy of vm's {self.vm.disk_gb} GB disk and a disk never shrinks",
                size,
            )

    def disk_sizes(self) -> list[tuple[KeyPath, int]]:
        return [(("vm", "diskGb"), self.vm.disk_gb)]


def _seed(vm: NatVmConfig, benchmark: bool) -> Callable[[Login], Seed]:
    """The VM's seed, for a login."""
    macs = AdapterMacs.of(vm.name)
    return lambda login: nat_seed(vm.name, login, macs, benchmark)


def _machine(
    config: VboxNatConfig,
    lab: LabHost,
    role: str,
    vm: NatVmConfig,
    disk: Disk,
    after: list[pulumi.Resource],
) -> Machine:
    macs = AdapterMacs.of(vm.name)
    return lab_machine(
        config,
        lab,
        role,
        vm.name,
        vm,
        disk,
        _seed(vm, config.benchmark.enabled),
        nat_mac=macs.nat,
        forwards=[PortForward("ssh", vm.ssh_port, 22)],
        opts=pulumi.ResourceOptions(depends_on=after),
    )


def build(config: VboxNatConfig) -> None:
    check_seeds(
        "vbox-nat",
        config,
        [(vm.name, _seed(vm, config.benchmark.enabled)) for vm in (config.vm, config.clone)],
    )
    lab = lab_host(config)
    host = lab.host
    disks = f"{config.work_dir}/disks"
    disk = image_disk(
        config, lab, "vm-disk", f"{disks}/{config.vm.name}.vdi", config.vm.disk_gb * 1024
    )
    clone_disk = Disk(
        "clone-disk",
        DiskArgs(
            path=f"{disks}/{config.clone.name}.vdi",
            source=f"{disks}/{config.vm.name}.vdi",
            source_is_disk=True,
            size_mb=(config.clone.disk_gb or 0) * 1024,
            host=host,
        ),
        opts=pulumi.ResourceOptions(depends_on=[disk]),
    )
    # The first VM boots only once its disk has been cloned.
    first = _machine(config, lab, "vm", config.vm, disk, after=[clone_disk])
    second = _machine(config, lab, "clone", config.clone, clone_disk, after=[])
    commands = {
        vm.name: ssh_command(host, config.ssh_user, vm.ssh_port) for vm in (config.vm, config.clone)
    }
    pulumi.export("sshCommands", commands)
    pulumi.export("vmNames", [first.vm_name, second.vm_name])
    export_restored({config.vm.name: first, config.clone.name: second})


LAB = Lab(config=VboxNatConfig, build=build)
