"""OpenStack components built from the shared config models: the mapping lives here once."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol

from components.openstack import (
    Keypair,
    KeypairArgs,
    PrivateNetwork,
    PrivateNetworkArgs,
    Router,
    RouterArgs,
    RouterInterfaceSpec,
    RouteSpec,
    RuleSpec,
)
from stacks.shared.openstack import NetworkConfig, RuleConfig
from stacks.shared.openstack_access import ExternalNetwork


class WithKeypair(Protocol):
    """A lab config with a key pair: ``keypairName`` and ``sshPublicKey``."""

    @property
    def keypair_name(self) -> str: ...
    @property
    def ssh_public_key(self) -> str: ...


def lab_keypair(prefix: str, config: WithKeypair) -> Keypair:
    """The lab's key pair (``<prefix>-key``): ``sshPublicKey`` under the name ``keypairName``."""
    return Keypair(
        f"{prefix}-key", KeypairArgs(name=config.keypair_name, public_key=config.ssh_public_key)
    )


def private_network(
    name: str, net: NetworkConfig, extra_routes: Sequence[RouteSpec] = ()
) -> PrivateNetwork:
    """The network and subnet ``net`` describes; ``extra_routes`` are host routes the lab adds."""
    return PrivateNetwork(
        name,
        PrivateNetworkArgs(
            network_name=net.name,
            cidr=str(net.cidr),
            gateway_ip=str(net.gateway),
            dns_nameservers=[str(ip) for ip in net.dns_servers],
            allocation_pools=[(str(p.start), str(p.end)) for p in net.allocation_pools],
            host_routes=[
                *(RouteSpec(str(r.destination), str(r.next_hop)) for r in net.host_routes),
                *extra_routes,
            ],
        ),
    )


def gateway_router(
    name: str, router_name: str, external: ExternalNetwork, network: PrivateNetwork
) -> Router:
    """A router with its gateway on the ``external`` network and the subnet's gateway
    interface."""
    return Router(
        name,
        RouterArgs(
            router_name=router_name,
            external_network_id=external.id,
            interfaces=[RouterInterfaceSpec(subnet_id=network.subnet_id)],
        ),
    )


def rule_specs(rules: Iterable[RuleConfig]) -> list[RuleSpec]:
    """Component rule specs for validated ingress rules from config."""
    return [
        RuleSpec(
            protocol=rule.protocol,
            port_min=rule.ports[0] if rule.ports else None,
            port_max=rule.ports[1] if rule.ports else None,
            remote_cidr=str(rule.remote_cidr),
            description=rule.description,
        )
        for rule in rules
    ]
