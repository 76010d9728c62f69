"""Netplan (network-config version 2) documents, matched by MAC address."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import yaml


@dataclass(frozen=True)
class Ethernet:
    """One interface of a netplan document."""

    id: str
    """The netplan id of the interface (any name; the MAC address selects the device)."""
    mac: str
    """The interface's MAC address, ``aa:bb:cc:dd:ee:ff``."""
    dhcp4: bool = False
    """Take an IPv4 address by DHCP."""
    addresses: Sequence[str] = ()
    """Static addresses in CIDR form (``192.168.56.1/24``)."""
    nameservers: Sequence[str] = ()
    """DNS servers for this interface."""
    use_dhcp_dns: bool = True
    """When False, ignore the DNS servers the DHCP server offers (``dhcp4-overrides``)."""
    use_dhcp_routes: bool = True
    """When False, install no default route from this interface's DHCP lease."""
    extra: dict[str, object] = field(default_factory=dict)
    """More netplan keys for this interface, written as given."""


def netplan_document(ethernets: Sequence[Ethernet]) -> dict[str, object]:
    """The netplan data structure (``network: {version: 2, ethernets: ...}``)."""
    out: dict[str, dict[str, object]] = {}
    for eth in ethernets:
        if eth.id in out:
            raise ValueError(f"interface id {eth.id!r} is used twice")
        entry: dict[str, object] = {"match": {"macaddress": eth.mac.lower()}, "dhcp4": eth.dhcp4}
        if eth.dhcp4:
            overrides: dict[str, object] = {}
            if not eth.use_dhcp_dns:
                overrides["use-dns"] = False
            if not eth.use_dhcp_routes:
                overrides["use-routes"] = False
            if overrides:
                entry["dhcp4-overrides"] = overrides
            entry["dhcp-identifier"] = "mac"
        if eth.addresses:
            entry["addresses"] = list(eth.addresses)
        if eth.nameservers:
            entry["nameservers"] = {"addresses": list(eth.nameservers)}
        entry.update(eth.extra)
        out[eth.id] = entry
    return {"network": {"version": 2, "ethernets": out}}


def render_netplan(ethernets: Sequence[Ethernet]) -> str:
    """The netplan YAML text; also a valid NoCloud ``network-config`` file."""
    return yaml.safe_dump(netplan_document(ethernets), sort_keys=False)
