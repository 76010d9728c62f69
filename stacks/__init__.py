"""The labs: each module owns its config model and its build; :func:`main` runs one."""

from __future__ import annotations

import contextlib
import json
from typing import Any

import pulumi
from pulumi.runtime import config as runtime_config

from stacks.shared import catalogue  # noqa: F401  (registers every lab)
from stacks.shared.registry import select
from stacks.shared.validation import validate_config


def project_config(project: str) -> dict[str, Any]:
    """Every config value of ``project`` in this stack, keyed without the project prefix.

    Pulumi hands structured values (objects, lists) to the program as JSON text; they are
    decoded here so the config models see the same shapes as in ``Pulumi.<stack>.yaml``.
    """
    merged: dict[str, Any] = dict(runtime_config.get_config_env())
    merged.update(runtime_config.CONFIG.get())
    prefix = f"{project}:"
    values: dict[str, Any] = {}
    for key, value in merged.items():
        if not key.startswith(prefix):
            continue
        if isinstance(value, str) and value[:1] in "[{":
            with contextlib.suppress(json.JSONDecodeError):
                value = json.loads(value)
        values[key[len(prefix) :]] = value
    return values


def main() -> None:
    """Select the lab named by the ``lab`` config key, validate its config, build it."""
    values = project_config(pulumi.get_project())
    lab = select(values.pop("lab", None))
    assert lab.config is not None and lab.build is not None
    config = validate_config(lab.name, lab.config, values)
    lab.build(config)
