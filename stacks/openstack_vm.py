"""openstack-vm: one VM on a private network behind a router, reachable by floating IP.

The lab of docs/labs.md#openstack-vm. Resize is a flavor change in config followed by
``pulumi up`` (Nova resizes the server in place); snapshots are images taken from the server,
and a restore rebuilds it from one or boots a replacement on the same port.
"""

from __future__ import annotations

from collections.abc import Iterator

import pulumi

from components.hostexec import ssh_command
from components.openstack import (
    SecurityGroup,
    SecurityGroupArgs,
    Server,
    ServerArgs,
)
from components.openstack.server import snapshot_image_name
from stacks.shared.benchmark import BenchmarkConfig, suite_user_data
from stacks.shared.catalogue import Lab
from stacks.shared.errors import Problem
from stacks.shared.openstack import NetworkConfig, RuleConfig, ServerConfig, fixed_ip_problems
from stacks.shared.openstack_access import external_network
from stacks.shared.openstack_build import (
    cli_environment,
    gateway_router,
    lab_keypair,
    private_network,
    rule_specs,
)
from stacks.shared.operations import export_restored
from stacks.shared.types import Cidr, Name, SshPublicKey
from stacks.shared.validation import LabModel, check


class OpenStackVmConfig(LabModel):
    """Config of the ``openstack-vm`` lab (keys of ``Pulumi.<stack>.yaml``)."""

    external_network: Name
    """The provider's public network: router gateway and floating IP pool."""
    ssh_public_key: SshPublicKey
    """The key the VM's default user accepts."""
    ssh_user: Name = "ubuntu"
    """The image's default login user (for the ssh command output)."""
    access_cidr: Cidr
    """Where ICMP and SSH may come from."""
    keypair_name: Name = "cloudlabs-key"
    network: NetworkConfig
    router_name: Name = "cloudlabs-router"
    security_group_name: Name = "cloudlabs-vm"
    extra_rules: list[RuleConfig] = []
    """More ingress rules for the VM's security group (beyond ICMP and SSH)."""
    server: ServerConfig
    benchmark: BenchmarkConfig = BenchmarkConfig()

    @check
    def _server_address(self) -> Iterator[Problem]:
        yield from fixed_ip_problems([(("server", "fixedIp"), self.server.fixed_ip, self.network)])


def build(config: OpenStackVmConfig) -> None:
    user_data = suite_user_data("openstack-vm", config.benchmark)
    external = external_network(config.external_network)
    net = config.network
    keypair = lab_keypair("vm", config)
    network = private_network("vm-net", net)
    router = gateway_router("vm-router", config.router_name, external, network)
    base_rules = [
        RuleConfig(protocol="icmp", remote_cidr=config.access_cidr, description="ping"),
        RuleConfig(
            protocol="tcp", ports=(22, 22), remote_cidr=config.access_cidr, description="ssh"
        ),
    ]
    group = SecurityGroup(
        "vm-sg",
        SecurityGroupArgs(
            group_name=config.security_group_name,
            description="ICMP and SSH to the lab VM",
            rules=rule_specs([*base_rules, *config.extra_rules]),
        ),
    )
    server = Server(
        "vm",
        ServerArgs(
            server_name=config.server.name,
            image_name=config.server.image,
            flavor_name=config.server.flavor,
            network_id=network.network_id,
            subnet_id=network.subnet_id,
            fixed_ip=str(config.server.fixed_ip) if config.server.fixed_ip else None,
            security_group_ids=[group.group_id],
            key_pair=keypair.name,
            user_data=user_data,
            floating_ip_pool=config.external_network if config.server.floating_ip else None,
            snapshots=config.server.snapshot_specs(),
            restore=config.server.restore_spec(),
            cli_env=cli_environment() if config.server.snapshots else {},
        ),
        # Its floating IP goes through the router (destroyed before the router's interface).
        opts=pulumi.ResourceOptions(depends_on=[router]),
    )
    user = config.ssh_user
    pulumi.export("fixedIp", server.fixed_ip)
    images = {
        s.name: snapshot_image_name(config.server.name, s.name) for s in config.server.snapshots
    }
    pulumi.export("snapshotImages", images)
    export_restored({config.server.name: server})
    if config.server.floating_ip:
        pulumi.export("floatingIp", server.floating_ip)
        pulumi.export(
            "sshCommand", server.floating_ip.apply(lambda ip: ssh_command(f"{user}@{ip}"))
        )
    else:
        pulumi.export(
            "sshCommand",
            server.fixed_ip.apply(
                lambda ip: ssh_command(f"{user}@{ip}") + "  # from inside the network"
            ),
        )


LAB = Lab(config=OpenStackVmConfig, build=build)
