"""openstack-vm once deployed: its checks and its topology.

Checks: this machine reaches the floating IP (ICMP) and logs in through it with the stack's
ssh command; the VM has its fixed IP, its default route leads to the router's interface and it
reaches that interface.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from checks.guest import Reach, has_address, named, reaches, routes_via
from checks.model import Check
from diagram.model import Link, Node, Topology, ident
from stacks.openstack_vm import OpenStackVmConfig
from stacks.shared.openstack_checks import (
    external_network,
    floating_ip,
    private_network,
    router_node,
    security_edges,
)


def checks(config: OpenStackVmConfig, outputs: Mapping[str, Any], reach: Reach) -> list[Check]:
    server = reach.guest("server")
    gateway = str(config.network.gateway)
    found = []
    if config.server.floating_ip:
        found.append(reaches(reach.host, str(outputs["floatingIp"]), "the floating IP"))
    found += [
        named(server, config.server.name),
        has_address(server, str(outputs["fixedIp"]), config.network.name),
        routes_via(server, "default", gateway),
        reaches(server, gateway, f"its router {config.router_name}"),
    ]
    return found


def _ports(ports: tuple[int, int] | None) -> str:
    if ports is None:
        return ""
    low, high = ports
    return f" {low}" if low == high else f" {low}-{high}"


def topology(config: OpenStackVmConfig, outputs: Mapping[str, Any]) -> Topology:
    net, server = config.network, config.server
    public = external_network(config.external_network)
    private = private_network(net)
    router = router_node(
        "vm", config.router_name, ("external gateway", f"{net.gateway} on {net.name}")
    )
    fixed = str(outputs.get("fixedIp") or server.fixed_ip or "address by Neutron")
    vm = Node(
        ident("vm", server.name),
        server.name,
        "vm",
        (fixed, f"{server.image}, {server.flavor}"),
        private.id,
    )
    nodes = [router, vm]
    links = [
        Link(router.id, public.id, "nic", "gateway"),
        Link(router.id, private.id, "nic", str(net.gateway)),
    ]
    if server.floating_ip:
        fip, fip_links = floating_ip(
            "vm", outputs.get("floatingIp"), config.external_network, vm.id, fixed
        )
        nodes.append(fip)
        links += fip_links
    access = str(config.access_cidr)
    rules = [(access, vm.id, "icmp"), (access, vm.id, "tcp 22")]
    rules += [
        (str(r.remote_cidr), vm.id, f"{r.protocol}{_ports(r.ports)}") for r in config.extra_rules
    ]
    peers, edges = security_edges(rules, {"accessCidr": access})
    return Topology(
        "openstack-vm",
        "one VM on a private network behind a router, reachable by floating IP",
        (public, private),
        (*nodes, *peers),
        (*links, *edges),
        (f"security group {config.security_group_name}; key pair {config.keypair_name}",),
    )
