"""A Neutron security group built from rule specs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_openstack as openstack

from components.children import child_options


@dataclass(frozen=True)
class RuleSpec:
    protocol: str
    """``tcp``, ``udp``, ``icmp``, or another IP protocol by number (``"4"`` = IP-in-IP)."""
    port_min: int | None = None
    """First port of the range (tcp/udp); None = every port."""
    port_max: int | None = None
    """Last port of the range; None = ``port_min``."""
    remote_cidr: str | None = None
    """Source CIDR of the traffic; exclusive with ``remote_group_id`` and ``remote_own_group``."""
    remote_group_id: pulumi.Input[str] | None = None
    """Source security group: only members of that group may connect."""
    description: str = ""
    direction: str = "ingress"
    """``ingress`` or ``egress``."""
    remote_own_group: bool = False
    """Source is the group the rule belongs to: its members may reach each other."""

    def __post_init__(self) -> None:
        remotes = (self.remote_cidr is not None) + (self.remote_group_id is not None)
        if remotes + self.remote_own_group != 1:
            raise ValueError(
                "a rule needs exactly one of remote_cidr, remote_group_id or remote_own_group"
            )
        if self.protocol not in ("tcp", "udp", "icmp") and not (
            self.protocol.isdigit() and 0 <= int(self.protocol) <= 255
        ):
            raise ValueError(f"unknown protocol {self.protocol!r}: tcp, udp, icmp or 0-255")
        if self.protocol not in ("tcp", "udp") and self.port_min is not None:
            raise ValueError(f"{self.protocol} rules take no ports")


@dataclass(frozen=True)
class SecurityGroupArgs:
    group_name: str
    """Name of the group in Neutron."""
    description: str
    rules: Sequence[RuleSpec] = ()
    """Rules added to the group. Neutron's default egress rules are kept, so no egress rule
    that duplicates them should be given (Neutron answers 409 to duplicates)."""
    tags: Sequence[str] = ()
    """Neutron tags of the group, such as the ports it declares public
    (:func:`components.declarations.public_tag`); Neutron updates them in place."""


class SecurityGroup(pulumi.ComponentResource):
    group_id: pulumi.Output[str]
    """The group's id, for ports and for other groups' remote-group rules."""
    group_name: pulumi.Output[str]
    """The group's name in Neutron."""

    def __init__(
        self, name: str, args: SecurityGroupArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("cloudlabs:openstack:SecurityGroup", name, None, opts)
        child = child_options(self, opts)
        group = openstack.networking.SecGroup(
            f"{name}-group",
            name=args.group_name,
            description=args.description,
            tags=list(args.tags) or None,
            opts=child,
        )
        for i, rule in enumerate(args.rules):
            ports = rule.port_min is not None
            openstack.networking.SecGroupRule(
                f"{name}-rule-{i}",
                security_group_id=group.id,
                direction=rule.direction,
                ethertype="IPv4",
                protocol=rule.protocol,
                port_range_min=rule.port_min if ports else None,
                port_range_max=(rule.port_max or rule.port_min) if ports else None,
                remote_ip_prefix=rule.remote_cidr,
                remote_group_id=group.id if rule.remote_own_group else rule.remote_group_id,
                description=rule.description or None,
                opts=child,
            )
        self.group_id = group.id
        self.group_name = group.name
        self.register_outputs({"group_id": self.group_id, "group_name": self.group_name})
