"""Config models shared by the Docker labs (``dev``, ``docker-basics``) and what they decide
from them; their scalar types (image references, container names, durations, users, platforms)
are in :mod:`stacks.shared.types`."""

from __future__ import annotations

import platform

import pulumi

from components.docker import engine_platform
from stacks.shared.config import provider_value
from stacks.shared.types import BuilderVersion, Platform
from stacks.shared.validation import LabModel

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
