"""The calculator's component arguments, and what each service is told: pure values and functions.

Roles, default ports and variable names are the calculator's own (``calculator.config``): the
front end ``calculator`` and the operators ``sum``, ``sub``, ``mul``, ``div``; ``CALC_HOST``,
``CALC_PORT``, ``CALC_TIMEOUT``, ``CALC_<OP>_URL`` and the limits ``CALC_MAX_BODY``...
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pulumi

from calculator.config import DEFAULT_PORTS, ENV_DOC, OPERATOR_ROLES, ROLES
from components.calculator_bootstrap import (
    FRONT_END,
    BootstrapSpec,
    CalculatorPackage,
    render_user_data,
    service_url,
    url_variable,
)
from components.declarations import BACKEND, FRONTEND
from components.operations import RestoreSpec, SnapshotSpec
from components.renderers.cloudinit import AptMirror, File

if TYPE_CHECKING:
    from components.docker import HealthcheckSpec

SAMPLE_EXPRESSION = "(5+6)*2"
"""What the ``curlCommand`` output sends (the answer is ``result = 22``)."""

OWN_SETTINGS = ("CALC_HOST", "CALC_PORT", "CALC_TIMEOUT")
LIMITS = tuple(name for name in ENV_DOC if name not in OWN_SETTINGS)
"""The calculator's further settings (``CALC_MAX_BODY``, ``CALC_READ_TIMEOUT``...), which
:attr:`CalculatorSettings.limits` may set."""


def service_name(calculator: str, role: str) -> str:
    """The logical name of a role's service: ``<calculator>-front``, ``<calculator>-sum``..."""
    return f"{calculator}-{'front' if role == FRONT_END else role}"


def tier(role: str) -> str:
    """``frontend`` for the front end, ``backend`` for an operator."""
    return FRONTEND if role == FRONT_END else BACKEND


@dataclass(frozen=True)
class CalculatorSettings:
    """What every service is told, wherever it runs: its port, timeouts and limits."""

    ports: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_PORTS))
    """Each role's port; roles left out keep the calculator's default (50000-50004)."""
    bind_address: str = "0.0.0.0"
    """The address every service listens on (``CALC_HOST``)."""
    operator_timeout: float | None = None
    """Seconds the front end waits for one operator call (``CALC_TIMEOUT``); None = the
    calculator's default."""
    limits: Mapping[str, str] = field(default_factory=dict)
    """Further settings by the calculator's variable name (:data:`LIMITS`), for every service."""

    def __post_init__(self) -> None:
        unknown = sorted(set(self.ports) - set(ROLES)) + sorted(set(self.limits) - set(LIMITS))
        if unknown:
            raise ValueError(f"not a role or a calculator limit: {', '.join(unknown)}")

    def port(self, role: str) -> int:
        return self.ports.get(role, DEFAULT_PORTS[role])

    def environment(self, role: str, upstreams: Mapping[str, str]) -> dict[str, str]:
        """The variables of ``role``'s service; ``upstreams``: each operator's URL (front end)."""
        env = {"CALC_HOST": self.bind_address, "CALC_PORT": str(self.port(role))}
        if role == FRONT_END:
            env.update({url_variable(op): upstreams[op] for op in OPERATOR_ROLES})
            if self.operator_timeout is not None:
                env["CALC_TIMEOUT"] = f"{self.operator_timeout:g}"
        return {**env, **self.limits}

    def upstream_urls(self, addresses: Mapping[str, str]) -> dict[str, str]:
        """Each operator's URL from its address (a container name, a VM's IP address)."""
        return {op: service_url(addresses[op], self.port(op)) for op in OPERATOR_ROLES}


# --- on a Docker engine -------------------------------------------------------------------


@dataclass(frozen=True)
class Published:
    """Where the front end's port is published on the engine's host."""

    host_ip: str = "127.0.0.1"
    host_port: int = DEFAULT_PORTS[FRONT_END]


@dataclass(frozen=True)
class OnDocker:
    """Five containers of one image on a user-defined network of the engine. Each container
    has its role as host name and network alias; the front end calls the operators by their
    container names; only the front end publishes a port."""

    image: pulumi.Input[str]
    """The image every service runs (its entrypoint serves ``CALC_ROLE``)."""
    network: pulumi.Input[str]
    """The user-defined network the containers share."""
    container_names: Mapping[str, str]
    """Each role's container name, also its address for the front end."""
    published: Published = Published()
    user: str | None = None
    """The ``uid:gid`` every service runs as; None = the image's user."""
    read_only: bool = False
    """Read-only root filesystems."""
    tmpfs: Mapping[str, str] = field(default_factory=dict)
    """In-memory mounts (path to options), writable even on a read-only root."""
    volumes: Sequence[str] = ()
    """Paths given an anonymous volume each (disk-backed, writable even on a read-only root)."""
    restart: str = "unless-stopped"
    healthcheck: HealthcheckSpec | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    """The lab's labels on every container (the service's role and tier are added)."""
    snapshots: Mapping[str, Sequence[SnapshotSpec]] = field(default_factory=dict)
    """Each role's declared snapshots (images committed from its container)."""
    restores: Mapping[str, RestoreSpec] = field(default_factory=dict)
    """Each role's restore (its container re-created from a snapshot's image)."""


def docker_environment(settings: CalculatorSettings, docker: OnDocker, role: str) -> dict[str, str]:
    """The environment of ``role``'s container: its role, bind address and port, limits, and
    for the front end its timeout and the operators' URLs by container name."""
    urls = settings.upstream_urls(docker.container_names)
    return {"CALC_ROLE": role, **settings.environment(role, urls)}


# --- on OpenStack ---------------------------------------------------------------------------


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
class Vm:
    """One service's VM."""

    name: str
    """The instance's name in Nova."""
    image: str
    flavor: str
    fixed_ip: str | None = None
    """Its address on its sub-network; None = allocated by Neutron."""
    snapshots: Sequence[SnapshotSpec] = ()
    """Images taken from the server, each once."""
    restore: RestoreSpec | None = None
    """A restore from one of ``snapshots`` (rebuild or replace)."""


@dataclass(frozen=True)
class Bootstrap:
    """How cloud-init installs the calculator on each VM."""

    package: CalculatorPackage
    """The calculator's archive and unit template (:func:`load_package`)."""
    packages: Sequence[str] = ("python3",)
    """Distribution packages to install, ``name`` or ``name=version``."""
    package_update: bool = True
    apt_mirror: AptMirror | None = None
    """The primary apt mirror of the image's distribution; None = the image's own."""
    files: Sequence[File] = ()
    """More files every VM gets (the benchmark suite's)."""


@dataclass(frozen=True)
class OnOpenStack:
    """Five VMs, each starting its service from cloud-init, on one or two sub-networks.

    The front end's group admits its port from ``access_cidr``, SSH and ICMP from
    ``admin_cidr``; the operators' group admits their ports, SSH and ICMP from members of the
    front end's group only. Only the front end gets a floating IP.
    """

    vms: Mapping[str, Vm]
    """Each role's VM."""
    placements: Mapping[str, Placement]
    """Each role's sub-network (the same for all, or the front end's and the operators')."""
    key_pair: pulumi.Input[str]
    """The Nova key pair of every VM."""
    external_network: str
    """The public network the front end's floating IP comes from."""
    access_cidr: str
    admin_cidr: str
    front_end_group: str
    """The front end's security group's name in Neutron."""
    operator_group: str
    bootstrap: Bootstrap
    cli_env: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    """``OS_*`` variables for the ``openstack`` CLI the snapshots and restores run."""


def bootstrap_spec(
    settings: CalculatorSettings,
    bootstrap: Bootstrap,
    role: str,
    upstream_addresses: Mapping[str, str] | None = None,
) -> BootstrapSpec:
    """What ``role``'s VM runs; the front end's needs the operators' addresses."""
    upstreams = settings.upstream_urls(upstream_addresses) if upstream_addresses else {}
    return BootstrapSpec(
        role=role,
        port=settings.port(role),
        bind_address=settings.bind_address,
        upstreams=upstreams,
        timeout=settings.operator_timeout,
        limits=dict(settings.limits),
        packages=tuple(bootstrap.packages),
        package_update=bootstrap.package_update,
        apt_mirror=bootstrap.apt_mirror,
        files=tuple(bootstrap.files),
    )


def service_user_data(
    settings: CalculatorSettings,
    bootstrap: Bootstrap,
    role: str,
    upstream_addresses: Mapping[str, str] | None = None,
) -> str:
    """The cloud-init user-data of ``role``'s VM."""
    spec = bootstrap_spec(settings, bootstrap, role, upstream_addresses)
    return render_user_data(spec, bootstrap.package)


@dataclass(frozen=True)
class CalculatorArgs:
    runs_on: OnDocker | OnOpenStack
    """Where the services run: containers on a Docker engine, or VMs on OpenStack."""
    settings: CalculatorSettings = CalculatorSettings()
    """Ports, timeouts and limits of the services."""
