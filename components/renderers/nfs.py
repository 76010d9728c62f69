"""NFS exports (exports(5)) and autofs maps (auto.master(5), autofs(5))."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence

_PATH_RE = re.compile(r"^/[A-Za-z0-9._/-]*$")
_OPTION_RE = re.compile(r"^[a-z_]+(=[A-Za-z0-9_.:/-]+)?$")
DEFAULT_EXPORT_OPTIONS = ("rw", "sync", "no_root_squash", "no_subtree_check")


def _path(path: str) -> str:
    if not _PATH_RE.match(path) or "//" in path:
        raise ValueError(f"expected an absolute path without spaces, got {path!r}")
    return path.rstrip("/") or "/"


def render_exports(
    path: str,
    clients: ipaddress.IPv4Network,
    options: Sequence[str] = DEFAULT_EXPORT_OPTIONS,
) -> str:
    """One exports(5) line: ``/shared 192.168.56.0/24(rw,sync,...)``."""
    for option in options:
        if not _OPTION_RE.match(option):
            raise ValueError(f"not an export option: {option!r}")
    return f"{_path(path)} {clients}({','.join(options)})\n"


def render_auto_master(map_file: str, timeout_s: int = 300) -> str:
    """An auto.master.d entry for a direct map (mount points given in full in the map)."""
    return f"/- {_path(map_file)} --timeout={timeout_s}\n"


def render_direct_map(
    mount_point: str, server: str, export: str, options: Sequence[str] = ("rw", "hard")
) -> str:
    """A direct autofs map line mounting ``server:export`` over NFS at ``mount_point``."""
    opts = ",".join(["fstype=nfs", *options])
    return f"{_path(mount_point)} -{opts} {server}:{_path(export)}\n"
