"""A Neutron router: optional external gateway, interfaces, static routes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_openstack as openstack

from components.children import child_options
from components.openstack.network import RouteSpec


@dataclass(frozen=True)
class RouterInterfaceSpec:
    subnet_id: pulumi.Input[str]
    """The subnet to attach."""
    network_id: pulumi.Input[str] | None = None
    """The subnet's network; required with ``fixed_ip``."""
    fixed_ip: str | None = None
    """The interface's address; omitted = the subnet's gateway address."""


@dataclass(frozen=True)
class RouterArgs:
    router_name: str
    """Name of the router in Neutron."""
    external_network_id: pulumi.Input[str] | None = None
    """The id of the provider's public network, for the external gateway; None = no
    gateway. (The lab looks it up by name first: a failed lookup is a config problem.)"""
    interfaces: Sequence[RouterInterfaceSpec] = ()
    """Subnets attached to the router, in order."""
    routes: Sequence[RouteSpec] = ()
    """Static routes of the router (next hops on an attached subnet)."""


class Router(pulumi.ComponentResource):
    """A router. Its static routes depend on its interfaces, so ``destroy`` removes them first.

    Resources that need the router's interfaces to exist (floating IP associations, routes on
    other routers, VMs that boot with a route through it) name this component in
    ``depends_on`` (:mod:`components.children`): Pulumi then deletes them before any of its
    interfaces.
    """

    router_id: pulumi.Output[str]
    """The router's id."""
    external_ip: pulumi.Output[str | None]
    """The router's address on the external network, when it has a gateway."""

    def __init__(
        self, name: str, args: RouterArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("cloudlabs:openstack:Router", name, None, opts)
        child = child_options(self, opts)
        router = openstack.networking.Router(
            f"{name}-router",
            name=args.router_name,
            admin_state_up=True,
            external_network_id=args.external_network_id,
            opts=child,
        )
        interfaces: list[openstack.networking.RouterInterface] = []
        for i, spec in enumerate(args.interfaces):
            if spec.fixed_ip is not None:
                if spec.network_id is None:
                    raise ValueError(f"{name}: interface {i} has a fixed IP but no network_id")
                port = openstack.networking.Port(
                    f"{name}-if{i}-port",
                    name=f"{args.router_name}-if{i}",
                    network_id=spec.network_id,
                    admin_state_up=True,
                    fixed_ips=[
                        openstack.networking.PortFixedIpArgs(
                            subnet_id=spec.subnet_id, ip_address=spec.fixed_ip
                        )
                    ],
                    opts=child,
                )
                interface = openstack.networking.RouterInterface(
                    f"{name}-if{i}", router_id=router.id, port_id=port.id, opts=child
                )
            else:
                interface = openstack.networking.RouterInterface(
                    f"{name}-if{i}", router_id=router.id, subnet_id=spec.subnet_id, opts=child
                )
            interfaces.append(interface)
        for i, route in enumerate(args.routes):
            openstack.networking.RouterRoute(
                f"{name}-route-{i}",
                router_id=router.id,
                destination_cidr=route.destination,
                next_hop=route.next_hop,
                opts=child_options(self, opts, after=interfaces),
            )
        self.router_id = router.id
        self.external_ip = router.external_fixed_ips.apply(
            lambda ips: ips[0].ip_address if ips else None
        )
        self.register_outputs(
            {
                "router_id": self.router_id,
                "external_ip": self.external_ip,
            }
        )
