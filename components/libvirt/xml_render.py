"""Libvirt domain and network XML, rendered from plain values (pure functions).

Everything the stack defines carries an ownership mark in its ``<metadata>``::

    <cloudlabs:owner xmlns:cloudlabs="http://cloudlabs.invalid/libvirt/1"
                     stack="cloud-labs/dev" digest="..."/>

The scripts under ``scripts/libvirt/`` read it back: a domain or network is changed or deleted
only when ``stack`` names the stack at hand, and redefined only when ``digest`` (a hash of the
rest of the definition) differs from the desired one.
"""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal
from xml.etree import ElementTree as ET

OWNER_NS = "http://cloudlabs.invalid/libvirt/1"
"""XML namespace of the ownership mark (``.invalid`` never resolves: it is only a name)."""

ET.register_namespace("cloudlabs", OWNER_NS)


@dataclass(frozen=True)
class NetworkSpec:
    name: str
    """Name of the libvirt network."""
    mode: Literal["nat", "isolated", "bridge"]
    """``nat``: routed to the host's uplink with masquerading; ``isolated``: a bridge between
    the guests and the host only; ``bridge``: an existing host bridge (a physical NIC)."""
    bridge: str
    """Bridge device: created by libvirt (nat, isolated) or already on the host (bridge)."""
    address: str | None = None
    """The host's address on the network with its prefix (``10.0.0.1/24``); nat/isolated."""
    dhcp_range: tuple[str, str] | None = None
    """First and last address libvirt's dnsmasq hands out; None = no DHCP."""
    dhcp_hosts: Sequence[tuple[str, str, str]] = ()
    """Reservations (mac, ip, hostname) served by the network's DHCP."""


@dataclass(frozen=True)
class DiskSpec:
    path: str
    """Image file on the KVM host."""
    format: Literal["qcow2", "raw"]
    """Image format."""
    device: Literal["disk", "cdrom"]
    """A writable virtio disk, or a read-only SATA CD-ROM (the cloud-init seed)."""


@dataclass(frozen=True)
class NicSpec:
    network: str
    """Libvirt network the NIC is plugged into."""
    mac: str
    """Fixed MAC address."""


@dataclass(frozen=True)
class DomainSpec:
    name: str
    """Domain name (also the guest's hostname)."""
    domain_type: Literal["kvm", "qemu"]
    """``kvm`` on a host with hardware virtualization; ``qemu`` is software emulation."""
    memory_mib: int
    """Memory in MiB."""
    vcpus: int
    """Virtual CPUs."""
    disks: Sequence[DiskSpec]
    """Disks in boot order (the system disk first)."""
    nics: Sequence[NicSpec]
    """NICs in the guest's order."""


def _digest(element: ET.Element) -> str:
    return hashlib.sha256(ET.tostring(element, encoding="unicode").encode()).hexdigest()[:16]


def _finish(root: ET.Element, owner: str) -> str:
    """Insert the ownership mark (with the digest of ``root``) right after ``<name>``."""
    digest = _digest(root)
    metadata = ET.Element("metadata")
    ET.SubElement(metadata, f"{{{OWNER_NS}}}owner", {"stack": owner, "digest": digest})
    root.insert(1, metadata)
    ET.indent(root)
    return ET.tostring(root, encoding="unicode") + "\n"


def definition_digest(xml: str) -> str:
    """The digest recorded in a definition rendered here."""
    root = ET.fromstring(xml)
    mark = root.find(f"metadata/{{{OWNER_NS}}}owner")
    if mark is None:
        raise ValueError("no cloudlabs ownership mark in this definition")
    return mark.attrib["digest"]


def render_network(spec: NetworkSpec, owner: str) -> str:
    """The ``<network>`` definition of ``spec``, marked as created by ``owner``."""
    root = ET.Element("network")
    ET.SubElement(root, "name").text = spec.name
    if spec.mode == "nat":
        forward = ET.SubElement(root, "forward", {"mode": "nat"})
        ET.SubElement(forward, "nat").append(ET.Element("port", {"start": "1024", "end": "65535"}))
    elif spec.mode == "bridge":
        ET.SubElement(root, "forward", {"mode": "bridge"})
    bridge = {"name": spec.bridge}
    if spec.mode != "bridge":
        bridge.update({"stp": "on", "delay": "0"})
    ET.SubElement(root, "bridge", bridge)
    if spec.mode != "bridge":
        if spec.address is None:
            raise ValueError(f"network {spec.name}: a {spec.mode} network needs an address")
        iface = ipaddress.IPv4Interface(spec.address)
        ip = ET.SubElement(
            root, "ip", {"address": str(iface.ip), "netmask": str(iface.network.netmask)}
        )
        if spec.dhcp_range is not None:
            dhcp = ET.SubElement(ip, "dhcp")
            start, end = spec.dhcp_range
            ET.SubElement(dhcp, "range", {"start": start, "end": end})
            for mac, address, host in spec.dhcp_hosts:
                ET.SubElement(dhcp, "host", {"mac": mac, "name": host, "ip": address})
    return _finish(root, owner)


def render_domain(spec: DomainSpec, owner: str) -> str:
    """The ``<domain>`` definition of ``spec``, marked as created by ``owner``.

    A q35 machine booting from the first disk; virtio disks and NICs; the seed ISO on SATA; a
    serial console (``virsh console``). On ``kvm`` the host CPU is passed through so that the
    guests can run KVM themselves (nested virtualization).
    """
    root = ET.Element("domain", {"type": spec.domain_type})
    ET.SubElement(root, "name").text = spec.name
    ET.SubElement(root, "memory", {"unit": "MiB"}).text = str(spec.memory_mib)
    ET.SubElement(root, "currentMemory", {"unit": "MiB"}).text = str(spec.memory_mib)
    ET.SubElement(root, "vcpu", {"placement": "static"}).text = str(spec.vcpus)
    os_el = ET.SubElement(root, "os")
    ET.SubElement(os_el, "type", {"arch": "x86_64", "machine": "q35"}).text = "hvm"
    ET.SubElement(os_el, "boot", {"dev": "hd"})
    features = ET.SubElement(root, "features")
    ET.SubElement(features, "acpi")
    ET.SubElement(features, "apic")
    if spec.domain_type == "kvm":
        ET.SubElement(root, "cpu", {"mode": "host-passthrough", "check": "none"})
    ET.SubElement(root, "on_poweroff").text = "destroy"
    ET.SubElement(root, "on_reboot").text = "restart"
    ET.SubElement(root, "on_crash").text = "destroy"
    devices = ET.SubElement(root, "devices")
    vd, sd = iter("abcdefghijklmnopqrstuvwxyz"), iter("abcdefghijklmnopqrstuvwxyz")
    for disk in spec.disks:
        el = ET.SubElement(devices, "disk", {"type": "file", "device": disk.device})
        ET.SubElement(el, "driver", {"name": "qemu", "type": disk.format})
        ET.SubElement(el, "source", {"file": disk.path})
        if disk.device == "disk":
            ET.SubElement(el, "target", {"dev": f"vd{next(vd)}", "bus": "virtio"})
        else:
            ET.SubElement(el, "target", {"dev": f"sd{next(sd)}", "bus": "sata"})
            ET.SubElement(el, "readonly")
    for nic in spec.nics:
        el = ET.SubElement(devices, "interface", {"type": "network"})
        ET.SubElement(el, "mac", {"address": nic.mac})
        ET.SubElement(el, "source", {"network": nic.network})
        ET.SubElement(el, "model", {"type": "virtio"})
    serial = ET.SubElement(devices, "serial", {"type": "pty"})
    ET.SubElement(serial, "target", {"port": "0"})
    console = ET.SubElement(devices, "console", {"type": "pty"})
    ET.SubElement(console, "target", {"type": "serial", "port": "0"})
    return _finish(root, owner)
