"""A floating IP from the provider's public network, associated to a Neutron port."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_openstack as openstack

from components.children import child_options


@dataclass(frozen=True)
class FloatingIpArgs:
    pool: str
    """The external network to take the address from."""
    port_id: pulumi.Input[str]
    """The port the address forwards to."""
    description: str = ""
    """The address's description in Neutron."""
    associate_after: Sequence[pulumi.Resource] = ()
    """What the association waits for besides the port: the instance bound to it."""
    former_names: Sequence[str] = ()
    """Names under which this component's parent registered the address itself, before
    floating IPs were components (the association as ``<former name>-assoc``): aliases keep
    both resources, so nothing is replaced."""


class FloatingIp(pulumi.ComponentResource):
    """The address (``<name>-address``) and its association to a port (``<name>-assoc``).

    Neutron refuses to remove a router interface while a floating IP uses it. Name the router
    joining the port's subnet to ``pool`` in this component's ``depends_on`` (or its
    parent's, as a server's): both children repeat it, so ``destroy`` removes the association
    and the address before the router's interface.
    """

    address: pulumi.Output[str]
    """The public address."""
    floating_ip_id: pulumi.Output[str]
    """Neutron's id of the floating IP."""

    def __init__(
        self, name: str, args: FloatingIpArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("cloudlabs:openstack:FloatingIp", name, None, opts)
        owner = opts.parent if opts is not None else None
        address = openstack.networking.FloatingIp(
            f"{name}-address",
            pool=args.pool,
            description=args.description or None,
            opts=child_options(
                self, opts, aliases=[pulumi.Alias(name=n, parent=owner) for n in args.former_names]
            ),
        )
        openstack.networking.FloatingIpAssociate(
            f"{name}-assoc",
            floating_ip=address.address,
            port_id=args.port_id,
            opts=child_options(
                self,
                opts,
                after=args.associate_after,
                aliases=[pulumi.Alias(name=f"{n}-assoc", parent=owner) for n in args.former_names],
            ),
        )
        self.address = address.address
        self.floating_ip_id = address.id
        self.register_outputs({"address": self.address, "floating_ip_id": self.floating_ip_id})
