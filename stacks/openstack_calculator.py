"""openstack-calculator: the calculator on five VMs of one private network.

The lab of docs/labs.md#openstack-calculator. Each VM installs and starts its service by
cloud-init (a systemd unit); the front end's user-data carries the operators' addresses. Only
the front end has a floating IP; the operators admit traffic only from the front end's group.
"""

from __future__ import annotations

from collections.abc import Iterator

from calculator.config import ROLES
from components.calculator import Placement
from stacks.shared.calculator import CalculatorLabConfig, ServicesConfig, service_address_problems
from stacks.shared.calculator_build import build_calculator, check_user_data_size, export_outputs
from stacks.shared.catalogue import Lab
from stacks.shared.errors import Problem
from stacks.shared.openstack import NetworkConfig
from stacks.shared.openstack_access import external_network
from stacks.shared.openstack_build import gateway_router, lab_keypair, private_network
from stacks.shared.types import Name
from stacks.shared.validation import check


class OpenStackCalculatorConfig(CalculatorLabConfig):
    """Config of the ``openstack-calculator`` lab (keys of ``Pulumi.<stack>.yaml``)."""

    keypair_name: Name = "cloudlabs-calc-key"
    router_name: Name = "cloudlabs-calc-router"
    front_end_group_name: Name = "cloudlabs-calc-front"
    operator_group_name: Name = "cloudlabs-calc-operators"
    network: NetworkConfig
    services: ServicesConfig = ServicesConfig()

    @check
    def _addresses(self) -> Iterator[Problem]:
        placement = dict.fromkeys(ROLES, self.network)
        yield from service_address_problems(self.services, placement)


def build(config: OpenStackCalculatorConfig) -> None:
    check_user_data_size("openstack-calculator", config, config.services)
    external = external_network(config.external_network)
    keypair = lab_keypair("calc", config)
    network = private_network("calc-net", config.network)
    router = gateway_router("calc-router", config.router_name, external, network)
    # Every VM boots once the router is there: cloud-init reaches the package mirror through it,
    # and the front end's floating IP goes through it.
    where = Placement(network.network_id, network.subnet_id, after=(router,))
    calc = build_calculator(
        "calc",
        config,
        services=config.services,
        names=(config.front_end_group_name, config.operator_group_name),
        key_pair=keypair.name,
        placements=dict.fromkeys(ROLES, where),
    )
    export_outputs(calc, config.ssh_user, config.services)


LAB = Lab(config=OpenStackCalculatorConfig, build=build)
