"""dev on the real Docker engine: what the stack declares, created for real, computes 22.

The shipped ``Pulumi.dev.yaml`` runs through the real program under mocks, with the base image
set to the local ``cloudlabs/base:bookworm`` and names made unique for this run; the recorded
image (with the Docker provider's own build request), network and containers are then created
on the engine (tests/docker_apply.py), and after the clean-up the engine must hold exactly what
it held before: no container, image (intermediate ones included), network or volume more.
Prerequisites, installed by scripts/test.sh: ``scripts/setup/docker.sh`` (the engine) and
``scripts/setup/base-image.sh`` (the base image). A missing engine or image is a failure.
"""

from __future__ import annotations

import json
import socket
import subprocess
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from calculator.config import OPERATOR_ROLES as OPERATORS
from tests.check_run import run_check_sh
from tests.docker_apply import EngineApply, docker
from tests.harness import StackRun, load_stack_file, run_program

pytestmark = pytest.mark.integration

BASE_IMAGE = "cloudlabs/base:bookworm"
K = "cloud-labs:"
OPERATOR_CHECKS = {
    "sum": ("2 3", "5"),
    "sub": ("5 3", "2"),
    "mul": ("12 3", "36"),
    "div": ("15 5", "3"),
}

# Posts a body to a URL from inside a container (the images have python3, not curl).
POST = """
import sys, urllib.request
request = urllib.request.Request(sys.argv[1], data=sys.argv[2].encode(), method="POST")
with urllib.request.urlopen(request, timeout=10) as response:
    print(response.read().decode().strip())
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Lab:
    config: dict[str, Any]
    run: StackRun
    engine: EngineApply
    port: int

    def name(self, role: str) -> str:
        return f"{self.config[K + 'containerPrefix']}-{role}"

    def inspect(self, role: str) -> dict[str, Any]:
        data: list[dict[str, Any]] = json.loads(docker("inspect", self.name(role)))
        return data[0]


def post(url: str, body: str, timeout: float = 10) -> str:
    request = urllib.request.Request(url, data=body.encode(), method="POST")
    with urllib.request.urlopen(request, timeout=timeout) as response:
        text: str = response.read().decode()
        return text.strip()


def wait_healthy(lab: Lab, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while True:
        states = {
            role: (lab.inspect(role)["State"].get("Health") or {}).get("Status")
            for role in ("calculator", *OPERATORS)
        }
        if all(s == "healthy" for s in states.values()):
            return
        if time.monotonic() > deadline:
            logs = {r: docker("logs", "--tail", "20", lab.name(r)) for r in states}
            pytest.fail(f"not healthy after {timeout}s: {states}\n{logs}")
        time.sleep(1)


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    suffix = uuid.uuid4().hex[:8]
    prefix = f"cloudlabs-test-{suffix}"
    port = free_port()
    config = load_stack_file("dev")
    config.update(
        {
            K + "baseImage": BASE_IMAGE,
            K + "image": f"cloudlabs-test/calculator-{suffix}:test",
            K + "network": f"{prefix}-net",
            K + "containerPrefix": prefix,
            K + "publish": {"hostIp": "127.0.0.1", "hostPort": port},
        }
    )
    run = run_program(config, stack="dev")
    engine = EngineApply(run, run_label=prefix)
    try:
        engine.apply()
        built = Lab(config, run, engine, port)
        wait_healthy(built)
        yield built
    finally:
        problems = engine.cleanup()
        assert not problems, problems


def test_the_published_front_end_computes_the_example(lab: Lab) -> None:
    url = lab.run.outputs["url"]
    assert url == f"http://127.0.0.1:{lab.port}"
    assert lab.run.outputs["curlCommand"] == f'curl -d "(5+6)*2" -X POST {url}'
    assert post(url, "(5+6)*2") == "result = 22"
    assert post(url, "(1+2)*(3+4)-10/5") == "result = 19"


def test_every_operator_answers_the_front_end_by_name(lab: Lab) -> None:
    front = lab.name("calculator")
    for op, (body, answer) in OPERATOR_CHECKS.items():
        port = 50000 + 1 + OPERATORS.index(op)
        url = f"http://{lab.name(op)}:{port}"
        env = lab.inspect("calculator")["Config"]["Env"]
        assert f"CALC_{op.upper()}_URL={url}" in env
        got = docker("exec", front, "python3", "-c", POST, url, body).strip()
        assert got == answer, f"{op} from the front end: {got!r}"


def test_only_the_front_end_is_published_and_only_on_loopback(lab: Lab) -> None:
    bindings = lab.inspect("calculator")["HostConfig"]["PortBindings"]
    assert bindings == {"50000/tcp": [{"HostIp": "127.0.0.1", "HostPort": str(lab.port)}]}
    for op in OPERATORS:
        info = lab.inspect(op)
        assert not info["HostConfig"]["PortBindings"], f"{op} publishes {info['HostConfig']}"
        assert docker("port", lab.name(op)).strip() == "", f"{op} is published on the host"
        assert not info["HostConfig"]["PublishAllPorts"]


def test_all_containers_share_the_user_network(lab: Lab) -> None:
    network = lab.config[K + "network"]
    for role in ("calculator", *OPERATORS):
        nets = lab.inspect(role)["NetworkSettings"]["Networks"]
        assert list(nets) == [network], f"{role} is on {list(nets)}"


def test_services_run_as_non_root_on_a_read_only_root(lab: Lab) -> None:
    for role in ("calculator", *OPERATORS):
        name = lab.name(role)
        status = docker("exec", name, "cat", "/proc/1/status")
        uids = next(line for line in status.splitlines() if line.startswith("Uid:")).split()[1:]
        assert uids and all(uid == "10001" for uid in uids), f"{role} runs as {uids}"
        info = lab.inspect(role)
        assert info["HostConfig"]["ReadonlyRootfs"] is True
        assert info["HostConfig"]["RestartPolicy"]["Name"] == "unless-stopped"
        wrote = docker_status("exec", name, "sh", "-c", "echo x > /opt/probe")
        assert wrote != 0, f"{role} could write to its root filesystem"


def docker_status(*args: str) -> int:
    return subprocess.run(["docker", *args], capture_output=True).returncode


def test_check_sh_answers_the_lab_s_questions(lab: Lab, tmp_path: Path) -> None:
    checked = run_check_sh("dev", lab.config, lab.run.outputs, tmp_path, "--wait", "60")
    assert checked.status == 0, checked.summary()
    names = [c["name"] for c in checked.report["checks"]]
    url = lab.run.outputs["url"]
    assert names[0] == f"front end computes (5+6)*2 ({url})"
    assert f"front end → sum at http://{lab.name('sum')}:50001 (2 3)" in names
    assert f"{lab.name('div')} publishes no port on the host" in names
    assert len(names) == 10 and checked.failed == []


def test_check_sh_fails_while_an_operator_is_down(lab: Lab, tmp_path: Path) -> None:
    docker("stop", lab.name("sum"))
    try:
        checked = run_check_sh("dev", lab.config, lab.run.outputs, tmp_path, "--wait", "0")
    finally:
        docker("start", lab.name("sum"))
        wait_healthy(lab)
    assert checked.status == 1, checked.summary()
    assert checked.failed == [
        f"front end computes (5+6)*2 ({lab.run.outputs['url']})",
        f"front end → sum at http://{lab.name('sum')}:50001 (2 3)",
    ], checked.summary()


def test_an_operator_s_snapshot_and_restore_keep_the_calculator_computing(lab: Lab) -> None:
    """``containers.sum``: a snapshot committed from the running operator, a restore that
    re-creates it from that image (same name, alias, environment, user, health check): the
    front end computes through it; the same config again changes nothing; without the keys the
    snapshot's image is deleted and the container runs the lab's image again."""
    name, url = lab.name("sum"), lab.run.outputs["url"]
    snapshots = [{"name": "serving", "description": "sum answering"}]

    def declaring(**keys: Any) -> StackRun:
        return run_program({**lab.config, K + "containers": {"sum": keys}}, stack="dev")

    assert lab.engine.update(declaring(snapshots=snapshots)) == [
        "create dev-sum-snapshot-serving-commit"
    ]
    image = f"cloudlabs-snapshot/{name}:serving"
    image_id = docker("image", "inspect", "--format", "{{.Id}}", image).strip()
    restore = {"snapshot": "serving", "generation": 1}
    done = lab.engine.update(declaring(snapshots=snapshots, restore=restore))
    assert done == ["create dev-sum-restore-tag", "replace dev-sum-container"], done
    info = lab.inspect("sum")
    assert info["Image"] == image_id
    assert info["Config"]["Labels"]["org.cloudlabs.restore-generation"] == "1"
    assert info["Config"]["User"] == "10001:10001" and info["HostConfig"]["ReadonlyRootfs"]
    wait_healthy(lab)
    assert post(url, "(5+6)*2") == "result = 22"
    assert lab.engine.update(declaring(snapshots=snapshots, restore=restore)) == []

    done = lab.engine.update(declaring())
    assert sorted(done) == [
        "delete dev-sum-restore-tag",
        "delete dev-sum-snapshot-serving-commit",
        "replace dev-sum-container",
    ], done
    gone = subprocess.run(["docker", "image", "inspect", image], capture_output=True)
    assert gone.returncode != 0, f"{image} is still there"
    wait_healthy(lab)
    assert post(url, "(5+6)*2") == "result = 22"


def test_clean_up_leaves_nothing(lab: Lab) -> None:
    image = lab.config[K + "image"]
    built = list(lab.engine.images)
    problems = lab.engine.cleanup()
    assert not problems, problems
    assert built and lab.engine.left_by_deletes == [], "destroy would leave these images"
    assert lab.engine.left_after_destroy == [], "destroy left these on the engine"
    assert lab.engine.left_behind() == []
    assert subprocess.run(["docker", "image", "inspect", image], capture_output=True).returncode
