"""Declared snapshots and restore of docker-basics' containers, under the mocks."""

from __future__ import annotations

from typing import Any

import pytest

from tests.harness import (
    Resource,
    StackRun,
    assert_rejected,
    differences,
    load_stack_file,
    run_program,
    script_run,
)

STACK = "docker-basics"
CONTAINER = "docker:index/container:Container"
COMMAND = "command:local:Command"
K = "cloud-labs:"


def declaring(ct: str, **keys: Any) -> dict[str, Any]:
    config = load_stack_file(STACK)
    config[K + ct] = {**config[K + ct], **keys}
    return config


SNAPS = [{"name": "clean", "description": "fresh"}, {"name": "hot", "live": True}]
RESTORE = {"snapshot": "clean", "generation": 2}


@pytest.fixture(scope="module")
def declared() -> StackRun:
    return run_program(declaring("ct1", snapshots=SNAPS, restore=RESTORE), stack=STACK)


def assert_committed(run: StackRun, name: str, container: str, snaps: list[Any]) -> None:
    """Each of ``snaps`` is a commit of ``container`` (the resource ``<name>-container``),
    ``<name>-snapshot-<snapshot>-commit``, taken once."""
    res = run.one(CONTAINER, f"{name}-container")
    for snap in snaps:
        commit = run.one(COMMAND, f"{name}-snapshot-{snap['name']}-commit")
        assert script_run(commit.inputs["create"]).script == "scripts/docker/snapshot.sh"
        env = commit.inputs["environment"]
        image = f"cloudlabs-snapshot/{container}:{snap['name']}"
        assert env["CONTAINER"] == container and env["IMAGE"] == image
        assert env["DESCRIPTION"] == snap.get("description", "")
        assert env["LIVE"] == ("1" if snap.get("live") else "0")
        # Taken once: a restored (re-created) container does not re-take it; a changed
        # definition replaces it create-first, and the create refuses the changed snapshot.
        assert commit.inputs["triggers"] == [image, env["DEFINITION"]]
        assert res.id not in commit.inputs["triggers"]
        assert "deleteBeforeReplace" not in commit.options, commit
        assert run.depends_on(commit, res)


def test_each_declared_snapshot_is_a_commit_taken_once(declared: StackRun) -> None:
    assert_committed(declared, "ct1", "ct1", SNAPS)


def test_a_changed_definition_changes_the_trigger_and_a_new_name_a_new_resource() -> None:
    changed = [{"name": "clean", "description": "other"}, SNAPS[1]]
    run = run_program(declaring("ct1", snapshots=changed), stack=STACK)
    before = run_program(declaring("ct1", snapshots=SNAPS), stack=STACK)
    assert differences(before, run) == [
        "inputs of command:local:Command::ct1-snapshot-clean-commit"
    ]
    renamed = [{"name": "clean2", "description": "other"}, SNAPS[1]]
    after = run_program(declaring("ct1", snapshots=renamed), stack=STACK)
    assert sorted(differences(before, after)) == [
        "create cloudlabs:docker:Snapshot::ct1-snapshot-clean2",
        "create command:local:Command::ct1-snapshot-clean2-commit",
        "delete cloudlabs:docker:Snapshot::ct1-snapshot-clean",
        "delete command:local:Command::ct1-snapshot-clean-commit",
    ]


def assert_restored_from(run: StackRun, name: str, container: str, generation: int) -> Resource:
    """The container resource ``<name>-container`` runs the image the restore's command
    (``<name>-restore-tag``) tagged from ``container``'s snapshot ``clean``, labelled with
    ``generation``; the container resource."""
    res = run.one(CONTAINER, f"{name}-container")
    tag = run.one(COMMAND, f"{name}-restore-tag")
    assert script_run(tag.inputs["create"]).script == "scripts/docker/restore.sh"
    # The update is the create: it reads the generation off the container as the previous up
    # left it, and refuses a smaller one before the container is replaced.
    assert tag.inputs["update"] == tag.inputs["create"]
    assert tag.inputs["environment"] == {
        "CONTAINER": container,
        "SNAPSHOT": "clean",
        "SNAPSHOT_IMAGE": f"cloudlabs-snapshot/{container}:clean",
        "RESTORE_IMAGE": f"cloudlabs-restore/{container}:latest",
        "GENERATION": str(generation),
    }
    assert res.inputs["image"] == tag.state["stdout"]
    labels = {item["label"]: item["value"] for item in res.inputs["labels"]}
    assert labels["org.cloudlabs.restore-generation"] == str(generation)
    assert run.depends_on(res, tag)
    return res


def test_a_restore_re_creates_the_container_from_the_snapshot_image(declared: StackRun) -> None:
    assert_restored_from(declared, "ct1", "ct1", 2)
    tag = declared.one(COMMAND, "ct1-restore-tag")
    # The snapshot is taken from the container: the restore cannot wait for it (a cycle);
    # its create checks that the image is there.
    assert not declared.reaches(tag, declared.one(COMMAND, "ct1-snapshot-clean-commit"))
    assert declared.outputs["restored"] == {"ct1": "clean@2"}
    assert set(declared.outputs["snapshots"]["ct1"]) == {"clean", "hot"}


def test_a_new_generation_changes_the_restore_and_the_container_only(declared: StackRun) -> None:
    again = declaring("ct1", snapshots=SNAPS, restore={**RESTORE, "generation": 3})
    assert differences(declared, run_program(again, stack=STACK)) == [
        "inputs of command:local:Command::ct1-restore-tag",
        "inputs of docker:index/container:Container::ct1-container",
    ]


@pytest.mark.parametrize("ct", ["ct1", "ct2", "ct3"])
def test_up_twice_with_no_change_changes_nothing(ct: str) -> None:
    config = declaring(ct, snapshots=SNAPS, restore=RESTORE)
    assert differences(run_program(config, stack=STACK), run_program(config, stack=STACK)) == []


def test_bad_declarations_are_rejected_before_any_resource() -> None:
    config = declaring(
        "ct2",
        snapshots=[{"name": "a"}, {"name": "a"}],
        restore={"snapshot": "b", "generation": 1, "mode": "rebuild"},
    )
    config[K + "ct3"] = {"name": "Ct3", "snapshots": [{"name": "x"}]}
    assert_rejected(
        config,
        STACK,
        [
            ("ct2.snapshots[1].name", "already the name of snapshots[0]"),
            ("ct2.restore.snapshot", "names no snapshot"),
            ("ct2.restore.mode", "unknown key"),
            ("ct3.name", "image repository"),
        ],
    )
