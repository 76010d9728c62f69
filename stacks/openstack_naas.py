"""openstack-naas: the calculator across two sub-networks joined by routers.

The lab of docs/labs.md#openstack-naas. Sub-network 1 holds the front end, sub-network 2
the four operators. Three routers, read from the lab's figure as follows (README explains why):

- the access router: external gateway, sub-network 1's gateway (192.168.1.254); it holds the
  front end's floating IP, the end users' way in;
- the public router: external gateway, 192.168.1.253 in sub-network 1; sub-network 2's way out
  (package mirror) by source NAT, with no way in;
- the inter-subnet router: 192.168.2.254 (sub-network 2's gateway) and a second interface in
  sub-network 1 (192.168.1.252).

Sub-network 1's hosts learn the route to sub-network 2 by DHCP (a subnet host route via the
inter-subnet router), so no VM needs a manual ``route add``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pulumi

from calculator.config import OPERATOR_ROLES
from components.calculator import Placement
from components.calculator_bootstrap import FRONT_END
from components.openstack import (
    Router,
    RouterArgs,
    RouterInterfaceSpec,
    RouteSpec,
)
from stacks.shared.calculator import (
    CalculatorLabConfig,
    ServicesConfig,
    ServiceVmConfig,
    service_address_problems,
)
from stacks.shared.calculator_build import build_calculator, check_user_data_size, export_outputs
from stacks.shared.catalogue import Lab
from stacks.shared.errors import Problem
from stacks.shared.openstack import NetworkConfig, overlap_problems
from stacks.shared.openstack_access import external_network
from stacks.shared.openstack_build import lab_keypair, private_network
from stacks.shared.types import IPv4, Name
from stacks.shared.validation import LabModel, check

DEFAULT_ROUTE = "0.0.0.0/0"


class AccessRouterConfig(LabModel):
    """The end users' way in: external gateway, holds sub-network 1's gateway address."""

    name: Name = "naas-access"


class PublicRouterConfig(LabModel):
    """The bridge between the public network and sub-network 1 (sub-network 2's way out)."""

    name: Name = "naas-public"
    address: IPv4
    """Its interface in sub-network 1 (192.168.1.253)."""


class InterRouterConfig(LabModel):
    """The bridge between the sub-networks; sub-network 2's gateway address is its other side."""

    name: Name = "naas-inter"
    address: IPv4
    """Its interface in sub-network 1, the next hop of the route to sub-network 2."""


class RoutersConfig(LabModel):
    access: AccessRouterConfig = AccessRouterConfig()
    public: PublicRouterConfig
    inter: InterRouterConfig


def _naas_defaults() -> ServicesConfig:
    def vm(short: str) -> ServiceVmConfig:
        return ServiceVmConfig(name=f"naas-{short}")

    return ServicesConfig(
        calculator=vm("front"), sum=vm("sum"), sub=vm("sub"), mul=vm("mul"), div=vm("div")
    )


class OpenStackNaasConfig(CalculatorLabConfig):
    """Config of the ``openstack-naas`` lab (keys of ``Pulumi.<stack>.yaml``)."""

    keypair_name: Name = "naas-key"
    front_end_group_name: Name = "naas-front"
    operator_group_name: Name = "naas-operators"
    front_network: NetworkConfig
    """Sub-network 1 (192.168.1.0/24): the front end. Its gateway is the access router."""
    operator_network: NetworkConfig
    """Sub-network 2 (192.168.2.0/24): the operators. Its gateway is the inter-subnet router."""
    routers: RoutersConfig
    services: ServicesConfig = _naas_defaults()

    @check
    def _subnets_apart(self) -> Iterator[Problem]:
        yield from overlap_problems(
            [
                (("frontNetwork", "cidr"), self.front_network.cidr),
                (("operatorNetwork", "cidr"), self.operator_network.cidr),
            ]
        )

    @check
    def _addresses(self) -> Iterator[Problem]:
        placement = {
            role: self.operator_network if role in OPERATOR_ROLES else self.front_network
            for role in (FRONT_END, *OPERATOR_ROLES)
        }
        routers = [
            (("routers", "public", "address"), self.routers.public.address, self.front_network),
            (("routers", "inter", "address"), self.routers.inter.address, self.front_network),
        ]
        yield from service_address_problems(self.services, placement, routers)

    @check
    def _no_competing_route(self) -> Iterator[Problem]:
        for i, route in enumerate(self.front_network.host_routes):
            if route.destination.overlaps(self.operator_network.cidr):
                yield Problem(
                    ("frontNetwork", "hostRoutes", i, "destination"),
                    f"the route to {self.operator_network.cidr} is the lab's own "
                    "(via routers.inter.address); remove this one",
                    str(route.destination),
                )


def build(config: OpenStackNaasConfig) -> None:
    check_user_data_size("openstack-naas", config, config.services)
    external = external_network(config.external_network)
    operator_cidr = str(config.operator_network.cidr)
    inter_front = str(config.routers.inter.address)
    public_front = str(config.routers.public.address)
    to_operators = RouteSpec(operator_cidr, inter_front)

    keypair = lab_keypair("naas", config)
    # Sub-network 1 pushes the route to sub-network 2 to its hosts (DHCP option 121).
    front_net = private_network("naas-net1", config.front_network, [to_operators])
    operator_net = private_network("naas-net2", config.operator_network)

    access = Router(
        "naas-access",
        RouterArgs(
            router_name=config.routers.access.name,
            external_network_id=external.id,
            # No fixed IP: the interface takes sub-network 1's gateway address (.254).
            interfaces=[RouterInterfaceSpec(subnet_id=front_net.subnet_id)],
        ),
    )
    public = Router(
        "naas-public",
        RouterArgs(
            router_name=config.routers.public.name,
            external_network_id=external.id,
            interfaces=[
                RouterInterfaceSpec(
                    subnet_id=front_net.subnet_id,
                    network_id=front_net.network_id,
                    fixed_ip=public_front,
                )
            ],
            # Answers to sub-network 2's outgoing traffic go back through the inter router.
            routes=[to_operators],
        ),
    )
    # The inter router's default route leads to the public router: the inter router is created
    # after the public router and destroyed before it.
    inter = Router(
        "naas-inter",
        RouterArgs(
            router_name=config.routers.inter.name,
            interfaces=[
                # No fixed IP: sub-network 2's gateway address (.254).
                RouterInterfaceSpec(subnet_id=operator_net.subnet_id),
                RouterInterfaceSpec(
                    subnet_id=front_net.subnet_id,
                    network_id=front_net.network_id,
                    fixed_ip=inter_front,
                ),
            ],
            # Sub-network 2's way out: the public router, by source NAT only.
            routes=[RouteSpec(DEFAULT_ROUTE, public_front)],
        ),
        opts=pulumi.ResourceOptions(depends_on=[public]),
    )
    # The front end boots once its sub-network pushes the route (DHCP at first boot), the
    # route's next hop exists and its floating IP's router is there; the operators once their
    # gateway leads out.
    front_place = Placement(
        front_net.network_id, front_net.subnet_id, after=(front_net, access, inter)
    )
    operator_place = Placement(
        operator_net.network_id, operator_net.subnet_id, after=(inter, public)
    )
    placements = {FRONT_END: front_place, **dict.fromkeys(OPERATOR_ROLES, operator_place)}
    calc = build_calculator(
        "naas",
        config,
        services=config.services,
        names=(config.front_end_group_name, config.operator_group_name),
        key_pair=keypair.name,
        placements=placements,
    )
    export_outputs(calc, config.ssh_user, config.services)
    pulumi.export(
        "routerAddresses",
        {
            "access": str(config.front_network.gateway),
            "public": public_front,
            "interFront": inter_front,
            "interOperators": str(config.operator_network.gateway),
        },
    )
    pulumi.export("interSubnetRoute", f"{operator_cidr} via {inter_front}")


LAB = Lab(config=OpenStackNaasConfig, build=build)
