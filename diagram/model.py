"""A lab's topology, as its ``topology(config, outputs)`` declares it (``stacks/<lab>_checks.py``).

Networks are drawn as clusters; a node with a ``network`` is drawn inside that network's
cluster, every other node outside (routers, hosts, the clients a security group admits). Links
join a node to a network (a NIC, labelled with its address) or two nodes (a port forward, a
floating IP, a security-group rule, a service call, an image a container came from). Every
text is a plain string; :mod:`diagram.dot` does the drawing.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal

NodeKind = Literal["vm", "container", "router", "host", "floating-ip", "peer", "image"]
"""vm, container, router; host: the machine the lab runs on or is reached from; floating-ip;
peer: who a security group admits (a CIDR); image: an image or disk a machine came from."""

LinkKind = Literal["nic", "forward", "floating", "allow", "calls", "derived"]
"""nic: a node drawn outside a network has an interface on it (``b`` is the network; a node
drawn inside its network needs none); forward: a published port or NAT forward;
floating: a floating IP translated to a VM's address; allow: a security-group rule (who may
reach which port); calls: traffic the lab's own services send; derived: cloned or built from."""

NODE_KINDS: dict[str, str] = {
    "vm": "virtual machine",
    "container": "container",
    "router": "router",
    "host": "host machine",
    "floating-ip": "floating IP",
    "peer": "allowed clients",
    "image": "image / disk",
}
LINK_KINDS: dict[str, str] = {
    "nic": "interface on a network",
    "forward": "port forward / published port",
    "floating": "floating IP → fixed IP",
    "allow": "security group: may reach",
    "calls": "service traffic",
    "derived": "cloned / built from",
}


def ident(*parts: str) -> str:
    """An identifier for a network or node: lowercase letters, digits and dashes."""
    return re.sub(r"[^a-z0-9]+", "-", "-".join(parts).lower()).strip("-")


@dataclass(frozen=True)
class Network:
    id: str
    title: str
    """Its name (``cloudlabs-net``)."""
    kind: str
    """What it is, in words (``Neutron network``, ``VirtualBox internal network``)."""
    lines: tuple[str, ...] = ()
    """CIDR, gateway, DHCP range, routes: one fact per line."""
    external: bool = False
    """The provider's public network (drawn apart)."""


@dataclass(frozen=True)
class Node:
    id: str
    title: str
    kind: NodeKind
    lines: tuple[str, ...] = ()
    """Addresses, ports, sizes: one fact per line."""
    network: str | None = None
    """The network whose cluster it is drawn in."""


@dataclass(frozen=True)
class Link:
    a: str
    """A node's id."""
    b: str
    """A node's id, or a network's for ``nic``."""
    kind: LinkKind
    label: str = ""
    uplink: bool = False
    """For ``nic``: the network is the node's way up, drawn above it (a router's side toward
    the network it forwards to). An external network is always drawn above."""


@dataclass(frozen=True)
class Topology:
    stack: str
    title: str
    networks: tuple[Network, ...] = ()
    nodes: tuple[Node, ...] = ()
    links: tuple[Link, ...] = ()
    notes: tuple[str, ...] = field(default=())
    """Shown under the title (what is only known once deployed, readings taken)."""

    def __post_init__(self) -> None:
        ids = [n.id for n in self.networks] + [n.id for n in self.nodes]
        twice = sorted({i for i in ids if ids.count(i) > 1})
        if twice:
            raise ValueError(f"{self.stack}: ids used twice: {twice}")
        networks = {n.id for n in self.networks}
        nodes = {n.id for n in self.nodes}
        for node in self.nodes:
            if node.network is not None and node.network not in networks:
                raise ValueError(f"{self.stack}: {node.id} is on an unknown network {node.network}")
        inside = {n.id: n.network for n in self.nodes}
        for link in self.links:
            ends = networks if link.kind == "nic" else nodes
            if link.a not in nodes or link.b not in ends:
                raise ValueError(f"{self.stack}: link {link} joins an unknown node or network")
            if link.kind == "nic" and inside[link.a] == link.b:
                raise ValueError(f"{self.stack}: {link.a} is drawn in {link.b}: no nic link needed")

    def texts(self) -> Iterator[str]:
        """Every text the diagram shows."""
        yield self.title
        yield from self.notes
        for net in self.networks:
            yield net.title
            yield net.kind
            yield from net.lines
        for node in self.nodes:
            yield node.title
            yield from node.lines
        for link in self.links:
            if link.label:
                yield link.label
