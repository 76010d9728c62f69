"""Declared snapshots and restore of libvirt-host's VMs, under the mocks."""

from __future__ import annotations

from typing import Any

import pytest

from tests.harness import (
    StackRun,
    assert_rejected,
    differences,
    load_stack_file,
    run_program,
    script_run,
)

STACK = "libvirt-host"
COMMAND = "command:local:Command"
K = "cloud-labs:"
SNAPS = [{"name": "clean", "description": "before the exercises"}, {"name": "later"}]
RESTORE = {"snapshot": "clean", "generation": 1}


def declaring(**keys: Any) -> dict[str, Any]:
    """The shipped stack with ``keys`` on its storage VM."""
    config = load_stack_file(STACK)
    vms = [dict(vm) for vm in config[K + "vms"]]
    vms[1] = {**vms[1], **keys}
    return {**config, K + "vms": vms}


@pytest.fixture(scope="module")
def declared() -> StackRun:
    return run_program(declaring(snapshots=SNAPS, restore=RESTORE), stack=STACK)


def test_each_snapshot_is_a_command_after_the_domain(declared: StackRun) -> None:
    domain = declared.one(COMMAND, "vm-storage-domain")
    for snap in SNAPS:
        cmd = declared.one(COMMAND, f"vm-storage-snapshot-{snap['name']}")
        assert script_run(cmd.inputs["create"]).script == "scripts/libvirt/snapshot.sh"
        assert script_run(cmd.inputs["delete"]).action == "delete"
        env = cmd.inputs["environment"]
        assert env["DOMAIN_NAME"] == "storage" and env["SNAPSHOT_NAME"] == snap["name"]
        assert env["DESCRIPTION"] == snap.get("description", "")
        assert env["OWNER"] == domain.inputs["environment"]["OWNER"]
        assert env["LIBVIRT_URI"] == "qemu:///system"
        assert len(cmd.inputs["triggers"]) == 1  # the definition: a change replaces it
        assert "deleteBeforeReplace" not in cmd.options
        assert declared.depends_on(cmd, domain)
    # Only the VM that declares them has snapshots.
    names = {r.name for r in declared.of_type(COMMAND)}
    assert not any(n.startswith("vm-gateway-snapshot") for n in names)


def test_the_restore_reverts_after_the_snapshots_once_per_generation(declared: StackRun) -> None:
    cmd = declared.one(COMMAND, "vm-storage-restore")
    assert script_run(cmd.inputs["create"]).script == "scripts/libvirt/restore.sh"
    assert cmd.inputs["update"] == cmd.inputs["create"]
    assert "delete" not in cmd.inputs or not cmd.inputs["delete"]
    assert cmd.inputs["addPreviousOutputInEnv"] is True
    env = cmd.inputs["environment"]
    assert (env["SNAPSHOT_NAME"], env["GENERATION"]) == ("clean", "1")
    for snap in SNAPS:
        assert declared.depends_on(
            cmd, declared.one(COMMAND, f"vm-storage-snapshot-{snap['name']}")
        )
    assert set(declared.outputs["restored"]) == {"storage"}
    assert declared.outputs["snapshots"] == {"storage": ["clean", "later"]}


def test_a_new_generation_runs_the_restore_only(declared: StackRun) -> None:
    again = run_program(
        declaring(snapshots=SNAPS, restore={**RESTORE, "generation": 2}), stack=STACK
    )
    assert differences(declared, again) == ["inputs of command:local:Command::vm-storage-restore"]


def test_up_twice_with_no_change_changes_nothing(declared: StackRun) -> None:
    config = declaring(snapshots=SNAPS, restore=RESTORE)
    assert differences(declared, run_program(config, stack=STACK)) == []


def test_the_shipped_stack_has_no_snapshot_commands() -> None:
    run = run_program(load_stack_file(STACK), stack=STACK)
    assert not [r for r in run.of_type(COMMAND) if "snapshot" in r.name or "restore" in r.name]
    assert run.outputs["snapshots"] == {} and run.outputs["restored"] == {}


def test_live_snapshots_are_rejected_on_libvirt_before_any_resource() -> None:
    config = declaring(
        snapshots=[{"name": "hot", "live": True}], restore={"snapshot": "x", "generation": 1}
    )
    assert_rejected(
        config,
        STACK,
        [
            ("vms[1].snapshots[0].live", "libvirt has no live snapshots"),
            ("vms[1].restore.snapshot", "names no snapshot"),
        ],
    )
