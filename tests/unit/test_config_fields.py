"""Every text field of every lab's model (list elements and mapping keys included), tried with
the values a careless or hostile user writes: a trailing newline, a newline inside, a leading
'-', a space, non-ASCII digits. Each is refused with a problem naming the field, except where
the value is free text by nature (``FREE_TEXT``, with the reason) or is parsed into something
else whose canonical form alone is used (``NORMALISED``). Every number field is tried with
non-ASCII digits. The cases come from the models (``tests/config_walk.py``), not from a list.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator

import pytest

from stacks.shared.catalogue import LABS
from stacks.shared.errors import ConfigError, format_path
from tests.config_walk import (
    FULL,
    Leaf,
    by_lab_and_leaf,
    lab,
    leaves,
    model_of,
    reachable_fields,
    validate,
    value_at,
    with_value,
)
from tests.harness import run_program

FULLWIDTH = str.maketrans("0123456789", "".join(chr(0xFF10 + d) for d in range(10)))
ALL = frozenset(
    {"trailing newline", "embedded newline", "leading dash", "space", "non-ASCII digits"}
)
NAME_TEXT = frozenset({"leading dash", "space", "non-ASCII digits"})
PATH_TEXT = frozenset({"space", "non-ASCII digits"})

FREE_TEXT: dict[str, frozenset[str]] = {
    # A shell command run by `sh -c` in ct2: several lines, spaces, any text (not an option).
    "docker-basics:snapshot.prepare": ALL - {"leading dash"},
    # An armoured OpenPGP public key: lines of base64 between its '-----' lines.
    "*:aptMirror.key": ALL - {"leading dash", "non-ASCII digits"},
    "*:bootstrap.aptMirror.key": ALL - {"leading dash", "non-ASCII digits"},
    # A PEM private key: lines of base64 between '-----' lines, kept secret.
    "*:remoteHost.privateKey": ALL,
    "*:connection.privateKey": ALL,
    # Paths on the hypervisor's host: file names may hold spaces and any letters or digits.
    "vbox-*:image.path": PATH_TEXT,
    "vbox-*:workDir": PATH_TEXT,
    "libvirt-host:storageDir": PATH_TEXT,
    # Names the cloud shows as they are (Glance images, Nova flavors): one line of any text.
    "openstack-*:image": NAME_TEXT,
    "openstack-*:flavor": NAME_TEXT,
    "openstack-vm:server.image": NAME_TEXT,
    "openstack-vm:server.flavor": NAME_TEXT,
    "openstack-*:services.*.image": NAME_TEXT,
    "openstack-*:services.*.flavor": NAME_TEXT,
    "openstack-k8s:nodes.image": NAME_TEXT,
    "openstack-k8s:nodes.flavor": NAME_TEXT,
    # A security group rule's description (Neutron's): one line of any text.
    "openstack-vm:extraRules[*].description": NAME_TEXT,
    # A snapshot's description (docker commit's message, VirtualBox's, libvirt's, an image
    # property): one line of any text.
    "*:*.snapshots[*].description": NAME_TEXT,
    # The app container's command, in exec form (no shell reads it): any argument.
    "openstack-k8s:app.command[*]": ALL,
}
"""Fields whose value is free text, and the probes it legitimately accepts."""

NORMALISED: dict[str, frozenset[str]] = {
    # An SSH public key line: a .pub file ends with a newline, dropped.
    "*:sshPublicKey": frozenset({"trailing newline"}),
    "*:ct2.sshPublicKey": frozenset({"trailing newline"}),
    "*:remoteHost.hostKey": frozenset({"trailing newline"}),
    "*:connection.hostKey": frozenset({"trailing newline"}),
}
"""Text fields that ignore white space around the value (the model keeps it without)."""
ARABIC_3 = "\u0663"
"""ARABIC-INDIC DIGIT THREE, which int() reads as 3."""
PARSED = frozenset({"trailing newline", "space"})
"""What an address, a network or a port range may carry around it: only what it is parsed
into is used (checked: the model holds the same value as without the probe)."""


def probes(value: str) -> dict[str, str]:
    mid = max(1, len(value) // 2)
    digits = value.translate(FULLWIDTH) if any(c.isdigit() for c in value) else value + ARABIC_3
    return {
        "trailing newline": value + "\n",
        "embedded newline": value[:mid] + "\n" + value[mid:],
        "leading dash": "-" + value,
        "space": value[:mid] + " " + value[mid:],
        "non-ASCII digits": digits,
    }


def matches(where: str, pattern: str) -> bool:
    """``lab:field`` against a pattern of the tables, where ``*`` stands for any part."""
    return re.fullmatch(re.escape(pattern).replace(r"\*", "[^:]*"), where) is not None


def listed(table: dict[str, frozenset[str]], name: str, leaf: Leaf) -> frozenset[str]:
    where = f"{name}:{leaf.pattern}"
    return frozenset().union(*(v for k, v in table.items() if matches(where, k)))


def text_leaves() -> Iterator[tuple[str, Leaf]]:
    for entry in LABS:
        for leaf in leaves(model_of(entry.name)):
            if leaf.kind == "text":
                yield entry.name, leaf


CASES = [
    (name, leaf, probe, value)
    for name, leaf in text_leaves()
    for probe, value in probes(str(leaf.value)).items()
]


def named(leaf: Leaf, value: str, error: ConfigError) -> bool:
    """Whether ``error`` names the field ``leaf`` (a mapping key: under its new name)."""
    path = (*leaf.path[:-1], value) if leaf.is_key else leaf.path
    where = format_path(path)
    return any(p.location in (where, f"{where} (the key)") for p in error.problems)


@by_lab_and_leaf("name,leaf,probe,value", CASES)
def test_a_text_field_refuses_what_its_kind_cannot_hold(
    name: str, leaf: Leaf, probe: str, value: str
) -> None:
    config = with_value(name, leaf, value)
    try:
        model = validate(name, config)
    except ConfigError as error:
        assert named(leaf, value, error), f"{leaf}: {probe} refused, but not at the field: {error}"
        return
    if probe in listed(FREE_TEXT, name, leaf):
        return
    normalised = probe in listed(NORMALISED, name, leaf) or (leaf.parsed and probe in PARSED)
    assert normalised, f"{name}: {leaf} accepts a value with a {probe}: {value!r}"
    assert value_at(model, leaf.path) == leaf.value, f"{leaf}: {probe} changed the value"


def test_the_lists_name_only_what_is_accepted() -> None:
    # Every entry of FREE_TEXT and NORMALISED is a field and a probe that is accepted: the
    # lists say exactly what is.
    accepted: set[tuple[str, str]] = set()
    for name, leaf, probe, value in CASES:
        if probe in listed(FREE_TEXT, name, leaf) | listed(NORMALISED, name, leaf):
            with contextlib.suppress(ConfigError):
                validate(name, with_value(name, leaf, value))
                accepted.add((f"{name}:{leaf.pattern}", probe))
    for table in (FREE_TEXT, NORMALISED):
        for where, allowed in table.items():
            for probe in allowed:
                hits = [a for a in accepted if a[1] == probe and matches(a[0], where)]
                assert hits, f"{where}: {probe} is never accepted"


@pytest.mark.parametrize("name", [entry.name for entry in LABS])
def test_the_walk_meets_every_field_of_the_lab(name: str) -> None:
    seen = {(leaf.owner.__name__, leaf.field) for leaf in leaves(model_of(name))}
    assert reachable_fields(lab(name).config) <= seen, "FULL does not set some optional keys"


@pytest.mark.parametrize("name", [entry.name for entry in LABS])
def test_free_text_that_is_accepted_builds(name: str) -> None:
    # Each probe applied to every free-text field of the lab at once: the lab still builds.
    for probe in sorted(ALL):
        config = FULL[name]
        changed = False
        for leaf in leaves(model_of(name)):
            if leaf.kind == "text" and probe in listed(FREE_TEXT, name, leaf):
                config = _set(config, name, leaf, probes(str(leaf.value))[probe])
                changed = True
        if changed:
            run = run_program(config, stack=name)
            assert run.resources, f"{name} with {probe} in its free text registered nothing"


def _set(config: dict, name: str, leaf: Leaf, value: str) -> dict:
    """``config`` (already written out) with ``leaf`` set."""
    if config is FULL[name]:
        return with_value(name, leaf, value)
    target = config
    parts = [f"cloud-labs:{leaf.path[0]}", *leaf.path[1:]]
    for part in parts[:-1]:
        target = target[part]
    target[parts[-1]] = value
    return config


NUMBERS = [
    (entry.name, leaf)
    for entry in LABS
    for leaf in leaves(model_of(entry.name))
    if leaf.kind == "number"
]


@by_lab_and_leaf("name,leaf", NUMBERS)
def test_a_number_in_non_ascii_digits_is_refused(name: str, leaf: Leaf) -> None:
    value = str(leaf.value).translate(FULLWIDTH)
    with pytest.raises(ConfigError) as caught:
        validate(name, with_value(name, leaf, value))
    assert named(leaf, value, caught.value), str(caught.value)
