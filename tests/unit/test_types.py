"""Pure parsing functions behind the config types."""

from __future__ import annotations

import base64
import ipaddress
import subprocess
from pathlib import Path

import pytest

from stacks.shared.openstack import overlap_problems, usable
from stacks.shared.types import (
    parse_cidr,
    parse_ipv4,
    parse_name,
    parse_port_range,
    parse_ssh_public_key,
)


def _keygen(tmp_path: Path, kind: str, bits: str | None = None) -> str:
    args = ["ssh-keygen", "-q", "-t", kind, "-N", "", "-C", "t@h", "-f", str(tmp_path / kind)]
    if bits:
        args += ["-b", bits]
    subprocess.run(args, check=True)
    return (tmp_path / f"{kind}.pub").read_text().strip()


@pytest.mark.parametrize(("kind", "bits"), [("ed25519", None), ("rsa", "3072"), ("ecdsa", "256")])
def test_real_keys_from_ssh_keygen_parse(tmp_path: Path, kind: str, bits: str | None) -> None:
    key = _keygen(tmp_path, kind, bits)
    assert parse_ssh_public_key(key) == key


def test_short_rsa_key_is_rejected(tmp_path: Path) -> None:
    key = _keygen(tmp_path, "rsa", "1024")
    with pytest.raises(ValueError, match="2048"):
        parse_ssh_public_key(key)


def test_key_with_truncated_material_is_rejected() -> None:
    blob = len(b"ssh-ed25519").to_bytes(4, "big") + b"ssh-ed25519" + (32).to_bytes(4, "big")
    text = "ssh-ed25519 " + base64.b64encode(blob + b"x" * 10).decode()
    with pytest.raises(ValueError):
        parse_ssh_public_key(text)


def test_two_keys_are_rejected(tmp_path: Path) -> None:
    key = _keygen(tmp_path, "ed25519")
    with pytest.raises(ValueError, match="one line"):
        parse_ssh_public_key(key + "\n" + key)


@pytest.mark.parametrize(
    ("text", "message"),
    [("10.0.0.0/8", None), ("10.0.0.1/8", "did you mean 10.0.0.0/8"), ("10.0.0.0", "CIDR")],
)
def test_cidr(text: str, message: str | None) -> None:
    if message is None:
        assert parse_cidr(text) == ipaddress.IPv4Network(text)
    else:
        with pytest.raises(ValueError, match=message):
            parse_cidr(text)


def test_ipv4() -> None:
    assert str(parse_ipv4(" 192.168.1.254 ")) == "192.168.1.254"
    with pytest.raises(ValueError, match="IPv4 address"):
        parse_ipv4("fe80::1")


@pytest.mark.parametrize("good", ["a", "lab-net", "node01", "ubuntu4CLV.x_y", "a" * 63])
def test_names_accepted(good: str) -> None:
    assert parse_name(good) == good


@pytest.mark.parametrize("bad", ["", " ", "-x", "a b", "a" * 64, "é"])
def test_names_rejected(bad: str) -> None:
    with pytest.raises(ValueError):
        parse_name(bad)


@pytest.mark.parametrize(
    ("value", "expected"),
    [(22, (22, 22)), ("22", (22, 22)), ("30000-32767", (30000, 32767)), ((1, 2), (1, 2))],
)
def test_port_ranges(value: object, expected: tuple[int, int]) -> None:
    assert parse_port_range(value) == expected


@pytest.mark.parametrize("bad", [0, 65536, "1-0", "ssh", True, "-5", (1, 2, 3)])
def test_bad_port_ranges(bad: object) -> None:
    with pytest.raises(ValueError):
        parse_port_range(bad)


def test_usable_addresses() -> None:
    net = ipaddress.IPv4Network("192.168.1.0/24")
    assert usable(net, ipaddress.IPv4Address("192.168.1.254"))
    assert not usable(net, ipaddress.IPv4Address("192.168.1.255"))
    assert not usable(net, ipaddress.IPv4Address("192.168.1.0"))
    assert not usable(net, ipaddress.IPv4Address("192.168.2.1"))


def test_overlapping_subnets_are_reported_once_each() -> None:
    nets = [
        (("a",), ipaddress.IPv4Network("192.168.1.0/24")),
        (("b",), ipaddress.IPv4Network("192.168.2.0/24")),
        (("c",), ipaddress.IPv4Network("192.168.0.0/16")),
    ]
    found = list(overlap_problems(nets))
    assert [(p.location, p.message) for p in found] == [
        ("c", "the subnet overlaps a (192.168.1.0/24)"),
        ("c", "the subnet overlaps b (192.168.2.0/24)"),
    ]


def test_problem_locations_read_like_config_paths() -> None:
    from stacks.shared.errors import Problem

    assert Problem(("network", "allocationPools", 0, "end"), "x").location == (
        "network.allocationPools[0].end"
    )
    assert Problem(("labels", "-PoP", "[key]"), "x").location == "labels.-PoP (the key)"
    assert Problem((), "x").location == "(config)"
