"""Every number of every lab's model has an upper bound, stated in its message, and a huge value
is refused without work in proportion to it.

The cases come from the models (``tests/config_walk.py``): each number a lab's full config
writes (counts, sizes, ports, timeouts, the calculator's limits) is set to 10**30; the problem
must name the field and give the largest value accepted, which must then be accepted (the bound
in the message is the real one). Validation of the huge value stays within a small, fixed
amount of memory: no check builds names, lists or ranges from the number before it is bounded.
"""

from __future__ import annotations

import re
import tracemalloc

from stacks.shared.catalogue import LABS
from stacks.shared.errors import ConfigError, format_path
from tests.config_walk import (
    Leaf,
    by_lab_and_leaf,
    leaves,
    model_of,
    validate,
    with_value,
)

HUGE = 10**30
MEMORY_BOUND = 16 * 1024 * 1024
"""Bytes validation may allocate at its peak, whatever the number (the walk's configs take
well under one MiB)."""

NUMBERS = [
    (entry.name, leaf)
    for entry in LABS
    for leaf in leaves(model_of(entry.name))
    if leaf.kind == "number"
]


def problems_at(name: str, leaf: Leaf, value: object) -> list[str]:
    """The messages of the problems at ``leaf``'s field when it holds ``value``."""
    try:
        validate(name, with_value(name, leaf, value))
    except ConfigError as error:
        return [p.message for p in error.problems if p.location == format_path(leaf.path)]
    return []


def stated_bound(message: str) -> int:
    """The largest number a message names: the bound it states."""
    numbers = [int(n) for n in re.findall(r"[0-9]+", message)]
    assert numbers, f"no bound in {message!r}"
    return max(numbers)


@by_lab_and_leaf("name,leaf", NUMBERS)
def test_a_huge_number_is_refused_with_its_bound(name: str, leaf: Leaf) -> None:
    huge: int | float = HUGE if isinstance(leaf.value, int) else float(HUGE)
    tracemalloc.start()
    try:
        found = problems_at(name, leaf, huge)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert found, f"{name}: {leaf} = {huge} is accepted"
    assert peak < MEMORY_BOUND, f"{name}: {leaf} = {huge}: validation took {peak} bytes"
    bound = stated_bound(found[0])
    assert bound < HUGE, f"{name}: {leaf}: {found[0]!r} states no bound"
    assert found[0] not in problems_at(name, leaf, bound), (
        f"{name}: {leaf}: {bound} is the stated bound ({found[0]!r}) but is refused as well"
    )
