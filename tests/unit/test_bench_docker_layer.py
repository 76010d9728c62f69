"""The Docker labs' ``benchmark.enabled``: the stage ``layer`` of ``docker/bench/Dockerfile``
built on top of each image the lab's containers run, keeping that image's user, entrypoint and
command; the containers run the layered image; without the key nothing changes."""

from __future__ import annotations

import base64
import io
import re
import zipfile
from pathlib import Path
from typing import Any

import pytest

from bench.archive import ARCHIVE_PATH, COMMAND, COMMAND_PATH, RUNNER_FILES
from bench.suite import package_names, packages_text
from stacks.shared.benchmark import (
    LAYER_CONTEXT,
    LAYER_DOCKERFILE,
    LAYER_STAGE,
    dockerfile_user,
    layer_build_args,
    layer_tag,
)
from tests.harness import ROOT, StackRun, change, changed, load_stack_file, run_program
from tests.unit.test_benchmark_labs import DOCKER_LABS

IMAGE = "docker:index/image:Image"
CONTAINER = "docker:index/container:Container"


def stages(text: str) -> dict[str, list[str]]:
    """Each stage's instructions (continuations joined, comments dropped), by its name."""
    joined = re.sub(r"\\\n", " ", text)
    found: dict[str, list[str]] = {}
    current: list[str] = []
    for line in joined.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.upper().startswith("FROM "):
            current = found.setdefault(line.split()[-1], [])
        current.append(line)
    return found


LAYER = stages((ROOT / LAYER_DOCKERFILE).read_text())


def keyword(line: str) -> str:
    return line.split()[0].upper()


def test_the_layer_stage_adds_packages_and_runner_and_keeps_the_rest() -> None:
    assert list(LAYER) == [LAYER_STAGE, "standalone"]
    layer = LAYER[LAYER_STAGE]
    assert layer[0] == "FROM ${BASE_IMAGE} AS layer"
    words = [keyword(line) for line in layer]
    # Nothing that would replace what the lab's image runs, or how.
    assert not {"CMD", "ENTRYPOINT", "HEALTHCHECK", "ENV", "WORKDIR", "EXPOSE"} & set(words)
    assert words.index("USER") < words.index("RUN")
    assert layer[words.index("USER")] == "USER root"
    assert layer[-1] == "USER ${IMAGE_USER}"
    assert "ARG IMAGE_USER=" in layer
    (run,) = [line for line in layer if keyword(line) == "RUN"]
    assert "apt-get install -y --no-install-recommends python3 ${PACKAGES}" in run
    assert "rm -rf /var/lib/apt/lists/*" in run
    assert f"base64 -d >{ARCHIVE_PATH}" in run and f">{COMMAND_PATH}" in run
    default = next(line for line in layer if line.startswith("ARG PACKAGES="))
    assert default.split("=", 1)[1].strip('"').split() == package_names(packages_text())


def test_the_default_stage_is_the_standalone_benchmark_image() -> None:
    assert LAYER["standalone"] == ["FROM layer AS standalone", 'CMD ["sleep", "infinity"]']


def test_the_user_of_a_dockerfile_is_its_last_stage_s_last_user(tmp_path: Path) -> None:
    assert dockerfile_user(ROOT / "calculator" / "Dockerfile") == "10001:10001"
    for recipe in ("plain", "ssh", "nano"):
        assert dockerfile_user(ROOT / "docker" / recipe / "Dockerfile") == ""
    two = tmp_path / "Dockerfile"
    two.write_text("FROM a AS build\nUSER 5\nFROM b\nUSER 7:7\nRUN x\nuser app\n")
    assert dockerfile_user(two) == "app"
    two.write_text("FROM a AS build\nUSER 5\nFROM b\nCMD x\n")
    assert dockerfile_user(two) == ""


@pytest.mark.parametrize(
    ("image", "tag"),
    [
        ("cloudlabs/calculator:dev", "cloudlabs/calculator:dev-bench"),
        ("cloudlabs/nano", "cloudlabs/nano:latest-bench"),
        ("localhost:5000/lab/app:1.2", "localhost:5000/lab/app:1.2-bench"),
        ("localhost:5000/lab/app", "localhost:5000/lab/app:latest-bench"),
    ],
)
def test_the_layered_image_s_tag(image: str, tag: str) -> None:
    assert layer_tag(image) == tag


def test_the_build_arguments_carry_the_runner_and_the_packages() -> None:
    args = layer_build_args("lab:1", "sha256:1", "10001:10001", {"APT_MIRROR": "http://m/d"})
    zipped = zipfile.ZipFile(io.BytesIO(base64.b64decode(str(args["RUNNER"]))))
    assert sorted(zipped.namelist()) == sorted(f"bench/{n}" for n in RUNNER_FILES)
    assert args["RUNNER_COMMAND"] == COMMAND and ARCHIVE_PATH in COMMAND
    assert str(args["PACKAGES"]).split() == package_names(packages_text())
    assert {k: args[k] for k in ("BASE_IMAGE", "BASE_IMAGE_ID", "IMAGE_USER", "APT_MIRROR")} == {
        "BASE_IMAGE": "lab:1",
        "BASE_IMAGE_ID": "sha256:1",
        "IMAGE_USER": "10001:10001",
        "APT_MIRROR": "http://m/d",
    }


def run_lab(stack: str, *changes: Any) -> StackRun:
    return run_program(changed(load_stack_file(stack), *changes), stack=stack)


def images(run: StackRun) -> dict[str, Any]:
    return {r.name.removesuffix("-image"): r for r in run.resources if r.type == IMAGE}


def containers(run: StackRun) -> dict[str, Any]:
    return {r.name: r for r in run.resources if r.type == CONTAINER}


@pytest.mark.parametrize("stack", sorted(DOCKER_LABS))
def test_the_containers_run_the_layered_images(stack: str) -> None:
    plain = run_lab(stack)
    run = run_lab(stack, change("benchmark", "enabled", value=True))
    before, after = images(plain), images(run)
    assert set(after) == set(before) | {f"{name}-bench" for name in DOCKER_LABS[stack]}
    runs_before = {c.name: c.inputs["image"] for c in containers(plain).values()}
    runs_after = {c.name: c.inputs["image"] for c in containers(run).values()}
    for name, dockerfile in DOCKER_LABS[stack].items():
        lab, layer = after[name], after[f"{name}-bench"]
        assert lab.inputs == before[name].inputs  # the lab's own image is built as before
        build = layer.inputs["build"]
        assert (build["context"], build["dockerfile"], build["target"]) == (
            LAYER_CONTEXT,
            LAYER_DOCKERFILE,
            LAYER_STAGE,
        )
        assert build["platform"] == lab.inputs["build"]["platform"]
        assert layer.inputs["imageName"] == layer_tag(lab.inputs["imageName"])
        args = build["args"]
        assert args["BASE_IMAGE"] == lab.inputs["imageName"]
        assert args["BASE_IMAGE_ID"] == lab.state["repoDigest"]
        assert args["IMAGE_USER"] == dockerfile_user(ROOT / dockerfile)
        swapped = [c for c, ref in runs_before.items() if ref == before[name].state["repoDigest"]]
        assert swapped, f"no container runs {name}"
        for container in swapped:
            assert runs_after[container] == layer.state["repoDigest"], container


def test_docker_basics_layers_what_its_containers_run_and_takes_the_mirror() -> None:
    run = run_lab(
        "docker-basics",
        change("benchmark", "enabled", value=True),
        change("aptMirror", value="http://172.17.0.1:8090/debian"),
    )
    found = images(run)
    assert "basics-nano-bench" not in found  # the recipe image runs no container
    for name in DOCKER_LABS["docker-basics"]:
        assert found[f"{name}-bench"].inputs["build"]["args"]["APT_MIRROR"] == (
            "http://172.17.0.1:8090/debian"
        )
    # ct3 runs the snapshot of ct2, which already has the suite.
    ct3 = containers(run)["ct3-container"]
    assert not any(ct3.inputs["image"] == i.state["repoDigest"] for i in found.values())


def test_dev_gives_fio_a_disk_backed_directory_on_a_read_only_root() -> None:
    on = change("benchmark", "enabled", value=True)
    for container in containers(run_lab("dev", on)).values():
        assert container.inputs["volumes"] == [{"containerPath": "/var/tmp"}]
        assert container.inputs["readOnly"] is True
    writable = run_lab("dev", on, change("readOnly", value=False))
    for container in containers(writable).values():
        assert "volumes" not in container.inputs


@pytest.mark.parametrize("stack", sorted(DOCKER_LABS))
def test_without_the_key_nothing_of_the_suite(stack: str) -> None:
    for run in (run_lab(stack), run_lab(stack, change("benchmark", "enabled", value=False))):
        assert not [name for name in images(run) if name.endswith("-bench")]
        for container in containers(run).values():
            assert "volumes" not in container.inputs
        for image in images(run).values():
            assert "target" not in image.inputs["build"]
