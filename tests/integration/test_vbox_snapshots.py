"""vbox-nat's declared snapshots and restore, run exactly as the stack declares them, against the
VBoxManage stand-in (strict like VirtualBox 7.1's VBoxManageSnapshot.cpp: ``snapshot <vm>
take <name> [--description] [--live]``, ``delete|restore <name>`` and nothing more, a restore
refused while the VM runs).

The VM is brought up as in ``test_vbox_scripts.py``; its snapshots are taken once (a re-run
takes nothing), a changed definition is refused, a restore powers the running VM off, restores
and starts it again, the same generation restores nothing, a smaller one is refused, a CPU
count changed after the snapshot comes back with it, and the deletes leave nothing behind."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fakes.vbox_runner import FakeVBox, mutating, ordered_commands, problems, ssh_guests
from tests.harness import run_program
from tests.integration.test_vbox_scripts import K, by_name, image, nat_config
from tests.validators import require

pytestmark = pytest.mark.integration

SNAPSHOTS = [{"name": "fresh", "description": "first boot done"}, {"name": "hot", "live": True}]


def test_snapshots_and_restore_through_the_stand_in(tmp_path: Path) -> None:
    require("genisoimage")
    fake = FakeVBox(tmp_path)
    image(fake)
    key = fake.root / "home" / "vbox" / "ready-key.pub"
    with ssh_guests(2, tmp_path / "sshd", key) as guests:
        config = nat_config(guests.port)
        restore = {"snapshot": "fresh", "generation": 1}
        config[K + "vm"] = {**config[K + "vm"], "snapshots": SNAPSHOTS, "restore": restore}
        run = run_program(config, stack="vbox-nat")
        fake.new_calls()
        calls: dict[str, list[list[str]]] = {}
        for res in ordered_commands(run):
            out = fake.run(res, timeout=180)
            new = fake.new_calls()
            assert not problems(new), f"{res.urn}: {problems(new)}"
            calls[res.name] = mutating(new)
            if res.name == "vm-restore":
                first = out

        take = [c for c in calls["vm-snapshot-fresh"] if c[0] == "snapshot"]
        assert take == [["snapshot", "lab-vm", "take", "fresh", "--description", "first boot done"]]
        hot = [c for c in calls["vm-snapshot-hot"] if c[0] == "snapshot"]
        assert hot == [["snapshot", "lab-vm", "take", "hot", "--live"]]
        # The restore found the VM running: powered off, restored, started again.
        assert calls["vm-restore"] == [
            ["controlvm", "lab-vm", "poweroff"],
            ["snapshot", "lab-vm", "restore", "fresh"],
            ["startvm", "lab-vm", "--type", "headless"],
        ]
        assert first.split() == ["fresh", "1"]
        vm = fake.state()["vms"]["lab-vm"]
        assert vm["state"] == "running"
        assert [s["name"] for s in vm["snapshots"]] == ["fresh", "hot"]

        # Taken once: the create again changes nothing.
        fake.run(by_name(run, "vm-snapshot-fresh"))
        assert mutating(fake.new_calls()) == []
        # A changed definition under the same name is refused.
        snap = by_name(run, "vm-snapshot-fresh")
        changed = fake.attempt(snap, DEFINITION="another")
        assert changed.returncode != 0 and "never re-taken" in changed.stderr, changed.stderr

        restore_cmd = by_name(run, "vm-restore")
        # The same generation (the update, with the previous output): nothing restored.
        assert fake.run_update(restore_cmd, first) == first
        assert mutating(fake.new_calls()) == []
        # A smaller one is refused before anything is done.
        lower = fake.attempt(restore_cmd, PULUMI_COMMAND_STDOUT="fresh 5")
        assert lower.returncode != 0 and "went down from 5 to 1" in lower.stderr
        assert mutating(fake.new_calls()) == []

        # A larger one on a powered-off VM restores it without starting it: the snapshot was
        # taken online, so the VM is left saved (it resumes from there when started); the
        # settings the snapshot holds come back (a CPU count changed since).
        vm_cmd = by_name(run, "vm-vm")
        fake.run(vm_cmd, timeout=180)
        fake.attempt(vm_cmd, VM_CPUS="2", VM_START="no", timeout=240)
        fake.new_calls()
        out = fake.run_update(restore_cmd, first, GENERATION="2")
        assert out.split() == ["fresh", "2"]
        assert mutating(fake.new_calls()) == [["snapshot", "lab-vm", "restore", "fresh"]]
        vm = fake.state()["vms"]["lab-vm"]
        assert (vm["state"], vm["cpus"]) == ("saved", 1)

        # Deletes: the snapshots and their marks, then everything else.
        for res in reversed(ordered_commands(run)):
            if res.inputs.get("delete"):
                fake.run(res, "delete", timeout=180)
        state = fake.state()
        assert state["vms"] == {}, state["vms"]
        again = fake.attempt(by_name(run, "vm-snapshot-fresh"), "delete")
        assert again.returncode == 0, again.stderr
