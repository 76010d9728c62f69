"""The Ansible inventory (INI) of the libvirt-host lab's VMs, grouped by role."""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from dataclasses import dataclass


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
    return shlex.join(["ssh", *ssh_options(jump), f"{user}@{address}"])


def render_inventory(hosts: Sequence[InventoryHost], user: str, jump: str | None) -> str:
    """One group per role (in order of first appearance), then ``[all:vars]``."""
    roles: dict[str, list[InventoryHost]] = {}
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
