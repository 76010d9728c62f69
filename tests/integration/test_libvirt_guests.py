"""libvirt-host with real guests: the stack's five VMs boot from the cloud image and are usable.

The stack runs under mocks with the cloud image of ``scripts/setup/guest-image.sh`` as
``baseImage``, software emulation (``domainType: qemu``), small VMs (``allowUndersized``) and
networks of its own; the commands it declares run in dependency order inside the namespace
``cloudlabs-libvirt``, against its libvirtd, as on a KVM host. The five domains boot in
parallel. Then, from inside the namespace: each VM answers the stack's own ssh command with its
name, has its management address on the NIC with the fixed MAC, passwordless sudo, a DHCP lease
from the NAT network on its first NIC, and reaches the package mirror at its gateways; Ansible
pings every host of the stack's inventory output. Then the deletes: nothing of the stack is left.
"""

from __future__ import annotations

import ipaddress
import re
import shlex
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.check_run import run_check_sh
from tests.guests import NETNS, Guest, boot, ipv4, nic, run, virsh
from tests.libvirt_host_run import K, LabRun, create, delete, lab_run, nat_dhcp
from tests.validators import require

pytestmark = [pytest.mark.integration, pytest.mark.guest]

NAT_CIDR = ipaddress.IPv4Network("192.168.151.0/24")
MGMT_CIDR = ipaddress.IPv4Network("10.0.0.0/24")
DHCP = nat_dhcp(NAT_CIDR)


@dataclass
class Stack(LabRun):
    home: Path = Path()
    """HOME for Ansible (its temporary files)."""


def five_vms(tag: str, shipped: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The shipped VMs, named after the tag, each 1 vCPU, 768 MiB and 3 GiB."""
    return [
        {**vm, "name": f"{tag}-{vm['name']}", "memoryMib": 768, "vcpus": 1, "diskGib": 3}
        for vm in shipped[K + "vms"]
    ]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    require("ansible")
    keys, home = tmp_path_factory.mktemp("ssh"), tmp_path_factory.mktemp("home")
    with lab_run(
        "gv",
        keys,
        "guests",
        five_vms,
        NAT_CIDR,
        MGMT_CIDR,
        hostPreparation={"enabled": True, "persist": False},
    ) as lab:
        yield Stack(**vars(lab), home=home)


def test_five_vms_boot_and_are_usable(stack: Stack, tmp_path: Path) -> None:
    logs = stack.storage / "consoles"
    logs.mkdir()

    # --- create: the stack's commands, in order; each domain is watched once it runs ---------
    guests = create(stack, logs)
    try:
        boot(list(guests.values()))
        check_guests(stack, guests)
        check_sh_on_the_guests(stack, tmp_path / "checks")
    finally:
        for guest in guests.values():
            guest.console.close()

    # --- delete: nothing of the stack remains ------------------------------------------------
    delete(stack)


def check_guests(stack: Stack, guests: dict[str, Guest]) -> None:
    outputs = stack.run.outputs
    leases = virsh("net-dhcp-leases", f"{stack.tag}-nat")
    for vm in stack.vms:
        name, guest = vm["name"], guests[vm["name"]]

        # The stack's own ssh command, with the test's key, from inside the namespace.
        command = shlex.split(outputs["sshCommands"][name])
        assert command[0] == "ssh" and command[-1] == f"ubuntu@{vm['ip']}", command
        answer = run(
            ["ip", "netns", "exec", NETNS, command[0], "-i", str(stack.key.path),
             "-o", "BatchMode=yes", *command[1:], "hostname"],
        )  # fmt: skip
        assert answer.stdout.strip() == name

        # The management NIC: the fixed MAC, the static address, nothing else.
        mgmt = ipv4(nic(guest, vm["mac"]))
        assert [(a["local"], a["prefixlen"]) for a in mgmt] == [(vm["ip"], 24)], (name, mgmt)

        # The first NIC (NAT network): its address from the network's DHCP server.
        nat = ipv4(nic(guest, vm["natMac"]))
        assert len(nat) == 1 and nat[0].get("dynamic") is True, (name, nat)
        address = ipaddress.IPv4Address(nat[0]["local"])
        low, high = (ipaddress.IPv4Address(a) for a in DHCP)
        assert low <= address <= high, (name, address)
        lease = [line for line in leases.splitlines() if vm["natMac"] in line]
        assert lease and f"{address}/24" in lease[0], (name, leases)
        route = guest.ssh("ip -4 route show default").stdout
        assert "via 192.168.151.1" in route, (name, route)

        guest.ssh("sudo -n true")

        # The package mirror at both gateways (the NAT network's and the management network's).
        for gateway in ("192.168.151.1", "10.0.0.1"):
            url = f"{stack.mirror.url(gateway)}/dists/{stack.mirror.suite}/Release"
            fetched = guest.ssh(f"curl -fsS --max-time 20 {shlex.quote(url)}").stdout
            assert f"Suite: {stack.mirror.suite}" in fetched, (name, gateway)

    # Ansible with the stack's inventory and its ssh settings, as a student runs it.
    inventory = stack.storage / "inventory.ini"
    inventory.write_text(outputs["inventory"])
    try:
        pong = run(
            ["ip", "netns", "exec", NETNS, "ansible", "-i", str(inventory), "all",
             "-m", "ping", "-o", "--private-key", str(stack.key.path)],
            timeout=600,
            env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": str(stack.home),
                 "LANG": "C.UTF-8", "ANSIBLE_PYTHON_INTERPRETER": "auto_silent"},
        )  # fmt: skip
    finally:
        inventory.unlink()
    hosts = {m.group(1) for m in re.finditer(r"^(\S+) \| SUCCESS", pong.stdout, re.M)}
    assert hosts == set(guests), pong.stdout
    assert pong.stdout.count('"ping": "pong"') == len(guests), pong.stdout


def check_sh_on_the_guests(stack: Stack, directory: Path) -> None:
    """``scripts/check.sh`` with the stack's outputs and config, run inside the namespace with
    the test's key: every check of the lab passes on the booted VMs; with the gateway VM
    paused, exactly its own checks and the others' echo to it fail."""
    directory.mkdir()
    args = (
        "--identity", str(stack.key.path), "--ssh-option", "BatchMode=yes",
        "--ssh-option", "ConnectTimeout=10",
    )  # fmt: skip
    netns = ("ip", "netns", "exec", NETNS)
    outputs = stack.run.outputs
    checked = run_check_sh(
        "libvirt-host", stack.config, outputs, directory, *args, "--wait", "120", prefix=netns
    )
    assert checked.status == 0, checked.summary()
    names = [c["name"] for c in checked.report["checks"]]
    # Per VM: its name over ssh, its management address, its default route, its NAT gateway;
    # and every VM but the gateway reaches the gateway VM.
    assert len(names) == 5 * len(stack.vms) - 1, names
    gateway = next(vm for vm in stack.vms if vm["role"] == "gateway")
    assert f"ssh to {gateway['name']}: host name" in names
    assert f"{gateway['name']}: default route via 192.168.151.1" in names

    virsh("suspend", gateway["name"])
    try:
        down = run_check_sh(
            "libvirt-host", stack.config, outputs, directory, *args, "--wait", "0", prefix=netns
        )
    finally:
        virsh("resume", gateway["name"])
    assert down.status == 1, down.summary()
    expected = [name for name in names if gateway["name"] in name]
    assert len(expected) == 4 + len(stack.vms) - 1, expected
    assert down.failed == expected, down.summary()
