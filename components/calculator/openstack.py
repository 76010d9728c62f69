"""The calculator's services as OpenStack VMs, and their two security groups (imported only by
labs that run it there, with the OpenStack SDK)."""

from __future__ import annotations

from collections.abc import Mapping

import pulumi

from calculator.config import OPERATOR_ROLES
from components.calculator.spec import CalculatorSettings, OnOpenStack, service_user_data, tier
from components.calculator_bootstrap import FRONT_END
from components.declarations import TIER_KEY, is_world_cidr, public_tag
from components.openstack import RuleSpec, SecurityGroup, SecurityGroupArgs, Server, ServerArgs


def service_server(
    name: str,
    role: str,
    settings: CalculatorSettings,
    cloud: OnOpenStack,
    upstreams: Mapping[str, pulumi.Input[str]],
    security_group_id: pulumi.Input[str],
    opts: pulumi.ResourceOptions,
) -> Server:
    """``role``'s server, named ``name``, in ``security_group_id``, its tier in its metadata;
    the front end's user-data carries the operators' addresses (``upstreams``) and it alone
    gets a floating IP."""
    vm = cloud.vms[role]
    where = cloud.placements[role]
    user_data: pulumi.Input[str]
    if role == FRONT_END:
        # An address Neutron allocates is known only once its port exists.
        user_data = pulumi.Output.all(**upstreams).apply(
            lambda known: service_user_data(settings, cloud.bootstrap, role, known)
        )
    else:
        user_data = service_user_data(settings, cloud.bootstrap, role)
    return Server(
        name,
        ServerArgs(
            server_name=vm.name,
            image_name=vm.image,
            flavor_name=vm.flavor,
            network_id=where.network_id,
            subnet_id=where.subnet_id,
            fixed_ip=vm.fixed_ip,
            security_group_ids=[security_group_id],
            key_pair=cloud.key_pair,
            user_data=user_data,
            floating_ip_pool=cloud.external_network if role == FRONT_END else None,
            metadata={TIER_KEY: tier(role)},
            snapshots=vm.snapshots,
            restore=vm.restore,
            cli_env=cloud.cli_env,
        ),
        opts=opts,
    )


def security_groups(
    name: str, settings: CalculatorSettings, cloud: OnOpenStack, opts: pulumi.ResourceOptions
) -> dict[str, pulumi.Output[str]]:
    """The front end's group (``<name>-front-sg``) and the operators' (``<name>-operators-sg``);
    each role's group id.

    Front end: its port from ``access_cidr``, SSH and ICMP from ``admin_cidr``; its tags
    declare its port public, and SSH and ICMP too when ``admin_cidr`` is every address.
    Operators: their ports, SSH (the front end as jump host) and ICMP from members of the front
    end's group only; nothing from any address range, nothing declared public.
    """
    front_port = settings.port(FRONT_END)
    tags = [public_tag("tcp", front_port)]
    if is_world_cidr(cloud.admin_cidr):
        tags += [public_tag("tcp", 22), public_tag("icmp")]
    front = SecurityGroup(
        f"{name}-front-sg",
        SecurityGroupArgs(
            group_name=cloud.front_end_group,
            description="calculator front end: its port for users, SSH and ICMP for admins",
            rules=[
                RuleSpec(
                    "tcp",
                    front_port,
                    front_port,
                    remote_cidr=cloud.access_cidr,
                    description="calculator front end",
                ),
                RuleSpec("tcp", 22, 22, remote_cidr=cloud.admin_cidr, description="ssh"),
                RuleSpec("icmp", remote_cidr=cloud.admin_cidr, description="ping"),
            ],
            tags=tags,
        ),
        opts=opts,
    )
    ports = sorted({settings.port(op) for op in OPERATOR_ROLES})
    operator_rules = [
        RuleSpec("tcp", port, port, remote_group_id=front.group_id, description="from front end")
        for port in ports
    ]
    operator_rules += [
        RuleSpec("tcp", 22, 22, remote_group_id=front.group_id, description="ssh via front end"),
        RuleSpec("icmp", remote_group_id=front.group_id, description="ping from front end"),
    ]
    operators = SecurityGroup(
        f"{name}-operators-sg",
        SecurityGroupArgs(
            group_name=cloud.operator_group,
            description="calculator operators: reachable only from the front end's group",
            rules=operator_rules,
        ),
        opts=opts,
    )
    return {FRONT_END: front.group_id, **dict.fromkeys(OPERATOR_ROLES, operators.group_id)}
