"""A private Neutron network with one IPv4 subnet."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_openstack as openstack

from components.children import child_options


@dataclass(frozen=True)
class RouteSpec:
    destination: str
    """Destination CIDR."""
    next_hop: str
    """Address of the next hop, inside the route's subnet (or a router's external side)."""


@dataclass(frozen=True)
class PrivateNetworkArgs:
    network_name: str
    """Name of the network in Neutron; the subnet is named ``<network_name>-subnet``."""
    cidr: str
    """The subnet's IPv4 CIDR."""
    gateway_ip: str
    """The subnet's gateway address (the router interface that will hold it)."""
    dns_nameservers: Sequence[str] = ()
    """DNS servers pushed by DHCP."""
    allocation_pools: Sequence[tuple[str, str]] = ()
    """(start, end) ranges DHCP may allocate; empty = Neutron's default (whole subnet)."""
    host_routes: Sequence[RouteSpec] = field(default_factory=tuple)
    """Static routes pushed to the subnet's hosts by DHCP (Neutron subnet host routes)."""


class PrivateNetwork(pulumi.ComponentResource):
    network_id: pulumi.Output[str]
    """The Neutron network's id."""
    subnet_id: pulumi.Output[str]
    """The subnet's id."""
    cidr: pulumi.Output[str]
    """The subnet's CIDR."""
    gateway_ip: pulumi.Output[str]
    """The subnet's gateway address."""

    def __init__(
        self, name: str, args: PrivateNetworkArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("cloudlabs:openstack:PrivateNetwork", name, None, opts)
        child = child_options(self, opts)
        network = openstack.networking.Network(
            f"{name}-network", name=args.network_name, admin_state_up=True, opts=child
        )
        subnet = openstack.networking.Subnet(
            f"{name}-subnet",
            name=f"{args.network_name}-subnet",
            network_id=network.id,
            cidr=args.cidr,
            ip_version=4,
            gateway_ip=args.gateway_ip,
            enable_dhcp=True,
            dns_nameservers=list(args.dns_nameservers),
            allocation_pools=[
                openstack.networking.SubnetAllocationPoolArgs(start=start, end=end)
                for start, end in args.allocation_pools
            ]
            or None,
            opts=child,
        )
        for i, route in enumerate(args.host_routes):
            openstack.networking.SubnetRoute(
                f"{name}-route-{i}",
                subnet_id=subnet.id,
                destination_cidr=route.destination,
                next_hop=route.next_hop,
                opts=child,
            )
        self.network_id = network.id
        self.subnet_id = subnet.id
        self.cidr = subnet.cidr
        self.gateway_ip = subnet.gateway_ip
        self.register_outputs(
            {
                "network_id": self.network_id,
                "subnet_id": self.subnet_id,
                "cidr": self.cidr,
                "gateway_ip": self.gateway_ip,
            }
        )
