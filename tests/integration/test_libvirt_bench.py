"""libvirt-host's benchmark path on one booted guest: ``scripts/bench.sh --quick`` compares this
machine with a VM of the cloud image.

The shipped stack runs under mocks with one compute VM (1 vCPU, :data:`MEMORY_MIB`), software
emulation (``domainType: qemu``), ``benchmark.enabled: true`` and the package mirror of
``scripts/setup/guest-mirror.sh`` as ``aptMirror``: the VM's cloud-init installs the suite's
packages from the mirror on its first boot, as a lab's guests get them. Its commands run inside
the namespace ``cloudlabs-libvirt``. Then ``scripts/bench.sh`` with the stack's ssh command (and
the test's key): this machine and the VM each write a complete document valid against
``bench/schema.json``, the report's table has every benchmark, its plot one bar per figure of
the VM's, and the report says the VM runs under software emulation. Then the deletes leave
nothing. The guest's time to ready and the run's time are printed (and kept in ``TIMINGS``).
"""

from __future__ import annotations

import ipaddress
import json
import shlex
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.bench_run import assert_comparison, run_bench_sh
from tests.guests import (
    NETNS,
    STORAGE,
    TIMINGS,
    Mirror,
    SshKey,
    boot,
    cloud_image,
    mirror,
    new_tag,
    remove_leftovers,
    remove_tagged,
    require_libvirtd,
    require_qemu,
)
from tests.harness import Resource, StackRun, load_stack_file, run_program
from tests.libvirt_host_run import COMMAND, create, delete, lab_config

pytestmark = [pytest.mark.integration, pytest.mark.guest]

NAT_CIDR = ipaddress.IPv4Network("192.168.152.0/24")
MGMT_CIDR = ipaddress.IPv4Network("10.0.52.0/24")
MEMORY_MIB = 768
"""The VM's memory: the suite's quick profile needs little (see the README's measured peak)."""


@dataclass
class Stack:
    tag: str
    storage: Path
    key: SshKey
    mirror: Mirror
    vm: dict[str, Any]
    run: StackRun
    commands: list[Resource]


@pytest.fixture
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    require_libvirtd()
    require_qemu()
    image = cloud_image()
    served = mirror()
    remove_leftovers()
    tag = new_tag("gb")
    storage = STORAGE / tag
    key = SshKey.create(tmp_path_factory.mktemp("ssh"))
    vm = {
        "name": f"{tag}-kvm1",
        "role": "compute",
        "ip": str(MGMT_CIDR[5]),
        "mac": "52:54:00:52:00:05",
        "natMac": "52:54:00:52:01:05",
        "vcpus": 1,
        "memoryMib": MEMORY_MIB,
        "diskGib": 4,
    }
    try:
        storage.mkdir(parents=True)
        config = lab_config(
            load_stack_file("libvirt-host"),
            tag,
            storage,
            image,
            key,
            NAT_CIDR,
            MGMT_CIDR,
            [vm],
            hostPreparation={"enabled": False, "persist": False},
            benchmark={"enabled": True},
            aptMirror={"url": served.url(str(NAT_CIDR[1])), "key": served.key_asc.read_text()},
        )
        program = run_program(config, stack="bench")
        yield Stack(
            tag=tag,
            storage=storage,
            key=key,
            mirror=served,
            vm=vm,
            run=program,
            commands=program.in_dependency_order(COMMAND),
        )
    finally:
        remove_tagged(tag, storage)


def test_bench_sh_compares_this_machine_with_a_booted_guest(stack: Stack, tmp_path: Path) -> None:
    logs = stack.storage / "consoles"
    logs.mkdir()
    name = stack.vm["name"]
    guest = create(stack.commands, [stack.vm], stack.key, logs)[name]
    try:
        boot([guest])
        print(f"{name}: memory after boot (free -m):\n" + guest.ssh("free -m").stdout)
        loaded = bench_sh(stack, tmp_path)
    finally:
        guest.console.close()
    assert_comparison(loaded, name)
    machine = loaded.docs[name]["machine"]
    assert machine["hostname"] == name
    assert machine["cores"] == 1
    assert machine["virtualization_vm"] == "qemu"
    report = (loaded.directory / "report.md").read_text()
    assert f"Software emulation: {name} (QEMU's TCG" in report, report

    delete(stack.commands, stack.tag, stack.storage)


def bench_sh(stack: Stack, directory: Path) -> Any:
    """``scripts/bench.sh --quick`` inside the namespace, the guest reached with the stack's
    own ssh command and the test's key; its time is printed and kept in TIMINGS."""
    name = stack.vm["name"]
    command = shlex.split(stack.run.outputs["sshCommands"][name])
    with_key = shlex.join([command[0], "-i", str(stack.key.path), *command[1:]])
    outputs = directory / "outputs.json"
    outputs.write_text(json.dumps({"sshCommands": {name: with_key}}))
    started = time.monotonic()
    loaded = run_bench_sh(
        "bench-guest",
        "libvirt-host",
        outputs,
        directory / "results",
        prefix=("ip", "netns", "exec", NETNS),
    )
    seconds = time.monotonic() - started
    guest_seconds = loaded.docs[name]["seconds"] if name in loaded.docs else None
    line = (
        f"{name}: scripts/bench.sh --quick took {seconds:.0f}s (the guest's suite {guest_seconds}s)"
    )
    TIMINGS.append(line)
    print(line)
    return loaded
