"""cloud-init documents for every platform: user-data, NoCloud meta-data and network-config.

The one place that knows cloud-init's keys. A user-data document is built from parts, written in
the order they are given::

    render_user_data(
        Hostname("node01", manage_etc_hosts=False),
        Login("ubuntu", [key]),
        Files([File("/etc/hosts", hosts)]),
        Packages(["nfs-common", "autofs"]),
        Commands(["systemctl restart autofs"]),
    )

VirtualBox and libvirt guests boot from a NoCloud :class:`Seed` (the three documents on a
``cidata`` ISO); OpenStack VMs get the user-data alone (Nova serves the rest). NICs are matched
by MAC address in network-config, never by interface name: the names differ between VirtualBox,
QEMU and clouds.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

from components.renderers.yamltext import yaml_text

SUDO_ALL = "ALL=(ALL) NOPASSWD:ALL"

FILE_KEYS = ("path", "encoding", "content", "owner", "permissions")
"""The order of the keys of a ``write_files`` entry (cloud-init reads them by name; the order
only decides the document's bytes)."""


class Part(Protocol):
    """A piece of a cloud-config: the top-level keys it writes, in order."""

    def document(self) -> dict[str, object]: ...


@dataclass(frozen=True)
class Hostname:
    """The guest's host name."""

    name: str
    preserve_hostname: bool | None = False
    """False: cloud-init sets ``name`` on first boot (``preserve_hostname: false``); None: the
    key is left out (cloud-init's own default)."""
    manage_etc_hosts: bool | None = None
    """True: cloud-init writes /etc/hosts; False: a file of the document provides it; None:
    the key is left out."""

    def document(self) -> dict[str, object]:
        doc: dict[str, object] = {"hostname": self.name}
        if self.preserve_hostname is not None:
            doc["preserve_hostname"] = self.preserve_hostname
        if self.manage_etc_hosts is not None:
            doc["manage_etc_hosts"] = self.manage_etc_hosts
        return doc


@dataclass(frozen=True)
class Login:
    """The login user: SSH keys only (password locked, password logins off), passwordless sudo."""

    user: str
    ssh_public_keys: Sequence[str]
    disable_root: bool | None = None
    """True: root cannot log in over SSH; None: the key is left out."""

    def document(self) -> dict[str, object]:
        if not self.ssh_public_keys:
            raise ValueError("at least one SSH public key is needed to log in")
        user = {
            "name": self.user,
            "groups": ["sudo"],
            "shell": "/bin/bash",
            "sudo": SUDO_ALL,
            "lock_passwd": True,
            "ssh_authorized_keys": list(self.ssh_public_keys),
        }
        doc: dict[str, object] = {"users": [user], "ssh_pwauth": False}
        if self.disable_root is not None:
            doc["disable_root"] = self.disable_root
        return doc


@dataclass(frozen=True)
class AptMirror:
    """The primary apt mirror (Debian and Ubuntu images)."""

    uri: str
    key: str | None = None
    """The mirror's signing key (armoured), trusted for it; None: the image's keys sign it."""
    security: bool = False
    """True: the security suite comes from the same mirror too."""

    def document(self) -> dict[str, object]:
        entry: dict[str, object] = {"arches": ["default"], "uri": self.uri}
        apt: dict[str, object] = {
            "primary": [entry if self.key is None else {**entry, "key": self.key}]
        }
        if self.security:
            apt["security"] = [entry]
        return {"apt": apt}


@dataclass(frozen=True)
class Packages:
    """Distribution packages installed on first boot."""

    names: Sequence[str]
    """``name`` or ``name=version`` (pinned: cloud-init's ``[name, version]`` form)."""
    update: bool = True
    """Refresh the package index first (``package_update``)."""

    def document(self) -> dict[str, object]:
        if not self.names:
            return {}
        entries: list[str | list[str]] = []
        for spec in self.names:
            name, pinned, version = spec.partition("=")
            entries.append([name, version] if pinned else name)
        return {"package_update": self.update, "packages": entries}


@dataclass(frozen=True)
class File:
    """A file written on first boot (``write_files``), before the packages are installed."""

    path: str
    content: str
    permissions: str = "0644"
    owner: str = "root:root"
    encoding: Literal["b64"] | None = None
    """``b64``: ``content`` is base64 (see :func:`binary_file`)."""

    def entry(self, keys: Sequence[str] = FILE_KEYS) -> dict[str, object]:
        values: dict[str, object] = {
            "path": self.path,
            "content": self.content,
            "permissions": self.permissions,
            "owner": self.owner,
        }
        if self.encoding is not None:
            values["encoding"] = self.encoding
        return {key: values[key] for key in keys if key in values}


def binary_file(path: str, data: bytes, permissions: str = "0644") -> File:
    """A file whose bytes travel base64-encoded."""
    return File(path, base64.b64encode(data).decode("ascii"), permissions, encoding="b64")


@dataclass(frozen=True)
class Files:
    """The ``write_files`` list."""

    files: Sequence[File]
    key_order: Sequence[str] = FILE_KEYS
    """The order of each entry's keys; a platform whose running guests were seeded with
    another order keeps it (a changed byte is a new seed, or a new instance on Nova)."""

    def document(self) -> dict[str, object]:
        if not self.files:
            return {}
        return {"write_files": [f.entry(self.key_order) for f in self.files]}


@dataclass(frozen=True)
class Commands:
    """Commands run once, last (``runcmd``): a shell line, or a command and its arguments."""

    commands: Sequence[str | Sequence[str]]

    def document(self) -> dict[str, object]:
        if not self.commands:
            return {}
        return {"runcmd": [c if isinstance(c, str) else list(c) for c in self.commands]}


def user_data_document(*parts: Part | None) -> dict[str, object]:
    """The cloud-config of ``parts`` (None parts are skipped), as data."""
    doc: dict[str, object] = {}
    for part in parts:
        if part is None:
            continue
        for key, value in part.document().items():
            if key in doc:
                raise ValueError(f"cloud-config key {key!r} is given by two parts")
            doc[key] = value
    return doc


def render_user_data(*parts: Part | None) -> str:
    """The ``user-data`` file: ``#cloud-config`` followed by the document of ``parts``."""
    return "#cloud-config\n" + yaml_text(user_data_document(*parts))


def render_meta_data(instance_id: str, hostname: str) -> str:
    """The NoCloud ``meta-data`` file. A new ``instance-id`` makes cloud-init run again."""
    return yaml_text({"instance-id": instance_id, "local-hostname": hostname})


def content_instance_id(hostname: str, content: str) -> str:
    """An instance id that changes when ``content`` (the other documents) does."""
    return f"{hostname}-{hashlib.sha256(content.encode()).hexdigest()[:12]}"


@dataclass(frozen=True)
class Nic:
    """One NIC of a network-config (version 2), matched by its MAC address."""

    id: str
    """The entry's name (any: the MAC address selects the device)."""
    mac: str
    """``aa:bb:cc:dd:ee:ff``."""
    dhcp4: bool = False
    """Take an IPv4 address by DHCP."""
    addresses: Sequence[str] = ()
    """Static addresses in CIDR form (``192.168.56.1/24``)."""
    nameservers: Sequence[str] = ()
    """DNS servers for this NIC."""
    use_dhcp_dns: bool = True
    """False: ignore the DNS servers the DHCP server offers."""
    use_dhcp_routes: bool = True
    """False: install no route (no default route) from this NIC's lease."""
    dhcp_identifier: Literal["mac"] | None = None
    """``mac``: identify to the DHCP server by MAC address (fixed leases by MAC)."""
    extra: Mapping[str, object] = field(default_factory=dict)
    """More keys for this NIC, written as given."""

    def entry(self) -> dict[str, object]:
        entry: dict[str, object] = {"match": {"macaddress": self.mac.lower()}, "dhcp4": self.dhcp4}
        if self.dhcp4:
            overrides: dict[str, object] = {}
            if not self.use_dhcp_dns:
                overrides["use-dns"] = False
            if not self.use_dhcp_routes:
                overrides["use-routes"] = False
            if overrides:
                entry["dhcp4-overrides"] = overrides
            if self.dhcp_identifier is not None:
                entry["dhcp-identifier"] = self.dhcp_identifier
        if self.addresses:
            entry["addresses"] = list(self.addresses)
        if self.nameservers:
            entry["nameservers"] = {"addresses": list(self.nameservers)}
        entry.update(self.extra)
        return entry


def network_config_document(nics: Sequence[Nic]) -> dict[str, object]:
    """``{version: 2, ethernets: ...}``, one entry per NIC."""
    ethernets: dict[str, object] = {}
    for nic in nics:
        if nic.id in ethernets:
            raise ValueError(f"interface id {nic.id!r} is used twice")
        ethernets[nic.id] = nic.entry()
    return {"version": 2, "ethernets": ethernets}


def render_network_config(nics: Sequence[Nic], *, netplan: bool = False) -> str:
    """The ``network-config`` file. With ``netplan``, in netplan's own form (under a top-level
    ``network:`` key), which cloud-init reads too and ``netplan`` can parse as it is."""
    doc = network_config_document(nics)
    return yaml_text({"network": doc} if netplan else doc)


@dataclass(frozen=True)
class Seed:
    """The documents of a NoCloud seed (an ISO with volume id ``cidata``)."""

    user_data: str
    meta_data: str
    network_config: str | None = None
    """None: cloud-init's default (DHCP on the first NIC)."""

    @property
    def digest(self) -> str:
        """A hash of the three documents (12 hex digits)."""
        hashed = hashlib.sha256()
        for part in (self.user_data, self.meta_data, self.network_config or ""):
            hashed.update(part.encode())
            hashed.update(b"\0")
        return hashed.hexdigest()[:12]
