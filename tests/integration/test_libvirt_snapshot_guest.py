"""libvirt-host's snapshot and restore on a booted guest: write a file, snapshot, delete the
file, restore, the file is back.

One VM of the stack, from the cloud image of ``scripts/setup/guest-image.sh``, runs under mocks
with a snapshot and a restore declared; its commands run in dependency order inside the
namespace ``cloudlabs-libvirt`` (as in ``test_libvirt_guests.py``), except the snapshot and the
restore, which run when the test says: after a file was written in the guest, and after it was
deleted. The snapshot of the running guest holds its memory too: after the restore the guest
runs on from the moment of the snapshot, the file in place, and answers SSH again.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.guests import (
    STORAGE,
    Guest,
    SshKey,
    boot,
    cloud_image,
    execute,
    new_tag,
    remove_tagged,
    require_libvirtd,
    require_qemu,
    virsh,
)
from tests.harness import StackRun, run_program
from tests.integration.test_libvirt_snapshots import one_vm

pytestmark = [pytest.mark.integration, pytest.mark.guest]

COMMAND = "command:local:Command"
K = "cloud-labs:"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path, SshKey, StackRun]]:
    require_libvirtd()
    require_qemu()
    image = cloud_image()
    tag = new_tag("gs")
    storage = STORAGE / tag
    key = SshKey.create(tmp_path_factory.mktemp("ssh"))
    try:
        storage.mkdir(parents=True)
        config = one_vm(
            tag,
            storage,
            image,
            number=78,
            memoryMib=768,
            diskGib=3,
            snapshots=[{"name": "with-file", "description": "the file written"}],
            restore={"snapshot": "with-file", "generation": 1},
        )
        config[K + "sshPublicKey"] = key.public
        yield tag, storage, key, run_program(config, stack="guests")
    finally:
        remove_tagged(tag, storage)


def test_write_snapshot_delete_restore_the_file_is_back(
    stack: tuple[str, Path, SshKey, StackRun],
) -> None:
    tag, storage, key, run = stack
    domain = f"{tag}-vm"
    commands = run.in_dependency_order(COMMAND)
    snap = next(c for c in commands if c.name.endswith("-snapshot-with-file"))
    restore = next(c for c in commands if c.name.endswith("-restore"))
    machine = [c for c in commands if c not in (snap, restore)]
    logs = storage / "consoles"
    logs.mkdir()
    guest = None
    try:
        for command in machine:
            execute(command, "create")
            if command.name.endswith("-domain"):
                guest = Guest.of_domain(domain, "10.78.0.3", key, logs)
        assert guest is not None
        boot([guest])

        guest.ssh("echo 'written before the snapshot' > ~/state.txt && sync")
        assert "running" in execute(snap, "create")
        guest.ssh("rm ~/state.txt && sync")
        assert guest.ssh("test -e ~/state.txt", check=False).returncode == 1

        assert execute(restore, "create").split() == ["with-file", "1"]
        assert virsh("domstate", domain).strip() == "running"
        # The guest runs on from the snapshot's moment; its neighbours learn it again first.
        guest.wait_ssh(time.monotonic() + 300)
        back = guest.ssh("cat ~/state.txt", timeout=300).stdout.strip()
        assert back == "written before the snapshot"
    finally:
        if guest is not None:
            guest.console.close()

    for command in reversed([c for c in commands if c is not restore]):
        execute(command, "delete")
    assert [d for d in virsh("list", "--all", "--name").split() if d.startswith(tag)] == []
    assert sorted(p.name for p in storage.iterdir()) == ["consoles"]
