"""Config models shared by the Docker labs (``dev``, ``docker-basics``); their scalar types
(image references, container names, durations, users) are in :mod:`stacks.shared.types`."""

from __future__ import annotations

from typing import Literal

from stacks.shared.validation import LabModel


class BuildConfig(LabModel):
    """How the engine builds the lab's images."""

    platform: str | None = None
    """Target platform such as ``linux/amd64``; unset = the engine's own."""
    builder_version: Literal["BuilderV1", "BuilderBuildKit"] = "BuilderV1"
    """The classic builder (default: it needs nothing beyond the engine, while BuildKit needs
    the buildx component on recent Docker releases) or BuildKit."""
