"""Declared snapshots and restore of the VirtualBox labs' VMs, under the mocks."""

from __future__ import annotations

from typing import Any

import pytest

from tests.harness import assert_rejected, differences, load_stack_file, run_program, script_run

COMMAND = "command:local:Command"
K = "cloud-labs:"
SNAPS = [{"name": "fresh", "description": "first boot"}, {"name": "hot", "live": True}]
RESTORE = {"snapshot": "fresh", "generation": 3}


def nat(**vm: Any) -> dict[str, Any]:
    config = load_stack_file("vbox-nat")
    config[K + "vm"] = {**config[K + "vm"], **vm}
    return config


def test_snapshots_come_after_the_guest_is_ready_and_the_restore_after_them() -> None:
    run = run_program(nat(snapshots=SNAPS, restore=RESTORE), stack="vbox-nat")
    ready = run.one(COMMAND, "vm-ssh")
    for snap in SNAPS:
        cmd = run.one(COMMAND, f"vm-snapshot-{snap['name']}")
        assert script_run(cmd.inputs["create"]).script == "scripts/virtualbox/snapshot.sh"
        env = cmd.inputs["environment"]
        assert (env["VM_NAME"], env["SNAPSHOT_NAME"]) == ("lab-vm", snap["name"])
        assert env["LIVE"] == ("1" if snap.get("live") else "0")
        assert env["VBOXMANAGE"] == "VBoxManage"
        assert cmd.inputs["triggers"] == [env["DEFINITION"]]
        assert run.depends_on(cmd, ready)
    restore = run.one(COMMAND, "vm-restore")
    assert script_run(restore.inputs["create"]).script == "scripts/virtualbox/restore.sh"
    assert restore.inputs["update"] == restore.inputs["create"]
    assert restore.inputs["environment"]["GENERATION"] == "3"
    assert run.reaches(restore, run.one(COMMAND, "vm-snapshot-hot"))
    assert set(run.outputs["restored"]) == {"lab-vm"}
    # The clone declares none.
    assert not [r for r in run.of_type(COMMAND) if r.name.startswith("clone-snapshot")]


@pytest.mark.parametrize("stack", ["vbox-nat", "vbox-cluster"])
def test_up_twice_with_no_change_changes_nothing(stack: str) -> None:
    config = load_stack_file(stack)
    key = "vm" if stack == "vbox-nat" else "nodes"
    config[K + key] = {**config.get(K + key, {}), "snapshots": SNAPS, "restore": RESTORE}
    first, second = run_program(config, stack=stack), run_program(config, stack=stack)
    assert differences(first, second) == []
    if stack == "vbox-cluster":  # every node has the declared snapshots
        names = {r.name for r in first.of_type(COMMAND) if "-snapshot-fresh" in r.name}
        assert len(names) == config.get(K + "nodes", {}).get("count", 3), names


def test_a_restore_naming_no_snapshot_is_rejected_before_any_resource() -> None:
    config = nat(snapshots=SNAPS, restore={"snapshot": "gone", "generation": 1, "mode": "replace"})
    assert_rejected(
        config,
        "vbox-nat",
        [("vm.restore.snapshot", "names no snapshot"), ("vm.restore.mode", "unknown key")],
    )
