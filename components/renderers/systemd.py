"""systemd unit files."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field


def _quote_env(key: str, value: str) -> str:
    if not key.replace("_", "").isalnum() or key[0].isdigit():
        raise ValueError(f"not an environment variable name: {key!r}")
    if any(ch in value for ch in '\n"\\'):
        raise ValueError(f"environment value for {key} holds a newline, quote or backslash")
    return f'"{key}={value}"'


@dataclass(frozen=True)
class Service:
    description: str
    exec_start: str
    """The command line, an absolute path first."""
    environment: Mapping[str, str] = field(default_factory=dict)
    after: Sequence[str] = ("network-online.target",)
    wants: Sequence[str] = ("network-online.target",)
    dynamic_user: bool = True
    """Run as a transient unprivileged user."""
    restart: str = "always"
    wanted_by: str = "multi-user.target"


def render_service(service: Service) -> str:
    """The text of ``/etc/systemd/system/<name>.service``."""
    s = service
    if not s.exec_start.startswith("/"):
        raise ValueError("ExecStart must start with an absolute path")
    unit = ["[Unit]", f"Description={s.description}"]
    if s.after:
        unit.append(f"After={' '.join(s.after)}")
    if s.wants:
        unit.append(f"Wants={' '.join(s.wants)}")
    svc = ["[Service]", "Type=simple", f"ExecStart={s.exec_start}"]
    svc += [f"Environment={_quote_env(k, v)}" for k, v in sorted(s.environment.items())]
    if s.dynamic_user:
        svc.append("DynamicUser=yes")
    svc += [f"Restart={s.restart}", "RestartSec=2"]
    install = ["[Install]", f"WantedBy={s.wanted_by}"]
    return "\n".join([*unit, "", *svc, "", *install]) + "\n"


def render_dropin(unit_lines: Sequence[str] = (), service_lines: Sequence[str] = ()) -> str:
    """A drop-in (``<unit>.d/*.conf``) adding lines to ``[Unit]`` and ``[Service]``."""
    parts: list[str] = []
    if unit_lines:
        parts += ["[Unit]", *unit_lines, ""]
    if service_lines:
        parts += ["[Service]", *service_lines, ""]
    return "\n".join(parts)
