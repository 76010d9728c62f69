"""The stack's config as the engine gives it to a policy pack, and which of it is secret.

The engine passes the whole config, secrets decrypted, to the policy pack's process as
``PULUMI_CONFIG`` (JSON: ``{"cloud-labs:key": "value"}``, objects JSON-encoded) and the stack's
name as ``PULUMI_STACK``; it does not say which values are secrets. Those are the entries
written ``secure:`` in the stack's file, ``Pulumi.<stack>.yaml`` next to ``Pulumi.yaml`` (one
directory above this pack), at any depth (``pulumi config set --secret --path a.b``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

PROJECT_DIR = Path(__file__).resolve().parent.parent.parent
"""The Pulumi project this pack ships with (where ``Pulumi.<stack>.yaml`` files live)."""

ConfigPath = tuple[str | int, ...]
"""A config key, then the path inside its value: ``("cloud-labs:remoteHost", "address")``."""


def _decoded(value: Any) -> Any:
    """A config value as the program reads it: JSON objects and lists decoded."""
    if isinstance(value, str) and value[:1] in "{[":
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _walk(value: Any, path: ConfigPath) -> Iterator[tuple[ConfigPath, Any]]:
    yield path, value
    if isinstance(value, Mapping):
        for key, item in value.items():
            yield from _walk(item, (*path, str(key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _walk(item, (*path, index))


def secure_paths(stack_file: Path) -> set[ConfigPath]:
    """The paths of the ``secure:`` entries of a ``Pulumi.<stack>.yaml``."""
    data = yaml.safe_load(stack_file.read_text()) or {}
    found: set[ConfigPath] = set()
    for key, value in (data.get("config") or {}).items():
        for path, item in _walk(value, (str(key),)):
            if isinstance(item, Mapping) and set(item) == {"secure"}:
                found.add(path)
    return found


@dataclass(frozen=True)
class StackConfig:
    """The stack's config values (keys with their namespace) and the paths that are secrets."""

    values: Mapping[str, Any] = field(default_factory=dict)
    secret_paths: frozenset[ConfigPath] = frozenset()

    def leaves(self) -> Iterator[tuple[ConfigPath, Any]]:
        """Every value at every depth, with its path."""
        for key, value in self.values.items():
            yield from _walk(_decoded(value), (key,))

    def explicit_values(self) -> set[str]:
        """Every string or number the config states, at any depth."""
        return {str(v) for _, v in self.leaves() if isinstance(v, (str, int, float))}

    def secrets(self) -> dict[str, str]:
        """Each secret's text by its dotted path (a secret object or list: each of its leaves)."""
        found: dict[str, str] = {}
        for path, value in self.leaves():
            if any(path[: len(s)] == s for s in self.secret_paths) and isinstance(
                value, (str, int, float)
            ):
                found[".".join(str(p) for p in path)] = str(value)
        return found

    @classmethod
    def from_engine(cls) -> StackConfig:
        """What the engine passed to this process (``PULUMI_CONFIG``, ``PULUMI_STACK``)."""
        raw = os.environ.get("PULUMI_CONFIG") or "{}"
        try:
            values = json.loads(raw)
        except ValueError:
            values = {}
        stack = os.environ.get("PULUMI_STACK", "")
        stack_file = PROJECT_DIR / f"Pulumi.{stack}.yaml"
        secrets = secure_paths(stack_file) if stack and stack_file.is_file() else set()
        return cls(values=dict(values), secret_paths=frozenset(secrets))
