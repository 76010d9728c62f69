"""No two services on one port of one machine: every port field of every lab, tried against the
other ports of the same place and the ports the place's own services hold.

The port fields come from the models (``tests/config_walk.py``: every number whose key names a
port); ``PLACES`` says where each listens. A port field that is not placed fails the test, so a
new one is placed (and checked) when it is added. For each place: each port set to another's
value, and to each port its own services take, is refused with a problem naming one of them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from components.virtualbox.guests import NODE_PORTS
from stacks.shared.catalogue import LABS
from stacks.shared.errors import format_path
from tests.config_walk import (
    Leaf,
    assert_refused_at,
    by_lab_and_leaf,
    leaves,
    model_of,
)

PORT_KEY = re.compile(r"port", re.IGNORECASE)


@dataclass(frozen=True)
class Place:
    """Where the ports of some fields listen (``{}``: the part the field's ``*`` matched)."""

    where: str
    own: frozenset[int] = frozenset()
    """Ports the place's own services hold."""


SSH = frozenset({22})
PLACES: dict[str, Place] = {
    # Published by the Docker engine on the host; each role in its own container.
    "dev:publish.hostPort": Place("the Docker host"),
    "dev:ports.*": Place("container {}"),
    "docker-basics:ct2.hostPort": Place("the Docker host"),
    # NAT forwards, on 127.0.0.1 of the VirtualBox host.
    "vbox-nat:vm.sshPort": Place("the VirtualBox host's loopback"),
    "vbox-nat:clone.sshPort": Place("the VirtualBox host's loopback"),
    "vbox-cluster:master.sshPort": Place("the VirtualBox host's loopback"),
    "vbox-cluster:master.httpPort": Place("the VirtualBox host's loopback"),
    "vbox-cluster:nodes.sshPortBase": Place("the VirtualBox host's loopback"),
    # The port a remote host is reached on (which may be a router's forward to its sshd).
    "*:remoteHost.port": Place("the way to the VirtualBox host"),
    "libvirt-host:connection.port": Place("the way to the KVM host"),
    # Inside the guests: the counter app on every node, Redis on one of them.
    "vbox-cluster:nodes.appPort": Place("every node", frozenset(NODE_PORTS)),
    "vbox-cluster:redis.port": Place("every node", frozenset(NODE_PORTS)),
    # Each calculator service on a VM of its own, which runs sshd.
    "openstack-*:services.*.port": Place("VM {}", SSH),
    # The app's pods, its Service's cluster address, the nodes' NodePort range.
    "openstack-k8s:app.containerPort": Place("the app's pods"),
    "openstack-k8s:app.servicePort": Place("the app's Service"),
    "openstack-k8s:app.nodePort": Place("the NodePort range of every node"),
}


def _regex(pattern: str) -> re.Pattern[str]:
    return re.compile(re.escape(pattern).replace(r"\*", "([^:.]*)"))


def place_of(name: str, leaf: Leaf) -> str | None:
    where = f"{name}:{leaf.pattern}"
    for pattern, place in PLACES.items():
        match = _regex(pattern).fullmatch(where)
        if match:
            return place.where.format(*match.groups()[-1:])
    return None


def own_ports(name: str, leaf: Leaf) -> frozenset[int]:
    where = f"{name}:{leaf.pattern}"
    return next((p.own for k, p in PLACES.items() if _regex(k).fullmatch(where)), frozenset())


PORTS = [
    (entry.name, leaf)
    for entry in LABS
    for leaf in leaves(model_of(entry.name))
    if leaf.kind == "number" and PORT_KEY.search(format_path(leaf.path))
]
SHARED = [
    (name, leaf, other)
    for name, leaf in PORTS
    for other_name, other in PORTS
    if other_name == name
    and other.path != leaf.path
    and place_of(name, leaf) == place_of(name, other) is not None
]
OWN = [(name, leaf, port) for name, leaf in PORTS for port in sorted(own_ports(name, leaf))]


@by_lab_and_leaf("name,leaf", PORTS)
def test_every_port_field_is_placed(name: str, leaf: Leaf) -> None:
    assert place_of(name, leaf) is not None, f"{name}:{leaf.pattern}: where does it listen?"


@by_lab_and_leaf("name,leaf,other", SHARED)
def test_two_services_never_share_a_port_of_one_place(name: str, leaf: Leaf, other: Leaf) -> None:
    assert_refused_at(name, leaf, other.value, other)


@by_lab_and_leaf("name,leaf,port", OWN)
def test_a_port_the_place_itself_uses_is_refused(name: str, leaf: Leaf, port: int) -> None:
    assert_refused_at(name, leaf, port)


def test_the_places_have_cases() -> None:
    # The tables above are about the labs' fields as they are: each pattern matches a field.
    for pattern in PLACES:
        assert any(_regex(pattern).fullmatch(f"{n}:{leaf.pattern}") for n, leaf in PORTS), pattern
    assert SHARED and OWN
