"""Validated scalar types shared by the labs' config models.

Each type turns the text a user wrote in ``Pulumi.<stack>.yaml`` into a typed value, or fails
with a message that says what was expected. The parsing functions are pure and tested directly.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field

_NAME_RE = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,62})$")


def parse_name(value: Any) -> str:
    """A resource or host name: 1-63 letters, digits, '.', '_' or '-', starting alphanumeric."""
    if not isinstance(value, str):
        raise ValueError("expected a name (text)")
    if not value.strip():
        raise ValueError("name must not be empty")
    if not _NAME_RE.match(value):
        raise ValueError(
            "expected 1-63 characters of letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    return value


_HOST_RE = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9.:-]{0,252})$")


def parse_host_name(value: Any) -> str:
    """A host to connect to: a DNS name or an IP address (nothing a shell would interpret)."""
    if not isinstance(value, str) or not _HOST_RE.match(value.strip()):
        raise ValueError(
            "expected a host name or an IP address such as kvm.example.org or 192.0.2.10"
        )
    return value.strip()


def parse_cidr(value: Any) -> ipaddress.IPv4Network:
    """An IPv4 network in CIDR notation whose host bits are zero (``192.168.1.0/24``)."""
    if isinstance(value, ipaddress.IPv4Network):
        return value
    if not isinstance(value, str) or "/" not in value:
        raise ValueError("expected an IPv4 network in CIDR notation such as 192.168.1.0/24")
    try:
        return ipaddress.IPv4Network(value.strip(), strict=True)
    except ValueError as exc:
        if "host bits set" in str(exc):
            fixed = ipaddress.IPv4Network(value.strip(), strict=False)
            raise ValueError(f"host bits are set in this CIDR; did you mean {fixed}?") from None
        raise ValueError(
            "expected an IPv4 network in CIDR notation such as 192.168.1.0/24"
        ) from None


def parse_ipv4(value: Any) -> ipaddress.IPv4Address:
    """A single IPv4 address (``192.168.1.10``)."""
    if isinstance(value, ipaddress.IPv4Address):
        return value
    try:
        return ipaddress.IPv4Address(str(value).strip())
    except ValueError:
        raise ValueError("expected an IPv4 address such as 192.168.1.10") from None


# Key types accepted by OpenSSH in authorized_keys, and the size of the key material checked.
_SSH_KEY_TYPES = {
    "ssh-ed25519",
    "ssh-rsa",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "sk-ssh-ed25519@openssh.com",
    "sk-ecdsa-sha2-nistp256@openssh.com",
}


def _ssh_strings(blob: bytes) -> list[bytes]:
    """Split an SSH wire-format blob into its length-prefixed strings."""
    out: list[bytes] = []
    i = 0
    while i < len(blob):
        if i + 4 > len(blob):
            raise ValueError("truncated")
        size = int.from_bytes(blob[i : i + 4], "big")
        i += 4
        if i + size > len(blob):
            raise ValueError("truncated")
        out.append(blob[i : i + size])
        i += size
    return out


def parse_ssh_public_key(value: Any) -> str:
    """An OpenSSH public key line: ``<type> <base64 key> [comment]``, checked structurally."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError("expected an OpenSSH public key such as 'ssh-ed25519 AAAA... user@host'")
    text = value.strip()
    if "\n" in text:
        raise ValueError("expected exactly one public key on one line")
    if "PRIVATE KEY" in text:
        raise ValueError("this is a private key; give the public key (the .pub file)")
    parts = text.split()
    if len(parts) < 2:
        raise ValueError("expected '<type> <base64 key> [comment]'")
    kind, data = parts[0], parts[1]
    if kind not in _SSH_KEY_TYPES:
        raise ValueError(f"unknown key type {kind!r}; expected one of {sorted(_SSH_KEY_TYPES)}")
    try:
        blob = base64.b64decode(data, validate=True)
        fields = _ssh_strings(blob)
    except (binascii.Error, ValueError):
        raise ValueError("the key data is not valid base64 SSH key material") from None
    if not fields or fields[0].decode(errors="replace") != kind:
        raise ValueError(f"the key data does not describe a {kind} key")
    if kind == "ssh-ed25519" and (len(fields) != 2 or len(fields[1]) != 32):
        raise ValueError("an ssh-ed25519 key must carry 32 bytes of key material")
    if kind == "ssh-rsa" and (len(fields) != 3 or len(fields[2]) * 8 < 2000):
        raise ValueError("an ssh-rsa key must have a modulus of at least 2048 bits")
    return text


def parse_port_range(value: Any) -> tuple[int, int]:
    """A TCP/UDP port or range: ``22``, ``"22"`` or ``"30000-32767"``."""
    if isinstance(value, bool):
        raise ValueError("expected a port number or a range 'low-high'")
    if isinstance(value, int):
        low = high = value
    elif (
        isinstance(value, (tuple, list))
        and len(value) == 2
        and all(isinstance(v, int) and not isinstance(v, bool) for v in value)
    ):
        low, high = value
    elif isinstance(value, str) and re.fullmatch(r"\s*\d+\s*(-\s*\d+\s*)?", value):
        pieces = [int(p) for p in value.split("-")]
        low, high = pieces[0], pieces[-1]
    else:
        raise ValueError("expected a port number or a range 'low-high'")
    for port in (low, high):
        if not 1 <= port <= 65535:
            raise ValueError("port numbers must be between 1 and 65535")
    if low > high:
        raise ValueError("the range's low port is above its high port")
    return (low, high)


Name = Annotated[str, BeforeValidator(parse_name)]
HostName = Annotated[str, BeforeValidator(parse_host_name)]
Cidr = Annotated[ipaddress.IPv4Network, BeforeValidator(parse_cidr)]
IPv4 = Annotated[ipaddress.IPv4Address, BeforeValidator(parse_ipv4)]
SshPublicKey = Annotated[str, AfterValidator(parse_ssh_public_key)]
Port = Annotated[int, Field(ge=1, le=65535)]
PortRange = Annotated[tuple[int, int], BeforeValidator(parse_port_range)]
NonEmptyText = Annotated[str, Field(min_length=1)]
