"""The benchmark suite on a lab's guests: one config block for every lab with guests.

``benchmark.enabled: true`` gives every guest the suite (``bench/``): the VM labs through
cloud-init (the packages of ``bench/packages.txt``, the runner zip and the ``cloudlabs-bench``
command, :func:`bench.archive.guest_suite`), the Docker labs as an image layer
(:func:`suite_layer`: the stage ``layer`` of ``docker/bench/Dockerfile`` built on top of the
lab's own image, which keeps its user, entrypoint and command). ``scripts/bench.sh <stack>``
then compares them with the host.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from pathlib import Path

import pulumi

from bench.archive import COMMAND, guest_suite, runner_archive
from bench.suite import package_names, packages_text
from components.calculator_bootstrap import USER_DATA_LIMIT, nova_size
from components.docker import Image, ImageArgs
from components.renderers.cloudinit import Files, Packages, render_user_data
from stacks.shared.errors import ConfigError, Problem
from stacks.shared.validation import LabModel


class BenchmarkConfig(LabModel):
    enabled: bool = False
    """Install the benchmark suite (HPL/STREAM by hpcc, fio, sysbench and the runner) on every
    guest of the lab."""


def suite_user_data(lab: str, config: BenchmarkConfig) -> str | None:
    """The user-data of an OpenStack VM that gets nothing else by cloud-init: the suite when
    enabled, None (no user-data) when not. Stops before any resource when it would exceed
    Nova's limit."""
    if not config.enabled:
        return None
    files, packages = guest_suite(True)
    user_data = render_user_data(Files(files), Packages(packages))
    if (size := nova_size(user_data)) > USER_DATA_LIMIT:
        message = (
            f"the suite's user-data would be {size} bytes once base64-encoded, over Nova's "
            f"{USER_DATA_LIMIT}"
        )
        raise ConfigError(lab, [Problem(("benchmark", "enabled"), message)])
    return user_data


# --- the Docker labs: an image layer --------------------------------------------------------

LAYER_CONTEXT = "docker"
"""The layer's build context (``docker/apt-update.sh`` is what it installs packages with)."""
LAYER_DOCKERFILE = "docker/bench/Dockerfile"
LAYER_STAGE = "layer"
"""The Dockerfile's stage that adds the suite to ``BASE_IMAGE`` and keeps the rest of it."""
LAYER_SUFFIX = "-bench"
"""The layered image's tag: the lab image's with this suffix
(``cloudlabs/calculator:dev-bench``)."""

_USER = re.compile(r"^\s*USER\s+(\S+)\s*$", re.IGNORECASE | re.MULTILINE)
_FROM = re.compile(r"^\s*FROM\s", re.IGNORECASE | re.MULTILINE)


def dockerfile_user(dockerfile: Path) -> str:
    """The ``USER`` an image built from ``dockerfile`` runs as: the last one its last stage
    sets, "" when it sets none (the base image's own, root for the project's recipes)."""
    text = dockerfile.read_text(encoding="utf-8")
    starts = [m.start() for m in _FROM.finditer(text)]
    users = _USER.findall(text[starts[-1] if starts else 0 :])
    return str(users[-1]) if users else ""


def layer_tag(image: str) -> str:
    """The layered image's local tag, from the lab image's ``repository[:tag]``."""
    ref = image.split("@", 1)[0]
    repository, _, tag = ref.rpartition(":") if ":" in ref.rsplit("/", 1)[-1] else (ref, "", "")
    return f"{repository}:{tag or 'latest'}{LAYER_SUFFIX}"


def layer_build_args(
    base: pulumi.Input[str],
    base_id: pulumi.Input[str],
    user: str,
    mirror: Mapping[str, str],
) -> dict[str, pulumi.Input[str]]:
    """The layer's build arguments: the lab image (``base``, by tag, and its id so that a
    rebuilt one rebuilds the layer), its ``USER``, the packages of ``bench/packages.txt``, the
    runner zip (base64) with its command, and the package mirror (:func:`mirror_variables`)."""
    return {
        "BASE_IMAGE": base,
        "BASE_IMAGE_ID": base_id,
        "IMAGE_USER": user,
        "PACKAGES": " ".join(package_names(packages_text())),
        "RUNNER": base64.b64encode(runner_archive()).decode("ascii"),
        "RUNNER_COMMAND": COMMAND,
        **mirror,
    }


def suite_layer(
    name: str,
    config: BenchmarkConfig,
    image: Image,
    tag: str,
    dockerfile: str,
    platform: str,
    mirror: Mapping[str, str] | None = None,
) -> pulumi.Output[str]:
    """What a Docker lab's containers run: ``image`` (tagged ``tag``, built from
    ``dockerfile``, relative to the project's root) as it is, or with ``benchmark.enabled``
    that image with the suite layered on top (``<name>-bench``, tagged :func:`layer_tag`), as
    the same user."""
    if not config.enabled:
        return image.image_ref
    root = Path(__file__).resolve().parents[2]
    layered = Image(
        f"{name}-bench",
        ImageArgs(
            image_name=layer_tag(tag),
            context=LAYER_CONTEXT,
            dockerfile=LAYER_DOCKERFILE,
            build_args=layer_build_args(
                tag, image.image_ref, dockerfile_user(root / dockerfile), mirror or {}
            ),
            platform=platform,
            target=LAYER_STAGE,
        ),
    )
    return layered.image_ref
