"""openstack-calculator once deployed: its checks and its topology.

Checks (stacks/shared/calculator_checks.py): the front end computes the sample expression on
its floating IP; every VM answers ssh (the operators through the front end); the front end
calls each operator at its address; then no operator port answers on the floating IP.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from calculator.config import ROLES
from checks.guest import Reach
from checks.model import Check
from diagram.model import Link, Topology
from stacks.openstack_calculator import OpenStackCalculatorConfig
from stacks.shared.calculator_checks import openstack_checks, openstack_nodes
from stacks.shared.openstack_checks import external_network, private_network, router_node


def checks(
    config: OpenStackCalculatorConfig, outputs: Mapping[str, Any], reach: Reach
) -> list[Check]:
    up, hidden = openstack_checks(config.services, outputs, reach)
    return [*up, *hidden]


def topology(config: OpenStackCalculatorConfig, outputs: Mapping[str, Any]) -> Topology:
    net = config.network
    public = external_network(config.external_network)
    private = private_network(net)
    router = router_node(
        "calc", config.router_name, ("external gateway", f"{net.gateway} on {net.name}")
    )
    nodes, links = openstack_nodes(
        config.services,
        dict.fromkeys(ROLES, private.id),
        outputs,
        str(config.access_cidr),
        str(config.admin_cidr),
        config.external_network,
    )
    links = [
        Link(router.id, public.id, "nic", "gateway"),
        Link(router.id, private.id, "nic", str(net.gateway)),
        *links,
    ]
    return Topology(
        "openstack-calculator",
        "the calculator on five VMs of one private network",
        (public, private),
        (router, *nodes),
        tuple(links),
        (
            f"security groups {config.front_end_group_name} (front end) and "
            f"{config.operator_group_name} (operators: from the front end's group only)",
        ),
    )
