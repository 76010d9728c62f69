"""Errors raised by cloud-labs before any resource is registered.

Hierarchy::

    CloudLabsError
    ├── LabSelectionError      the `lab` config key is missing or names no known lab
    ├── LabNotAvailableError   the lab is known but cannot be built (yet) by this version
    ├── ConfigError            the lab's config has one or more problems (all listed at once)
    └── OpenStackAccessError   no OpenStack credentials configured, or the project does not
                               answer a lookup (the external network)

Each message is meant to be read by the person who wrote the stack's config: it names the
config key (as written in ``Pulumi.<stack>.yaml``), what was expected and what arrived.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi

_NO_VALUE: Any = object()

KeyPath = tuple[str | int, ...]
"""Where a value is in a lab's config: keys from the top (list items by index)."""


def format_path(path: KeyPath) -> str:
    """``path`` as the user reads it: ``vms[1].mac``, ``labels.PoP (the key)``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part == "[key]":  # pydantic's marker: the problem is the mapping key itself
            out += " (the key)"
        else:
            out += f".{part}" if out else part
    return out or "(config)"


class CloudLabsError(pulumi.RunError):
    """Base class of every error cloud-labs raises on purpose.

    It derives from ``pulumi.RunError`` so that ``pulumi preview``/``up`` print the message
    alone, without a Python traceback.
    """


class LabSelectionError(CloudLabsError):
    """The ``lab`` config key is missing or unknown."""


class LabNotAvailableError(CloudLabsError):
    """The selected lab exists in the catalogue but cannot be built by this version."""


class OpenStackAccessError(CloudLabsError):
    """OpenStack credentials are not configured, or a lookup in the project failed."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong in a stack's config."""

    path: KeyPath
    """Where: config keys from the top of the lab's config (list items by index)."""
    message: str
    """What is wrong, phrased as what was expected."""
    value: Any = field(default=_NO_VALUE)
    """The value given, when there is one to show."""

    def at(self, *prefix: str | int) -> Problem:
        """The same problem, seen from a containing model."""
        return Problem((*prefix, *self.path), self.message, self.value)

    @property
    def location(self) -> str:
        return format_path(self.path)

    def render(self) -> str:
        text = f"{self.location}: {self.message}"
        if self.value is not _NO_VALUE:
            text += f" (got {self.value!r})"
        return text


class ConfigError(CloudLabsError):
    """A lab's config has problems; ``problems`` holds every one of them."""

    def __init__(self, lab: str, problems: Sequence[Problem]) -> None:
        self.lab = lab
        self.problems = tuple(problems)
        count = len(self.problems)
        lines = [f"invalid config for lab {lab!r}: {count} problem{'s' if count != 1 else ''}"]
        lines += [f"  - {p.render()}" for p in self.problems]
        super().__init__("\n".join(lines))


class Problems(ValueError):
    """Raised inside model validators to report several problems at once.

    The config loader unpacks it into individual :class:`Problem` entries, each with the path
    of the model that raised it prepended.
    """

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = tuple(problems)
        super().__init__("; ".join(p.render() for p in self.problems))
