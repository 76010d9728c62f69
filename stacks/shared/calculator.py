"""The config the two calculator labs share: the five services' VMs, their bootstrap, the keys
both labs have, and the rule that places each VM's address in its sub-network.

``openstack-calculator`` puts the five VMs on one private network; ``openstack-naas`` splits
them over two sub-networks. What both build from it is in :mod:`stacks.shared.calculator_build`.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator, Mapping, Sequence
from typing import Annotated

from pydantic import Field

from calculator.config import DEFAULT_PORTS, ROLES, build_config
from calculator.config import ConfigError as CalculatorConfigError
from calculator.expr import MAX_DEPTH_CEILING
from components.calculator import LIMITS
from components.calculator_bootstrap import FRONT_END
from stacks.shared.benchmark import BenchmarkConfig
from stacks.shared.errors import KeyPath, Problem
from stacks.shared.mirror import PackageMirrorSetting, cloud_init_problems
from stacks.shared.openstack import NetworkConfig, fixed_ip_problems
from stacks.shared.operations import CloudMachine
from stacks.shared.types import (
    UNPRIVILEGED_PORT,
    Cidr,
    DisplayName,
    HostLabel,
    IPv4,
    Name,
    Number,
    PackageName,
    Port,
    SshPublicKey,
)
from stacks.shared.validation import LabModel, check


class BootstrapConfig(LabModel):
    """How cloud-init installs the calculator's runtime on each VM."""

    apt_mirror: PackageMirrorSetting = None
    """The primary apt mirror of the image's distribution (its URL, or ``url`` with the
    ``key`` it is signed with); omitted = the image's own."""
    packages: list[PackageName] = Field(default_factory=lambda: ["python3"])
    """Distribution packages to install, ``name`` or ``name=version`` (python3 >= 3.11)."""
    package_update: bool = True
    """Refresh the package index before installing."""
    bind_address: IPv4 = ipaddress.IPv4Address("0.0.0.0")
    """The address every service listens on."""
    timeout: Annotated[float, Field(gt=0, le=300)] | None = None
    """Seconds the front end waits for one operator call; omitted = the calculator's default."""

    @check
    def _mirror_checked(self) -> Iterator[Problem]:
        yield from cloud_init_problems(self.apt_mirror, ("aptMirror",))


class ServiceVmConfig(CloudMachine):
    """One of the five VMs, its snapshots (images) and restore."""

    name: HostLabel
    """The instance's name in Nova, and the guest's host name."""
    fixed_ip: IPv4 | None = None
    """Its address on its sub-network; omitted = allocated by Neutron."""
    port: Port | None = None
    """The service's port; omitted = the calculator's default for the role (50000-50004)."""
    image: DisplayName | None = None
    """Overrides the lab's ``image`` for this VM."""
    flavor: DisplayName | None = None
    """Overrides the lab's ``flavor`` for this VM."""


def _default(role: str, prefix: str = "calc") -> ServiceVmConfig:
    short = "front" if role == FRONT_END else role
    return ServiceVmConfig(name=f"{prefix}-{short}")


class ServicesConfig(LabModel):
    """The five VMs by role: the front end (``calculator``) and the four operators."""

    calculator: ServiceVmConfig = Field(default_factory=lambda: _default("calculator"))
    sum: ServiceVmConfig = Field(default_factory=lambda: _default("sum"))
    sub: ServiceVmConfig = Field(default_factory=lambda: _default("sub"))
    mul: ServiceVmConfig = Field(default_factory=lambda: _default("mul"))
    div: ServiceVmConfig = Field(default_factory=lambda: _default("div"))

    def vm(self, role: str) -> ServiceVmConfig:
        vm: ServiceVmConfig = getattr(self, role)
        return vm

    def port(self, role: str) -> int:
        return self.vm(role).port or DEFAULT_PORTS[role]

    @check
    def _distinct_names(self) -> Iterator[Problem]:
        seen: dict[str, str] = {}
        for role in ROLES:
            name = self.vm(role).name
            if name in seen:
                yield Problem((role, "name"), f"the name is already given to {seen[name]}", name)
            seen.setdefault(name, role)

    @check
    def _ports_not_ssh(self) -> Iterator[Problem]:
        for role in ROLES:
            port = self.port(role)
            if port == 22:
                yield Problem((role, "port"), "port 22 is SSH's; pick another", 22)
            elif port < UNPRIVILEGED_PORT:
                yield Problem(
                    (role, "port"),
                    f"the service runs as an unprivileged user (systemd DynamicUser): it can "
                    f"listen on {UNPRIVILEGED_PORT} or above only",
                    port,
                )


Address = tuple[KeyPath, ipaddress.IPv4Address | None, NetworkConfig | None]

Limits = dict[str, Number]
"""The calculator's further settings by its variable name: ``{CALC_MAX_BODY: 65536}``."""

LIMIT_MAX: dict[str, int | float] = {
    "CALC_EXPRESSION_TIMEOUT": 3600,
    "CALC_MAX_BODY": 16 * 1024 * 1024,
    "CALC_MAX_DEPTH": MAX_DEPTH_CEILING,
    "CALC_MAX_DIGITS": 100_000,
    "CALC_MAX_OPERATIONS": 100_000,
    "CALC_MAX_CALLS": 1000,
    "CALC_MAX_CALLS_PER_CONNECTION": 1000,
    "CALC_READ_TIMEOUT": 3600,
    "CALC_IDLE_TIMEOUT": 3600,
    "CALC_DELAY": 300,
}
"""The largest value of each limit: seconds up to an hour (a delay up to the operator timeout's
300), a body up to 16 MiB, the calculator's own nesting ceiling (deeper has no effect), and
counts of work an expression or a client may ask for."""


def limit_problems(limits: Limits, at: KeyPath = ("limits",)) -> Iterator[Problem]:
    """Each limit a setting of the calculator, with a value the calculator accepts."""
    for name, value in limits.items():
        if name not in LIMITS:
            expected = ", ".join(LIMITS)
            yield Problem((*at, name), f"not a calculator limit; expected one of {expected}", name)
            continue
        try:
            build_config(FRONT_END, {}, {name: str(value)})
        except CalculatorConfigError as error:
            yield Problem((*at, name), str(error).split(": ", 1)[-1], value)
            continue
        maximum = LIMIT_MAX.get(name)
        if maximum is not None and value > maximum:
            yield Problem((*at, name), f"at most {maximum}", value)


def limit_values(limits: Limits) -> dict[str, str]:
    """The limits as the services' environment gives them."""
    return {name: str(value) for name, value in limits.items()}


class CalculatorLabConfig(LabModel):
    """Config keys both calculator labs have; each lab adds its networks and names."""

    external_network: Name
    """The provider's public network: the routers' gateways and the front end's floating IP."""
    ssh_public_key: SshPublicKey
    """The key every VM's default user accepts."""
    ssh_user: Name = "ubuntu"
    """The image's default login user (for the ssh commands in the outputs)."""
    access_cidr: Cidr
    """Where the calculator's users are: who may reach the front end's port."""
    admin_cidr: Cidr
    """Who may SSH to (and ping) the front end, the jump host to the operators."""
    image: DisplayName
    """Glance image of every VM (python3 >= 3.11 and cloud-init), e.g. Ubuntu 24.04."""
    flavor: DisplayName
    """Nova flavor of every VM."""
    bootstrap: BootstrapConfig = BootstrapConfig()
    benchmark: BenchmarkConfig = BenchmarkConfig()
    limits: Limits = {}
    """Further settings of every service, by the calculator's variable name."""

    @check
    def _limits(self) -> Iterator[Problem]:
        yield from limit_problems(self.limits)


def service_address_problems(
    services: ServicesConfig,
    placement: Mapping[str, NetworkConfig],
    others: Sequence[Address] = (),
) -> Iterator[Problem]:
    """Each VM's fixed IP inside the sub-network it belongs to; no address used twice.

    ``others`` are further addresses taken on those sub-networks (router interfaces): each is
    checked against its sub-network and against every address listed before it.
    """
    entries: list[Address] = [
        (("services", role, "fixedIp"), services.vm(role).fixed_ip, placement[role])
        for role in ROLES
    ]
    yield from fixed_ip_problems([*entries, *others])
