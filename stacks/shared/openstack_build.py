"""OpenStack components built from the shared config models: the mapping lives here once."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol

import pulumi

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


# The provider's config keys the ``openstack`` CLI reads as OS_* variables.
_CLI_KEYS = {
    "cloud": "OS_CLOUD",
    "authUrl": "OS_AUTH_URL",
    "userName": "OS_USERNAME",
    "tenantName": "OS_PROJECT_NAME",
    "tenantId": "OS_PROJECT_ID",
    "userDomainName": "OS_USER_DOMAIN_NAME",
    "projectDomainName": "OS_PROJECT_DOMAIN_NAME",
    "region": "OS_REGION_NAME",
    "applicationCredentialId": "OS_APPLICATION_CREDENTIAL_ID",
}
_CLI_SECRETS = {
    "password": "OS_PASSWORD",
    "applicationCredentialSecret": "OS_APPLICATION_CREDENTIAL_SECRET",
}


def cli_environment() -> dict[str, pulumi.Input[str]]:
    """The stack's OpenStack provider config as the CLI's OS_* variables (the password and
    application credential secret as Pulumi secrets); keys not set are left to this machine's
    own OS_* environment."""
    provider = pulumi.Config("openstack")
    env: dict[str, pulumi.Input[str]] = {}
    for key, var in _CLI_KEYS.items():
        value = provider.get(key)
        if value:
            env[var] = value
    for key, var in _CLI_SECRETS.items():
        secret = provider.get_secret(key)
        if secret is not None:
            env[var] = secret
    if env.get("OS_AUTH_URL") or env.get("OS_CLOUD"):
        env.setdefault("OS_IDENTITY_API_VERSION", "3")
    return env
