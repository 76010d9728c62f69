"""docker-basics on the real Docker engine: SSH on ct2, a snapshot holding what ct2 installed,
ct3 from it, the nano recipe.

The shipped ``Pulumi.docker-basics.yaml`` runs through the real program under mocks, set up as
the README's offline path: no registry (the base image is the local ``cloudlabs/base:bookworm``)
and no Debian mirror but the local one (``aptMirror``: the mirror of
``scripts/setup/guest-mirror.sh`` with its key; the base image's own package sources are made to
answer nowhere, so nothing else can serve a package). Names are unique for this run, the SSH key
a throw-away one. The recorded images, containers and the snapshot command (its create and
delete scripts, with their environment) are then applied to the engine (tests/docker_apply.py;
images with the Docker provider's own build request). After the clean-up the engine must hold
exactly what it held before: no container, image (intermediate ones included), network or
volume more.
"""

from __future__ import annotations

import json
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.check_run import run_check_sh
from tests.docker_apply import COMMAND, TEST_LABEL, EngineApply, docker
from tests.docker_engine import (
    EngineError,
    LocalMirror,
    local_mirror,
    offline_base_image,
    provider_build,
)
from tests.harness import ROOT, StackRun, load_stack_file, run_program

pytestmark = pytest.mark.integration

LOCAL_BASE = "cloudlabs/base:bookworm"
K = "cloud-labs:"
SNAPSHOT = "ct2-snapshot-commit"
IMAGE = "docker:index/image:Image"
ALL_SOURCES = "cat /etc/apt/sources.list; cat /etc/apt/sources.list.d/* 2>/dev/null || true"


def port_for_ct2() -> int:
    """The shipped 2223 when it is free on loopback, else any free port."""
    for candidate in (2223, 0):
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", candidate))
            except OSError:
                continue
            port: int = sock.getsockname()[1]
            return port
    raise AssertionError("no free port on 127.0.0.1")


@dataclass
class Lab:
    config: dict[str, Any]
    run: StackRun
    engine: EngineApply
    port: int
    key: Path
    mirror: LocalMirror
    base_image: str
    """The base image the recipes were built from: no package source of its own answers."""

    def name(self, ct: str) -> str:
        name: str = self.config[K + ct]["name"]
        return name

    def image(self, which: str) -> str:
        if which == "snapshot":
            snap: str = self.config[K + "snapshot"]["image"]
            return snap
        tag: str = self.config[K + "images"][which]
        return tag

    def inspect(self, ref: str) -> dict[str, Any]:
        data: list[dict[str, Any]] = json.loads(docker("inspect", ref))
        return data[0]


def banner(port: int, timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
                line = conn.makefile("rb").readline(255).decode(errors="replace").strip()
                if line:
                    return line
        except OSError:
            pass
        if time.monotonic() > deadline:
            pytest.fail(f"no SSH banner on 127.0.0.1:{port} after {timeout}s")
        time.sleep(0.5)


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    suffix = uuid.uuid4().hex[:8]
    prefix = f"cloudlabs-test-{suffix}"
    repo = f"cloudlabs-test/{suffix}"
    port = port_for_ct2()
    key = tmp_path_factory.mktemp("ssh") / "id_ed25519"
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "cloudlabs-test", "-f", str(key)],
        check=True,
    )
    mirror = local_mirror()
    base_image = f"{repo}-offline-base:test"
    offline_base_image(LOCAL_BASE, base_image, tmp_path_factory.mktemp("offline-base"))
    config = load_stack_file("docker-basics")
    config.update(
        {
            K + "baseImage": base_image,
            K + "aptMirror": mirror.config(),
            K + "images": {
                "plain": f"{repo}-plain:test",
                "ssh": f"{repo}-ssh:test",
                "nano": f"{repo}-nano:test",
            },
            K + "ct1": {"name": f"{prefix}-ct1"},
            K + "ct2": {
                **config[K + "ct2"],
                "name": f"{prefix}-ct2",
                "hostPort": port,
                "sshPublicKey": key.with_suffix(".pub").read_text().strip(),
            },
            K + "snapshot": {**config[K + "snapshot"], "image": f"{repo}-snapshot:test"},
            K + "ct3": {"name": f"{prefix}-ct3"},
        }
    )
    try:
        run = run_program(config, stack="docker-basics")
        engine = EngineApply(run, run_label=prefix)
        try:
            engine.apply()
            yield Lab(config, run, engine, port, key, mirror, base_image)
        finally:
            problems = engine.cleanup()
            assert not problems, problems
    finally:
        subprocess.run(["docker", "image", "rm", base_image], capture_output=True)


def test_the_base_images_own_sources_answer_nowhere(lab: Lab) -> None:
    # What makes this the offline path: a package the mirror did not serve cannot be had.
    sources = docker("run", "--rm", lab.base_image, "sh", "-c", ALL_SOURCES)
    assert "127.0.0.1:9" in sources and "deb.debian.org" not in sources, sources
    for which in ("ssh", "nano"):
        listed = docker(
            "run", "--rm", lab.image(which), "sh", "-c", "cat /etc/apt/sources.list.d/*"
        )
        assert f"deb [signed-by=/etc/apt/keyrings/cloudlabs-mirror.asc] {lab.mirror.url} " in listed


def test_without_the_mirror_a_recipe_stops_at_the_package_index(lab: Lab) -> None:
    # apt-get update only warns when a source cannot be reached; the recipes stop there, with
    # apt's reason, instead of failing later on "no installation candidate".
    build = {
        "context": "docker",
        "dockerfile": "docker/nano/Dockerfile",
        "args": {"BASE_IMAGE": lab.base_image},
        "platform": lab.run.one(IMAGE, "basics-nano-image").inputs["build"]["platform"],
        "builderVersion": "BuilderBuildKit",
    }
    with pytest.raises(EngineError) as failed:
        provider_build(ROOT, f"{lab.image('nano')}-nomirror", build)
    text = str(failed.value)
    assert "cloudlabs-apt-update: apt-get update failed" in text, text[-2000:]
    assert "127.0.0.1:9" in text, "apt's reason is not shown"


def test_a_mirror_taken_unchecked_serves_too(lab: Lab) -> None:
    build = {
        "context": "docker",
        "dockerfile": "docker/nano/Dockerfile",
        "args": {
            "BASE_IMAGE": lab.base_image,
            "APT_MIRROR": lab.mirror.url,
            "APT_MIRROR_TRUSTED": "true",
        },
        "builderVersion": "BuilderBuildKit",
    }
    tag = f"{lab.image('nano')}-trusted"
    try:
        provider_build(ROOT, tag, build)
        assert "GNU nano" in docker("run", "--rm", tag, "nano", "--version")
    finally:
        subprocess.run(["docker", "image", "rm", tag], capture_output=True)


def test_ct1_is_a_plain_long_running_container_on_the_bridge(lab: Lab) -> None:
    info = lab.inspect(lab.name("ct1"))
    assert info["State"]["Running"] is True
    assert info["Config"]["Cmd"] == ["sleep", "infinity"]
    assert list(info["NetworkSettings"]["Networks"]) == ["bridge"]
    assert info["NetworkSettings"]["Networks"]["bridge"]["IPAddress"]
    assert not info["HostConfig"]["PortBindings"]


def test_ct2_answers_ssh_on_the_published_port(lab: Lab) -> None:
    assert banner(lab.port).startswith("SSH-2.0-OpenSSH")
    bindings = lab.inspect(lab.name("ct2"))["HostConfig"]["PortBindings"]
    assert bindings == {"22/tcp": [{"HostIp": "127.0.0.1", "HostPort": str(lab.port)}]}


def test_the_ssh_command_output_logs_in_with_the_configured_key(lab: Lab) -> None:
    command = lab.run.outputs["sshCommand"]
    assert command == f"ssh -p {lab.port} root@127.0.0.1"
    banner(lab.port)
    options = ["-i", str(lab.key), "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no"]
    options += ["-o", "UserKnownHostsFile=/dev/null", "-o", "ConnectTimeout=10"]
    words = command.split()
    result = subprocess.run(
        [words[0], *options, *words[1:], "hostname"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == lab.name("ct2")
    refused = subprocess.run(
        [words[0], *options[2:], "-o", "PasswordAuthentication=no", *words[1:], "true"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert refused.returncode != 0, "ssh without the key was accepted"


def test_the_snapshot_holds_what_was_installed_in_ct2(lab: Lab) -> None:
    commit = lab.run.one(COMMAND, SNAPSHOT)
    snapshot_id = lab.engine.real[commit.state["stdout"]]
    assert snapshot_id.startswith("sha256:")
    assert lab.inspect(lab.image("snapshot"))["Id"] == snapshot_id
    # nano came from the preparation run inside ct2, not from ct2's image.
    assert "nano" in lab.config[K + "snapshot"]["prepare"]
    in_ct2_image = subprocess.run(
        ["docker", "run", "--rm", lab.image("ssh"), "sh", "-c", "command -v nano"],
        capture_output=True,
    )
    assert in_ct2_image.returncode != 0, "the ssh recipe already has nano"
    assert docker("exec", lab.name("ct2"), "sh", "-c", "command -v nano").strip()
    version = docker("run", "--rm", "--entrypoint", "nano", snapshot_id, "--version")
    assert "GNU nano" in version


def test_ct3_runs_from_the_snapshot(lab: Lab) -> None:
    info = lab.inspect(lab.name("ct3"))
    commit = lab.run.one(COMMAND, SNAPSHOT)
    assert info["Image"] == lab.engine.real[commit.state["stdout"]]
    assert info["State"]["Running"] is True
    assert "GNU nano" in docker("exec", lab.name("ct3"), "nano", "--version")
    assert not info["HostConfig"]["PortBindings"]


def test_the_containers_have_distinct_bridge_addresses(lab: Lab) -> None:
    addresses = [
        lab.inspect(lab.name(ct))["NetworkSettings"]["Networks"]["bridge"]["IPAddress"]
        for ct in ("ct1", "ct2", "ct3")
    ]
    assert all(addresses) and len(set(addresses)) == 3, addresses


def test_the_recipe_image_has_nano(lab: Lab) -> None:
    version = docker("run", "--rm", lab.image("nano"), "nano", "--version")
    assert "GNU nano" in version
    assert lab.run.outputs["nanoImage"] == lab.image("nano")


def deployed_outputs(lab: Lab) -> dict[str, Any]:
    """The stack's outputs as `pulumi stack output` would show them: the containers' bridge
    addresses and the snapshot's id as the engine has them."""
    outputs = dict(lab.run.outputs)
    for ct in ("ct1", "ct2", "ct3"):
        outputs[f"{ct}Ip"] = lab.inspect(lab.name(ct))["NetworkSettings"]["Networks"]["bridge"][
            "IPAddress"
        ]
    outputs["snapshotImageId"] = lab.engine.real[outputs["snapshotImageId"]]
    return outputs


def test_check_sh_answers_the_lab_s_questions(lab: Lab, tmp_path: Path) -> None:
    outputs = deployed_outputs(lab)
    ssh = ["--identity", str(lab.key), "--ssh-option", "UserKnownHostsFile=/dev/null"]
    checked = run_check_sh("docker-basics", lab.config, outputs, tmp_path, *ssh, "--wait", "60")
    assert checked.status == 0, checked.summary()
    names = [c["name"] for c in checked.report["checks"]]
    ct1, ct2, ct3 = (lab.name(ct) for ct in ("ct1", "ct2", "ct3"))
    assert names == [
        f"{ct2}: SSH on 127.0.0.1:{lab.port}",
        f"{ct1} reaches {ct2}'s SSH at {outputs['ct2Ip']} on the bridge",
        f"{lab.image('snapshot')} is the snapshot",
        f"{ct3} runs the snapshot",
        f"{ct3} has nano (installed in {ct2} before the commit)",
        f"sshCommand logs in to {ct2}",
    ]
    # The same checks see a ct3 that no longer runs the snapshot, and a stopped ct2.
    docker("stop", ct2)
    try:
        down = run_check_sh("docker-basics", lab.config, outputs, tmp_path, *ssh, "--wait", "0")
    finally:
        docker("start", ct2)
        banner(lab.port)
    assert down.status == 1
    assert down.failed == [names[0], names[1], names[5]], down.summary()


def run_create(script: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """The snapshot command's ``create``, run with only ``env`` (and PATH) set."""
    result = subprocess.run(
        ["/bin/bash", "-c", script],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", **env},
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    return result


def test_a_new_ct2_gets_a_new_snapshot_not_the_old_one(lab: Lab) -> None:
    # A replaced ct2 is a new container under the same name, while the tag may still name the
    # old container's snapshot: create must commit the new one, not reuse the old.
    commit = lab.run.one(COMMAND, SNAPSHOT)
    res, env, stdout = next(c for c in lab.engine.commands if c[0].name == commit.name)
    old_id = stdout.strip()
    other = f"{lab.name('ct2')}-new"
    lab.engine.containers.append(other)  # removed at clean-up
    label = f"{TEST_LABEL}={lab.engine.run_label}"
    docker("run", "--detach", "--name", other, "--label", label, lab.image("ssh"), "sleep", "1h")
    new_env = {**{k: v for k, v in env.items() if k != "PREPARE"}, "CONTAINER": other}
    taken = run_create(res.inputs["create"], new_env)
    new_id = taken.stdout.strip()
    assert new_id.startswith("sha256:") and new_id != old_id, taken.stderr
    assert "already is a snapshot" not in taken.stderr
    assert lab.inspect(lab.image("snapshot"))["Id"] == new_id
    labels = lab.inspect(new_id)["Config"]["Labels"]
    assert labels["org.cloudlabs.snapshot-of"] == lab.inspect(other)["Id"]
    # The new snapshot's delete removes it and leaves the old one (ct3 runs it) alone.
    lab.engine.run_delete(res, new_env, new_id)
    gone = subprocess.run(["docker", "image", "inspect", new_id], capture_output=True)
    assert gone.returncode != 0, "the new snapshot is still there after its delete"
    assert lab.inspect(old_id)["Id"] == lab.inspect(lab.name("ct3"))["Image"] == old_id
    docker("tag", old_id, lab.image("snapshot"))  # as the stack left it


def test_commit_is_idempotent_and_delete_removes_the_snapshot(lab: Lab) -> None:
    commit = lab.run.one(COMMAND, SNAPSHOT)
    res, env, stdout = next(c for c in lab.engine.commands if c[0].name == commit.name)
    again = run_create(res.inputs["create"], env)
    assert again.stdout.strip() == stdout.strip(), "a second create took a new snapshot"
    assert "already is a snapshot" in again.stderr
    docker("rm", "--force", lab.name("ct3"))
    lab.engine.run_delete(res, env, stdout)
    gone = subprocess.run(["docker", "image", "inspect", stdout.strip()], capture_output=True)
    assert gone.returncode != 0, "the snapshot image is still there after delete"
    lab.engine.run_delete(res, env, stdout)  # idempotent


def test_clean_up_leaves_nothing(lab: Lab) -> None:
    built = list(lab.engine.images)
    problems = lab.engine.cleanup()
    assert not problems, problems
    assert built and lab.engine.left_by_deletes == [], "destroy would leave these images"
    names = [lab.image(w) for w in ("plain", "ssh", "nano", "snapshot")]
    assert lab.engine.left_after_destroy == [], "destroy left these on the engine"
    assert lab.engine.left_behind() == []
    for name in names:
        gone = subprocess.run(["docker", "image", "inspect", name], capture_output=True)
        assert gone.returncode != 0, f"{name} is still there"
    for ct in ("ct1", "ct2", "ct3"):
        assert docker("ps", "--all", "--quiet", "--filter", f"name=^{lab.name(ct)}$").strip() == ""
