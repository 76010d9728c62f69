"""Config models shared by the OpenStack labs, with the rules a cloud would enforce late.

Neutron rejects some mistakes only when the resource is created (a gateway outside its subnet),
and accepts others silently (overlapping subnets behind one router). These models catch both
before anything is registered.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Iterator, Sequence
from typing import Literal

from pydantic import Field

from stacks.shared.errors import KeyPath, Problem, format_path
from stacks.shared.operations import CloudMachine
from stacks.shared.types import Cidr, Description, DisplayName, HostLabel, IPv4, Name, PortRange
from stacks.shared.validation import LabModel, check

MAX_DNS_SERVERS = 5
"""Neutron's default ``max_dns_nameservers`` per subnet."""
MAX_HOST_ROUTES = 20
"""Neutron's default ``max_subnet_host_routes``."""
MAX_POOLS = 64
"""Allocation pools per subnet (Neutron sets no limit; every pair is compared)."""


def usable(net: ipaddress.IPv4Network, ip: ipaddress.IPv4Address) -> bool:
    """True when ``ip`` is a host address of ``net`` (not its network or broadcast address)."""
    if ip not in net:
        return False
    if net.prefixlen >= 31:
        return True
    return ip not in (net.network_address, net.broadcast_address)


class AllocationPool(LabModel):
    """A range of addresses Neutron's DHCP may hand out."""

    start: IPv4
    end: IPv4

    @check
    def _ordered(self) -> Iterator[Problem]:
        if self.start > self.end:
            yield Problem(("end",), f"the pool ends before it starts ({self.start})", str(self.end))

    def __contains__(self, ip: object) -> bool:
        return isinstance(ip, ipaddress.IPv4Address) and self.start <= ip <= self.end


class HostRoute(LabModel):
    """A static route pushed to the subnet's hosts by DHCP."""

    destination: Cidr
    next_hop: IPv4


class NetworkConfig(LabModel):
    """A private network with one IPv4 subnet."""

    name: Name
    cidr: Cidr
    gateway_ip: IPv4 | None = None
    """Defaults to the subnet's first host address."""
    dns_servers: list[IPv4] = Field(default_factory=list, max_length=MAX_DNS_SERVERS)
    allocation_pools: list[AllocationPool] = Field(default_factory=list, max_length=MAX_POOLS)
    host_routes: list[HostRoute] = Field(default_factory=list, max_length=MAX_HOST_ROUTES)

    @property
    def gateway(self) -> ipaddress.IPv4Address:
        return self.gateway_ip if self.gateway_ip is not None else next(self.cidr.hosts())

    @check
    def _gateway_inside(self) -> Iterator[Problem]:
        if self.gateway_ip is not None and not usable(self.cidr, self.gateway_ip):
            yield Problem(
                ("gatewayIp",),
                f"the gateway must be a host address inside {self.cidr}",
                str(self.gateway_ip),
            )

    @check
    def _pools_inside(self) -> Iterator[Problem]:
        for i, pool in enumerate(self.allocation_pools):
            where = ("allocationPools", i)
            for key, ip in (("start", pool.start), ("end", pool.end)):
                if not usable(self.cidr, ip):
                    yield Problem(
                        (*where, key),
                        f"pool address must be a host address in {self.cidr}",
                        str(ip),
                    )
            if self.gateway in pool:
                yield Problem(
                    where,
                    f"the pool contains the gateway {self.gateway}",
                    f"{pool.start}-{pool.end}",
                )
            for j, other in enumerate(self.allocation_pools[:i]):
                if pool.start <= other.end and other.start <= pool.end:
                    yield Problem(where, f"the pool overlaps allocationPools[{j}]")

    @check
    def _routes_reachable(self) -> Iterator[Problem]:
        for i, route in enumerate(self.host_routes):
            if not usable(self.cidr, route.next_hop):
                yield Problem(
                    ("hostRoutes", i, "nextHop"),
                    f"the next hop must be an address inside {self.cidr}",
                    str(route.next_hop),
                )


class RuleConfig(LabModel):
    """One ingress rule of a security group."""

    protocol: Literal["tcp", "udp", "icmp"]
    ports: PortRange | None = None
    """A port or range 'low-high' (tcp/udp only); omitted = every port."""
    remote_cidr: Cidr
    description: Description = ""

    @check
    def _ports_need_protocol(self) -> Iterator[Problem]:
        if self.protocol == "icmp" and self.ports is not None:
            yield Problem(
                ("ports",), "icmp rules have no ports", f"{self.ports[0]}-{self.ports[1]}"
            )


class ServerConfig(CloudMachine):
    """A VM on the lab's private network, its snapshots (images) and restore."""

    name: HostLabel
    """The instance's name in Nova, and the guest's host name."""
    image: DisplayName
    """Glance image name, e.g. ``ubuntu4CLV``."""
    flavor: DisplayName
    """Flavor name, e.g. ``small2``. Changing it and running ``up`` resizes the VM."""
    fixed_ip: IPv4 | None = None
    """The VM's address on the private network; omitted = allocated from the pool."""
    floating_ip: bool = True


def fixed_ip_problems(
    addresses: Iterable[tuple[KeyPath, ipaddress.IPv4Address | None, NetworkConfig | None]],
) -> Iterator[Problem]:
    """Fixed IPs: inside their subnet, outside its DHCP pools, not its gateway, not used twice."""
    taken: dict[ipaddress.IPv4Address, KeyPath] = {}
    for path, ip, subnet in addresses:
        if ip is None:
            continue
        if subnet is not None:
            if not usable(subnet.cidr, ip):
                yield Problem(path, f"the address must be a host address in {subnet.cidr}", str(ip))
            elif ip == subnet.gateway:
                yield Problem(
                    path, f"the address is the subnet's gateway {subnet.gateway}", str(ip)
                )
            elif pools := [i for i, pool in enumerate(subnet.allocation_pools) if ip in pool]:
                # Neutron hands pool addresses to other ports (its DHCP port first), so a fixed
                # address inside a pool can be taken before this port is created.
                yield Problem(
                    path,
                    f"the address is inside the subnet's allocationPools[{pools[0]}]; "
                    "pick one outside the DHCP pools",
                    str(ip),
                )
        if ip in taken:
            first = format_path(taken[ip])
            yield Problem(path, f"the address is already given to {first}", str(ip))
        else:
            taken[ip] = path


def overlap_problems(subnets: Sequence[tuple[KeyPath, ipaddress.IPv4Network]]) -> Iterator[Problem]:
    """Subnets of one stack must not overlap (one router could not tell them apart)."""
    for i, (path, cidr) in enumerate(subnets):
        for other_path, other in subnets[:i]:
            if cidr.overlaps(other):
                where = format_path(other_path)
                yield Problem(path, f"the subnet overlaps {where} ({other})", str(cidr))
