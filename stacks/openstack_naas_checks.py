"""openstack-naas once deployed: its checks and its topology.

Checks: those of the calculator on OpenStack (stacks/shared/calculator_checks.py), plus the
routes the lab is about: the front end reaches sub-network 2 through the inter-subnet router
(the host route its DHCP pushed), every operator's default route is its gateway, the inter
router. The topology draws the reading taken of the lab's figure: three routers, which
address is whose (the README's table).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from calculator.config import OPERATOR_ROLES
from checks.guest import Reach, routes_via
from checks.model import Check
from components.calculator_bootstrap import FRONT_END
from diagram.model import Link, Topology
from stacks.openstack_naas import DEFAULT_ROUTE, OpenStackNaasConfig
from stacks.shared.calculator_checks import openstack_checks, openstack_nodes
from stacks.shared.openstack_checks import external_network, private_network, router_node


def checks(config: OpenStackNaasConfig, outputs: Mapping[str, Any], reach: Reach) -> list[Check]:
    up, hidden = openstack_checks(config.services, outputs, reach)
    inter = str(config.routers.inter.address)
    routes = [
        routes_via(reach.guest(FRONT_END), str(address), inter)
        for address in outputs["operatorIps"].values()
    ]
    operator_gateway = str(config.operator_network.gateway)
    routes += [
        routes_via(reach.guest(role), "default", operator_gateway)
        for role in outputs["operatorIps"]
    ]
    return [*up, *routes, *hidden]


def topology(config: OpenStackNaasConfig, outputs: Mapping[str, Any]) -> Topology:
    front_net, op_net, routers = config.front_network, config.operator_network, config.routers
    public = external_network(config.external_network)
    to_operators = f"{op_net.cidr} via {routers.inter.address}"
    net1 = private_network(front_net, [to_operators])
    net2 = private_network(op_net)
    ext = config.external_network
    access = router_node(
        "access",
        routers.access.name,
        (
            f"access router: external gateway on {ext}",
            f"{front_net.gateway}: gateway of {front_net.name}",
            "the end users' way in (the front end's floating IP)",
        ),
    )
    public_router = router_node(
        "public",
        routers.public.name,
        (
            f"public router: external gateway on {ext}",
            f"{routers.public.address} in {front_net.name}",
            f"route {to_operators}",
            f"{op_net.name}'s way out (source NAT only)",
        ),
    )
    inter = router_node(
        "inter",
        routers.inter.name,
        (
            "inter-subnet router",
            f"{op_net.gateway}: gateway of {op_net.name}",
            f"{routers.inter.address} in {front_net.name}",
            f"route {DEFAULT_ROUTE} via {routers.public.address}",
        ),
    )
    placement = {FRONT_END: net1.id, **dict.fromkeys(OPERATOR_ROLES, net2.id)}
    nodes, links = openstack_nodes(
        config.services, placement, outputs, str(config.access_cidr), str(config.admin_cidr), ext
    )
    router_links = [
        Link(access.id, public.id, "nic", "gateway"),
        Link(access.id, net1.id, "nic", str(front_net.gateway)),
        Link(public_router.id, public.id, "nic", "gateway"),
        Link(public_router.id, net1.id, "nic", str(routers.public.address)),
        Link(inter.id, net1.id, "nic", str(routers.inter.address), uplink=True),
        Link(inter.id, net2.id, "nic", str(op_net.gateway)),
    ]
    return Topology(
        "openstack-naas",
        "the calculator across two sub-networks joined by three routers",
        (public, net1, net2),
        (access, public_router, inter, *nodes),
        (*router_links, *links),
        (
            "the lab's figure, read as three routers (README: which reading, and why):",
            f"  {front_net.gateway}: {routers.access.name}, the end users' access, "
            f"gateway of {front_net.name}",
            f"  {routers.public.address}: {routers.public.name}, between the public network "
            f"and {front_net.name}",
            f"  {op_net.gateway} and {routers.inter.address}: {routers.inter.name}, between the "
            "two sub-networks",
        ),
    )
