"""The labs: each module owns its config model and its build; :func:`main` runs one.

Only the selected lab's module is imported (:mod:`stacks.shared.catalogue`), with the provider
SDKs it uses.
"""

from __future__ import annotations

import pulumi

from stacks.shared.catalogue import select
from stacks.shared.config import LAB_KEY, StackConfig
from stacks.shared.validation import validate_config


def main() -> None:
    """Select the lab named by the ``lab`` config key, validate its config, build it."""
    stack = StackConfig(pulumi.get_project())
    entry = select(stack.value(LAB_KEY))
    lab = entry.load()
    config = validate_config(entry.name, lab.config, stack.values(lab.config))
    stack.bind_secrets(config)
    lab.build(config)
