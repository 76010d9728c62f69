"""vbox-nat: a VirtualBox VM behind NAT with an SSH forward, and a second VM from a clone of
its disk (docs/labs.md#vbox-nat).

The clone of the first VM's disk is taken before the first VM boots, so both VMs start from the
same clean disk and cloud-init configures each one (its own host name, the user's key).
"""

from __future__ import annotations

from collections.abc import Iterator

import pulumi

from components.virtualbox import AdapterMacs, Disk, DiskArgs, Machine, PortForward
from components.virtualbox.guests import nat_seed
from stacks.shared.catalogue import Lab
from stacks.shared.errors import KeyPath, Problem
from stacks.shared.types import HostPath, Name, Port
from stacks.shared.validation import check
from stacks.shared.virtualbox import (
    LabHost,
    VboxLabConfig,
    VmSize,
    forward_problems,
    image_disk,
    lab_host,
    lab_machine,
    ssh_command,
)


class NatVmConfig(VmSize):
    name: Name
    """The VM's name in VirtualBox and its host name."""
    ssh_port: Port
    """Host port forwarded from 127.0.0.1 to the guest's port 22."""


class VboxNatConfig(VboxLabConfig):
    """Config of the ``vbox-nat`` lab (keys of ``Pulumi.<stack>.yaml``)."""

    work_dir: HostPath = "~/cloudlabs-vbox/vbox-nat"
    vm: NatVmConfig = NatVmConfig(name="lab-vm", ssh_port=2222, disk_gb=10)
    clone: NatVmConfig = NatVmConfig(name="lab-vm-clone", ssh_port=2223, disk_gb=10)
    """The second VM, on a clone of ``vm``'s disk (its disk size is ``vm``'s)."""

    @check
    def _distinct(self) -> Iterator[Problem]:
        yield from forward_problems(
            [(("vm", "sshPort"), self.vm.ssh_port), (("clone", "sshPort"), self.clone.ssh_port)]
        )
        if self.vm.name == self.clone.name:
            yield Problem(("clone", "name"), "the clone needs a name of its own", self.clone.name)

    def disk_sizes(self) -> list[tuple[KeyPath, int]]:
        return [(("vm", "diskGb"), self.vm.disk_gb)]


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
        lambda login: nat_seed(vm.name, login, macs),
        nat_mac=macs.nat,
        forwards=[PortForward("ssh", vm.ssh_port, 22)],
        opts=pulumi.ResourceOptions(depends_on=after),
    )


def build(config: VboxNatConfig) -> None:
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


LAB = Lab(config=VboxNatConfig, build=build)
