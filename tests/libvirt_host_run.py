"""libvirt-host for real in the namespace ``cloudlabs-libvirt``: the shipped stack with the cloud
image as ``baseImage``, software emulation (``domainType: qemu``), small VMs
(``allowUndersized``) and networks of a test's own (named by its tag); its commands created in
dependency order, each domain watched once it runs, then deleted, leaving nothing."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from tests.guests import Guest, SshKey, execute, in_netns, virsh
from tests.harness import Resource

COMMAND = "command:local:Command"
K = "cloud-labs:"


def nat_dhcp(nat: ipaddress.IPv4Network) -> tuple[str, str]:
    """The NAT network's DHCP range: ``.100`` to ``.199``."""
    return str(nat[100]), str(nat[199])


def lab_config(
    shipped: Mapping[str, Any],
    tag: str,
    storage: Path,
    image: Path,
    key: SshKey,
    nat: ipaddress.IPv4Network,
    mgmt: ipaddress.IPv4Network,
    vms: Sequence[Mapping[str, Any]],
    **keys: Any,
) -> dict[str, Any]:
    """The ``shipped`` config with the test's image, key, storage, networks (``tag``-named,
    the namespace at ``.1`` of each) and ``vms``; ``keys`` (config keys without the
    ``cloud-labs:`` prefix) set last."""
    start, end = nat_dhcp(nat)
    return {
        **shipped,
        K + "domainType": "qemu",
        K + "storageDir": str(storage),
        K + "baseImage": str(image),
        K + "sshPublicKey": key.public,
        K + "allowUndersized": True,
        K + "natNetwork": {
            "name": f"{tag}-nat",
            "bridge": f"{tag}n0",
            "cidr": str(nat),
            "address": str(nat[1]),
            "dhcpStart": start,
            "dhcpEnd": end,
            "adoptExisting": False,
        },
        K + "managementNetwork": {
            "name": f"{tag}-mgmt",
            "bridge": f"{tag}m0",
            "cidr": str(mgmt),
            "address": str(mgmt[1]),
        },
        K + "vms": list(vms),
        **{K + name: value for name, value in keys.items()},
    }


def create(
    commands: Sequence[Resource], vms: Sequence[Mapping[str, Any]], key: SshKey, logs: Path
) -> dict[str, Guest]:
    """Run every command's ``create`` in order; each VM's domain is watched (its console
    followed into ``logs``) from the moment its command started it. Every VM must start."""
    by_name = {vm["name"]: vm for vm in vms}
    guests: dict[str, Guest] = {}
    for command in commands:
        execute(command, "create")
        domain = command.inputs["environment"].get("DOMAIN_NAME")
        if command.name.endswith("-domain") and domain in by_name:
            guests[domain] = Guest.of_domain(domain, by_name[domain]["ip"], key, logs)
    assert sorted(guests) == sorted(by_name), "a VM of the stack was not started"
    return guests


def delete(commands: Sequence[Resource], tag: str, storage: Path) -> None:
    """Run every command's ``delete`` in reverse order: no domain, network or bridge of the
    stack is left, and nothing in ``storage`` but the consoles."""
    for command in reversed(commands):
        execute(command, "delete")
    assert [d for d in virsh("list", "--all", "--name").split() if d.startswith(tag)] == []
    assert [n for n in virsh("net-list", "--all", "--name").split() if n.startswith(tag)] == []
    left = sorted(p.name for p in storage.iterdir())
    assert left == ["consoles"], left
    for bridge in (f"{tag}n0", f"{tag}m0"):
        assert in_netns("ip", "link", "show", bridge, check=False) == ""
