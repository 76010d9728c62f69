"""cloud-init NoCloud documents: user-data (``#cloud-config``) and meta-data."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import yaml


@dataclass(frozen=True)
class File:
    """A file written on first boot (cloud-init ``write_files``)."""

    path: str
    content: str
    permissions: str = "0644"
    owner: str = "root:root"


@dataclass(frozen=True)
class UserData:
    hostname: str
    """The guest's host name."""
    user: str
    """The login user created with passwordless sudo."""
    ssh_public_keys: Sequence[str]
    """Keys allowed to log in as ``user``."""
    packages: Sequence[str] = ()
    """Debian/Ubuntu packages installed on first boot."""
    files: Sequence[File] = ()
    """Files written before the packages are installed."""
    runcmd: Sequence[str] = ()
    """Shell commands run once, last (each one a ``sh -c`` line)."""
    manage_etc_hosts: bool = True
    """Let cloud-init write /etc/hosts; False when ``files`` provides it."""
    package_update: bool = True
    extra: dict[str, object] = field(default_factory=dict)
    """More top-level cloud-config keys, written as given."""


def user_data_document(data: UserData) -> dict[str, object]:
    """The cloud-config data structure."""
    if not data.ssh_public_keys:
        raise ValueError("at least one SSH public key is needed to log in")
    doc: dict[str, object] = {
        "hostname": data.hostname,
        "preserve_hostname": False,
        "manage_etc_hosts": data.manage_etc_hosts,
        "users": [
            {
                "name": data.user,
                "groups": ["sudo"],
                "shell": "/bin/bash",
                "sudo": "ALL=(ALL) NOPASSWD:ALL",
                "lock_passwd": True,
                "ssh_authorized_keys": list(data.ssh_public_keys),
            }
        ],
        "ssh_pwauth": False,
    }
    if data.files:
        doc["write_files"] = [
            {"path": f.path, "content": f.content, "permissions": f.permissions, "owner": f.owner}
            for f in data.files
        ]
    if data.packages:
        doc["package_update"] = data.package_update
        doc["packages"] = list(data.packages)
    if data.runcmd:
        doc["runcmd"] = list(data.runcmd)
    doc.update(data.extra)
    return doc


class _Dumper(yaml.SafeDumper):
    """Writes multi-line strings as literal blocks, so the files stay readable."""


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def render_user_data(data: UserData) -> str:
    """The ``user-data`` file: ``#cloud-config`` followed by the YAML document."""
    body = yaml.dump(user_data_document(data), Dumper=_Dumper, sort_keys=False, width=1000)
    return "#cloud-config\n" + body


def render_meta_data(instance_id: str, hostname: str) -> str:
    """The NoCloud ``meta-data`` file. A new ``instance-id`` makes cloud-init run again."""
    return yaml.safe_dump({"instance-id": instance_id, "local-hostname": hostname}, sort_keys=False)


def render_hosts(entries: Sequence[tuple[str, str]], hostname: str) -> str:
    """``/etc/hosts``: loopback lines for ``hostname``, then ``(address, name)`` entries."""
    lines = ["127.0.0.1 localhost", f"127.0.1.1 {hostname}"]
    lines += [f"{address} {name}" for address, name in entries]
    lines += [
        "",
        "::1 ip6-localhost ip6-loopback",
        "fe00::0 ip6-localnet",
        "ff00::0 ip6-mcastprefix",
        "ff02::1 ip6-allnodes",
        "ff02::2 ip6-allrouters",
    ]
    return "\n".join(lines) + "\n"
