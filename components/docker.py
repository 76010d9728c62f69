"""Docker building blocks: a user-defined network, a locally built image, a service container,
a snapshot of a container committed to an image, and the restore of a container from one.

The image is built by the engine from a Dockerfile (``docker.Image`` with ``skip_push``: it stays
on the local engine, no registry involved) with BuildKit, through the engine's API: BuildKit runs
its steps without containers and keeps its cache outside the image store, so a build leaves no
intermediate container or image behind (pulumi-docker's classic-builder request does not ask
the engine to remove them). ``scripts/docker/image.sh delete`` removes the image on
``destroy``, which the provider does not do. Containers carry fixed names, so each one is deleted
before it is replaced: a replacement never collides with its predecessor's name or published
port ("port is already allocated"). The snapshot runs ``scripts/docker/snapshot.sh`` through
pulumi-command; its delete removes the image. A restore (``scripts/docker/restore.sh``) tags a
snapshot image for the container, which is re-created from it.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cache

import pulumi
import pulumi_docker as docker

from components.children import child_options
from components.hostexec import Host, run_script
from components.operations import RestoreSpec, SnapshotSpec

ENGINE = Host()
"""The Docker engine's host: this machine (the CLI talks to the engine)."""


BUILDKIT = "BuilderBuildKit"
"""The builder every image is built with (pulumi-docker's name for BuildKit)."""

_ENGINE_PLATFORM = re.compile(r"^[a-z0-9]+/[a-z0-9_]+$")


@cache
def engine_platform(docker_host: str | None = None) -> str | None:
    """The engine's own platform (``linux/amd64``), as ``docker version`` reports it; None when
    no engine answers (none running, no docker CLI, an unreachable ``docker_host``).

    ``docker_host`` is the engine's address as the provider has it (``DOCKER_HOST``); None =
    the CLI's own default."""
    env = dict(os.environ)
    if docker_host:
        env["DOCKER_HOST"] = docker_host
    try:
        answer = subprocess.run(
            ["docker", "version", "--format", "{{.Server.Os}}/{{.Server.Arch}}"],
            capture_output=True,
            text=True,
            timeout=20,
            env=env,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    platform = answer.stdout.strip()
    if answer.returncode != 0 or not _ENGINE_PLATFORM.match(platform):
        return None
    return platform


def local_address(host_ip: str) -> str:
    """The address a client on this machine dials for a port published on ``host_ip``: the
    address itself, or loopback for a port published on every address (``0.0.0.0``)."""
    return "127.0.0.1" if host_ip == "0.0.0.0" else host_ip


def _first_ip(datas: Sequence[object] | None) -> str:
    """The address in the first network entry the engine reports for a container."""
    if not datas:
        return ""
    first = datas[0]
    value = (
        first.get("ip_address") if isinstance(first, Mapping) else getattr(first, "ip_address", "")
    )
    return str(value or "")


def _labels(labels: Mapping[str, str]) -> list[docker.ContainerLabelArgs]:
    return [docker.ContainerLabelArgs(label=k, value=v) for k, v in sorted(labels.items())]


@dataclass(frozen=True)
class NetworkArgs:
    network_name: str
    """The network's name on the engine; containers on it resolve each other by name."""
    internal: bool = False
    """True: no route out of the network (containers reach only each other)."""
    labels: Mapping[str, str] = field(default_factory=dict)
    """Labels set on the network."""


class Network(pulumi.ComponentResource):
    """A user-defined bridge network (the engine's DNS resolves container names on it)."""

    network_name: pulumi.Output[str]
    """The network's name, to attach containers to."""
    network_id: pulumi.Output[str]
    """The engine's id of the network."""

    def __init__(
        self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("cloudlabs:docker:Network", name, None, opts)
        network = docker.Network(
            f"{name}-network",
            name=args.network_name,
            driver="bridge",
            internal=args.internal,
            labels=[docker.NetworkLabelArgs(label=k, value=v) for k, v in args.labels.items()],
            opts=child_options(self, opts),
        )
        self.network_name = network.name
        self.network_id = network.id
        self.register_outputs({"network_name": self.network_name, "network_id": self.network_id})


@dataclass(frozen=True)
class ImageArgs:
    image_name: str
    """The local tag given to the image (``repository:tag``)."""
    context: str
    """The build context directory (relative to the project's root, where Pulumi runs)."""
    dockerfile: str
    """The Dockerfile, relative to the project's root like the docker CLI's ``-f``."""
    platform: str
    """Target platform (``linux/amd64``), given explicitly: the provider warns on every
    preview and update when it has to pick one itself."""
    build_args: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    """Build arguments (``ARG`` values such as ``BASE_IMAGE``)."""
    target: str | None = None
    """The Dockerfile's stage to build (``FROM ... AS <target>``); None = its last."""


class Image(pulumi.ComponentResource):
    """An image built by the local engine from a Dockerfile, kept locally (never pushed)."""

    image_name: pulumi.Output[str]
    """The image's local tag."""
    image_ref: pulumi.Output[str]
    """What containers should run: the built image's id when the engine reports one (so a
    rebuilt image replaces its containers), else its tag."""

    def __init__(
        self, name: str, args: ImageArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("cloudlabs:docker:Image", name, None, opts)
        image = docker.Image(
            f"{name}-image",
            image_name=args.image_name,
            skip_push=True,
            build=docker.DockerBuildArgs(
                context=args.context,
                dockerfile=args.dockerfile,
                args=dict(args.build_args),
                platform=args.platform,
                builder_version=BUILDKIT,
                target=args.target,
            ),
            opts=child_options(self, opts),
        )
        # The provider keeps built images on `destroy`: this command's delete removes the tag.
        # Containers run ``image_ref``, which depends on it, so they are deleted before it.
        # A new tag replaces the command (an update would only re-run ``create``), so the old
        # command's delete removes the old tag.
        cleanup = run_script(
            f"{name}-cleanup",
            ENGINE,
            "docker/image.sh",
            {"IMAGE": image.image_name},
            triggers=[image.image_name],
            opts=child_options(self, opts),
        )
        self.image_name = image.image_name
        self.image_ref = pulumi.Output.all(image.repo_digest, image.image_name, cleanup.id).apply(
            lambda values: str(values[0] or values[1])
        )
        self.register_outputs({"image_name": self.image_name, "image_ref": self.image_ref})


@dataclass(frozen=True)
class PortSpec:
    internal: int
    """The port inside the container."""
    external: int
    """The port published on the host."""
    host_ip: str = "127.0.0.1"
    """The host address the port is published on."""
    protocol: str = "tcp"


@dataclass(frozen=True)
class HealthcheckSpec:
    test: Sequence[str]
    """The check, exec form: ``["CMD", "program", "arg"...]``."""
    interval: str = "10s"
    timeout: str = "3s"
    retries: int = 3
    start_period: str = "5s"


@dataclass(frozen=True)
class ContainerArgs:
    container_name: str
    """The container's name on the engine (also its DNS name on user-defined networks)."""
    image: pulumi.Input[str]
    """The image to run (tag or id)."""
    env: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    """Environment variables."""
    command: Sequence[str] | None = None
    """Overrides the image's CMD; None = the image's own."""
    network: pulumi.Input[str] | None = None
    """A user-defined network to join; None = the engine's default bridge."""
    aliases: Sequence[str] = ()
    """Extra DNS names on ``network``."""
    ports: Sequence[PortSpec] = ()
    """Ports published on the host (none by default)."""
    user: str | None = None
    """``uid:gid`` (or name) to run as; None = the image's USER."""
    read_only: bool = False
    """Mount the root filesystem read-only."""
    tmpfs: Mapping[str, str] = field(default_factory=dict)
    """In-memory mounts (path to mount options), writable even with a read-only root."""
    volumes: Sequence[str] = ()
    """Paths given an anonymous volume each (disk-backed, writable even with a read-only
    root; removed with the container)."""
    restart: str = "unless-stopped"
    """Restart policy: no, on-failure, always or unless-stopped."""
    healthcheck: HealthcheckSpec | None = None
    """Health check run by the engine; None = the image's HEALTHCHECK."""
    hostname: str | None = None
    """The container's hostname; None = the engine's default."""
    labels: Mapping[str, str] = field(default_factory=dict)
    """Labels set on the container."""


class Container(pulumi.ComponentResource):
    """A long-running container, deleted before it is replaced (fixed name, published ports)."""

    container_id: pulumi.Output[str]
    """The engine's id of the container."""
    container_name: pulumi.Output[str]
    """The container's name."""
    ip_address: pulumi.Output[str]
    """The container's address on its (first) network."""

    def __init__(
        self, name: str, args: ContainerArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("cloudlabs:docker:Container", name, None, opts)
        health = None
        if args.healthcheck is not None:
            check = args.healthcheck
            health = docker.ContainerHealthcheckArgs(
                tests=list(check.test),
                interval=check.interval,
                timeout=check.timeout,
                retries=check.retries,
                start_period=check.start_period,
            )
        networks = None
        if args.network is not None:
            networks = [
                docker.ContainerNetworksAdvancedArgs(
                    name=args.network, aliases=list(args.aliases) or None
                )
            ]
        container = docker.Container(
            f"{name}-container",
            name=args.container_name,
            image=args.image,
            envs=[pulumi.Output.concat(k, "=", v) for k, v in sorted(args.env.items())],
            command=list(args.command) if args.command is not None else None,
            networks_advanced=networks,
            ports=[
                docker.ContainerPortArgs(
                    internal=p.internal, external=p.external, ip=p.host_ip, protocol=p.protocol
                )
                for p in args.ports
            ],
            user=args.user,
            read_only=args.read_only,
            tmpfs=dict(args.tmpfs) or None,
            volumes=[docker.ContainerVolumeArgs(container_path=p) for p in args.volumes] or None,
            restart=args.restart,
            healthcheck=health,
            hostname=args.hostname,
            labels=_labels(args.labels),
            must_run=True,
            opts=child_options(self, opts, delete_before_replace=True),
        )
        self.container_id = container.id
        self.container_name = container.name
        self.ip_address = container.network_datas.apply(_first_ip)
        self.register_outputs(
            {
                "container_id": self.container_id,
                "container_name": self.container_name,
                "ip_address": self.ip_address,
            }
        )


@dataclass(frozen=True)
class SnapshotArgs:
    container_name: pulumi.Input[str]
    """The container to commit."""
    container_id: pulumi.Input[str]
    """Its id: without a ``definition``, a new container (a replacement) means a new
    snapshot."""
    image_name: str
    """The ``repository:tag`` given to the snapshot image."""
    prepare: str | None = None
    """Shell command run inside the container before the commit (what the snapshot must
    hold, e.g. a package installed by hand); None = commit as is."""
    prepare_env: Mapping[str, str] = field(default_factory=dict)
    """Its environment: the package mirror (``APT_MIRROR``, ``APT_MIRROR_KEY``,
    ``APT_MIRROR_TRUSTED``, the names ``scripts/docker/snapshot.sh`` passes on)."""
    description: str = ""
    """The commit message."""
    live: bool = False
    """Commit without pausing the container (``docker commit --pause=false``)."""
    definition: str | None = None
    """A declared snapshot's definition (:meth:`SnapshotConfig.definition`): the snapshot is
    taken once, never again for a new container; a changed definition replaces the resource,
    and its create refuses an image of the same tag taken with another definition."""


class Snapshot(pulumi.ComponentResource):
    """``docker commit`` of a container into an image; ``destroy`` removes the image."""

    image_id: pulumi.Output[str]
    """The snapshot image's id (``sha256:...``)."""
    image_name: pulumi.Output[str]
    """The snapshot image's tag."""

    def __init__(
        self, name: str, args: SnapshotArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("cloudlabs:docker:Snapshot", name, None, opts)
        environment: dict[str, pulumi.Input[str]] = {
            "CONTAINER": args.container_name,
            "IMAGE": args.image_name,
        }
        if args.prepare:
            environment["PREPARE"] = args.prepare
            environment.update(args.prepare_env)
        triggers: list[pulumi.Input[str]] = [
            args.container_id,
            args.image_name,
            args.prepare or "",
            *(f"{k}={v}" for k, v in sorted(args.prepare_env.items())),
        ]
        if args.definition is not None:
            environment |= {
                "DEFINITION": args.definition,
                "DESCRIPTION": args.description,
                "LIVE": "1" if args.live else "0",
            }
            triggers = [args.image_name, args.definition]
        commit = run_script(
            f"{name}-commit",
            ENGINE,
            "docker/snapshot.sh",
            environment,
            triggers=triggers,
            # Its delete removes the image the create printed, not what the tag points at.
            previous_output=True,
            # A declared snapshot is replaced create-first: the old image stays until the new
            # create succeeded, which it does not for a changed definition under the same tag.
            opts=child_options(self, opts, delete_before_replace=args.definition is None),
        )
        self.image_id = commit.stdout.apply(lambda out: out.strip())
        self.image_name = pulumi.Output.from_input(args.image_name)
        self.register_outputs({"image_id": self.image_id, "image_name": self.image_name})


@dataclass(frozen=True)
class RestoreArgs:
    container_name: str
    """The container re-created from the snapshot."""
    snapshot: str
    """The snapshot's name."""
    snapshot_image: str
    """Its image (``repository:tag``), taken by an earlier ``up``."""
    restore_image: str
    """The tag the restored container runs from (kept until the restore is removed)."""
    generation: int
    """The restore's generation: a larger one restores again, a smaller one is refused."""


RESTORE_LABEL = "org.cloudlabs.restore-generation"
"""The label of a restored container: the generation it was re-created for."""


class Restore(pulumi.ComponentResource):
    """The image a container is re-created from: a snapshot's, tagged for the restore.

    The container runs :attr:`image_id` and carries the generation as :data:`RESTORE_LABEL`,
    so a new generation re-creates it. The command reads the label of the container as the
    previous ``up`` left it and refuses a smaller generation before the container is touched.
    """

    image_id: pulumi.Output[str]
    """The snapshot image's id, for the container's ``image``."""
    restored: pulumi.Output[str]
    """``<snapshot>@<generation>``: what the container was last restored to."""
    label: str
    """The value of the container's :data:`RESTORE_LABEL`: a new generation re-creates it."""

    def __init__(
        self, name: str, args: RestoreArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("cloudlabs:docker:Restore", name, None, opts)
        tag = run_script(
            f"{name}-tag",
            ENGINE,
            "docker/restore.sh",
            {
                "CONTAINER": args.container_name,
                "SNAPSHOT": args.snapshot,
                "SNAPSHOT_IMAGE": args.snapshot_image,
                "RESTORE_IMAGE": args.restore_image,
                "GENERATION": str(args.generation),
            },
            update=True,
            opts=child_options(self, opts),
        )
        self.image_id = tag.stdout.apply(lambda out: out.strip())
        self.restored = tag.stdout.apply(lambda _: f"{args.snapshot}@{args.generation}")
        self.label = str(args.generation)
        self.register_outputs({"image_id": self.image_id, "restored": self.restored})


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


def operated_container(
    name: str,
    args: ContainerArgs,
    snapshots: Sequence[SnapshotSpec] = (),
    restore: RestoreSpec | None = None,
    opts: pulumi.ResourceOptions | None = None,
) -> OperatedContainer:
    """The container ``args`` describes, with its declared snapshots and restore.

    A restore (``<name>-restore``) makes it run the snapshot's image, labelled with the
    generation: a larger one re-creates it. Each snapshot commits it once
    (``<name>-snapshot-<snapshot>``). ``opts`` are the container's; the snapshots and the
    restore share its parent only (not its aliases).
    """
    siblings = pulumi.ResourceOptions(parent=opts.parent) if opts is not None else None
    restorer = None
    if restore is not None:
        restorer = Restore(
            f"{name}-restore",
            RestoreArgs(
                container_name=args.container_name,
                snapshot=restore.snapshot,
                snapshot_image=snapshot_image(args.container_name, restore.snapshot),
                restore_image=restore_image(args.container_name),
                generation=restore.generation,
            ),
            opts=siblings,
        )
        labels = {**args.labels, RESTORE_LABEL: restorer.label}
        args = replace(args, image=restorer.image_id, labels=labels)
    container = Container(name, args, opts=opts)
    taken = {
        snap.name: Snapshot(
            f"{name}-snapshot-{snap.name}",
            SnapshotArgs(
                container_name=container.container_name,
                container_id=container.container_id,
                image_name=snapshot_image(args.container_name, snap.name),
                description=snap.description,
                live=snap.live,
                definition=snap.definition,
            ),
            opts=siblings,
        )
        for snap in snapshots
    }
    return OperatedContainer(container, taken, restorer)
