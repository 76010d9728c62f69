"""dev: the calculator as five containers on the local Docker engine (the default stack).

One image, built by the engine from ``calculator/Dockerfile`` with the base image from config,
runs every role (``CALC_ROLE``). The five containers share one user-defined network and reach
each other by container name; only the front end publishes a port on the host.
"""

from __future__ import annotations

from collections.abc import Iterator
from ipaddress import IPv4Address

import pulumi
from pydantic import Field

from calculator.config import DEFAULT_PORTS, ROLES
from components.calculator import (
    Calculator,
    CalculatorArgs,
    CalculatorSettings,
    OnDocker,
    Published,
)
from components.calculator_bootstrap import FRONT_END
from components.docker import HealthcheckSpec, Image, ImageArgs, Network, NetworkArgs
from stacks.shared.benchmark import BenchmarkConfig, suite_layer
from stacks.shared.calculator import Limits, limit_problems, limit_values
from stacks.shared.catalogue import Lab
from stacks.shared.docker import (
    BuildConfig,
    DockerOperations,
    build_platform,
    export_operations,
    repository_problems,
)
from stacks.shared.errors import Problem
from stacks.shared.types import (
    ContainerName,
    Duration,
    ImageRef,
    IPv4,
    NonRootUser,
    Port,
    RestartPolicy,
)
from stacks.shared.validation import LabModel, check

CONTEXT = "calculator"
"""The build context: the calculator package (relative to the project's root)."""
DOCKERFILE = "calculator/Dockerfile"
HEALTHCHECK = ("CMD", "python3", "-m", "calculator", "healthcheck")
"""Run inside each container; the subcommand finds the service from CALC_ROLE/CALC_PORT."""
LAB_LABEL = "org.cloudlabs.lab"


class PublishConfig(LabModel):
    """Where the front end is published on the host."""

    host_ip: IPv4 = IPv4Address("127.0.0.1")
    """The host address; 127.0.0.1 keeps the calculator private to this machine."""
    host_port: Port = DEFAULT_PORTS[FRONT_END]


class HealthcheckConfig(LabModel):
    """How often the engine checks each service's ``/healthz``."""

    interval: Duration = "10s"
    timeout: Duration = "3s"
    retries: int = Field(3, ge=1, le=100)
    start_period: Duration = "5s"


class ContainersConfig(LabModel):
    """Each role's container: its snapshots and restore."""

    calculator: DockerOperations = DockerOperations()
    sum: DockerOperations = DockerOperations()
    sub: DockerOperations = DockerOperations()
    mul: DockerOperations = DockerOperations()
    div: DockerOperations = DockerOperations()

    def of(self, role: str) -> DockerOperations:
        container: DockerOperations = getattr(self, role)
        return container


class DevConfig(LabModel):
    """Config of the ``dev`` lab (keys of ``Pulumi.<stack>.yaml``)."""

    base_image: ImageRef = "python:3.12-slim"
    """The image the calculator image is built FROM (build argument BASE_IMAGE)."""
    image: ImageRef = "cloudlabs/calculator:dev"
    """The local tag of the calculator image."""
    build: BuildConfig = BuildConfig()
    network: ContainerName = "cloudlabs-dev"
    """The user-defined network the five containers share."""
    container_prefix: ContainerName = "cloudlabs-dev"
    """Containers are named ``<prefix>-<role>``: cloudlabs-dev-calculator, cloudlabs-dev-sum..."""
    ports: dict[str, int] = {}
    """Port of each role inside its container; roles left out keep 50000-50004."""
    publish: PublishConfig = PublishConfig()
    restart: RestartPolicy = "unless-stopped"
    user: NonRootUser = "10001:10001"
    """The non-root ``uid:gid`` every service runs as."""
    read_only: bool = True
    """Read-only root filesystems (the services write nothing; /tmp is an in-memory mount)."""
    operator_timeout: float = 5.0
    """Seconds the front end waits for one operator call (CALC_TIMEOUT)."""
    healthcheck: HealthcheckConfig = HealthcheckConfig()
    limits: Limits = {}
    """Further settings of every service, by the calculator's variable name (CALC_MAX_BODY...)."""
    containers: ContainersConfig = ContainersConfig()
    """Snapshots and restore of each role's container."""
    benchmark: BenchmarkConfig = BenchmarkConfig()
    """The suite as a layer on the calculator image: every service's container runs it."""

    @check
    def _limits(self) -> Iterator[Problem]:
        yield from limit_problems(self.limits)

    @check
    def _snapshot_repositories(self) -> Iterator[Problem]:
        for role in ROLES:
            if self.containers.of(role).snapshots:
                yield from repository_problems(self.container_name(role), ("containerPrefix",))

    @check
    def _roles_and_ports(self) -> Iterator[Problem]:
        # Checked here rather than by the field's type, so that one port out of range does
        # not hide the other roles' problems.
        used: dict[int, str] = {}
        for role, port in self.ports.items():
            if role not in ROLES:
                yield Problem(
                    ("ports", role), f"unknown role; expected one of {', '.join(ROLES)}", role
                )
            elif not 1 <= port <= 65535:
                yield Problem(("ports", role), "expected a port between 1 and 65535", port)
        for role in ROLES:
            port = self.service_port(role)
            if not 1 <= port <= 65535:
                continue
            if port in used:
                yield Problem(
                    ("ports", role), f"port {port} is already the port of {used[port]}", port
                )
            else:
                used[port] = role

    @check
    def _timeout(self) -> Iterator[Problem]:
        if not 0 < self.operator_timeout <= 300:
            yield Problem(
                ("operatorTimeout",), "expected seconds in (0, 300]", self.operator_timeout
            )

    def service_port(self, role: str) -> int:
        return self.ports.get(role, DEFAULT_PORTS[role])

    def container_name(self, role: str) -> str:
        return f"{self.container_prefix}-{role}"


def calculator_settings(config: DevConfig) -> CalculatorSettings:
    """What every service is told: its port, the operator timeout, the limits."""
    return CalculatorSettings(
        ports={role: config.service_port(role) for role in ROLES},
        operator_timeout=config.operator_timeout,
        limits=limit_values(config.limits),
    )


def operator_urls(config: DevConfig) -> dict[str, str]:
    """The URL the front end calls each operator at (its container name on the network)."""
    return calculator_settings(config).upstream_urls(
        {role: config.container_name(role) for role in ROLES}
    )


BENCH_DIRECTORY = "/var/tmp"
"""Where the suite's fio writes (``python -m bench run --dir``): with ``benchmark.enabled`` and a
read-only root, a volume of its own (disk-backed, unlike /tmp)."""


def calculator_args(
    config: DevConfig, image: pulumi.Input[str], network: Network
) -> CalculatorArgs:
    """Where dev's calculator runs (the engine, ``network``, ``image``) and its settings."""
    health = config.healthcheck
    bench_volume = config.benchmark.enabled and config.read_only
    return CalculatorArgs(
        runs_on=OnDocker(
            image=image,
            network=network.network_name,
            container_names={role: config.container_name(role) for role in ROLES},
            published=Published(str(config.publish.host_ip), config.publish.host_port),
            user=config.user,
            read_only=config.read_only,
            tmpfs={"/tmp": "rw,noexec,nosuid,size=16m"} if config.read_only else {},
            volumes=(BENCH_DIRECTORY,) if bench_volume else (),
            restart=config.restart,
            healthcheck=HealthcheckSpec(
                test=HEALTHCHECK,
                interval=health.interval,
                timeout=health.timeout,
                retries=health.retries,
                start_period=health.start_period,
            ),
            labels={LAB_LABEL: "dev"},
            snapshots={role: config.containers.of(role).snapshot_specs() for role in ROLES},
            restores={
                role: spec
                for role in ROLES
                if (spec := config.containers.of(role).restore_spec()) is not None
            },
        ),
        settings=calculator_settings(config),
    )


def build(config: DevConfig) -> None:
    labels = {LAB_LABEL: "dev"}
    network = Network("dev-net", NetworkArgs(network_name=config.network, labels=labels))
    platform = build_platform(config.build)
    image = Image(
        "dev-calculator",
        ImageArgs(
            image_name=config.image,
            context=CONTEXT,
            dockerfile=DOCKERFILE,
            build_args={"BASE_IMAGE": config.base_image},
            platform=platform,
        ),
    )
    runs = suite_layer(
        "dev-calculator", config.benchmark, image, config.image, DOCKERFILE, platform
    )
    calc = Calculator("dev", calculator_args(config, runs, network))
    pulumi.export("url", calc.url)
    pulumi.export("curlCommand", calc.curl_command)
    pulumi.export("network", network.network_name)
    pulumi.export(
        "containers",
        {role: s.container.container_name for role, s in calc.services.items() if s.container},
    )
    export_operations({role: s.operated for role, s in calc.services.items() if s.operated})


LAB = Lab(config=DevConfig, build=build)
