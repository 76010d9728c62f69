"""Config types shared by the Docker labs (``dev``, ``docker-basics``).

Each type turns what a user wrote in ``Pulumi.<stack>.yaml`` into a value the Docker engine
accepts, or fails with a message saying what was expected; the parse functions are pure.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator

from stacks.validation import LabModel

_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_HOST = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*"
_DOMAIN_RE = re.compile(rf"^{_HOST}(?::[0-9]+)?$")
_PATH_RE = re.compile(
    rf"^{_COMPONENT}(?:/{_COMPONENT})*"
    r"(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@sha256:[0-9a-f]{64})?$"
)
_CONTAINER_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
_DURATION_RE = re.compile(r"^[0-9]+(?:ms|s|m|h)$")
_USER_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*(?::[A-Za-z0-9_][A-Za-z0-9_.-]*)?$")


def parse_image_ref(value: Any) -> str:
    """An image reference: ``[registry[:port]/]repository[:tag][@sha256:digest]``."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError("expected an image reference such as 'python:3.12-slim'")
    text = value.strip()
    path = text
    first, _, rest = text.partition("/")
    # As the engine reads it: the first component is a registry when it looks like a host.
    if rest and ("." in first or ":" in first or first == "localhost"):
        path = rest if _DOMAIN_RE.match(first) else ""
    if len(text) > 255 or not _PATH_RE.match(path):
        raise ValueError(
            "expected an image reference '[registry/]repository[:tag]' "
            "(repository in lowercase letters, digits, '.', '_', '-', '/')"
        )
    return text


def parse_container_name(value: Any) -> str:
    """A container or network name: letters, digits, '_', '.', '-', starting alphanumeric."""
    if not isinstance(value, str) or not _CONTAINER_RE.match(value):
        raise ValueError(
            "expected 1-128 letters, digits, '_', '.' or '-', starting with a letter or digit"
        )
    return value


def parse_duration(value: Any) -> str:
    """A Docker duration: a whole number with a unit, ``500ms``, ``10s``, ``1m``, ``1h``."""
    if not isinstance(value, str) or not _DURATION_RE.match(value.strip()):
        raise ValueError("expected a duration such as '10s', '500ms' or '1m'")
    return value.strip()


def parse_non_root_user(value: Any) -> str:
    """``uid[:gid]`` or ``name[:group]``, anything but root."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not _USER_RE.match(value.strip()):
        raise ValueError("expected 'uid:gid' (such as '10001:10001') or a user name")
    text = value.strip()
    user = text.split(":")[0]
    # The engine reads a numeric user as a uid: "00" is root too.
    if user == "root" or (user.isdigit() and int(user) == 0):
        raise ValueError("the services must not run as root; give a non-root uid such as 10001")
    return text


ImageRef = Annotated[str, BeforeValidator(parse_image_ref)]
ContainerName = Annotated[str, BeforeValidator(parse_container_name)]
Duration = Annotated[str, BeforeValidator(parse_duration)]
NonRootUser = Annotated[str, BeforeValidator(parse_non_root_user)]
RestartPolicy = Literal["no", "on-failure", "always", "unless-stopped"]


class BuildConfig(LabModel):
    """How the engine builds the lab's images."""

    platform: str | None = None
    """Target platform such as ``linux/amd64``; unset = the engine's own."""
    builder_version: Literal["BuilderV1", "BuilderBuildKit"] = "BuilderV1"
    """The classic builder (default: it needs nothing beyond the engine, while BuildKit needs
    the buildx component on recent Docker releases) or BuildKit."""
