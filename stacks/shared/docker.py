"""Config models shared by the Docker labs (``dev``, ``docker-basics``), what they decide from
them, and the builder of a container with its snapshots and restore; their scalar types (image
references, container names, durations, users, platforms) are in :mod:`stacks.shared.types`."""

from __future__ import annotations

import platform
from collections.abc import Iterator
from typing import ClassVar

import pulumi

from components.docker import (
    ContainerArgs,
    OperatedContainer,
    engine_platform,
    snapshot_image,
)
from components.docker import operated_container as docker_operated
from stacks.shared.config import provider_value
from stacks.shared.errors import KeyPath, Problem
from stacks.shared.operations import MachinePlatform, Snapshotted
from stacks.shared.types import BuilderVersion, HostLabel, Platform, parse_image_ref
from stacks.shared.validation import LabModel, check

_MACHINES = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}


class BuildConfig(LabModel):
    """How the engine builds the lab's images."""

    platform: Platform | None = None
    """Target platform such as ``linux/amd64``; unset = the engine's own."""
    builder_version: BuilderVersion = "BuilderBuildKit"
    """BuildKit, through the engine's API (built into the engine since Docker 18.09; no buildx
    needed): its builds leave no container or image behind."""


def local_platform() -> str:
    """This machine's platform, as the engine would name it (``linux/amd64``)."""
    machine = platform.machine().lower()
    return f"linux/{_MACHINES.get(machine, machine)}"


def build_platform(build: BuildConfig) -> str:
    """The platform the lab's images are built for: ``build.platform``, else the engine's own
    (``docker version``, at the address the provider uses: ``docker:host``, ``DOCKER_HOST``).
    When no engine answers, this machine's platform, with a warning naming the key."""
    if build.platform:
        return build.platform
    found = engine_platform(provider_value("docker", "host"))
    if found:
        return found
    fallback = local_platform()
    pulumi.log.warn(
        f"the Docker engine does not answer `docker version`: images are built for {fallback} "
        "(this machine's platform); set build.platform to choose another"
    )
    return fallback


class DockerOperations(Snapshotted):
    """The snapshots and restore of a container: its snapshots are images, a restore
    re-creates it."""

    PLATFORM: ClassVar[MachinePlatform] = "docker"


class DockerMachine(DockerOperations):
    """A container of a Docker lab, named in config, with its snapshots and restore."""

    name: HostLabel
    """The container's name, and its host name."""

    @check
    def _snapshot_repository(self) -> Iterator[Problem]:
        if self.snapshots:
            yield from repository_problems(self.name, ("name",))


def repository_problems(container: str, at: KeyPath) -> Iterator[Problem]:
    """The container's name is also an image repository (its snapshots' images are named
    after it, :func:`components.docker.snapshot_image`)."""
    try:
        parse_image_ref(snapshot_image(container, "x"))
    except ValueError:
        yield Problem(
            at,
            "a container with snapshots needs a name that is also an image repository "
            "(lowercase letters and digits, single '.', '_' or '-' between them)",
            container,
        )


def operated_container(name: str, args: ContainerArgs, machine: Snapshotted) -> OperatedContainer:
    """The container ``args`` describes, restored and snapshotted as ``machine`` declares
    (:func:`components.docker.operated_container`)."""
    return docker_operated(name, args, machine.snapshot_specs(), machine.restore_spec())


def export_operations(containers: dict[str, OperatedContainer]) -> None:
    """``snapshots`` (each container's snapshot image ids) and ``restored`` (what each restored
    container was last restored to), for the containers that declare them."""
    pulumi.export("snapshots", {k: c.snapshot_ids() for k, c in containers.items() if c.snapshots})
    pulumi.export("restored", {k: c.restore.restored for k, c in containers.items() if c.restore})
