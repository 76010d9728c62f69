"""Declared snapshots and restore of a container, on the real Docker engine, `up` after `up`.

docker-basics' ``ct1`` runs through the real program under mocks for each config in turn;
:meth:`EngineApply.update` takes the engine from one to the next as ``pulumi up`` would
(unchanged resources untouched, changed commands updated with their previous output, changed
containers replaced). The round trip: a file written in the container, a snapshot, the file
deleted, a restore: the file is back; the same config again changes nothing; a larger
generation restores again; a smaller one is refused with the container untouched; destroy
leaves nothing.
"""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.docker_apply import DockerError, EngineApply, docker
from tests.harness import Resource, StackRun, load_stack_file, run_program

pytestmark = pytest.mark.integration

BASE_IMAGE = "cloudlabs/base:bookworm"
K = "cloud-labs:"


def only_ct1(run: StackRun) -> StackRun:
    """``run`` without ct2, ct3, their images and the lab's own snapshot: what ct1 needs."""

    def kept(res: Resource) -> bool:
        return not res.name.startswith(("ct2", "ct3", "basics-ssh", "basics-nano"))

    return StackRun(
        resources=[r for r in run.resources if kept(r)],
        outputs=run.outputs,
        secret_outputs=run.secret_outputs,
    )


class Ct1:
    def __init__(self, config: dict[str, Any], suffix: str) -> None:
        self.config = config
        self.name = f"cloudlabs-snaptest-{suffix}"

    def run(self, **ct1: Any) -> StackRun:
        config = {**self.config, K + "ct1": {"name": self.name, **ct1}}
        return only_ct1(run_program(config, stack="docker-basics"))

    def sh(self, command: str) -> str:
        return docker("exec", self.name, "sh", "-c", command)

    def container_id(self) -> str:
        return docker("inspect", "--format", "{{.Id}}", self.name).strip()


@pytest.fixture(scope="module")
def ct1() -> Iterator[tuple[Ct1, EngineApply]]:
    suffix = uuid.uuid4().hex[:8]
    config = load_stack_file("docker-basics")
    config[K + "baseImage"] = BASE_IMAGE
    config[K + "images"] = {**config[K + "images"], "plain": f"cloudlabs-test/{suffix}-plain:t"}
    lab = Ct1(config, suffix)
    engine = EngineApply(lab.run(), run_label=f"cloudlabs-test-{suffix}")
    try:
        engine.apply()
        yield lab, engine
    finally:
        problems = engine.cleanup()
        assert not problems, problems


SNAPSHOTS = [{"name": "with-file", "description": "the file written"}]


def test_snapshot_delete_restore_round_trip(ct1: tuple[Ct1, EngineApply]) -> None:
    lab, engine = ct1
    lab.sh("echo kept > /root/state.txt")
    assert engine.update(lab.run(snapshots=SNAPSHOTS)) == ["create ct1-snapshot-with-file-commit"]
    image = f"cloudlabs-snapshot/{lab.name}:with-file"
    labels = docker("inspect", "--format", "{{json .Config.Labels}}", image)
    assert "org.cloudlabs.snapshot-definition" in labels
    lab.sh("rm /root/state.txt")
    before = lab.container_id()

    restore = {"snapshot": "with-file", "generation": 1}
    done = engine.update(lab.run(snapshots=SNAPSHOTS, restore=restore))
    assert done == ["create ct1-restore-tag", "replace ct1-container"], done
    assert lab.container_id() != before
    assert lab.sh("cat /root/state.txt").strip() == "kept"
    inspect = docker("inspect", "--format", "{{.Image}} {{.State.Running}}", lab.name).split()
    assert inspect == [docker("image", "inspect", "--format", "{{.Id}}", image).strip(), "true"]

    # The same config again: nothing runs, the container stays.
    restored = lab.container_id()
    assert engine.update(lab.run(snapshots=SNAPSHOTS, restore=restore)) == []
    assert lab.container_id() == restored

    # A larger generation restores again.
    lab.sh("rm /root/state.txt")
    done = engine.update(lab.run(snapshots=SNAPSHOTS, restore={**restore, "generation": 2}))
    assert done == ["update ct1-restore-tag", "replace ct1-container"], done
    assert lab.sh("cat /root/state.txt").strip() == "kept"

    # A smaller one is refused by the restore's command, before the container is touched.
    kept = lab.container_id()
    with pytest.raises(DockerError, match="went down from 2 to 1"):
        engine.update(lab.run(snapshots=SNAPSHOTS, restore=restore))
    assert lab.container_id() == kept


def test_a_changed_definition_is_refused_and_the_snapshot_kept(
    ct1: tuple[Ct1, EngineApply],
) -> None:
    lab, engine = ct1
    image = f"cloudlabs-snapshot/{lab.name}:with-file"
    taken = docker("image", "inspect", "--format", "{{.Id}}", image).strip()
    changed = [{"name": "with-file", "description": "another text"}]
    restore = {"snapshot": "with-file", "generation": 2}
    with pytest.raises(DockerError, match="never re-taken"):
        engine.update(lab.run(snapshots=changed, restore=restore))
    assert docker("image", "inspect", "--format", "{{.Id}}", image).strip() == taken


def test_destroy_leaves_nothing(ct1: tuple[Ct1, EngineApply]) -> None:
    lab, engine = ct1
    problems = engine.cleanup()
    assert not problems, problems
    assert engine.left_after_destroy == [], "destroy left these on the engine"
    assert engine.left_behind() == []
    for name in (
        f"cloudlabs-snapshot/{lab.name}:with-file",
        f"cloudlabs-restore/{lab.name}:latest",
        lab.config[K + "images"]["plain"],
    ):
        gone = subprocess.run(["docker", "image", "inspect", name], capture_output=True)
        assert gone.returncode != 0, f"{name} is still there"
