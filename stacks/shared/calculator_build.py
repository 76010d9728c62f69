"""What the two calculator labs build alike: the five VMs, their security groups, their outputs.

Both give each VM cloud-init user-data rendered by :mod:`components.calculator_bootstrap`, both
protect the operators with a security group that admits only members of the front end's group,
and both export the same kind of outputs.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pulumi

from calculator.config import OPERATOR_ROLES, ROLES
from components.calculator_bootstrap import (
    FRONT_END,
    USER_DATA_LIMIT,
    BootstrapSpec,
    CalculatorPackage,
    load_package,
    nova_size,
    render_user_data,
    service_url,
)
from components.openstack import RuleSpec, SecurityGroup, SecurityGroupArgs, Server, ServerArgs
from stacks.shared.calculator import BootstrapConfig, ServicesConfig
from stacks.shared.errors import ConfigError, Problem
from stacks.shared.mirror import cloud_init_mirror

CALCULATOR_PROJECT = Path(__file__).resolve().parents[2] / "calculator"
"""The calculator application's project directory in this tree (its pyproject.toml)."""

SAMPLE_EXPRESSION = "(5+6)*2"


@cache
def calculator_package() -> CalculatorPackage:
    """The calculator of this tree, zipped once per program run."""
    return load_package(CALCULATOR_PROJECT)


def bootstrap_spec(
    role: str,
    services: ServicesConfig,
    bootstrap: BootstrapConfig,
    upstream_addresses: Mapping[str, str] | None = None,
) -> BootstrapSpec:
    """The bootstrap of ``role``; the front end's needs the operators' addresses."""
    upstreams = {
        op: service_url(upstream_addresses[op], services.port(op))
        for op in OPERATOR_ROLES
        if upstream_addresses is not None
    }
    return BootstrapSpec(
        role=role,
        port=services.port(role),
        bind_address=str(bootstrap.bind_address),
        upstreams=upstreams,
        timeout=bootstrap.timeout,
        packages=tuple(bootstrap.packages),
        package_update=bootstrap.package_update,
        apt_mirror=cloud_init_mirror(bootstrap.apt_mirror),
    )


def check_user_data_size(lab: str, services: ServicesConfig, bootstrap: BootstrapConfig) -> None:
    """Stop before any resource when a role's user-data would exceed Nova's limit.

    The front end is measured with the longest possible operator addresses.
    """
    widest = dict.fromkeys(OPERATOR_ROLES, "255.255.255.255")
    package = calculator_package()
    for role in ROLES:
        spec = bootstrap_spec(role, services, bootstrap, widest if role == FRONT_END else None)
        size = nova_size(render_user_data(spec, package))
        if size > USER_DATA_LIMIT:
            message = (
                f"the {role} VM's user-data would be {size} bytes once base64-encoded, over "
                f"Nova's {USER_DATA_LIMIT}; list fewer packages"
            )
            raise ConfigError(lab, [Problem(("bootstrap", "packages"), message)])


@dataclass(frozen=True)
class Placement:
    """Where a VM goes: its network, subnet and what it waits for."""

    network_id: pulumi.Input[str]
    subnet_id: pulumi.Input[str]
    after: tuple[pulumi.Resource, ...] = ()
    """Resources the VM needs before it boots (routers, routes pushed by DHCP, the router its
    floating IP goes through): the server depends on them, so ``destroy`` removes the VM, its
    port and its floating IP first."""


@dataclass(frozen=True)
class Calculator:
    """The five servers of a built calculator."""

    front_end: Server
    operators: dict[str, Server]


def security_groups(
    prefix: str,
    services: ServicesConfig,
    access_cidr: ipaddress.IPv4Network,
    admin_cidr: ipaddress.IPv4Network,
    front_end_group_name: str,
    operator_group_name: str,
) -> tuple[SecurityGroup, SecurityGroup]:
    """The front end's group and the operators' group.

    Front end: its service port from ``access_cidr``; SSH and ICMP from ``admin_cidr``.
    Operators: their service ports, SSH (the front end as jump host) and ICMP, each only from
    members of the front end's group; nothing from any CIDR.
    """
    front_port = services.port(FRONT_END)
    front = SecurityGroup(
        f"{prefix}-front-sg",
        SecurityGroupArgs(
            group_name=front_end_group_name,
            description="calculator front end: its port for users, SSH and ICMP for admins",
            rules=[
                RuleSpec(
                    "tcp",
                    front_port,
                    front_port,
                    remote_cidr=str(access_cidr),
                    description="calculator front end",
                ),
                RuleSpec("tcp", 22, 22, remote_cidr=str(admin_cidr), description="ssh"),
                RuleSpec("icmp", remote_cidr=str(admin_cidr), description="ping"),
            ],
        ),
    )
    ports = sorted({services.port(op) for op in OPERATOR_ROLES})
    operator_rules = [
        RuleSpec("tcp", port, port, remote_group_id=front.group_id, description="from front end")
        for port in ports
    ]
    operator_rules += [
        RuleSpec("tcp", 22, 22, remote_group_id=front.group_id, description="ssh via front end"),
        RuleSpec("icmp", remote_group_id=front.group_id, description="ping from front end"),
    ]
    operators = SecurityGroup(
        f"{prefix}-operators-sg",
        SecurityGroupArgs(
            group_name=operator_group_name,
            description="calculator operators: reachable only from the front end's group",
            rules=operator_rules,
        ),
    )
    return front, operators


def build_calculator(
    prefix: str,
    *,
    services: ServicesConfig,
    bootstrap: BootstrapConfig,
    image: str,
    flavor: str,
    key_pair: pulumi.Input[str],
    placements: Mapping[str, Placement],
    front_group: SecurityGroup,
    operator_group: SecurityGroup,
    external_network: str,
) -> Calculator:
    """The four operator VMs, then the front end wired to their addresses, with a floating IP.

    An operator's address is its configured fixed IP, or the address Neutron gives its port
    (an Output): the front end's user-data is rendered once all four are known.
    """
    package = calculator_package()

    def server(role: str, user_data: pulumi.Input[str], public: bool = False) -> Server:
        vm = services.vm(role)
        where = placements[role]
        group = front_group if role == FRONT_END else operator_group
        short = "front" if role == FRONT_END else role
        return Server(
            f"{prefix}-{short}",
            ServerArgs(
                server_name=vm.name,
                image_name=vm.image or image,
                flavor_name=vm.flavor or flavor,
                network_id=where.network_id,
                subnet_id=where.subnet_id,
                fixed_ip=str(vm.fixed_ip) if vm.fixed_ip else None,
                security_group_ids=[group.group_id],
                key_pair=key_pair,
                user_data=user_data,
                floating_ip_pool=external_network if public else None,
            ),
            opts=pulumi.ResourceOptions(depends_on=list(where.after)),
        )

    operators: dict[str, Server] = {}
    addresses: dict[str, pulumi.Input[str]] = {}
    for role in OPERATOR_ROLES:
        spec = bootstrap_spec(role, services, bootstrap)
        operators[role] = server(role, render_user_data(spec, package))
        fixed = services.vm(role).fixed_ip
        addresses[role] = str(fixed) if fixed else operators[role].fixed_ip

    def front_user_data(known: dict[str, str]) -> str:
        spec = bootstrap_spec(FRONT_END, services, bootstrap, known)
        return render_user_data(spec, package)

    user_data = pulumi.Output.all(**addresses).apply(front_user_data)
    front_end = server("calculator", user_data, public=True)
    return Calculator(front_end=front_end, operators=operators)


def export_outputs(calc: Calculator, services: ServicesConfig, ssh_user: str) -> None:
    """floatingIp, url, curlCommand, sshCommand, frontEndIp, operatorIps, operatorSshCommands."""
    port = services.port(FRONT_END)
    fip = calc.front_end.floating_ip
    pulumi.export("floatingIp", fip)
    pulumi.export("frontEndIp", calc.front_end.fixed_ip)
    pulumi.export("url", fip.apply(lambda ip: f"http://{ip}:{port}"))
    pulumi.export(
        "curlCommand",
        fip.apply(lambda ip: f'curl -d "{SAMPLE_EXPRESSION}" -X POST http://{ip}:{port}'),
    )
    pulumi.export("sshCommand", fip.apply(lambda ip: f"ssh {ssh_user}@{ip}"))
    pulumi.export("operatorIps", {role: s.fixed_ip for role, s in calc.operators.items()})
    pulumi.export(
        "operatorSshCommands",
        {
            role: pulumi.Output.all(fip, s.fixed_ip).apply(
                lambda ips: f"ssh -J {ssh_user}@{ips[0]} {ssh_user}@{ips[1]}"
            )
            for role, s in calc.operators.items()
        },
    )
