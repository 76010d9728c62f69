"""A Docker lab with ``benchmark.enabled`` on the real engine: dev's calculator image with the
suite's layer, one container of it started as the lab starts it, and scripts/bench.sh --quick
against it.

The shipped ``Pulumi.dev.yaml`` with ``benchmark.enabled: true`` runs through the real program
under mocks (base image: the local ``cloudlabs/base:bookworm``, whose apt sources are the
machine's Debian mirror); its images (the calculator image, then the layer, with the provider's
own build requests), its network and its front end's container alone are created on the engine
(tests/docker_apply.py). The layered image must keep the calculator image's user, entrypoint,
command and health check; the container (user 10001, read-only root) must be benchmarked like
any other guest. Prerequisites: scripts/setup/docker.sh, base-image.sh and bench.sh (the
host's tools).
"""

from __future__ import annotations

import json
import os
import socket
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from bench.archive import ARCHIVE_PATH, COMMAND_PATH
from tests.bench_run import bench_container
from tests.docker_apply import CONTAINER, IMAGE, NETWORK, EngineApply, docker
from tests.harness import Resource, change, changed, load_stack_file, run_program

pytestmark = pytest.mark.integration

BASE_IMAGE = "cloudlabs/base:bookworm"
K = "cloud-labs:"
KEPT = ("User", "Entrypoint", "Cmd", "Healthcheck", "ExposedPorts", "WorkingDir")
"""What the layer must leave as the lab's image has it."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def image_config(ref: str) -> dict[str, Any]:
    inspected: list[dict[str, Any]] = json.loads(docker("image", "inspect", ref))
    config: dict[str, Any] = inspected[0]["Config"]
    return config


def test_dev_with_the_suite_layer_is_benchmarked_through_bench_sh(tmp_path: Path) -> None:
    started = time.monotonic()
    suffix = uuid.uuid4().hex[:8]
    prefix = f"cloudlabs-benchlab-{suffix}"
    image = f"cloudlabs-test/calculator-{suffix}:test"
    config = changed(load_stack_file("dev"), change("benchmark", "enabled", value=True))
    config.update(
        {
            K + "baseImage": BASE_IMAGE,
            K + "image": image,
            K + "network": f"{prefix}-net",
            K + "containerPrefix": prefix,
            K + "publish": {"hostIp": "127.0.0.1", "hostPort": free_port()},
        }
    )
    run = run_program(config, stack="dev")
    front = f"{prefix}-calculator"

    def wanted(res: Resource) -> bool:
        if res.type in (IMAGE, NETWORK):
            return True
        if res.type == CONTAINER:
            return bool(res.inputs["name"] == front)
        return res.name.endswith("-cleanup")  # the images' own commands

    engine = EngineApply(run, run_label=prefix)
    try:
        engine.apply(only=wanted)
        assert engine.images == [image, f"{image}-bench"]
        built = time.monotonic()
        lab, layered = image_config(image), image_config(f"{image}-bench")
        assert {k: layered.get(k) for k in KEPT} == {k: lab.get(k) for k in KEPT}
        assert lab["User"] == "10001:10001"
        assert set(lab["Env"]) <= set(layered["Env"])
        info = json.loads(docker("inspect", front))[0]
        assert info["Config"]["User"] == "10001:10001"
        assert info["HostConfig"]["ReadonlyRootfs"] is True
        assert docker("exec", front, "id", "-u").strip() == "10001"
        assert docker("exec", front, "test", "-f", ARCHIVE_PATH, "-a", "-x", COMMAND_PATH) == ""
        sizes = json.loads(docker("exec", front, COMMAND_PATH, "sizes", "--quick"))
        assert sizes["hpl_n"] > 0

        loaded = bench_container("benchlab-it", "calculator", front, tmp_path)
        assert loaded.docs["calculator"]["machine"]["cores"] == len(os.sched_getaffinity(0))
        print(
            f"\nbenchmark layer on dev: images built in {built - started:.0f} s, "
            f"bench.sh --quick (host + container) in {time.monotonic() - built:.0f} s"
        )
    finally:
        problems = engine.cleanup()
        assert not problems, problems
