"""The one YAML writer of the project: every YAML file it generates goes through here.

Keys keep the order they were built in (no sorting), multi-line strings are written as literal
``|`` blocks (a file embedded in a cloud-config reads like the file itself), and lines are not
folded below 1000 characters. Same data, same bytes: a changed byte in a cloud-init document is
a new instance for Nova and a new seed for the hypervisors, so the output must only change
when the data does.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import yaml

WIDTH = 1000
"""Lines longer than this are folded (only at spaces of plain scalars)."""


class _Dumper(yaml.SafeDumper):
    """The safe dumper, with multi-line strings as literal blocks."""


def _text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _text)


def yaml_text(data: Any) -> str:
    """``data`` as one YAML document."""
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, width=WIDTH)


def yaml_documents(documents: Iterable[Any]) -> str:
    """Several YAML documents in one text, separated by ``---`` (``kubectl apply -f``)."""
    return yaml.dump_all(list(documents), Dumper=_Dumper, sort_keys=False, width=WIDTH)
