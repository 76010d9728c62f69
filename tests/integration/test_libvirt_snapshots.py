"""libvirt-host's snapshot and restore commands against the real libvirtd (namespace
``cloudlabs-libvirt``), on a domain with an empty qcow2 disk.

One VM of the stack runs under mocks with two declared snapshots and a restore; its commands
run in dependency order as in ``test_libvirt_lifecycle.py``. What the guest would see is its
disk: a pattern written with ``qemu-io`` while the domain is shut off stands for a file. The
round trip: pattern written, snapshot, pattern overwritten, restore: the pattern is back. Then
the same generation again (nothing reverted), a smaller one (refused), a snapshot of the running
domain and a restore to it (running again), a changed definition (refused, snapshot kept), and
the deletes: nothing of the stack left.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.guests import (
    STORAGE,
    attempt,
    execute,
    in_netns,
    new_tag,
    remove_tagged,
    require_libvirtd,
    sh,
    virsh,
)
from tests.harness import Resource, StackRun, load_stack_file, run_program, script_run

pytestmark = pytest.mark.integration

COMMAND = "command:local:Command"
K = "cloud-labs:"


def pattern(disk: Path, byte: str, verb: str = "write") -> bool:
    """Write (or check, with ``verb="read"``) 64 KiB of ``byte`` at the disk's start."""
    result = sh("qemu-io", "-f", "qcow2", "-c", f"{verb} -P {byte} 0 64k", str(disk), check=False)
    return "Pattern verification failed" not in result and ("wrote" in result or "read" in result)


def one_vm(tag: str, storage: Path, base: Path, number: int, **vm: Any) -> dict[str, Any]:
    """libvirt-host with one small VM (``vm`` its keys) on networks of its own:
    192.168.<number>.0/24 (NAT) and 10.<number>.0.0/24 (management), software emulation."""
    config = load_stack_file("libvirt-host")
    first = config[K + "vms"][1]
    config.update(
        {
            K + "domainType": "qemu",
            K + "storageDir": str(storage),
            K + "baseImage": str(base),
            K + "allowUndersized": True,
            K + "hostPreparation": {"enabled": False},
            K + "natNetwork": {
                "name": f"{tag}-nat",
                "bridge": f"{tag}n0",
                "cidr": f"192.168.{number}.0/24",
                "address": f"192.168.{number}.1",
                "dhcpStart": f"192.168.{number}.100",
                "dhcpEnd": f"192.168.{number}.199",
                "adoptExisting": False,
            },
            K + "managementNetwork": {
                "name": f"{tag}-mgmt",
                "bridge": f"{tag}m0",
                "cidr": f"10.{number}.0.0/24",
                "address": f"10.{number}.0.1",
            },
            K + "vms": [{**first, "name": f"{tag}-vm", "ip": f"10.{number}.0.3", "vcpus": 1, **vm}],
        }
    )
    return config


@pytest.fixture(scope="module")
def stack() -> Iterator[tuple[str, Path, StackRun]]:
    require_libvirtd()
    tag = new_tag("cs")
    storage = STORAGE / tag
    try:
        storage.mkdir(parents=True)
        base = storage / "base.qcow2"
        sh("qemu-img", "create", "-q", "-f", "qcow2", str(base), "256M")
        config = one_vm(
            tag,
            storage,
            base,
            number=77,
            memoryMib=128,
            diskGib=1,
            snapshots=[
                {"name": "written", "description": "the pattern is there"},
                {"name": "running"},
            ],
            restore={"snapshot": "written", "generation": 1},
        )
        yield tag, storage, run_program(config, stack="itest")
    finally:
        remove_tagged(tag, storage)


def all_domains() -> list[str]:
    return virsh("list", "--all", "--name").split()


def snapshots(domain: str) -> list[str]:
    return virsh("snapshot-list", "--domain", domain, "--name").split()


def test_snapshot_restore_round_trip(stack: tuple[str, Path, StackRun]) -> None:
    tag, storage, run = stack
    domain, disk = f"{tag}-vm", storage / f"{tag}-vm.qcow2"
    commands = {c.name: c for c in run.in_dependency_order(COMMAND)}
    vm = f"vm-{domain}"
    snap, running, restore = (
        commands[f"{vm}-snapshot-written"],
        commands[f"{vm}-snapshot-running"],
        commands[f"{vm}-restore"],
    )
    operations = [snap, running, restore]
    machine: list[Resource] = [c for c in commands.values() if c not in operations]
    assert script_run(restore.inputs["create"]).script == "scripts/libvirt/restore.sh"
    for c in machine:
        execute(c, "create")
    assert virsh("domstate", domain).strip() == "running"

    # The "file": a pattern on the disk, written while the domain is off.
    virsh("destroy", domain)
    assert pattern(disk, "0x5a")
    assert "shutoff" in execute(snap, "create")
    assert snapshots(domain) == ["written"]
    assert execute(snap, "create") == execute(snap, "create")  # taken once
    assert pattern(disk, "0x00")  # the file deleted
    assert not pattern(disk, "0x5a", "read")

    first = execute(restore, "create")
    assert first.split() == ["written", "1"]
    assert pattern(disk, "0x5a", "read"), "the restore did not bring the disk back"
    assert virsh("domstate", domain).strip() == "shut off"

    # The same generation (an update with the previous output): nothing is reverted.
    assert pattern(disk, "0x11")
    assert execute(restore, "create", PULUMI_COMMAND_STDOUT=first) == first
    assert pattern(disk, "0x11", "read")
    # A smaller one is refused.
    lower = attempt(restore, "create", PULUMI_COMMAND_STDOUT="written 3")
    assert lower.returncode != 0 and "went down from 3 to 1" in lower.stderr, lower.stderr
    assert pattern(disk, "0x11", "read")

    # A running domain: its snapshot holds the memory too; a restore leaves it running.
    virsh("start", domain)
    assert "running" in execute(running, "create")
    again = execute(
        restore, "create", SNAPSHOT_NAME="running", GENERATION="2", PULUMI_COMMAND_STDOUT=first
    )
    assert again.split() == ["running", "2"]
    assert virsh("domstate", domain).strip() == "running"

    # A changed definition under the same name is refused; the snapshot stays as taken.
    changed = attempt(snap, "create", DESCRIPTION="something else")
    assert changed.returncode != 0 and "never re-taken" in changed.stderr, changed.stderr
    assert sorted(snapshots(domain)) == ["running", "written"]

    # Snapshots are deleted before their domain; then nothing of the stack remains.
    for c in reversed(operations[:2]):
        execute(c, "delete")
        execute(c, "delete")  # already gone
    assert snapshots(domain) == []
    for c in reversed(machine):
        execute(c, "delete")
    assert not [d for d in all_domains() if d.startswith(tag)]
    assert sorted(p.name for p in storage.iterdir()) == ["base.qcow2"]
    assert in_netns("ip", "link", "show", f"{tag}n0", check=False) == ""
