"""A stack's config read from its ``Pulumi.<stack>.yaml``, outside a Pulumi run.

``scripts/check.sh`` and ``scripts/diagram.sh`` start from the same validated config the
program builds from (same lab model, same rules, the same errors), read from the stack's file
instead of through ``pulumi.Config``. A value set with ``--secret`` (``secure:`` in the file)
cannot be decrypted here: it is replaced by a placeholder, and neither the checks nor the
diagrams show a secret.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import yaml

from stacks.shared.catalogue import Entry, select
from stacks.shared.config import LAB_KEY
from stacks.shared.validation import LabModel, validate_config

ROOT = Path(__file__).resolve().parents[2]
"""The project's directory (``Pulumi.yaml`` and the shipped ``Pulumi.<stack>.yaml``)."""
SECRET = "<secret>"
"""What a ``secure:`` value reads as."""


def project_name(root: Path = ROOT) -> str:
    data = yaml.safe_load((root / "Pulumi.yaml").read_text(encoding="utf-8"))
    return str(data["name"])


def read_config(path: Path) -> dict[str, Any]:
    """The ``config`` mapping of a stack file, keys as written (``cloud-labs:lab``)."""
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return dict(data.get("config") or {})


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {"secure"}:
            return SECRET
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


@dataclass(frozen=True)
class StackFile:
    """A stack as its file describes it: the lab and its validated config."""

    stack: str
    path: Path
    raw: dict[str, Any]
    """The file's config, keys as written."""
    entry: Entry
    config: LabModel

    @property
    def lab(self) -> str:
        return self.entry.name

    def declarations(self) -> ModuleType:
        """The lab's ``<module>_checks`` module: ``checks(...)`` and ``topology(...)``."""
        assert self.entry.checks_module is not None
        return importlib.import_module(self.entry.checks_module)


def load(stack: str, path: Path | None = None, root: Path = ROOT) -> StackFile:
    """Stack ``stack`` from ``path`` (default ``Pulumi.<stack>.yaml`` in ``root``), validated by
    its lab's model; a wrong config raises the program's ConfigError."""
    path = path or root / f"Pulumi.{stack}.yaml"
    if not path.is_file():
        raise FileNotFoundError(f"no config file {path} for stack {stack!r}")
    raw = read_config(path)
    prefix = f"{project_name(root)}:"
    entry = select(raw.get(prefix + LAB_KEY))
    values = {
        key[len(prefix) :]: _plain(value)
        for key, value in raw.items()
        if key.startswith(prefix) and key != prefix + LAB_KEY
    }
    model = entry.load().config
    config = validate_config(entry.name, model, values)
    return StackFile(stack, path, raw, entry, config)
