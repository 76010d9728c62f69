"""dev once deployed: its checks and its topology (``scripts/check.sh``, ``scripts/diagram.sh``).

Checks: the published front end computes the sample expression; from the front end's
container, each operator answers at the URL the front end is given; no operator publishes a
port on the host, and the front end only its configured one.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from typing import Any

from calculator.config import OPERATOR_ROLES
from checks.guest import Reach
from checks.model import Check, Equals, Run
from components.calculator_bootstrap import FRONT_END
from components.docker import local_address
from diagram.model import Link, Network, Node, Topology, ident
from stacks.dev import DevConfig, operator_urls
from stacks.shared.calculator_checks import front_end_computes, operator_answers


def checks(config: DevConfig, outputs: Mapping[str, Any], reach: Reach) -> list[Check]:
    front = reach.guest(FRONT_END)
    urls = operator_urls(config)
    found = [front_end_computes(str(outputs["url"]))]
    found += [operator_answers(front, op, urls[op]) for op in OPERATOR_ROLES]
    publish = config.publish
    published = f"{config.service_port(FRONT_END)}/tcp -> {publish.host_ip}:{publish.host_port}"
    name = outputs["containers"][FRONT_END]
    found.append(
        Check(
            f"{name} published on {publish.host_ip}:{publish.host_port} only",
            Run(reach.host, shlex.join(["docker", "port", name])),
            Equals(published),
        )
    )
    for op in OPERATOR_ROLES:
        name = outputs["containers"][op]
        found.append(
            Check(
                f"{name} publishes no port on the host",
                Run(reach.host, shlex.join(["docker", "port", name])),
                Equals(""),
            )
        )
    return found


def topology(config: DevConfig, outputs: Mapping[str, Any]) -> Topology:
    net = ident("net", config.network)
    network = Network(
        net,
        config.network,
        "Docker network (user-defined bridge)",
        ("subnet chosen by the engine", "containers reach each other by name"),
    )
    publish = config.publish
    host = Node(
        "host",
        "this machine",
        "host",
        (f"Docker engine; {local_address(str(publish.host_ip))}:{publish.host_port}",),
    )
    nodes = [host]
    links = []
    for role in (FRONT_END, *OPERATOR_ROLES):
        what = "front end" if role == FRONT_END else f"{role} operator"
        node = Node(
            ident("ct", role),
            config.container_name(role),
            "container",
            (
                f"{what}, :{config.service_port(role)}",
                f"image {config.image}",
                f"user {config.user}",
            ),
            net,
        )
        nodes.append(node)
    front = ident("ct", FRONT_END)
    links.append(
        Link(
            host.id,
            front,
            "forward",
            f"{publish.host_ip}:{publish.host_port} → {config.service_port(FRONT_END)}",
        )
    )
    for op, url in operator_urls(config).items():
        links.append(Link(front, ident("ct", op), "calls", f"POST {url}"))
    return Topology(
        "dev",
        "the calculator as five containers on the local Docker engine",
        (network,),
        tuple(nodes),
        tuple(links),
        (f"built FROM {config.base_image}; only the front end is published",),
    )
