"""Libvirt/KVM components (``cloudlabs:libvirt:*``), driven through pulumi-command."""

from components.libvirt.commands import libvirt_host, script_path
from components.libvirt.resources import (
    SEED_SCRIPT,
    BaseImage,
    BaseImageArgs,
    HostPreparation,
    HostPreparationArgs,
    Network,
    NetworkArgs,
    Vm,
    VmArgs,
    seed_environment,
)
from components.libvirt.xml_render import NetworkSpec, NicSpec

__all__ = [
    "SEED_SCRIPT",
    "BaseImage",
    "BaseImageArgs",
    "HostPreparation",
    "HostPreparationArgs",
    "Network",
    "NetworkArgs",
    "NetworkSpec",
    "NicSpec",
    "Vm",
    "VmArgs",
    "libvirt_host",
    "script_path",
    "seed_environment",
]
