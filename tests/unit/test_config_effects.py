"""A key that is accepted has an effect: for every field of every lab's model, another value
(the next letter or digit of a text, a number plus one, the other choice of a switch) is
either refused or changes what the lab declares (its resources' inputs or its outputs).

The cases come from the models (``tests/config_walk.py``); a list's first element stands for
the others. A key that only matters once another key switches it on is listed in ``DORMANT``
with the switch; a key only the checks read (a size others are checked against), in
``CHECKED_AGAINST`` with the key it then refuses.
"""

from __future__ import annotations

import functools
import json
from typing import Any

import pytest

from stacks.shared.catalogue import LABS
from stacks.shared.errors import ConfigError, format_path
from tests.config_walk import (
    K,
    Leaf,
    lab,
    leaves,
    literal_choices,
    model_of,
    problems,
    validate,
    with_value,
    written,
)
from tests.harness import StackRun, run_function

DORMANT = {
    # Adapter 2 is on the internal network (mode intnet) in FULL; the host-only interface is
    # what it is attached to with mode hostonly.
    "vbox-cluster:network.hostOnlyAdapter": "network.mode: hostonly",
}
"""Keys without effect in FULL's config, and what makes them take effect."""

CHECKED_AGAINST = {
    # The image's virtual size is what each diskGb is checked against: a clone cannot shrink.
    "vbox-nat:image.virtualSizeMb": ("vm", "diskGb"),
    "vbox-cluster:image.virtualSizeMb": ("nodes", "diskGb"),
}
"""Keys only the checks read (nothing is built from them), and the key each one refuses when it
is raised past that key's value."""


def bump(text: str) -> str:
    """``text`` with its last letter or digit changed (z, Z and 9 step down, others up)."""
    for i in range(len(text) - 1, -1, -1):
        c = text[i]
        if c.isascii() and c.isalnum():
            new = {"z": "y", "Z": "Y", "9": "8"}.get(c, chr(ord(c) + 1))
            return text[:i] + new + text[i + 1 :]
    return text + "x"


def alternatives(leaf: Leaf) -> list[Any]:
    """Other values for ``leaf``, in the order tried."""
    if leaf.kind == "switch":
        return [not leaf.value]
    if leaf.kind == "number":
        return [leaf.value + 1, leaf.value - 1]
    if not leaf.is_key and literal_choices(leaf.annotation):
        return [c for c in literal_choices(leaf.annotation) if c != leaf.value]
    return [bump(str(leaf.value))]


def fingerprint(run: StackRun) -> str:
    """What a lab declares: every resource's type, name and inputs, and the outputs."""
    resources = sorted((r.type, r.name, r.inputs) for r in run.resources)
    return json.dumps([resources, run.outputs], sort_keys=True, default=str)


def declared(name: str, config: dict[str, Any]) -> str | None:
    """The fingerprint of the lab built from ``config``, or None when it is refused."""
    try:
        model = validate(name, config)
    except ConfigError:
        return None
    build = lab(name).build
    try:
        return fingerprint(run_function(lambda: build(model), stack=name))
    except ConfigError:  # refused by a check of the build (user-data, seeds)
        return None


@functools.cache
def baseline(name: str) -> str:
    found = declared(name, written(name))
    assert found is not None
    return found


def first_of_each_field(name: str) -> list[Leaf]:
    """One leaf per (model, field, key or value): a list's first element for all of them."""
    chosen: dict[tuple[str, str, bool], Leaf] = {}
    for leaf in leaves(model_of(name)):
        chosen.setdefault((leaf.owner.__name__, leaf.field, leaf.is_key), leaf)
    return list(chosen.values())


CASES = [(entry.name, leaf) for entry in LABS for leaf in first_of_each_field(entry.name)]


@pytest.mark.parametrize(("name", "leaf"), CASES, ids=[f"{n}:{leaf}" for n, leaf in CASES])
def test_an_accepted_value_changes_what_the_lab_declares(name: str, leaf: Leaf) -> None:
    if f"{name}:{leaf.pattern}" in DORMANT or f"{name}:{leaf.pattern}" in CHECKED_AGAINST:
        return
    for value in alternatives(leaf):
        found = declared(name, with_value(name, leaf, value))
        assert found != baseline(name), (
            f"{name}: {leaf} = {value!r} is accepted and changes nothing the lab declares"
        )


def test_dormant_keys_do_take_effect_once_switched_on() -> None:
    # network.hostOnlyAdapter: with mode hostonly, adapter 2 is attached to it.
    config = written("vbox-cluster")
    config["cloud-labs:network"]["mode"] = "hostonly"
    before = declared("vbox-cluster", config)
    config["cloud-labs:network"]["hostOnlyAdapter"] = "vboxnet1"
    assert before is not None and declared("vbox-cluster", config) not in (None, before)


@pytest.mark.parametrize("where", sorted(CHECKED_AGAINST))
def test_keys_only_the_checks_read_do_refuse(where: str) -> None:
    name, key = where.split(":")
    target = CHECKED_AGAINST[where]
    config = written(name)
    size = config[f"{K}{target[0]}"][target[1]]
    section, field = key.split(".")
    config[f"{K}{section}"][field] = size * 1024 + 1
    assert format_path(target) in (problems(name, config) or []), f"{where} changes nothing"
