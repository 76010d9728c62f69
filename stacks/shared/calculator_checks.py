"""What every calculator lab (dev, openstack-calculator, openstack-naas) is checked by: the front
end computes the sample expression, each operator answers the front end with its own sample,
and the operators are not reachable from outside; and how the two OpenStack ones are drawn."""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from typing import Any

from bench.lab import Target
from checks.guest import Reach, named
from checks.model import Check, Connect, Equals, Http, Run, Unreachable
from components.calculator import SAMPLE_EXPRESSION
from components.calculator_bootstrap import FRONT_END
from diagram.model import Link, Node, ident
from stacks.shared.calculator import ServicesConfig
from stacks.shared.openstack_checks import floating_ip, security_edges

SAMPLES: dict[str, tuple[str, str]] = {
    FRONT_END: (SAMPLE_EXPRESSION, "result = 22"),
    "sum": ("2 3", "5"),
    "sub": ("5 3", "2"),
    "mul": ("12 3", "36"),
    "div": ("15 5", "3"),
}
"""Each service's sample request body and its answer (docs/labs.md's table)."""

POST = (
    "import sys, urllib.request as u; "
    'r = u.Request(sys.argv[1], data=sys.argv[2].encode(), method="POST"); '
    "print(u.build_opener(u.ProxyHandler({})).open(r, timeout=10).read().decode().strip())"
)
"""POST a body and print the answer, with the machine's own python3 (never through a proxy)."""


def post_command(url: str, body: str) -> str:
    return shlex.join(["python3", "-c", POST, url, body])


def front_end_computes(url: str) -> Check:
    body, answer = SAMPLES[FRONT_END]
    return Check(f"front end computes {body} ({url})", Http(url, body), Equals(answer))


def operator_answers(front: Target, role: str, url: str) -> Check:
    """The front end's machine calls operator ``role`` at ``url``, as the front end does."""
    body, answer = SAMPLES[role]
    return Check(
        f"front end → {role} at {url} ({body})", Run(front, post_command(url, body)), Equals(answer)
    )


# --- the OpenStack calculator labs ------------------------------------------------------------


def openstack_checks(
    services: ServicesConfig, outputs: Mapping[str, Any], reach: Reach
) -> tuple[list[Check], list[Check]]:
    """(checks that the lab is up, checks that the operators are hidden): the front end
    computes, each VM answers ssh (the operators through the front end), the front end calls
    every operator at its address; then no operator port answers on the floating IP."""
    fip = str(outputs["floatingIp"])
    front = reach.guest(FRONT_END)
    up = [front_end_computes(str(outputs["url"])), named(front, services.vm(FRONT_END).name)]
    hidden = []
    for role, address in outputs["operatorIps"].items():
        port = services.port(role)
        up.append(named(reach.guest(role), services.vm(role).name, "through the front end"))
        up.append(operator_answers(front, role, f"http://{address}:{port}"))
        hidden.append(
            Check(
                f"{role}'s port {port} closed on the floating IP", Connect(fip, port), Unreachable()
            )
        )
    return up, hidden


def openstack_nodes(
    services: ServicesConfig,
    networks: Mapping[str, str],
    outputs: Mapping[str, Any],
    access: str,
    admin: str,
    external: str,
) -> tuple[list[Node], list[Link]]:
    """The five VMs (``networks``: the network id of each role), the front end's floating IP,
    the security groups' edges and the front end's calls."""
    addresses = dict(outputs.get("operatorIps") or {})
    if outputs.get("frontEndIp"):
        addresses[FRONT_END] = outputs["frontEndIp"]
    nodes: list[Node] = []
    links: list[Link] = []
    front_port = services.port(FRONT_END)
    for role in SAMPLES:
        vm = services.vm(role)
        fixed = vm.fixed_ip or addresses.get(role) or "address by Neutron"
        what = "front end" if role == FRONT_END else f"{role} operator"
        node = Node(
            ident("vm", role),
            vm.name,
            "vm",
            (f"{fixed}", f"{what}, :{services.port(role)}"),
            networks[role],
        )
        nodes.append(node)
    front_ip = services.vm(FRONT_END).fixed_ip or addresses.get(FRONT_END) or "its address"
    fip, fip_links = floating_ip(
        "front", outputs.get("floatingIp"), external, ident("vm", FRONT_END), str(front_ip)
    )
    nodes.append(fip)
    links += fip_links
    peers, edges = security_edges(
        [
            (access, ident("vm", FRONT_END), f"tcp {front_port}"),
            (admin, ident("vm", FRONT_END), "tcp 22, icmp"),
        ],
        {"accessCidr": access, "adminCidr": admin},
    )
    nodes += peers
    links += edges
    for role in SAMPLES:
        if role != FRONT_END:
            ports = f"tcp {services.port(role)}, 22, icmp"
            links.append(Link(ident("vm", FRONT_END), ident("vm", role), "allow", ports))
    return nodes, links
