"""The catalogue of labs: which config model and which builder each ``lab`` value selects."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from stacks.shared.errors import LabNotAvailableError, LabSelectionError
from stacks.shared.validation import LabModel


@dataclass(frozen=True)
class Lab:
    name: str
    """The value of the ``lab`` config key."""
    platform: str
    """Where it runs: Docker, VirtualBox, libvirt or OpenStack."""
    summary: str
    """What it builds, in one line."""
    config: type[LabModel] | None = None
    """The lab's config model; None while the lab is not built by this version."""
    build: Callable[[Any], None] | None = None
    """Builds the lab's resources from its validated config."""

    @property
    def available(self) -> bool:
        return self.config is not None and self.build is not None


_LABS: dict[str, Lab] = {}


def register(lab: Lab) -> Lab:
    if lab.name in _LABS and _LABS[lab.name].available:
        raise ValueError(f"lab {lab.name!r} is registered twice")
    _LABS[lab.name] = lab
    return lab


def labs() -> list[Lab]:
    """Every known lab, in catalogue order."""
    return list(_LABS.values())


def select(name: object) -> Lab:
    """The lab named by the ``lab`` config key, or an error listing the known labs."""
    known = ", ".join(sorted(_LABS))
    if name is None or name == "":
        raise LabSelectionError(
            "no lab selected: set the `lab` config key "
            f"(pulumi config set lab <name>); known labs: {known}"
        )
    lab = _LABS.get(str(name))
    if lab is None:
        raise LabSelectionError(f"unknown lab {name!r}; known labs: {known}")
    if not lab.available:
        raise LabNotAvailableError(
            f"lab {lab.name!r} ({lab.platform}: {lab.summary}) is not built yet by this "
            "version of cloud-labs; available labs: "
            + ", ".join(sorted(item.name for item in _LABS.values() if item.available))
        )
    return lab
