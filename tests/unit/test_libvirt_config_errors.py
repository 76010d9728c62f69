"""Bad libvirt-host config is rejected before any resource exists, every problem at once."""

from __future__ import annotations

from typing import Any

import pytest

from tests.harness import Change, assert_rejected, change, changed, load_stack_file, run_program

K = "cloud-labs:"
SHIPPED = load_stack_file("libvirt-host")
HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFYK9Jv4TR4Dl95nNJ+uqp/wuzy8aHCte3sF1XpqnC6M"


def vm(i: int, **changes: Any) -> list[Change]:
    """Changes to the shipped ``vms[i]`` (keys as written in the stack file)."""
    return [change("vms", i, key, value=value) for key, value in changes.items()]


CASES: list[tuple[str, list[Change], list[tuple[str, str]]]] = [
    (
        "duplicate-mac",
        [*vm(1, mac="52:54:00:00:00:02")],
        [("vms[1].mac", "already the MAC of vms[0].mac")],
    ),
    (
        "duplicate-mac-across-nics",
        [*vm(2, natMac="52:54:00:00:00:03")],
        [("vms[2].natMac", "already the MAC of vms[1].mac")],
    ),
    ("duplicate-ip", [*vm(4, ip="10.0.0.5")], [("vms[4].ip", "already the address of vms[3]")]),
    (
        "ip-outside-management",
        [*vm(0, ip="10.0.1.2")],
        [("vms[0].ip", "management network 10.0.0.0/24")],
    ),
    ("ip-is-the-host", [*vm(0, ip="10.0.0.1")], [("vms[0].ip", "host's address")]),
    ("ip-broadcast", [*vm(0, ip="10.0.0.255")], [("vms[0].ip", "host address")]),
    (
        "controller-too-small",
        [*vm(2, memoryMib=4096)],
        [("vms[2].memoryMib", "a controller needs at least 6144 MiB")],
    ),
    (
        "compute-too-small",
        [*vm(3, memoryMib=1024)],
        [("vms[3].memoryMib", "a compute needs at least 2048 MiB")],
    ),
    ("disk-too-small", [*vm(1, diskGib=4)], [("vms[1].diskGib", "at least 10 GiB")]),
    ("bad-mac", [*vm(0, mac="52:54:00:00:02")], [("vms[0].mac", "MAC address")]),
    ("multicast-mac", [*vm(0, mac="01:54:00:00:00:02")], [("vms[0].mac", "unicast")]),
    ("duplicate-name", [*vm(1, name="gateway")], [("vms[1].name", "already the name of vms[0]")]),
    ("unknown-role", [*vm(1, role="database")], [("vms[1].role", "gateway")]),
    ("zero-vcpus", [*vm(1, vcpus=0)], [("vms[1].vcpus", "greater than or equal to 1")]),
    (
        "gateway-without-public-mac",
        [*vm(0, publicMac=None), change("publicBridge", value={"enabled": True})],
        [("vms[0].publicMac", "public bridge")],
    ),
    (
        "management-overlaps-nat",
        [
            change(
                "managementNetwork", value={"cidr": "192.168.122.0/24", "address": "192.168.122.10"}
            )
        ],
        [
            ("managementNetwork.cidr", "overlaps natNetwork.cidr"),
            ("vms[0].ip", "management network"),
            ("vms[1].ip", "management network"),
            ("vms[2].ip", "management network"),
            ("vms[3].ip", "management network"),
            ("vms[4].ip", "management network"),
        ],
    ),
    (
        "dhcp-range-outside",
        [change("natNetwork", value={**SHIPPED[K + "natNetwork"], "dhcpEnd": "192.168.123.10"})],
        [("natNetwork.dhcpEnd", "inside 192.168.122.0/24")],
    ),
    (
        "dhcp-range-contains-host",
        [change("natNetwork", value={**SHIPPED[K + "natNetwork"], "dhcpStart": "192.168.122.1"})],
        [("natNetwork.dhcpStart", "contains the host's address")],
    ),
    (
        "same-bridge-twice",
        [change("managementNetwork", value={"bridge": "virbr0"})],
        [("managementNetwork.bridge", "already used by natNetwork")],
    ),
    (
        "bridge-name-too-long",
        [change("managementNetwork", value={"bridge": "a-very-long-bridge-name"})],
        [("managementNetwork.bridge", "1-15")],
    ),
    (
        "relative-storage-dir",
        [change("storageDir", value="images")],
        [("storageDir", "absolute path")],
    ),
    ("bad-base-image", [change("baseImage", value="ubuntu.img")], [("baseImage", "http(s) URL")]),
    ("bad-domain-type", [change("domainType", value="xen")], [("domainType", "kvm")]),
    ("bad-ssh-key", [change("sshPublicKey", value="nope")], [("sshPublicKey", "base64 key")]),
    ("unknown-key", [change("vmCount", value=5)], [("vmCount", "unknown key")]),
    (
        "connection-without-host",
        [change("connection", value={"user": "root"})],
        [("connection.host", "missing"), ("connection.hostKey", "missing")],
    ),
    (
        "connection-host-not-a-host-name",
        [change("connection", value={"host": "kvm; reboot", "hostKey": HOST_KEY})],
        [("connection.host", "host name or an IP address")],
    ),
    (
        "connection-host-key-not-a-key",
        [
            change(
                "connection",
                value={"host": "kvm.example.org", "hostKey": "kvm.example.org ssh-ed25519"},
            )
        ],
        [("connection.hostKey", "unknown key type")],
    ),
    (
        "combo",
        [*vm(2, memoryMib=512, ip="10.0.9.4"), change("storageDir", value="rel")],
        [
            ("vms[2].ip", "management network"),
            ("vms[2].memoryMib", "controller"),
            ("storageDir", "absolute"),
        ],
    ),
]


@pytest.mark.parametrize(("changes", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_rejected_before_any_resource(
    changes: list[Change], expected: list[tuple[str, str]]
) -> None:
    assert_rejected(changed(SHIPPED, *changes), "libvirt-host", expected)


def test_undersized_vms_allowed_on_request() -> None:
    small = [{**v, "memoryMib": 128, "diskGib": 1} for v in SHIPPED[K + "vms"]]
    config = changed(SHIPPED, change("allowUndersized", value=True), change("vms", value=small))
    run = run_program(config)
    assert run.resources
