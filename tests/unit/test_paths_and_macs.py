"""Paths, programs and MAC addresses of every lab: refused when they would leave their place.

Walked from the models (``tests/config_walk.py``): every path field (a directory, an image, the
VBoxManage program) is tried with '..' segments, ``~/..``, another user's ``~name`` and a
relative path; every program field also with arguments; every MAC field with the all-zero,
multicast and broadcast addresses, and with every other MAC of the lab (two NICs never share
one, on one VM or across VMs). Each is refused with a problem naming the field.
"""

from __future__ import annotations

from stacks.shared.catalogue import LABS
from tests.config_walk import (
    Leaf,
    assert_refused_at,
    by_lab_and_leaf,
    leaves,
    model_of,
    parsers,
)

PATHS = {"parse_host_path", "parse_abs_path", "parse_image_source", "parse_executable"}


def path_probes(kind: str, value: str) -> dict[str, str]:
    found = {
        "'..' inside": f"{value}/../../etc/passwd",
        "'..' at the end": f"{value}/..",
        "relative with '..'": f"../{value.lstrip('/~')}",
    }
    if kind == "parse_host_path":
        found["~/.."] = "~/../other/" + value.rsplit("/", 1)[-1]
        found["~user"] = "~root/" + value.rsplit("/", 1)[-1]
    if kind == "parse_executable":
        found["with an argument"] = f"{value} --version"
        found["two programs"] = f"{value};id"
    if kind == "parse_image_source" and value.startswith("http"):
        found = {"'..' in a relative path": "../image.img", "no file": "http://example.org/"}
    return found


MAC_PROBES = {
    "all zeros": "00:00:00:00:00:00",
    "multicast": "01:00:5e:00:00:fb",
    "broadcast": "ff:ff:ff:ff:ff:ff",
}


def _of_kind(kinds: set[str]) -> list[tuple[str, Leaf, str]]:
    return [
        (entry.name, leaf, kind)
        for entry in LABS
        for leaf in leaves(model_of(entry.name))
        if leaf.kind == "text"
        for kind in sorted(parsers(leaf) & kinds)
    ]


PATH_CASES = [
    (name, leaf, probe, value)
    for name, leaf, kind in _of_kind(PATHS)
    for probe, value in path_probes(kind, str(leaf.value)).items()
]
MACS = _of_kind({"parse_mac"})
MAC_CASES = [
    (name, leaf, probe, value) for name, leaf, _ in MACS for probe, value in MAC_PROBES.items()
]
TWINS = [
    (name, leaf, other)
    for name, leaf, _ in MACS
    for other_name, other, _ in MACS
    if other_name == name and other.path != leaf.path
]


@by_lab_and_leaf("name,leaf,probe,value", [*PATH_CASES, *MAC_CASES])
def test_a_path_or_mac_that_leaves_its_place_is_refused(
    name: str, leaf: Leaf, probe: str, value: str
) -> None:
    assert_refused_at(name, leaf, value)


@by_lab_and_leaf("name,leaf,other", TWINS)
def test_two_nics_never_share_a_mac(name: str, leaf: Leaf, other: Leaf) -> None:
    assert_refused_at(name, leaf, str(other.value), other)


def test_every_kind_is_tried() -> None:
    kinds = {kind for _, _, kind in _of_kind(PATHS | {"parse_mac"})}
    assert kinds == PATHS | {"parse_mac"}
    assert TWINS
