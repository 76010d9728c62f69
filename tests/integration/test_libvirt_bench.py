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
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from tests.bench_run import assert_comparison, run_bench_sh
from tests.guests import NETNS, TIMINGS, boot
from tests.libvirt_host_run import LabRun, create, delete, lab_run

pytestmark = [pytest.mark.integration, pytest.mark.guest]

NAT_CIDR = ipaddress.IPv4Network("192.168.152.0/24")
MGMT_CIDR = ipaddress.IPv4Network("10.0.52.0/24")
MEMORY_MIB = 768
"""The VM's memory, as libvirt-host's other test guests: 708 MiB seen inside, about 170 MiB used
after boot and at most 200 MiB while the quick profile runs (hpcc's matrix is 8 MiB)."""


def one_vm(tag: str, shipped: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One compute VM, 1 vCPU."""
    return [
        {
            "name": f"{tag}-kvm1",
            "role": "compute",
            "ip": str(MGMT_CIDR[5]),
            "mac": "52:54:00:52:00:05",
            "natMac": "52:54:00:52:01:05",
            "vcpus": 1,
            "memoryMib": MEMORY_MIB,
            "diskGib": 4,
        }
    ]


@pytest.fixture
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabRun]:
    with lab_run(
        "gb",
        tmp_path_factory.mktemp("ssh"),
        "bench",
        one_vm,
        NAT_CIDR,
        MGMT_CIDR,
        apt_mirror=True,
        hostPreparation={"enabled": False, "persist": False},
        benchmark={"enabled": True},
    ) as lab:
        yield lab


def test_bench_sh_compares_this_machine_with_a_booted_guest(stack: LabRun, tmp_path: Path) -> None:
    logs = stack.storage / "consoles"
    logs.mkdir()
    (name,) = (vm["name"] for vm in stack.vms)
    guest = create(stack, logs)[name]
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

    delete(stack)


def bench_sh(stack: LabRun, directory: Path) -> Any:
    """``scripts/bench.sh --quick`` inside the namespace, the guest reached with the stack's
    own ssh command and the test's key; its time is printed and kept in TIMINGS."""
    (name,) = (vm["name"] for vm in stack.vms)
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
