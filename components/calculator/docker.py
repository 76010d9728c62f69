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
from components.docker import (
    ContainerArgs,
    OperatedContainer,
    PortSpec,
    local_address,
    operated_container,
)


def service_container(
    name: str,
    role: str,
    settings: CalculatorSettings,
    docker: OnDocker,
    opts: pulumi.ResourceOptions,
) -> OperatedContainer:
    """``role``'s container, named ``name``: its role as host name, network alias and label; the
    front end's port published; its declared snapshots and restore."""
    labels = {**docker.labels, ROLE_LABEL: role}
    published: tuple[PortSpec, ...] = ()
    if role == FRONT_END:
        where = docker.published
        published = (PortSpec(settings.port(role), where.host_port, where.host_ip),)
    return operated_container(
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
            volumes=docker.volumes,
            restart=docker.restart,
            healthcheck=docker.healthcheck,
            hostname=role,
            labels=labels,
        ),
        docker.snapshots.get(role, ()),
        docker.restores.get(role),
        opts=opts,
    )


def declared_labels(role: str, settings: CalculatorSettings, docker: OnDocker) -> dict[str, str]:
    """What ``role``'s container declares to the policy pack, as labels: its tier, and the front
    end's port when it is published on every address.

    They are the Service's own properties, not the container's labels: the engine cannot change
    a container's labels without replacing it, and a stack deployed before they existed keeps
    its containers."""
    labels = {TIER_LABEL: tier(role)}
    if role == FRONT_END and docker.published.host_ip in WORLD_HOSTS:
        labels[PUBLIC_LABEL] = public_label([(settings.port(role), "tcp")])
    return labels


def published_url(docker: OnDocker) -> str:
    """The front end's URL for a client on the engine's host."""
    where = docker.published
    return service_url(local_address(where.host_ip), where.host_port)
