"""docker-basics, from its shipped stack file, checked against docs/labs.md#docker-basics."""

from __future__ import annotations

import re

import pytest

from stacks.shared.types import parse_image_ref
from tests.harness import (
    ARMORED_KEY,
    ROOT,
    Resource,
    ScriptRun,
    StackRun,
    run_program,
    script_run,
)
from tests.validators import assert_shellcheck_clean

STACK = "docker-basics"
IMAGE = "docker:index/image:Image"
CONTAINER = "docker:index/container:Container"
COMMAND = "command:local:Command"
SNAPSHOT = "ct2-snapshot-commit"
K = "cloud-labs:"
KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFYK9Jv4TR4Dl95nNJ+uqp/wuzy8aHCte3sF1XpqnC6M alice@lab"


def container(run: StackRun, ct: str) -> Resource:
    return run.one(CONTAINER, f"{ct}-container")


def image(run: StackRun, recipe: str) -> Resource:
    return run.one(IMAGE, f"basics-{recipe}-image")


def test_every_recipe_is_built_from_the_configured_base_image(run: StackRun, shipped: dict) -> None:
    assert shipped[K + "baseImage"] == "ubuntu:24.04"
    for recipe in ("plain", "ssh", "nano"):
        res = image(run, recipe)
        build = res.inputs["build"]
        assert res.inputs["imageName"] == shipped[K + "images"][recipe]
        assert res.inputs["skipPush"] is True, res
        assert build["context"] == "docker"
        assert build["dockerfile"] == f"docker/{recipe}/Dockerfile"
        assert build["args"] == {"BASE_IMAGE": "ubuntu:24.04"}, res
    local = {**shipped, K + "baseImage": "cloudlabs/base:bookworm"}
    for res in run_program(local, stack="docker-basics").of_type(IMAGE):
        assert res.inputs["build"]["args"] == {"BASE_IMAGE": "cloudlabs/base:bookworm"}, res


@pytest.mark.parametrize("recipe", ["plain", "ssh", "nano"])
def test_recipes_take_the_base_image_as_a_build_argument(recipe: str) -> None:
    text = (ROOT / "docker" / recipe / "Dockerfile").read_text()
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.startswith("#")]
    assert re.fullmatch(r"ARG BASE_IMAGE=ubuntu:24\.04", lines[0]), lines[0]
    assert lines[1] == "FROM ${BASE_IMAGE}"


def test_the_package_mirror_reaches_the_recipes_and_the_snapshot(shipped: dict) -> None:
    # The shipped stack sets none: the base image's own sources, nothing passed.
    run = run_program(shipped, stack="docker-basics")
    commit = run.one(COMMAND, "ct2-snapshot-commit")
    assert not any(k.startswith("APT_") for k in commit.inputs["environment"])
    mirror = {"url": "http://172.17.0.1:8090/debian", "key": ARMORED_KEY}
    for value, expected in (
        ("http://deb.debian.org/debian", {"APT_MIRROR": "http://deb.debian.org/debian"}),
        (mirror, {"APT_MIRROR": mirror["url"], "APT_MIRROR_KEY": ARMORED_KEY}),
        (
            {"url": "http://192.0.2.7/debian", "trusted": True},
            {"APT_MIRROR": "http://192.0.2.7/debian", "APT_MIRROR_TRUSTED": "true"},
        ),
    ):
        run = run_program({**shipped, K + "aptMirror": value}, stack="docker-basics")
        for res in run.of_type(IMAGE):
            assert res.inputs["build"]["args"] == {"BASE_IMAGE": "ubuntu:24.04", **expected}
        env = run.one(COMMAND, "ct2-snapshot-commit").inputs["environment"]
        assert {k: v for k, v in env.items() if k.startswith("APT_")} == expected


@pytest.mark.parametrize("recipe", ["ssh", "nano"])
def test_recipes_install_from_the_mirror_and_fail_when_the_index_cannot_be_fetched(
    recipe: str,
) -> None:
    text = (ROOT / "docker" / recipe / "Dockerfile").read_text()
    for arg in ("APT_MIRROR=", "APT_MIRROR_KEY=", "APT_MIRROR_TRUSTED=false"):
        assert f"ARG {arg}" in text, f"{recipe}: no ARG {arg}"
    assert "COPY apt-update.sh /usr/local/sbin/cloudlabs-apt-update" in text
    assert "RUN cloudlabs-apt-update \\\n" in text
    assert "apt-get update" not in text, "a bare apt-get update goes on when it fails"


def test_the_recipes_install_what_they_promise() -> None:
    ssh = (ROOT / "docker" / "ssh" / "Dockerfile").read_text()
    nano = (ROOT / "docker" / "nano" / "Dockerfile").read_text()
    assert "openssh-server" in ssh and "EXPOSE 22" in ssh
    assert "install -y --no-install-recommends nano" in nano
    assert 'CMD ["/bin/bash"]' in nano


def test_destroy_removes_every_built_image_after_its_containers(run: StackRun) -> None:
    delete = ScriptRun([], "scripts/docker/image.sh", "delete", {})
    for recipe in ("plain", "ssh", "nano"):
        built = image(run, recipe)
        cleanup = run.one(COMMAND, f"basics-{recipe}-cleanup")
        assert cleanup.inputs["environment"] == {"IMAGE": built.inputs["imageName"]}
        assert script_run(cleanup.inputs["delete"]) == delete
        # A new tag replaces the command: the old one's delete removes the old tag.
        assert cleanup.inputs["triggers"] == [built.inputs["imageName"]], cleanup
    for ct, recipe in (("ct1", "plain"), ("ct2", "ssh")):
        cleanup = run.one(COMMAND, f"basics-{recipe}-cleanup")
        assert run.depends_on(container(run, ct), cleanup), ct


def test_ct1_is_plain_and_unpublished(run: StackRun, shipped: dict) -> None:
    ct1 = container(run, "ct1")
    assert ct1.inputs["name"] == shipped[K + "ct1"]["name"] == "ct1"
    assert ct1.inputs["image"] == image(run, "plain").state["repoDigest"]
    assert not ct1.inputs.get("ports")
    assert "networksAdvanced" not in ct1.inputs  # the engine's default bridge


def test_ct2_publishes_host_2223_to_ssh(run: StackRun) -> None:
    ct2 = container(run, "ct2")
    assert ct2.inputs["name"] == "ct2"
    assert ct2.inputs["image"] == image(run, "ssh").state["repoDigest"]
    assert ct2.inputs["ports"] == [
        {"internal": 22, "external": 2223, "ip": "127.0.0.1", "protocol": "tcp"}
    ]
    assert ct2.inputs["envs"] == []  # no key configured: sshd answers, nobody logs in


def test_ct2_gets_the_configured_public_key(shipped: dict) -> None:
    config = {**shipped, K + "ct2": {**shipped[K + "ct2"], "sshPublicKey": KEY}}
    ct2 = container(run_program(config, stack="docker-basics"), "ct2")
    assert ct2.inputs["envs"] == [f"SSH_AUTHORIZED_KEY={KEY}"]


def test_the_snapshot_commits_ct2_through_the_scripts(run: StackRun, shipped: dict) -> None:
    commit = run.one(COMMAND, SNAPSHOT)
    ct2 = container(run, "ct2")
    assert script_run(commit.inputs["create"]).script == "scripts/docker/snapshot.sh"
    assert script_run(commit.inputs["delete"]).action == "delete"
    # Its delete removes the image its create printed (PULUMI_COMMAND_STDOUT).
    assert commit.inputs["addPreviousOutputInEnv"] is True
    assert commit.inputs["environment"] == {
        "CONTAINER": "ct2",
        "IMAGE": shipped[K + "snapshot"]["image"],
        "PREPARE": shipped[K + "snapshot"]["prepare"],
    }
    assert "nano" in shipped[K + "snapshot"]["prepare"]
    # A new ct2 (replacement) means a new snapshot.
    assert ct2.id in commit.inputs["triggers"]
    assert run.depends_on(commit, ct2)


def test_ct3_runs_from_the_snapshot(run: StackRun) -> None:
    ct3 = container(run, "ct3")
    commit = run.one(COMMAND, SNAPSHOT)
    assert ct3.inputs["image"] == commit.state["stdout"]
    assert run.depends_on(ct3, commit)
    assert not ct3.inputs.get("ports")


def test_fixed_names_mean_delete_before_replace(run: StackRun) -> None:
    by_name = {r.name: r for r in run.resources}
    for name in ("ct1-container", "ct2-container", "ct3-container", "ct2-snapshot-commit"):
        assert by_name[name].options.get("deleteBeforeReplace") is True, name


def test_outputs(run: StackRun, shipped: dict) -> None:
    out = run.outputs
    assert set(out) == {
        "ct1Ip",
        "ct2Ip",
        "ct3Ip",
        "snapshotImageId",
        "snapshotImage",
        "nanoImage",
        "sshCommand",
        "snapshots",
        "restored",
    }
    assert out["snapshots"] == {} and out["restored"] == {}
    for ct in ("ct1", "ct2", "ct3"):
        assert out[f"{ct}Ip"] == container(run, ct).state["networkDatas"][0]["ipAddress"]
    assert out["snapshotImageId"] == run.one(COMMAND, SNAPSHOT).state["stdout"]
    assert out["snapshotImage"] == shipped[K + "snapshot"]["image"]
    assert out["nanoImage"] == shipped[K + "images"]["nano"]
    assert out["sshCommand"] == "ssh -p 2223 root@127.0.0.1"


def test_ssh_command_follows_the_published_port(shipped: dict) -> None:
    config = {**shipped, K + "ct2": {"name": "web", "hostIp": "0.0.0.0", "hostPort": 2022}}
    run = run_program(config, stack="docker-basics")
    assert container(run, "ct2").inputs["ports"][0]["ip"] == "0.0.0.0"
    assert run.outputs["sshCommand"] == "ssh -p 2022 root@127.0.0.1"


def test_without_preparation_the_snapshot_is_taken_as_is(shipped: dict) -> None:
    config = {**shipped, K + "snapshot": {"image": "me/snap:1"}}
    config[K + "snapshot"]["prepare"] = None
    commit = run_program(config, stack="docker-basics").one(COMMAND, SNAPSHOT)
    assert "PREPARE" not in commit.inputs["environment"]


def test_every_child_is_parented_to_its_component(run: StackRun) -> None:
    for res in run.resources:
        if res.type.startswith(("docker:", "command:")):
            assert res.parent is not None and "cloudlabs:docker:" in res.parent, res
            component = res.parent.rsplit("::", 1)[-1]
            assert res.name.startswith(f"{component}-"), res


def test_scripts_are_shellcheck_clean() -> None:
    assert_shellcheck_clean(
        [
            ROOT / "scripts/docker/snapshot.sh",
            ROOT / "scripts/docker/image.sh",
            ROOT / "docker/ssh/start-sshd.sh",
        ]
    )


@pytest.mark.parametrize(
    "ref",
    [
        "ubuntu",
        "ubuntu:24.04",
        "cloudlabs/base:bookworm",
        "registry.example.org:5000/team/python:3.12-slim",
        "localhost/calc",
        "python@sha256:" + "a" * 64,
    ],
)
def test_image_references_accepted(ref: str) -> None:
    assert parse_image_ref(ref) == ref


@pytest.mark.parametrize(
    "ref", ["", "Ubuntu", "CloudLabs/calc", "ubuntu:", "a b", "ubuntu:24.04:x", "/ubuntu", 7]
)
def test_image_references_rejected(ref: object) -> None:
    with pytest.raises(ValueError, match="image reference"):
        parse_image_ref(ref)
