"""Names that become host names, bridge names or hosts to connect to are checked as such.

Two walks over every lab (``tests/config_walk.py``): every host name a lab gives a guest or a
container (Nova's instance name, ``hostname``/``local-hostname`` in its cloud-init documents, a
container's ``hostname``) comes from a field typed as a host name; and every field of those
kinds refuses what its kind cannot hold: a host label ``_``, ``.``, a '-' at its end or 64
characters (RFC 1123), a host to connect to an empty or ``_`` label or 254 characters, an
interface name 16 characters or a '/'.
"""

from __future__ import annotations

import re

import pytest

from cloudlabs_policy.resources import strings
from stacks.shared.catalogue import LABS
from tests.config_walk import (
    FULL,
    Leaf,
    assert_refused_at,
    by_lab_and_leaf,
    leaves,
    model_of,
    parsers,
)
from tests.harness import StackRun, run_program

HOST_LABELS = {"parse_host_label", "parse_host_label_prefix", "parse_dns_label"}
"""The kinds of value a host name may come from (a prefix: followed by a number)."""
HOST_NAME_LINE = re.compile(r"^\s*(?:local-hostname|hostname|fqdn):\s*(\S+)\s*$", re.MULTILINE)


def host_names(run: StackRun) -> set[str]:
    """Every host name the lab's resources give a machine or a container."""
    found: set[str] = set()
    for resource in run.resources:
        if resource.type == "openstack:compute/instance:Instance":
            found.add(resource.inputs["name"])
        hostname = resource.inputs.get("hostname")
        if isinstance(hostname, str):
            found.add(hostname)
        for text in strings(resource.inputs):
            found.update(HOST_NAME_LINE.findall(text))
    return found


def sources(name: str, host: str) -> list[Leaf]:
    """The fields a host name is made of: one equal to it, or a prefix it continues with
    digits."""
    found = []
    for leaf in leaves(model_of(name)):
        if leaf.kind != "text" or leaf.is_key:
            continue
        rest = host.removeprefix(str(leaf.value))
        prefix = "parse_host_label_prefix" in parsers(leaf)
        if rest == "" or (prefix and rest != host and rest.isdigit()):
            found.append(leaf)
    return found


@pytest.mark.parametrize("name", [entry.name for entry in LABS])
def test_every_host_name_comes_from_a_host_name_field(name: str) -> None:
    hosts = host_names(run_program(FULL[name], stack=name))
    assert hosts, f"{name} names no host"
    for host in sorted(hosts):
        # Other fields may hold the same text by chance (a security group named as its VM):
        # one of them at least is a host name.
        found = sources(name, host)
        assert not found or any(parsers(leaf) & HOST_LABELS for leaf in found), (
            f"{name}: host name {host!r} comes from {', '.join(map(str, found))}, not checked "
            f"as a host name"
        )


def probes(kind: str, value: str) -> dict[str, str]:
    if kind in HOST_LABELS:
        cut = max(1, len(value) // 2)
        found = {
            "underscore": value[:cut] + "_" + value[cut:],
            "dot": value[:cut] + "." + value[cut:],
            "64 characters": value + "a" * (64 - len(value)),
        }
        if kind != "parse_host_label_prefix":  # a number follows the prefix
            found["dash at the end"] = value + "-"
        if kind == "parse_dns_label":
            found["upper case"] = value.upper()
        return found
    if kind == "parse_host_name":
        return {
            "underscore": "lab_host." + value,
            "empty label": "lab.." + value,
            "254 characters": ("a" * 62 + ".") * 4 + "ab",
        }
    if kind == "parse_bridge":
        return {"16 characters": (value * 16)[:16], "slash": value + "/x"}
    return {}


CASES = [
    (entry.name, leaf, probe, value)
    for entry in LABS
    for leaf in leaves(model_of(entry.name))
    if leaf.kind == "text"
    for kind in sorted(parsers(leaf))
    for probe, value in probes(kind, str(leaf.value)).items()
]


@by_lab_and_leaf("name,leaf,probe,value", CASES)
def test_a_host_name_field_refuses_what_a_host_name_cannot_hold(
    name: str, leaf: Leaf, probe: str, value: str
) -> None:
    assert_refused_at(name, leaf, value)


def test_every_kind_of_host_name_is_tried() -> None:
    kinds = {kind for _, leaf, _, _ in CASES for kind in parsers(leaf)}
    assert {*HOST_LABELS, "parse_host_name", "parse_bridge"} <= kinds
