"""VirtualBox building blocks (type tokens ``cloudlabs:virtualbox:*``), driving ``VBoxManage``
through pulumi-command with the scripts of ``scripts/virtualbox/``, on this machine or on a
remote VirtualBox host over SSH."""

from components.virtualbox.disk import Disk, DiskArgs
from components.virtualbox.host import virtualbox_host
from components.virtualbox.machine import (
    AdapterMacs,
    InternalNic,
    Machine,
    MachineArgs,
    PortForward,
    mac_address,
)
from components.virtualbox.seed import SEED_SCRIPT, SeedIso, SeedIsoArgs, seed_environment

__all__ = [
    "SEED_SCRIPT",
    "AdapterMacs",
    "Disk",
    "DiskArgs",
    "InternalNic",
    "Machine",
    "MachineArgs",
    "PortForward",
    "SeedIso",
    "SeedIsoArgs",
    "mac_address",
    "seed_environment",
    "virtualbox_host",
]
