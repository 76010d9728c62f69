"""The Docker labs' images are built for an explicit platform: ``build.platform``, else the
engine's own as ``docker version`` reports it, else (no engine answers) this machine's, with a
warning. pulumi-docker warns on every preview and update about an image without one.

The docker CLI here is a stand-in on ``PATH`` that answers ``docker version`` as an engine of
another architecture would, or fails as the CLI does when no engine runs.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from components.docker import engine_platform
from stacks.shared.docker import local_platform
from tests.harness import StackRun, load_stack_file, run_program

IMAGE = "docker:index/image:Image"
K = "cloud-labs:"
LABS = ("dev", "docker-basics")

FAKE_DOCKER = """#!/bin/sh
printf '%s|%s\\n' "$*" "${DOCKER_HOST-unset}" >> "$FAKE_DOCKER_LOG"
if [ "$FAKE_DOCKER_ENGINE" = down ]; then
    echo "Cannot connect to the Docker daemon at unix:///var/run/docker.sock." >&2
    exit 1
fi
[ "$1" = version ] && echo "$FAKE_DOCKER_ENGINE"
exit 0
"""


@pytest.fixture
def fake_docker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A docker CLI whose engine is ``linux/arm64``; returns its log of calls."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    docker = bin_dir / "docker"
    docker.write_text(FAKE_DOCKER)
    docker.chmod(docker.stat().st_mode | stat.S_IEXEC)
    log = tmp_path / "docker.log"
    log.touch()
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_DOCKER_LOG", str(log))
    monkeypatch.setenv("FAKE_DOCKER_ENGINE", "linux/arm64")
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    engine_platform.cache_clear()
    yield log
    engine_platform.cache_clear()


def platforms(run: StackRun) -> dict[str, object]:
    return {res.urn: res.inputs["build"].get("platform") for res in run.of_type(IMAGE)}


@pytest.mark.parametrize("lab", LABS)
def test_every_image_is_built_for_the_engines_own_platform(fake_docker: Path, lab: str) -> None:
    found = platforms(run_program(load_stack_file(lab), stack=lab))
    assert found and set(found.values()) == {"linux/arm64"}, found
    asked = fake_docker.read_text().splitlines()
    assert asked == ["version --format {{.Server.Os}}/{{.Server.Arch}}|unset"], asked


def test_the_engine_is_asked_at_the_providers_address(fake_docker: Path) -> None:
    config = {**load_stack_file("dev"), "docker:host": "tcp://192.0.2.10:2375"}
    assert set(platforms(run_program(config, stack="dev")).values()) == {"linux/arm64"}
    assert fake_docker.read_text().split("|")[-1].strip() == "tcp://192.0.2.10:2375"


@pytest.mark.parametrize("lab", LABS)
def test_the_configured_platform_wins_and_the_engine_is_not_asked(
    fake_docker: Path, lab: str
) -> None:
    config = {**load_stack_file(lab), K + "build": {"platform": "linux/amd64"}}
    assert set(platforms(run_program(config, stack=lab)).values()) == {"linux/amd64"}
    assert fake_docker.read_text() == ""


@pytest.mark.parametrize("lab", LABS)
def test_an_engine_that_does_not_answer_means_this_machines_platform_and_a_warning(
    fake_docker: Path,
    lab: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv("FAKE_DOCKER_ENGINE", "down")
    found = platforms(run_program(load_stack_file(lab), stack=lab))
    assert set(found.values()) == {local_platform()}, found
    warned = [r.getMessage() for r in caplog.records if "docker version" in r.getMessage()]
    assert len(warned) == 1 and "set build.platform" in warned[0], warned


def test_no_docker_cli_at_all_is_no_traceback_either(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    engine_platform.cache_clear()
    try:
        assert engine_platform() is None
        found = platforms(run_program(load_stack_file("dev"), stack="dev"))
    finally:
        engine_platform.cache_clear()
    assert set(found.values()) == {local_platform()}


def test_this_machines_platform_is_named_as_the_engine_names_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for machine, expected in (("x86_64", "linux/amd64"), ("aarch64", "linux/arm64")):
        monkeypatch.setattr("platform.machine", lambda m=machine: m)
        assert local_platform() == expected
