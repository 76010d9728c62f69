"""The Ansible inventory (INI) of the libvirt-host lab's VMs, grouped by role."""

from __future__ import annotations

import re
import shlex
from collections.abc import Sequence
from dataclasses import dataclass

from components import hostexec


@dataclass(frozen=True)
class InventoryHost:
    name: str
    """Inventory host name (the domain's name)."""
    role: str
    """Group the host belongs to."""
    address: str
    """Address Ansible connects to (the management address)."""


def ssh_options(jump: str | None) -> list[str]:
    """Options for reaching the guests: fresh host keys each rebuild, through ``jump``."""
    options = ["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null"]
    if jump:
        options += ["-J", jump]
    return options


def ssh_command(user: str, address: str, jump: str | None) -> str:
    """The ssh command reaching ``user@address`` (through the KVM host when ``jump``)."""
    return hostexec.ssh_command(f"{user}@{address}", options=ssh_options(None), jump=jump)


_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*", re.ASCII)
"""What a name, an address or a user may be in the inventory: one word that cannot open a
section (``[``), a variable (``=``) or a new line."""


def _word(value: str) -> str:
    if _WORD.fullmatch(value) is None:
        raise ValueError(f"not one inventory word: {value!r}")
    return value


def render_inventory(hosts: Sequence[InventoryHost], user: str, jump: str | None) -> str:
    """One group per role (in order of first appearance), then ``[all:vars]``."""
    roles: dict[str, list[InventoryHost]] = {}
    for word in (user, *(value for h in hosts for value in (h.name, h.role, h.address))):
        _word(word)
    for host in hosts:
        roles.setdefault(host.role, []).append(host)
    lines: list[str] = []
    for role, members in roles.items():
        lines.append(f"[{role}]")
        lines += [f"{h.name} ansible_host={h.address}" for h in members]
        lines.append("")
    lines.append("[all:vars]")
    lines.append(f"ansible_user={user}")
    lines.append("ansible_ssh_common_args=" + shlex.quote(shlex.join(ssh_options(jump))))
    return "\n".join(lines) + "\n"
