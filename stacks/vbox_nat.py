"""vbox-nat: a VirtualBox VM behind NAT with an SSH forward, and a second VM from a clone of
its disk (docs/labs.md#vbox-nat).

The clone of the first VM's disk is taken before the first VM boots, so both VMs start from the
same clean disk and cloud-init configures each one (its own host name, the user's key).
"""

from __future__ import annotations

from collections.abc import Iterator

import pulumi

from components.renderers.cloudinit import Login
from components.virtualbox import (
    AdapterMacs,
    Disk,
    DiskArgs,
    Machine,
    MachineArgs,
    PortForward,
    SeedIso,
    SeedIsoArgs,
)
from components.virtualbox.guests import nat_seed
from components.virtualbox.ready import ReadyLogin
from stacks.shared.catalogue import Lab
from stacks.shared.errors import Problem
from stacks.shared.remote import RemoteHostConfig
from stacks.shared.types import HostPath, Name, NonEmptyText, OsType, Port, SshPublicKey
from stacks.shared.validation import LabModel, check
from stacks.shared.virtualbox import (
    ImageConfig,
    LabHost,
    VmSize,
    disk_problems,
    forward_problems,
    lab_host,
    login_keys,
)


class NatVmConfig(VmSize):
    name: Name
    """The VM's name in VirtualBox and its host name."""
    ssh_port: Port
    """Host port forwarded from 127.0.0.1 to the guest's port 22."""


class VboxNatConfig(LabModel):
    """Config of the ``vbox-nat`` lab (keys of ``Pulumi.<stack>.yaml``)."""

    ssh_public_key: SshPublicKey
    """The key that logs in as ``sshUser`` (set up by cloud-init)."""
    ssh_user: Name = "ubuntu"
    image: ImageConfig
    work_dir: HostPath = "~/cloudlabs-vbox/vbox-nat"
    """Where disks, seed ISOs and VM settings go on the VirtualBox host."""
    vbox_manage: NonEmptyText = "VBoxManage"
    remote_host: RemoteHostConfig | None = None
    os_type: OsType = "Ubuntu_64"
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

    @check
    def _disk(self) -> Iterator[Problem]:
        yield from disk_problems(self.image, [(("vm", "diskGb"), self.vm.disk_gb)])


def _machine(
    config: VboxNatConfig,
    lab: LabHost,
    role: str,
    vm: NatVmConfig,
    disk: Disk,
    after: list[pulumi.Resource],
) -> Machine:
    work, host = config.work_dir, lab.host
    macs = AdapterMacs.of(vm.name)
    user, key = config.ssh_user, config.ssh_public_key
    seed = SeedIso(
        f"{role}-seed",
        SeedIsoArgs(
            directory=f"{work}/seeds",
            hostname=vm.name,
            seed=lab.ready_key.public_key.apply(
                lambda ready: nat_seed(vm.name, Login(user, login_keys(key, ready)), macs)
            ),
            host=host,
        ),
    )
    return Machine(
        role,
        MachineArgs(
            vm_name=vm.name,
            base_folder=f"{work}/vms",
            cpus=vm.cpus,
            memory_mb=vm.memory_mb,
            disk=disk,
            seed=seed,
            nat_mac=macs.nat,
            forwards=[PortForward("ssh", vm.ssh_port, 22)],
            ostype=config.os_type,
            wait_for_ssh="ssh",
            ready=ReadyLogin(user, lab.ready_key),
            host_check=lab.check,
            host=host,
        ),
        opts=pulumi.ResourceOptions(depends_on=after),
    )


def build(config: VboxNatConfig) -> None:
    lab = lab_host(config.vbox_manage, config.remote_host, config.work_dir)
    host = lab.host
    disks = f"{config.work_dir}/disks"
    disk = Disk(
        "vm-disk",
        DiskArgs(
            path=f"{disks}/{config.vm.name}.vdi",
            source=config.image.path,
            source_url=config.image.url,
            size_mb=config.vm.disk_gb * 1024,
            host=host,
        ),
        opts=pulumi.ResourceOptions(depends_on=[lab.check]),
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
    ssh = host.ssh_prefix()
    user = config.ssh_user
    commands = {
        config.vm.name: f"{ssh} -p {config.vm.ssh_port} {user}@127.0.0.1",
        config.clone.name: f"{ssh} -p {config.clone.ssh_port} {user}@127.0.0.1",
    }
    pulumi.export("sshCommands", commands)
    pulumi.export("vmNames", [first.vm_name, second.vm_name])


LAB = Lab(config=VboxNatConfig, build=build)
