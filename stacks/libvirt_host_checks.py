"""libvirt-host once deployed: its checks and its topology.

Checks, for every VM: the stack's ssh command answers with the VM's name, its management
address is on its NIC, its default route leads to the NAT network's gateway and it reaches
that gateway; and every VM but the gateway reaches the gateway VM on the management network.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from checks.guest import Reach, has_address, named, reaches, routes_via
from checks.model import Check
from diagram.model import Link, Network, Node, Topology, ident
from stacks.libvirt_host import LibvirtHostConfig
from stacks.shared.libvirt import RoutedNetworkConfig, on_public_bridge


def checks(config: LibvirtHostConfig, outputs: Mapping[str, Any], reach: Reach) -> list[Check]:
    nat, mgmt = config.nat_network, config.management_network
    gateways = [vm for vm in config.vms if vm.role == "gateway"]
    found = []
    for vm in config.vms:
        on = reach.guest(vm.name)
        found += [
            named(on, vm.name),
            has_address(on, str(vm.ip), mgmt.name),
            routes_via(on, "default", str(nat.address)),
            reaches(on, str(nat.address), f"its gateway on {nat.name}"),
        ]
        found += [
            reaches(on, str(gw.ip), f"the {gw.name} VM on {mgmt.name}")
            for gw in gateways
            if gw.name != vm.name
        ]
    return found


def _network(net: RoutedNetworkConfig, kind: str) -> Network:
    lines = [str(net.cidr), f"host {net.address} on bridge {net.bridge}"]
    if net.dhcp_start is not None:
        lines.append(f"DHCP {net.dhcp_start} - {net.dhcp_end}")
    return Network(ident("net", net.name), net.name, kind, tuple(lines))


def topology(config: LibvirtHostConfig, outputs: Mapping[str, Any]) -> Topology:
    nat, mgmt, public = config.nat_network, config.management_network, config.public_bridge
    networks = [
        _network(nat, "libvirt NAT network"),
        _network(mgmt, "libvirt isolated network (management)"),
    ]
    if public.enabled:
        networks.append(
            Network(
                ident("net", public.network),
                public.network,
                "host bridge",
                (f"bridge {public.bridge}",),
            )
        )
    where = config.connection.host if config.connection is not None else "this machine"
    prep = config.host_preparation
    host = Node(
        "host",
        f"KVM host ({where})",
        "host",
        (
            config.libvirt_uri,
            f"domain type {config.domain_type}",
            "ip_forward, br_netfilter" if prep.enabled else "not prepared by the stack",
        ),
    )
    nodes = [host]
    links = [
        Link(host.id, ident("net", nat.name), "nic", str(nat.address)),
        Link(host.id, ident("net", mgmt.name), "nic", str(mgmt.address)),
    ]
    for vm in config.vms:
        lines = [
            f"{vm.ip} (MAC {vm.mac})",
            f"{nat.name}: DHCP (MAC {vm.nat_mac})",
            f"{vm.role}; {vm.vcpus} vCPU, {vm.memory_mib} MiB, {vm.disk_gib} GiB",
        ]
        if on_public_bridge(public, vm):
            lines.insert(2, f"{public.network}: DHCP (MAC {vm.public_mac})")
        node = Node(ident("vm", vm.name), vm.name, "vm", tuple(lines), ident("net", mgmt.name))
        nodes.append(node)
        links.append(Link(node.id, ident("net", nat.name), "nic"))
        if on_public_bridge(public, vm):
            links.append(Link(node.id, ident("net", public.network), "nic"))
    return Topology(
        "libvirt-host",
        "a KVM host prepared for the lab, its networks and five VMs with fixed MACs",
        tuple(networks),
        tuple(nodes),
        tuple(links),
        (
            f"NICs in order: {nat.name} first, then {mgmt.name}",
            f"disks: {config.disk_mode} on the base image, in {config.storage_dir}",
        ),
    )
