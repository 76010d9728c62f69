"""The labs: each module owns its config model and its build; :func:`main` runs one."""

from __future__ import annotations

import pulumi

from stacks.shared import catalogue  # noqa: F401  (registers every lab)
from stacks.shared.config import LAB_KEY, StackConfig
from stacks.shared.registry import select
from stacks.shared.validation import validate_config


def main() -> None:
    """Select the lab named by the ``lab`` config key, validate its config, build it."""
    stack = StackConfig(pulumi.get_project())
    lab = select(stack.value(LAB_KEY))
    assert lab.config is not None and lab.build is not None
    config = validate_config(lab.name, lab.config, stack.values(lab.config))
    stack.bind_secrets(config)
    lab.build(config)
