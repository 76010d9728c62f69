"""Libvirt/KVM components (``cloudlabs:libvirt:*``), driven through pulumi-command."""

from components.libvirt.commands import libvirt_host
from components.libvirt.resources import (
    BaseImage,
    BaseImageArgs,
    HostPreparation,
    HostPreparationArgs,
    Network,
    NetworkArgs,
    Vm,
    VmArgs,
)
from components.libvirt.xml_render import NetworkSpec, NicSpec

__all__ = [
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
]
