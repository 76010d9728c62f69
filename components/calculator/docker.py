"""The calculator's services as containers on a Docker engine (imported only by labs that run
it there, with the Docker SDK)."""

from __future__ import annotations

import pulumi

from components.calculator.spec import CalculatorSettings, OnDocker, docker_environment, tier
from components.calculator_bootstrap import FRONT_END, service_url
from components.declarations import (
    PUBLIC_LABEL,
    ROLE_LABEL,
    TIER_LABEL,
    WORLD_HOSTS,
    public_label,
)
from components.docker import Container, ContainerArgs, PortSpec, local_address


def service_container(
    name: str,
    role: str,
    settings: CalculatorSettings,
    docker: OnDocker,
    opts: pulumi.ResourceOptions,
) -> Container:
    """``role``'s container, named ``name``: its role as host name and network alias, its role
    and tier labels; the front end's port published, with a public label when on every
    address."""
    labels = {**docker.labels, ROLE_LABEL: role, TIER_LABEL: tier(role)}
    published: tuple[PortSpec, ...] = ()
    if role == FRONT_END:
        where = docker.published
        port = settings.port(role)
        published = (PortSpec(port, where.host_port, where.host_ip),)
        if where.host_ip in WORLD_HOSTS:
            labels[PUBLIC_LABEL] = public_label([(port, "tcp")])
    return Container(
        name,
        ContainerArgs(
            container_name=docker.container_names[role],
            image=docker.image,
            env=docker_environment(settings, docker, role),
            network=docker.network,
            aliases=(role,),
            ports=published,
            user=docker.user,
            read_only=docker.read_only,
            tmpfs=docker.tmpfs,
            restart=docker.restart,
            healthcheck=docker.healthcheck,
            hostname=role,
            labels=labels,
        ),
        opts=opts,
    )


def published_url(docker: OnDocker) -> str:
    """The front end's URL for a client on the engine's host."""
    where = docker.published
    return service_url(local_address(where.host_ip), where.host_port)
