"""What the two calculator labs build alike: the calculator component's arguments from their
config, the check of the VMs' user-data against Nova's limit, and the outputs.

The five VMs, their security groups and their cloud-init are the component's
(:class:`components.calculator.Calculator`); this module maps the shared config onto it.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from pathlib import Path

import pulumi

from bench.archive import guest_suite
from calculator.config import OPERATOR_ROLES, ROLES
from components.calculator import (
    Bootstrap,
    Calculator,
    CalculatorArgs,
    CalculatorSettings,
    OnOpenStack,
    Placement,
    Vm,
    service_user_data,
)
from components.calculator_bootstrap import (
    FRONT_END,
    USER_DATA_LIMIT,
    CalculatorPackage,
    load_package,
    nova_size,
)
from components.hostexec import ssh_command
from components.openstack.server import snapshot_image_name
from stacks.shared.calculator import CalculatorLabConfig, ServicesConfig, limit_values
from stacks.shared.errors import ConfigError, Problem
from stacks.shared.mirror import cloud_init_mirror
from stacks.shared.openstack_build import cli_environment
from stacks.shared.operations import export_restored

CALCULATOR_PROJECT = Path(__file__).resolve().parents[2] / "calculator"
"""The calculator application's project directory in this tree (its pyproject.toml)."""


@cache
def calculator_package() -> CalculatorPackage:
    """The calculator of this tree, zipped once per program run."""
    return load_package(CALCULATOR_PROJECT)


def settings(config: CalculatorLabConfig, services: ServicesConfig) -> CalculatorSettings:
    """The services' ports, bind address, operator timeout and limits."""
    return CalculatorSettings(
        ports={role: services.port(role) for role in ROLES},
        bind_address=str(config.bootstrap.bind_address),
        operator_timeout=config.bootstrap.timeout,
        limits=limit_values(config.limits),
    )


def bootstrap(config: CalculatorLabConfig) -> Bootstrap:
    boot = config.bootstrap
    # The calculator's archive leaves no room for the runner's under Nova's limit.
    files, packages = guest_suite(config.benchmark.enabled, runner=False)
    return Bootstrap(
        package=calculator_package(),
        packages=(*boot.packages, *(p for p in packages if p not in boot.packages)),
        package_update=boot.package_update,
        apt_mirror=cloud_init_mirror(boot.apt_mirror),
        files=tuple(files),
    )


def check_user_data_size(lab: str, config: CalculatorLabConfig, services: ServicesConfig) -> None:
    """Stop before any resource when a role's user-data would exceed Nova's limit.

    The front end is measured with the longest possible operator addresses.
    """
    widest = dict.fromkeys(OPERATOR_ROLES, "255.255.255.255")
    told, boot = settings(config, services), bootstrap(config)
    for role in ROLES:
        upstreams = widest if role == FRONT_END else None
        size = nova_size(service_user_data(told, boot, role, upstreams))
        if size > USER_DATA_LIMIT:
            message = (
                f"the {role} VM's user-data would be {size} bytes once base64-encoded, over "
                f"Nova's {USER_DATA_LIMIT}; list fewer packages"
            )
            raise ConfigError(lab, [Problem(("bootstrap", "packages"), message)])


def build_calculator(
    name: str,
    config: CalculatorLabConfig,
    *,
    services: ServicesConfig,
    names: tuple[str, str],
    key_pair: pulumi.Input[str],
    placements: Mapping[str, Placement],
) -> Calculator:
    """The calculator component of a lab: ``names`` are its front end's and operators' security
    groups' names; ``placements`` each role's sub-network."""

    def vm(role: str) -> Vm:
        own = services.vm(role)
        return Vm(
            name=own.name,
            image=own.image or config.image,
            flavor=own.flavor or config.flavor,
            fixed_ip=str(own.fixed_ip) if own.fixed_ip else None,
            snapshots=own.snapshot_specs(),
            restore=own.restore_spec(),
        )

    return Calculator(
        name,
        CalculatorArgs(
            runs_on=OnOpenStack(
                vms={role: vm(role) for role in ROLES},
                placements=placements,
                key_pair=key_pair,
                external_network=config.external_network,
                access_cidr=str(config.access_cidr),
                admin_cidr=str(config.admin_cidr),
                front_end_group=names[0],
                operator_group=names[1],
                bootstrap=bootstrap(config),
                cli_env=cli_environment() if any(services.vm(r).snapshots for r in ROLES) else {},
            ),
            settings=settings(config, services),
        ),
    )


def export_outputs(calc: Calculator, ssh_user: str, services: ServicesConfig) -> None:
    """floatingIp, url, curlCommand, sshCommand, frontEndIp, operatorIps, operatorSshCommands;
    snapshotImages and restored, by VM name, for the VMs that declare snapshots or a restore."""
    fip = calc.floating_ip
    operators = {role: calc.services[role].address for role in OPERATOR_ROLES}
    pulumi.export("floatingIp", fip)
    pulumi.export("frontEndIp", calc.services[FRONT_END].address)
    pulumi.export("url", calc.url)
    pulumi.export("curlCommand", calc.curl_command)
    pulumi.export("sshCommand", fip.apply(lambda ip: ssh_command(f"{ssh_user}@{ip}")))
    pulumi.export("operatorIps", operators)
    pulumi.export(
        "operatorSshCommands",
        {
            role: pulumi.Output.all(fip, address).apply(
                lambda ips: ssh_command(f"{ssh_user}@{ips[1]}", jump=f"{ssh_user}@{ips[0]}")
            )
            for role, address in operators.items()
        },
    )
    vms = {services.vm(role).name: role for role in ROLES}
    images = {
        name: {s.name: snapshot_image_name(name, s.name) for s in services.vm(role).snapshots}
        for name, role in vms.items()
        if services.vm(role).snapshots
    }
    pulumi.export("snapshotImages", images)
    export_restored({name: calc.services[role].server for name, role in vms.items()})
