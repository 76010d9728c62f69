"""A Nova server on a Neutron port, with an optional floating IP."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_openstack as openstack

from components.children import child_options
from components.openstack.floating_ip import FloatingIp, FloatingIpArgs


@dataclass(frozen=True)
class ServerArgs:
    server_name: str
    """Name of the instance in Nova (also its hostname by default)."""
    image_name: str
    """Glance image to boot from."""
    flavor_name: str
    """Nova flavor; changing it resizes the server in place."""
    network_id: pulumi.Input[str]
    """Network of the server's port."""
    subnet_id: pulumi.Input[str]
    """Subnet of the server's fixed address."""
    fixed_ip: str | None = None
    """The port's address; None = allocated by Neutron."""
    security_group_ids: Sequence[pulumi.Input[str]] = ()
    """Groups applied to the port."""
    key_pair: pulumi.Input[str] | None = None
    """Nova keypair name injected into the server."""
    user_data: pulumi.Input[str] | None = None
    """cloud-init user-data."""
    floating_ip_pool: str | None = None
    """External network to take a floating IP from; None = no floating IP. The router joining
    the subnet to that network goes in the server's ``depends_on``, so that ``destroy`` removes
    the association before the router's interface (:class:`FloatingIp`)."""
    metadata: Mapping[str, str] = field(default_factory=dict)
    """Nova metadata of the instance (``cloudlabs.tier``...); Nova updates it in place."""


class Server(pulumi.ComponentResource):
    instance_id: pulumi.Output[str]
    """The Nova server's id."""
    port_id: pulumi.Output[str]
    """The server's Neutron port."""
    fixed_ip: pulumi.Output[str]
    """The server's address on its private network."""
    floating_ip: pulumi.Output[str | None]
    """The server's public address, when it has one."""

    def __init__(
        self, name: str, args: ServerArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("cloudlabs:openstack:Server", name, None, opts)
        child = child_options(self, opts)
        fixed = openstack.networking.PortFixedIpArgs(
            subnet_id=args.subnet_id, ip_address=args.fixed_ip
        )
        port = openstack.networking.Port(
            f"{name}-port",
            name=f"{args.server_name}-port",
            network_id=args.network_id,
            admin_state_up=True,
            fixed_ips=[fixed],
            security_group_ids=list(args.security_group_ids),
            opts=child,
        )
        instance = openstack.compute.Instance(
            f"{name}-instance",
            name=args.server_name,
            image_name=args.image_name,
            flavor_name=args.flavor_name,
            key_pair=args.key_pair,
            user_data=args.user_data,
            metadata=dict(args.metadata) or None,
            networks=[openstack.compute.InstanceNetworkArgs(port=port.id)],
            opts=child,
        )
        floating: pulumi.Output[str | None] = pulumi.Output.from_input(None)
        if args.floating_ip_pool is not None:
            fip = FloatingIp(
                f"{name}-fip",
                FloatingIpArgs(
                    pool=args.floating_ip_pool,
                    port_id=port.id,
                    description=f"{args.server_name} public address",
                    associate_after=[instance],
                    # Servers registered the address and its association themselves before.
                    former_names=[f"{n}-fip" for n in _names(name, opts)],
                ),
                opts=child_options(self, opts),
            )
            floating = fip.address
        self.instance_id = instance.id
        self.port_id = port.id
        self.fixed_ip = port.all_fixed_ips.apply(lambda ips: ips[0])
        self.floating_ip = floating
        self.register_outputs(
            {
                "instance_id": self.instance_id,
                "port_id": self.port_id,
                "fixed_ip": self.fixed_ip,
                "floating_ip": self.floating_ip,
            }
        )


def _names(name: str, opts: pulumi.ResourceOptions | None) -> list[str]:
    """``name`` and the earlier names its aliases give the component (a renamed server)."""
    names = [name]
    for alias in (opts.aliases if opts is not None else None) or []:
        if isinstance(alias, pulumi.Alias) and isinstance(alias.name, str):
            names.append(alias.name)
    return list(dict.fromkeys(names))
