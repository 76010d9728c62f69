"""The cloud-init NoCloud seed of a libvirt guest: meta-data, user-data, network-config.

Pure functions of plain values; the seed ISO script packs their output (volume id ``cidata``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import yaml


@dataclass(frozen=True)
class GuestNic:
    id: str
    """Name of the NIC's entry in network-config (the libvirt network's name)."""
    mac: str
    """The NIC's fixed MAC, which the entry matches."""
    address: str | None = None
    """Static address with prefix (``10.0.0.2/24``); None = DHCP."""


def _dump(data: object) -> str:
    return yaml.safe_dump(data, sort_keys=False, default_flow_style=False, width=1000)


def render_meta_data(hostname: str, instance_seed: str) -> str:
    """meta-data: the hostname, and an instance id that changes when ``instance_seed`` does.

    cloud-init runs its first-boot modules once per instance id.
    """
    digest = hashlib.sha256(instance_seed.encode()).hexdigest()[:12]
    return _dump({"instance-id": f"{hostname}-{digest}", "local-hostname": hostname})


def render_user_data(hostname: str, user: str, ssh_public_key: str) -> str:
    """user-data: ``user`` with the SSH key and passwordless sudo; password logins off."""
    doc = {
        "hostname": hostname,
        "manage_etc_hosts": True,
        "users": [
            {
                "name": user,
                "groups": ["sudo"],
                "shell": "/bin/bash",
                "sudo": "ALL=(ALL) NOPASSWD:ALL",
                "lock_passwd": True,
                "ssh_authorized_keys": [ssh_public_key],
            }
        ],
        "ssh_pwauth": False,
        "disable_root": True,
    }
    return "#cloud-config\n" + _dump(doc)


def render_network_config(nics: Sequence[GuestNic]) -> str:
    """network-config (version 2): each NIC matched by MAC, DHCP or its static address.

    Only DHCP NICs may carry the default route; static NICs (the management network) get
    their address alone.
    """
    ethernets: dict[str, object] = {}
    for nic in nics:
        entry: dict[str, object] = {"match": {"macaddress": nic.mac}}
        if nic.address is None:
            entry["dhcp4"] = True
        else:
            entry["dhcp4"] = False
            entry["addresses"] = [nic.address]
        ethernets[nic.id] = entry
    return _dump({"version": 2, "ethernets": ethernets})
