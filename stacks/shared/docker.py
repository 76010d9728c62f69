"""Config models shared by the Docker labs (``dev``, ``docker-basics``), what they decide from
them, and the builder of a container with its snapshots and restore; their scalar types (image
references, container names, durations, users, platforms) are in :mod:`stacks.shared.types`."""

from __future__ import annotations

import platform
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import ClassVar

import pulumi

from components.docker import (
    RESTORE_LABEL,
    Container,
    ContainerArgs,
    Restore,
    RestoreArgs,
    Snapshot,
    SnapshotArgs,
    engine_platform,
)
from stacks.shared.config import provider_value
from stacks.shared.errors import Problem
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


class DockerMachine(Snapshotted):
    """A container of a Docker lab: its snapshots are images, a restore re-creates it."""

    PLATFORM: ClassVar[MachinePlatform] = "docker"
    name: HostLabel
    """The container's name, and its host name."""

    @check
    def _snapshot_repository(self) -> Iterator[Problem]:
        if not self.snapshots:
            return
        try:
            parse_image_ref(snapshot_image(self.name, "x"))
        except ValueError:
            yield Problem(
                ("name",),
                "a container with snapshots needs a name that is also an image repository "
                "(lowercase letters and digits, single '.', '_' or '-' between them)",
                self.name,
            )


def snapshot_image(container: str, snapshot: str) -> str:
    """The image of a container's snapshot: ``cloudlabs-snapshot/<container>:<snapshot>``."""
    return f"cloudlabs-snapshot/{container}:{snapshot}"


def restore_image(container: str) -> str:
    """The tag a restored container runs from."""
    return f"cloudlabs-restore/{container}:latest"


@dataclass(frozen=True)
class OperatedContainer:
    """A container with its declared snapshots and restore."""

    container: Container
    snapshots: dict[str, Snapshot]
    """Each declared snapshot, by name."""
    restore: Restore | None
    """The restore, when one is declared."""

    def snapshot_ids(self) -> pulumi.Output[dict[str, str]]:
        """Each snapshot's image id, by name (an output of the stack)."""
        return pulumi.Output.all(**{k: s.image_id for k, s in self.snapshots.items()})


def operated_container(name: str, args: ContainerArgs, machine: DockerMachine) -> OperatedContainer:
    """The container ``args`` describes, restored and snapshotted as ``machine`` declares.

    A restore makes it run the snapshot's image, labelled with the generation: a larger one
    re-creates it. Each snapshot commits it once (``name-snapshot-<snapshot>``).
    """
    restore = None
    if machine.restore is not None:
        restore = Restore(
            f"{name}-restore",
            RestoreArgs(
                container_name=machine.name,
                snapshot=machine.restore.snapshot,
                snapshot_image=snapshot_image(machine.name, machine.restore.snapshot),
                restore_image=restore_image(machine.name),
                generation=machine.restore.generation,
            ),
        )
        labels = {**args.labels, RESTORE_LABEL: restore.label}
        args = replace(args, image=restore.image_id, labels=labels)
    container = Container(name, args)
    snapshots = {
        snap.name: Snapshot(
            f"{name}-snapshot-{snap.name}",
            SnapshotArgs(
                container_name=container.container_name,
                container_id=container.container_id,
                image_name=snapshot_image(machine.name, snap.name),
                description=snap.description,
                live=snap.live,
                definition=snap.definition(),
            ),
        )
        for snap in machine.snapshots
    }
    return OperatedContainer(container, snapshots, restore)


def export_operations(containers: dict[str, OperatedContainer]) -> None:
    """``snapshots`` (each container's snapshot image ids) and ``restored`` (what each restored
    container was last restored to), for the containers that declare them."""
    pulumi.export("snapshots", {k: c.snapshot_ids() for k, c in containers.items() if c.snapshots})
    pulumi.export("restored", {k: c.restore.restored for k, c in containers.items() if c.restore})
