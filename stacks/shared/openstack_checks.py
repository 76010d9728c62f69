"""How the OpenStack labs are drawn alike: the provider's external network with the floating
IPs, private networks with their subnet's facts, routers, and the clients a security group
admits, by CIDR."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from components.openstack import RuleSpec
from diagram.model import Link, Network, Node, ident
from stacks.shared.openstack import NetworkConfig

ANYWHERE = "0.0.0.0/0"


def external_network(name: str) -> Network:
    return Network(
        ident("net", name),
        name,
        "external network (the provider's)",
        ("router gateways, floating IPs",),
        external=True,
    )


def subnet_lines(net: NetworkConfig, extra_routes: Iterable[str] = ()) -> tuple[str, ...]:
    """The facts of a private network's subnet: CIDR, gateway, DHCP pools, DNS, host routes."""
    lines = [str(net.cidr), f"gateway {net.gateway}"]
    lines += [f"DHCP {p.start} - {p.end}" for p in net.allocation_pools]
    if net.dns_servers:
        lines.append("DNS " + ", ".join(str(ip) for ip in net.dns_servers))
    lines += [f"route {r.destination} via {r.next_hop} (DHCP)" for r in net.host_routes]
    lines += [f"route {route} (DHCP)" for route in extra_routes]
    return tuple(lines)


def private_network(net: NetworkConfig, extra_routes: Iterable[str] = ()) -> Network:
    return Network(
        ident("net", net.name), net.name, "Neutron network", subnet_lines(net, extra_routes)
    )


def floating_ip(
    key: str, address: object, external: str, vm: str, fixed: str
) -> tuple[Node, list[Link]]:
    """A floating IP of ``external`` (its address once deployed), translated to ``fixed``, the
    address of node ``vm``."""
    shown = str(address) if address else f"floating IP ({key})"
    line = f"from {external}" if address else f"allocated from {external} at up"
    node = Node(ident("fip", key), shown, "floating-ip", (line,))
    links = [
        Link(node.id, ident("net", external), "nic", uplink=True),
        Link(node.id, vm, "floating", f"to {fixed}"),
    ]
    return node, links


def security_edges(
    rules: Sequence[tuple[str, str, str]], names: dict[str, str] | None = None
) -> tuple[list[Node], list[Link]]:
    """Rules ``(source CIDR, target node id, what)`` as one client node per CIDR and one edge
    per source and target, its label joining what the rules allow. ``names`` says which config
    keys hold a CIDR (shown on its node)."""
    names = names or {}
    peers: dict[str, list[str]] = {}
    labels: dict[tuple[str, str], list[str]] = {}
    for cidr, target, what in rules:
        peers.setdefault(cidr, [])
        labels.setdefault((cidr, target), []).append(what)
    nodes = []
    for cidr in peers:
        lines = ["anyone"] if cidr == ANYWHERE else []
        lines += [f"({key})" for key, value in names.items() if value == cidr]
        nodes.append(Node(ident("peer", cidr), cidr, "peer", tuple(lines)))
    links = [
        Link(ident("peer", cidr), target, "allow", "; ".join(whats))
        for (cidr, target), whats in labels.items()
    ]
    return nodes, links


def router_node(key: str, name: str, lines: Sequence[str]) -> Node:
    return Node(ident("router", key), name, "router", tuple(lines))


def rule_text(rule: RuleSpec) -> str:
    """A rule's protocol and ports as the diagram shows them: ``tcp 22``, ``icmp``, ``proto 4``."""
    if rule.protocol.isdigit():
        return f"proto {rule.protocol}"
    if rule.port_min is None:
        return rule.protocol
    high = rule.port_max if rule.port_max is not None else rule.port_min
    ports = str(rule.port_min) if high == rule.port_min else f"{rule.port_min}-{high}"
    return f"{rule.protocol} {ports}"
