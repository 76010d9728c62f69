"""docker-basics: containers on the local Docker engine (docs/labs.md#docker-basics).

``ct1`` is a plain long-running container; ``ct2`` runs an SSH server published on the host
(2223 -> 22); a snapshot of ``ct2`` is committed to an image (``docker commit``, after the
preparation command installed something in ``ct2``) and ``ct3`` runs from that snapshot; the
"nano" recipe image is built from a Dockerfile. Every image is built FROM the configured base
image, so a machine without a registry can use a local one, and installs its packages from the
configured package mirror (``aptMirror``), so a machine without Internet can use a local one.
"""

from __future__ import annotations

from collections.abc import Iterator
from ipaddress import IPv4Address

import pulumi

from components.docker import (
    ContainerArgs,
    Image,
    ImageArgs,
    PortSpec,
    Snapshot,
    SnapshotArgs,
    local_address,
)
from components.hostexec import ssh_command
from stacks.shared.benchmark import BenchmarkConfig, suite_layer
from stacks.shared.catalogue import Lab
from stacks.shared.docker import (
    BuildConfig,
    DockerMachine,
    build_platform,
    export_operations,
    operated_container,
)
from stacks.shared.errors import Problem
from stacks.shared.mirror import PackageMirrorSetting, mirror_variables
from stacks.shared.types import (
    HostLabel,
    ImageRef,
    IPv4,
    Port,
    RestartPolicy,
    ShellCommand,
    SshPublicKey,
)
from stacks.shared.validation import LabModel, check

RECIPES = "docker"
"""The recipes' build context, relative to the project's root: each recipe is
``docker/<recipe>/Dockerfile``; ``docker/apt-update.sh`` is what they install packages with."""
PREPARE = (
    "cloudlabs-apt-update && DEBIAN_FRONTEND=noninteractive "
    "apt-get install -y --no-install-recommends nano"
)
"""The snapshot's default preparation: nano installed by hand in ct2, from the package mirror
(``cloudlabs-apt-update``, which the ssh recipe installs, fails when the index cannot be
fetched)."""
LAB_LABEL = "org.cloudlabs.lab"


class ImagesConfig(LabModel):
    """Local tags of the images the lab builds."""

    plain: ImageRef = "cloudlabs/basics-plain:latest"
    """The base image as is, running ``sleep infinity`` (ct1)."""
    ssh: ImageRef = "cloudlabs/basics-ssh:latest"
    """The base image with an OpenSSH server (ct2)."""
    nano: ImageRef = "cloudlabs/nano:latest"
    """The recipe image: the base image with nano."""


class ContainerConfig(DockerMachine):
    """A container of the lab (name, declared snapshots, restore)."""


class SshContainerConfig(DockerMachine):
    name: HostLabel = "ct2"
    """The container's name, and its host name."""
    host_ip: IPv4 = IPv4Address("127.0.0.1")
    """Where port 22 is published on the host; 0.0.0.0 makes it reachable from outside."""
    host_port: Port = 2223
    ssh_public_key: SshPublicKey | None = None
    """The key root accepts (``ssh -p 2223 root@...``); unset = no login, sshd still answers."""


class SnapshotConfig(LabModel):
    image: ImageRef = "cloudlabs/ct2-snapshot:latest"
    """The snapshot's ``repository:tag``."""
    prepare: ShellCommand | None = PREPARE
    """Shell command run in ct2 before the commit (the lab installs nano by hand there); it gets
    the package mirror as ``APT_MIRROR``, ``APT_MIRROR_KEY``, ``APT_MIRROR_TRUSTED``."""


class DockerBasicsConfig(LabModel):
    """Config of the ``docker-basics`` lab (keys of ``Pulumi.<stack>.yaml``)."""

    base_image: ImageRef = "ubuntu:24.04"
    """The image every recipe is built FROM (build argument BASE_IMAGE)."""
    apt_mirror: PackageMirrorSetting = None
    """The package mirror of the base image's distribution the recipes and the snapshot's
    preparation install from; omitted = the base image's own sources."""
    build: BuildConfig = BuildConfig()
    images: ImagesConfig = ImagesConfig()
    ct1: ContainerConfig = ContainerConfig(name="ct1")
    ct2: SshContainerConfig = SshContainerConfig()
    snapshot: SnapshotConfig = SnapshotConfig()
    ct3: ContainerConfig = ContainerConfig(name="ct3")
    restart: RestartPolicy = "unless-stopped"
    benchmark: BenchmarkConfig = BenchmarkConfig()
    """The suite as a layer on the plain and ssh images: ct1, ct2 and (through the snapshot of
    ct2) ct3 run it."""

    @check
    def _distinct_names(self) -> Iterator[Problem]:
        seen: dict[str, str] = {}
        for key in ("ct1", "ct2", "ct3"):
            name = getattr(self, key).name
            if name in seen:
                yield Problem((key, "name"), f"already the name of {seen[name]}", name)
            seen.setdefault(name, key)

    @check
    def _distinct_images(self) -> Iterator[Problem]:
        def tagged(ref: str) -> str:
            last = ref.rsplit("/", 1)[-1]
            return ref if ":" in last or "@" in last else f"{ref}:latest"

        seen: dict[str, str] = {}
        for path, ref in (
            (("images", "plain"), self.images.plain),
            (("images", "ssh"), self.images.ssh),
            (("images", "nano"), self.images.nano),
            (("snapshot", "image"), self.snapshot.image),
        ):
            where = ".".join(path)
            if tagged(ref) in seen:
                yield Problem(path, f"already the image of {seen[tagged(ref)]}", ref)
            seen.setdefault(tagged(ref), where)


def _image(name: str, tag: str, recipe: str, config: DockerBasicsConfig, platform: str) -> Image:
    return Image(
        name,
        ImageArgs(
            image_name=tag,
            context=RECIPES,
            dockerfile=_dockerfile(recipe),
            build_args={"BASE_IMAGE": config.base_image, **mirror_variables(config.apt_mirror)},
            platform=platform,
        ),
    )


def _dockerfile(recipe: str) -> str:
    return f"{RECIPES}/{recipe}/Dockerfile"


def _runs(
    name: str, image: Image, tag: str, recipe: str, config: DockerBasicsConfig, platform: str
) -> pulumi.Output[str]:
    """What a container of ``image`` runs: it, or it with the suite's layer."""
    mirror = mirror_variables(config.apt_mirror)
    return suite_layer(name, config.benchmark, image, tag, _dockerfile(recipe), platform, mirror)


def build(config: DockerBasicsConfig) -> None:
    labels = {LAB_LABEL: "docker-basics"}
    platform = build_platform(config.build)
    plain = _image("basics-plain", config.images.plain, "plain", config, platform)
    ssh = _image("basics-ssh", config.images.ssh, "ssh", config, platform)
    nano = _image("basics-nano", config.images.nano, "nano", config, platform)

    ct1 = operated_container(
        "ct1",
        ContainerArgs(
            container_name=config.ct1.name,
            image=_runs("basics-plain", plain, config.images.plain, "plain", config, platform),
            restart=config.restart,
            hostname=config.ct1.name,
            labels=labels,
        ),
        config.ct1,
    )
    ssh_env: dict[str, pulumi.Input[str]] = {}
    if config.ct2.ssh_public_key:
        ssh_env["SSH_AUTHORIZED_KEY"] = config.ct2.ssh_public_key
    ct2 = operated_container(
        "ct2",
        ContainerArgs(
            container_name=config.ct2.name,
            image=_runs("basics-ssh", ssh, config.images.ssh, "ssh", config, platform),
            env=ssh_env,
            ports=(
                PortSpec(
                    internal=22, external=config.ct2.host_port, host_ip=str(config.ct2.host_ip)
                ),
            ),
            restart=config.restart,
            hostname=config.ct2.name,
            labels=labels,
        ),
        config.ct2,
    )
    snapshot = Snapshot(
        "ct2-snapshot",
        SnapshotArgs(
            container_name=ct2.container.container_name,
            container_id=ct2.container.container_id,
            image_name=config.snapshot.image,
            prepare=config.snapshot.prepare,
            prepare_env=mirror_variables(config.apt_mirror),
        ),
    )
    ct3 = operated_container(
        "ct3",
        ContainerArgs(
            container_name=config.ct3.name,
            image=snapshot.image_id,
            env=ssh_env,
            restart=config.restart,
            hostname=config.ct3.name,
            labels=labels,
        ),
        config.ct3,
    )
    containers = {"ct1": ct1, "ct2": ct2, "ct3": ct3}
    host = local_address(str(config.ct2.host_ip))
    pulumi.export("ct1Ip", ct1.container.ip_address)
    pulumi.export("ct2Ip", ct2.container.ip_address)
    pulumi.export("ct3Ip", ct3.container.ip_address)
    pulumi.export("snapshotImageId", snapshot.image_id)
    pulumi.export("snapshotImage", snapshot.image_name)
    pulumi.export("nanoImage", nano.image_name)
    pulumi.export("sshCommand", ssh_command(f"root@{host}", port=config.ct2.host_port))
    export_operations(containers)


LAB = Lab(config=DockerBasicsConfig, build=build)
