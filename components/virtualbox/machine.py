"""A VirtualBox VM: settings, adapters, NAT port forwards, disk and seed DVD, its serial console
written to a file in its folder, started headless, and a wait until its guest is ready: the
SSH server answers through its forward and cloud-init has finished."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import pulumi

from components.children import child_options
from components.hostexec import Host, run_script
from components.operations import RestoreSpec, SnapshotSpec, machine_operations
from components.virtualbox.disk import Disk
from components.virtualbox.host import HostCheck, virtualbox_host
from components.virtualbox.ready import ReadyLogin
from components.virtualbox.seed import SeedIso

VIRTUALBOX_OUI = "080027"


def mac_address(key: str) -> str:
    """A stable MAC address in VirtualBox's range, derived from ``key`` (12 hex digits)."""
    return VIRTUALBOX_OUI + hashlib.sha256(key.encode()).hexdigest()[:6].upper()


def colon_mac(mac: str) -> str:
    """``080027AABBCC`` -> ``08:00:27:aa:bb:cc`` (the form netplan and dnsmasq use)."""
    return ":".join(mac[i : i + 2] for i in range(0, 12, 2)).lower()


@dataclass(frozen=True)
class AdapterMacs:
    """The MAC addresses of a VM's two adapters, computed once per VM: its settings and its
    guest's network-config (and dnsmasq's fixed leases) must name the same ones."""

    nat: str
    """Adapter 1 (NAT), 12 hex digits."""
    internal: str
    """Adapter 2 (internal network or host-only), 12 hex digits."""

    @classmethod
    def of(cls, vm_name: str) -> AdapterMacs:
        """Stable for the VM's name."""
        return cls(mac_address(f"{vm_name}/nic1"), mac_address(f"{vm_name}/nic2"))


@dataclass(frozen=True)
class PortForward:
    """A NAT port-forwarding rule of adapter 1."""

    name: str
    """The rule's name (``ssh``, ``http``)."""
    host_port: int
    guest_port: int
    host_ip: str = "127.0.0.1"
    protocol: Literal["tcp", "udp"] = "tcp"

    @property
    def rule(self) -> str:
        """The rule as VBoxManage writes it: ``name,proto,hostip,hostport,guestip,guestport``."""
        return f"{self.name},{self.protocol},{self.host_ip},{self.host_port},,{self.guest_port}"


@dataclass(frozen=True)
class InternalNic:
    """Adapter 2: a VirtualBox internal network, or host-only: a host-only interface, or on a
    macOS host with VirtualBox 7 a host-only network (as the host check finds)."""

    network: str
    """The internal network's name, or the host-only interface (``vboxnet0``) or network."""
    mac: str
    """12 hex digits."""
    mode: Literal["intnet", "hostonly"] = "intnet"


def console_log(base_folder: str, vm_name: str) -> str:
    """Where the VM's first serial port writes: ``console.log`` in the VM's folder."""
    return f"{base_folder.rstrip('/')}/{vm_name}/console.log"


@dataclass(frozen=True)
class MachineArgs:
    vm_name: str
    """The VM's name in VirtualBox."""
    base_folder: str
    """Where VirtualBox keeps the VM's settings (``~/`` = that user's home)."""
    cpus: int
    memory_mb: int
    """Changing CPUs or memory updates the VM in place (it is shut down and started again)."""
    disk: Disk
    """The boot disk."""
    nat_mac: str
    """MAC address of adapter 1 (NAT), 12 hex digits."""
    seed: SeedIso | None = None
    """The cloud-init seed DVD."""
    internal: InternalNic | None = None
    """Adapter 2, if any."""
    forwards: Sequence[PortForward] = ()
    """NAT rules of adapter 1; changes apply live."""
    ostype: str = "Ubuntu_64"
    firmware: Literal["bios", "efi"] = "bios"
    start: bool = True
    """Start the VM headless (and keep it started)."""
    wait_for_ssh: str | None = None
    """The name of the forward to wait on until the guest's SSH server answers (and, with
    ``ready``, until cloud-init has finished there)."""
    ready: ReadyLogin | None = None
    """The login that asks the guest's cloud-init whether it has finished."""
    host_check: HostCheck | None = None
    """The VirtualBox host's check; its host-only kind is what a host-only adapter uses."""
    wait_timeout_s: int = 900
    stop_timeout_s: int = 120
    """How long an ACPI shutdown may take before the VM is powered off."""
    host: Host = field(default_factory=virtualbox_host)
    """Where VBoxManage runs. (What the VM needs first, e.g. the VM serving DHCP on its
    internal network, goes in ``depends_on``.)"""
    snapshots: Sequence[SnapshotSpec] = ()
    """Snapshots of the VM (``scripts/virtualbox/snapshot.sh``), each taken once, after the
    guest is ready."""
    restore: RestoreSpec | None = None
    """A restore to one of ``snapshots`` (``scripts/virtualbox/restore.sh``)."""


class Machine(pulumi.ComponentResource):
    vm_name: pulumi.Output[str]
    """The VM's name in VirtualBox."""
    ssh_port: pulumi.Output[int | None]
    """The host port forwarded to the guest's SSH server, if any."""
    ready: pulumi.Output[str]
    """The last state line of the VM (and of the wait for its guest, when there is one)."""
    console_log: pulumi.Output[str]
    """The guest's boot log (its serial console) on the VirtualBox host."""
    restored: pulumi.Output[str] | None
    """What the VM was last restored to (``snapshot@generation``); None: no restore."""

    def __init__(
        self, name: str, args: MachineArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("cloudlabs:virtualbox:Machine", name, None, opts)
        nic = args.internal
        nic2: pulumi.Input[str] = "none"
        if nic is not None:
            nic2 = nic.mode
            if nic.mode == "hostonly" and args.host_check is not None:
                nic2 = args.host_check.host_only
        console = console_log(args.base_folder, args.vm_name)
        env: dict[str, pulumi.Input[str]] = {
            "VM_NAME": args.vm_name,
            "VM_OSTYPE": args.ostype,
            "VM_BASEFOLDER": args.base_folder,
            "VM_CPUS": str(args.cpus),
            "VM_MEMORY_MB": str(args.memory_mb),
            "VM_FIRMWARE": args.firmware,
            "VM_DISK": args.disk.path,
            "VM_SEED": args.seed.path if args.seed is not None else "",
            "VM_NIC1_MAC": args.nat_mac,
            "VM_NIC2": nic2,
            "VM_NIC2_NETWORK": nic.network if nic is not None else "",
            "VM_NIC2_MAC": nic.mac if nic is not None else "",
            "VM_FORWARDS": "\n".join(f.rule for f in args.forwards),
            "VM_START": "yes" if args.start else "no",
            "VM_STOP_TIMEOUT": str(args.stop_timeout_s),
        }
        needs: list[pulumi.Resource] = [args.disk]
        if args.seed is not None:
            needs.append(args.seed)
        vm = run_script(
            f"{name}-vm",
            args.host,
            "virtualbox/vm.sh",
            env,
            # A new name, folder, OS type or firmware is a new VM; everything else converges.
            update=True,
            triggers=[args.vm_name, args.base_folder, args.ostype, args.firmware],
            opts=child_options(self, opts, after=needs, delete_before_replace=True),
        )
        ready: pulumi.Output[str] = vm.stdout
        up: list[pulumi.Resource] = [vm]
        ssh = next((f for f in args.forwards if f.name == args.wait_for_ssh), None)
        if args.wait_for_ssh is not None and ssh is None:
            raise ValueError(f"{name}: no forward named {args.wait_for_ssh!r} to wait on")
        if ssh is not None and args.start:
            wait_env: dict[str, pulumi.Input[str]] = {
                "SSH_HOST": ssh.host_ip,
                "SSH_PORT": str(ssh.host_port),
                "CONSOLE_LOG": console,
                "WAIT_TIMEOUT": str(args.wait_timeout_s),
            }
            if args.ready is not None:
                wait_env |= {"SSH_USER": args.ready.user, "SSH_KEY": args.ready.key.path}
            wait = run_script(
                f"{name}-ssh",
                args.host,
                "virtualbox/ssh-wait.sh",
                wait_env,
                delete=False,
                # Wait again whenever the VM is replaced or boots a new seed (cloud-init runs
                # again).
                triggers=[vm.id, args.seed.path if args.seed is not None else ""],
                opts=child_options(self, opts, after=[vm]),
            )
            ready = wait.stdout
            up.append(wait)
        operations = machine_operations(
            self,
            name,
            args.host,
            "virtualbox",
            {"VM_NAME": args.vm_name},
            args.snapshots,
            args.restore,
            opts,
            after=up,
        )
        self.vm_name = pulumi.Output.from_input(args.vm_name)
        self.ssh_port = pulumi.Output.from_input(ssh.host_port if ssh else None)
        self.ready = ready
        self.console_log = pulumi.Output.from_input(console)
        self.restored = operations.restored
        self.register_outputs(
            {
                "vm_name": self.vm_name,
                "ssh_port": self.ssh_port,
                "ready": self.ready,
                "console_log": self.console_log,
                "restored": self.restored,
            }
        )
