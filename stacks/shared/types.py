"""Validated scalar types of the labs' config models, every one of them.

Each type turns the text a user wrote in ``Pulumi.<stack>.yaml`` into a typed value, or fails
with a message that says what was expected. The parsing functions are pure and tested directly.
Sections: names, addresses and keys (every lab); paths, URLs and programs; container images
and the Docker engine's values; Kubernetes' names and versions; Debian packages.

The rules every type follows:

- A pattern matches the whole value (:func:`_pattern` compiles it ASCII-only, :func:`_whole`
  applies it with ``fullmatch``): ``$`` alone would also match before a final newline, and
  ``\\d`` would take fullwidth or Arabic-Indic digits that ``int()`` then reads as numbers.
- Text is used as written: a value with a newline, a space or a '-' where its kind has none is
  refused, never trimmed. Only values parsed into something else (addresses, networks,
  numbers) and an SSH public key line (read from a ``.pub`` file, which ends with a newline)
  ignore the white space around them.
- Names that become host names are RFC 1123 labels; a host to connect to is a DNS name or an
  IP address; paths have no ``..`` segment; text that is free by nature (a shell command, a
  cloud's image name) still has no control character where it must stay on one line.
- Every value has an upper bound: a length for text, a maximum for numbers.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
import unicodedata
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

import pulumi
from pydantic import AfterValidator, BeforeValidator, Field, GetCoreSchemaHandler, PlainValidator
from pydantic_core import core_schema


def _pattern(regex: str) -> re.Pattern[str]:
    """A pattern for whole values, ASCII only: ``[0-9]``/``\\d`` never match other digits."""
    return re.compile(regex, re.ASCII)


def _whole(pattern: re.Pattern[str], value: Any) -> bool:
    """True when ``value`` is text that ``pattern`` matches from its first to its last character."""
    return isinstance(value, str) and pattern.fullmatch(value) is not None


def _control(value: str) -> bool:
    """True when ``value`` holds a control character (newline, tab, NUL, escape, DEL...)."""
    return any(unicodedata.category(c) == "Cc" for c in value)


PATH_MAX = 4095
"""The longest path accepted (Linux's PATH_MAX, 4096 bytes with the final NUL)."""


# --- names, hosts, addresses, keys ----------------------------------------------------------

_NAME_RE = _pattern(r"[A-Za-z0-9][A-Za-z0-9._-]{0,62}")


def parse_name(value: Any) -> str:
    """A resource or user name: 1-63 letters, digits, '.', '_' or '-', starting alphanumeric."""
    if not isinstance(value, str):
        raise ValueError("expected a name (text)")
    if not value.strip():
        raise ValueError("name must not be empty")
    if not _whole(_NAME_RE, value):
        raise ValueError(
            "expected 1-63 characters of letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    return value


_HOST_LABEL_RE = _pattern(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")
_HOST_PREFIX_RE = _pattern(r"[A-Za-z0-9][A-Za-z0-9-]{0,60}")


def _host_label(value: Any, pattern: re.Pattern[str], expected: str) -> str:
    if isinstance(value, str) and not value.strip():
        raise ValueError("name must not be empty")
    if not _whole(pattern, value):
        raise ValueError(f"expected {expected} (RFC 1123: no '_', '.' or space)")
    return str(value)


def parse_host_label(value: Any) -> str:
    """A name that becomes a guest's host name (its DNS name on the lab network, its name in an
    inventory): an RFC 1123 label, 1-63 letters, digits and '-', alphanumeric at both ends."""
    return _host_label(
        value,
        _HOST_LABEL_RE,
        "a host name: 1-63 letters, digits and '-', starting and ending with a letter or digit",
    )


def parse_host_label_prefix(value: Any) -> str:
    """The start of host names that end in a number (``node`` of ``node01``): 1-61 letters,
    digits and '-', starting with a letter or digit."""
    return _host_label(
        value,
        _HOST_PREFIX_RE,
        "the start of a host name: 1-61 letters, digits and '-', starting with a letter or digit",
    )


def parse_host_name(value: Any) -> str:
    """A host to connect to: an IPv4 or IPv6 address, or a DNS name made of RFC 1123 labels."""
    expected = "expected a host name or an IP address such as kvm.example.org or 192.0.2.10"
    if not isinstance(value, str) or "%" in value:
        raise ValueError(expected)
    try:
        ipaddress.ip_address(value)
        return value
    except ValueError:
        pass
    labels = value.split(".")
    if len(value) > 253 or not all(_whole(_HOST_LABEL_RE, label) for label in labels):
        raise ValueError(f"{expected}: labels of letters, digits and '-' joined by '.'")
    if labels[-1].isdigit():
        raise ValueError(f"{expected}: this is not an IPv4 address")
    return value


def parse_display_name(value: Any) -> str:
    """A name a cloud shows as it is (a Glance image, a Nova flavor): 1-255 characters on one
    line, no space at either end."""
    if not isinstance(value, str):
        raise ValueError("expected a name (text)")
    if not value.strip():
        raise ValueError("name must not be empty")
    if _control(value) or value != value.strip() or len(value) > 255:
        raise ValueError(
            "expected 1-255 characters on one line, without control characters or spaces at "
            "either end"
        )
    return value


def parse_description(value: Any) -> str:
    """A description on one line, at most 255 characters (Neutron's limit)."""
    if not isinstance(value, str) or _control(value) or len(value) > 255:
        raise ValueError("expected at most 255 characters on one line")
    return value


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
SSH_KEY_MAX = 16384
"""The longest public key line accepted (OpenSSH's own limit on a key blob is 16 KiB)."""


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
    """An OpenSSH public key line: ``<type> <base64 key> [comment]``, checked structurally.

    White space around the line is dropped (a ``.pub`` file ends with a newline)."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError("expected an OpenSSH public key such as 'ssh-ed25519 AAAA... user@host'")
    text = value.strip()
    if "\n" in text or "\r" in text:
        raise ValueError("expected exactly one public key on one line")
    if "PRIVATE KEY" in text:
        raise ValueError("this is a private key; give the public key (the .pub file)")
    if _control(text) or len(text) > SSH_KEY_MAX:
        raise ValueError(f"expected one line of at most {SSH_KEY_MAX} printable characters")
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


_NUMBER_RE = _pattern(r"-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?")


def parse_number(value: Any) -> int | float:
    """A whole or decimal number (``65536``, ``2.5``), or its text in ASCII digits."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    if _whole(_NUMBER_RE, value):
        text = str(value)
        return int(text) if text.lstrip("-").isdigit() else float(text)
    raise ValueError("expected a number such as 65536 or 2.5")


_PORT_RANGE_RE = _pattern(r" *[0-9]{1,5} *(- *[0-9]{1,5} *)?")


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
    elif _whole(_PORT_RANGE_RE, value):
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


SECRET_MAX = 65536
"""The longest secret accepted (a PEM private key of RSA-16384 is about 12 KiB)."""


class Secret:
    """A text value that must stay secret (a private key): never shown, and handed to the
    resources as the Pulumi secret the stack's config holds when it was set with ``--secret``.

    The config loader (:mod:`stacks.shared.config`) binds the secret to the value Pulumi reads;
    unbound (a value set without ``--secret``), :meth:`input` is the plain text.
    """

    __slots__ = ("_output", "_text")

    def __init__(self, text: str) -> None:
        self._text = text
        self._output: pulumi.Output[str] | None = None

    def reveal(self) -> str:
        """The text itself (for checks that need it)."""
        return self._text

    def bind(self, output: pulumi.Output[str]) -> None:
        self._output = output

    def input(self) -> pulumi.Input[str]:
        """What a resource takes: the secret Output when the config holds the value as a secret."""
        return self._output if self._output is not None else self._text

    def __repr__(self) -> str:
        return "Secret('**********')"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._text == self._text

    def __hash__(self) -> int:
        return hash(self._text)

    @classmethod
    def _validate(cls, value: Any) -> Secret:
        if isinstance(value, Secret):
            return value
        if not isinstance(value, str) or not value.strip():
            raise ValueError("expected the secret's text (set it with --secret)")
        if len(value) > SECRET_MAX or "\0" in value:
            raise ValueError(f"expected at most {SECRET_MAX} characters of text")
        return cls(value)

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: GetCoreSchemaHandler) -> Any:
        return core_schema.no_info_plain_validator_function(
            cls._validate,
            serialization=core_schema.plain_serializer_function_ser_schema(lambda _: "**********"),
        )


Name = Annotated[str, BeforeValidator(parse_name)]
HostLabel = Annotated[str, BeforeValidator(parse_host_label)]
HostLabelPrefix = Annotated[str, BeforeValidator(parse_host_label_prefix)]
HostName = Annotated[str, BeforeValidator(parse_host_name)]
DisplayName = Annotated[str, BeforeValidator(parse_display_name)]
Description = Annotated[str, BeforeValidator(parse_description)]
Cidr = Annotated[ipaddress.IPv4Network, BeforeValidator(parse_cidr)]
IPv4 = Annotated[ipaddress.IPv4Address, BeforeValidator(parse_ipv4)]
SshPublicKey = Annotated[str, AfterValidator(parse_ssh_public_key)]
Number = Annotated[int | float, PlainValidator(parse_number)]
Port = Annotated[int, Field(ge=1, le=65535)]
UNPRIVILEGED_PORT = 1024
"""The lowest port a service running as an ordinary user may listen on (Linux's default
``net.ipv4.ip_unprivileged_port_start``)."""
PortRange = Annotated[tuple[int, int], BeforeValidator(parse_port_range)]


# --- paths, URLs, programs, NICs --------------------------------------------------------------

_MAC_RE = _pattern(r"[0-9a-f]{2}(:[0-9a-f]{2}){5}")
_BRIDGE_RE = _pattern(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,14}")
_URL_CHARS = r"[A-Za-z0-9._~:/?#\[\]@!$&()*+,;=%-]"
"""What RFC 3986 allows in a URL, without the quote (and never a space or control character)."""
_URL_RE = _pattern(rf"https?://[A-Za-z0-9.-]+(?::[0-9]{{1,5}})?(?:[/?#]{_URL_CHARS}*)?")
_EXECUTABLE_RE = _pattern(r"[A-Za-z0-9_][A-Za-z0-9._+-]{0,254}")
_LIBVIRT_URI_RE = _pattern(rf"[a-z][a-z0-9+.-]*://{_URL_CHARS}*")
URL_MAX = 2048


def parse_mac(value: Any) -> str:
    """A unicast MAC address ``52:54:00:xx:xx:xx`` (normalised to lower case), not all zeros."""
    if not isinstance(value, str) or not _whole(_MAC_RE, value.lower()):
        raise ValueError("expected a MAC address such as 52:54:00:00:00:02")
    mac = value.lower()
    if int(mac[:2], 16) & 1:
        raise ValueError("a NIC needs a unicast MAC (the first byte must be even)")
    if mac == "00:00:00:00:00:00":
        raise ValueError("00:00:00:00:00:00 is no NIC's address")
    return mac


def parse_bridge(value: Any) -> str:
    """A Linux interface name (a bridge, a host-only adapter): 1-15 letters, digits, '.', '_'
    or '-' (the kernel's IFNAMSIZ)."""
    if not _whole(_BRIDGE_RE, value):
        raise ValueError(
            "expected an interface name (such as br0 or vboxnet0) of 1-15 letters, digits, '.', "
            "'_' or '-', starting with a letter or digit"
        )
    return str(value)


def _path_problem(value: str) -> str | None:
    """What makes ``value`` unusable as a path on a host, or None."""
    if _control(value):
        return "a path must be one line, without control characters"
    if len(value) > PATH_MAX:
        return f"a path must be at most {PATH_MAX} characters"
    if ".." in value.split("/"):
        return "a path must not have '..' segments (give the directory itself)"
    return None


def parse_abs_path(value: Any) -> str:
    """An absolute path on the KVM host, without '..' segments."""
    if not isinstance(value, str) or not value.startswith("/"):
        raise ValueError("expected an absolute path such as /var/lib/libvirt/images/cloudlabs")
    problem = _path_problem(value)
    if problem:
        raise ValueError(problem)
    return value.rstrip("/") or "/"


def parse_url(value: Any) -> str:
    """An http(s) URL: a host, then RFC 3986 characters (no space, quote or control character)."""
    if not _whole(_URL_RE, value) or len(value) > URL_MAX:
        raise ValueError(f"expected an http:// or https:// URL of at most {URL_MAX} characters")
    return str(value)


def parse_image_source(value: Any) -> str:
    """An absolute path on the KVM host or an http(s) URL of a file."""
    if isinstance(value, str) and value.startswith(("http://", "https://")):
        if _whole(_URL_RE, value) and len(value) <= URL_MAX and urlsplit(value).path.strip("/"):
            return value
    elif isinstance(value, str) and value.startswith("/"):
        return parse_abs_path(value)
    raise ValueError("expected an absolute path on the KVM host or an http(s) URL of a cloud image")


def parse_host_path(value: Any) -> str:
    """A path on the VirtualBox host: absolute, or ``~/...`` (that user's home); no '..'."""
    if not isinstance(value, str) or not (value.startswith("/") or value.startswith("~/")):
        raise ValueError("expected an absolute path, or one starting with ~/ (the home directory)")
    problem = _path_problem(value)
    if problem:
        raise ValueError(problem)
    return value.rstrip("/") or "/"


def parse_executable(value: Any) -> str:
    """One program, without arguments: a command found on PATH (``VBoxManage``) or its absolute
    path (``/usr/bin/VBoxManage``; directories may have spaces, the program's name has none)."""
    if isinstance(value, str):
        if _whole(_EXECUTABLE_RE, value):
            return value
        program = value.rpartition("/")[2]
        absolute = value.startswith("/") and _path_problem(value) is None
        if absolute and _whole(_EXECUTABLE_RE, program):
            return value
    raise ValueError(
        "expected one program: a command on PATH such as VBoxManage, or its absolute path such "
        "as /usr/bin/VBoxManage (no arguments, no '..')"
    )


def parse_libvirt_uri(value: Any) -> str:
    """A libvirt connection URI (``qemu:///system``, ``qemu+ssh://root@kvm/system``)."""
    if not _whole(_LIBVIRT_URI_RE, value) or len(value) > URL_MAX:
        raise ValueError("expected a libvirt URI such as qemu:///system")
    return str(value)


_OS_TYPE_RE = _pattern(r"[A-Za-z0-9_]{1,64}")


def parse_os_type(value: Any) -> str:
    """A VirtualBox OS type id (``Ubuntu_64``; ``VBoxManage list ostypes``)."""
    if not _whole(_OS_TYPE_RE, value):
        raise ValueError("expected a VirtualBox OS type such as Ubuntu_64 (letters, digits, '_')")
    return str(value)


Mac = Annotated[str, BeforeValidator(parse_mac)]
Bridge = Annotated[str, BeforeValidator(parse_bridge)]
AbsPath = Annotated[str, BeforeValidator(parse_abs_path)]
ImageSource = Annotated[str, BeforeValidator(parse_image_source)]
HostPath = Annotated[str, BeforeValidator(parse_host_path)]
Url = Annotated[str, BeforeValidator(parse_url)]
Executable = Annotated[str, BeforeValidator(parse_executable)]
LibvirtUri = Annotated[str, BeforeValidator(parse_libvirt_uri)]
OsType = Annotated[str, BeforeValidator(parse_os_type)]


# --- container images, the Docker engine ---------------------------------------------------

_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_HOST = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*"
_DOMAIN_RE = _pattern(rf"{_HOST}(?::[0-9]{{1,5}})?")
_PATH_RE = _pattern(
    rf"{_COMPONENT}(?:/{_COMPONENT})*"
    r"(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@sha256:[0-9a-f]{64})?"
)
_CONTAINER_RE = _pattern(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")
_DURATION_RE = _pattern(r"([0-9]{1,20})(ms|s|m|h)")
_DURATION_UNITS = {"ms": 10**6, "s": 10**9, "m": 60 * 10**9, "h": 3600 * 10**9}
DURATION_MAX_NS = 2**63 - 1
"""The longest duration the engine takes: a signed 64-bit count of nanoseconds (about 292 years)."""
_USER_RE = _pattern(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,31}(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,31})?")
ID_MAX = 2**32 - 2
"""The largest uid or gid (Linux's are 32-bit; 2**32-1 is the 'no id' value)."""
_PLATFORM_RE = _pattern(r"[a-z0-9]+/[a-z0-9_]+(?:/[a-z0-9]+)?")
SHELL_COMMAND_MAX = 16384


def parse_image_ref(value: Any) -> str:
    """An image reference: ``[registry[:port]/]repository[:tag][@sha256:digest]``."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError("expected an image reference such as 'python:3.12-slim'")
    path = value
    first, _, rest = value.partition("/")
    # As the engine reads it: the first component is a registry when it looks like a host.
    if rest and ("." in first or ":" in first or first == "localhost"):
        path = rest if _whole(_DOMAIN_RE, first) else ""
    if len(value) > 255 or not _whole(_PATH_RE, path):
        raise ValueError(
            "expected an image reference '[registry/]repository[:tag]' "
            "(repository in lowercase letters, digits, '.', '_', '-', '/')"
        )
    return value


def parse_container_name(value: Any) -> str:
    """A container or network name: letters, digits, '_', '.', '-', starting alphanumeric."""
    if not _whole(_CONTAINER_RE, value):
        raise ValueError(
            "expected 1-128 letters, digits, '_', '.' or '-', starting with a letter or digit"
        )
    return str(value)


def parse_duration(value: Any) -> str:
    """A Docker duration: a whole number with a unit, ``500ms``, ``10s``, ``1m``, ``1h``."""
    match = _DURATION_RE.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise ValueError("expected a duration such as '10s', '500ms' or '1m'")
    if int(match[1]) * _DURATION_UNITS[match[2]] > DURATION_MAX_NS:
        raise ValueError(f"at most {DURATION_MAX_NS // _DURATION_UNITS['h']}h (the engine's limit)")
    return str(value)


def parse_non_root_user(value: Any) -> str:
    """``uid[:gid]`` or ``name[:group]``, anything but root."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not _whole(_USER_RE, value):
        raise ValueError("expected 'uid:gid' (such as '10001:10001') or a user name")
    text = str(value)
    numbers = [int(part) for part in text.split(":") if part.isdigit()]
    if any(n > ID_MAX for n in numbers):
        raise ValueError(f"a uid or gid is at most {ID_MAX}")
    user = text.split(":")[0]
    # The engine reads a numeric user as a uid: "00" is root too.
    if user == "root" or (user.isdigit() and int(user) == 0):
        raise ValueError("the services must not run as root; give a non-root uid such as 10001")
    return text


def parse_platform(value: Any) -> str:
    """A target platform ``os/arch[/variant]`` (``linux/amd64``, ``linux/arm64/v8``)."""
    if not _whole(_PLATFORM_RE, value):
        raise ValueError("expected a platform such as linux/amd64 or linux/arm64/v8")
    return str(value)


def parse_shell_command(value: Any) -> str:
    """A shell command (run by ``sh -c``): free text, one line or several, not an option."""
    if not isinstance(value, str):
        raise ValueError("expected a shell command (text)")
    if not value.strip():
        raise ValueError("a shell command must not be empty")
    if value.startswith("-"):
        raise ValueError("a shell command cannot start with '-' (sh -c would read an option)")
    if "\0" in value or len(value) > SHELL_COMMAND_MAX:
        raise ValueError(f"expected at most {SHELL_COMMAND_MAX} characters of text")
    return value


def parse_builder_version(value: Any) -> str:
    """pulumi-docker's builder: BuildKit only (the classic builder leaves containers behind)."""
    if value == "BuilderV1":
        raise ValueError(
            "the classic builder leaves an intermediate container per build step on the engine "
            "(the Docker provider does not ask it to remove them); use BuilderBuildKit"
        )
    if value != "BuilderBuildKit":
        raise ValueError("expected BuilderBuildKit")
    return "BuilderBuildKit"


ImageRef = Annotated[str, BeforeValidator(parse_image_ref)]
BuilderVersion = Annotated[str, BeforeValidator(parse_builder_version)]
ContainerName = Annotated[str, BeforeValidator(parse_container_name)]
Duration = Annotated[str, BeforeValidator(parse_duration)]
NonRootUser = Annotated[str, BeforeValidator(parse_non_root_user)]
Platform = Annotated[str, BeforeValidator(parse_platform)]
ShellCommand = Annotated[str, BeforeValidator(parse_shell_command)]
RestartPolicy = Literal["no", "on-failure", "always", "unless-stopped"]


# --- Kubernetes ------------------------------------------------------------------------------

MIN_KUBERNETES_MINOR = 28
"""Oldest Kubernetes minor release the labs install (pkgs.k8s.io, kubeadm config v1beta3/4)."""
_VERSION_RE = _pattern(r"1\.([0-9]{1,3})\.([0-9]{1,3})")
_DNS_LABEL_RE = _pattern(r"[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?")
_LABEL_NAME_RE = _pattern(r"[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?")
_DNS_SUBDOMAIN_RE = _pattern(r"[a-z0-9](?:[-a-z0-9.]{0,251}[a-z0-9])?")
_DEB_VERSION_RE = _pattern(r"[0-9][A-Za-z0-9.+~:-]{0,127}")
_HTTPS_URL_RE = _pattern(r"https://[A-Za-z0-9.-]+(?::[0-9]{1,5})?(?:/[A-Za-z0-9._~:/%+@=-]*)?")
ARGUMENT_MAX = 4096


def parse_kubernetes_version(value: Any) -> str:
    """A Kubernetes release ``1.<minor>.<patch>`` (``1.31.4``), 1.28 or newer."""
    if not isinstance(value, str):
        raise ValueError("expected a Kubernetes release such as '1.31.4' (major.minor.patch)")
    match = _VERSION_RE.fullmatch(value)
    if match is None:
        hint = " without the leading 'v'" if value.startswith("v") else ""
        raise ValueError(f"expected a Kubernetes release such as '1.31.4'{hint}")
    if int(match[1]) < MIN_KUBERNETES_MINOR:
        raise ValueError(f"Kubernetes 1.{MIN_KUBERNETES_MINOR} or newer is needed")
    return value


def parse_dns_label(value: Any) -> str:
    """A Kubernetes node name: lowercase letters, digits and '-', at most 63 characters."""
    if not _whole(_DNS_LABEL_RE, value):
        raise ValueError(
            "expected a node name of lowercase letters, digits and '-' (at most 63), "
            "starting and ending with a letter or digit"
        )
    return str(value)


def parse_label_key(value: Any) -> str:
    """A Kubernetes label key: ``[prefix/]name``."""
    if not isinstance(value, str):
        raise ValueError("expected a label key such as 'PoP' or 'example.org/site'")
    prefix, _, name = value.rpartition("/")
    if not _whole(_LABEL_NAME_RE, name) or (prefix and not _whole(_DNS_SUBDOMAIN_RE, prefix)):
        raise ValueError(
            "expected a label key: letters, digits, '-', '_' or '.' (at most 63), "
            "optionally after a DNS prefix and '/'"
        )
    return value


def parse_label_value(value: Any) -> str:
    """A Kubernetes label value: empty, or up to 63 letters, digits, '-', '_' or '.'."""
    if not (value == "" or _whole(_LABEL_NAME_RE, value)):
        raise ValueError(
            "expected a label value: letters, digits, '-', '_' or '.' (at most 63), "
            "starting and ending with a letter or digit"
        )
    return str(value)


def parse_deb_version(value: Any) -> str:
    """A Debian package version (``1.7.25-1``, ``1.31.4-1.1``)."""
    if not _whole(_DEB_VERSION_RE, value):
        raise ValueError("expected a Debian package version such as 1.7.25-1 (text, in quotes)")
    return str(value)


def parse_https_url(value: Any) -> str:
    """An https URL without spaces or quotes."""
    if not _whole(_HTTPS_URL_RE, value) or len(value) > URL_MAX:
        raise ValueError("expected an https:// URL")
    return str(value)


def parse_command_argument(value: Any) -> str:
    """One argument of a container's command: free text (exec form, no shell reads it)."""
    if not isinstance(value, str) or not value or "\0" in value or len(value) > ARGUMENT_MAX:
        raise ValueError(f"expected an argument of 1-{ARGUMENT_MAX} characters")
    return value


def kubernetes_minor(version: str) -> int:
    """The minor release of a validated Kubernetes version (``1.31.4``: 31)."""
    match = _VERSION_RE.fullmatch(version)
    if match is None:
        raise ValueError(f"not a Kubernetes release: {version!r}")
    return int(match[1])


KubernetesVersion = Annotated[str, BeforeValidator(parse_kubernetes_version)]
NodeName = Annotated[str, BeforeValidator(parse_dns_label)]
LabelKey = Annotated[str, BeforeValidator(parse_label_key)]
LabelValue = Annotated[str, BeforeValidator(parse_label_value)]
DebVersion = Annotated[str, BeforeValidator(parse_deb_version)]
HttpsUrl = Annotated[str, BeforeValidator(parse_https_url)]
CommandArgument = Annotated[str, BeforeValidator(parse_command_argument)]
Labels = dict[LabelKey, LabelValue]


# --- Debian packages -------------------------------------------------------------------------

_PACKAGE_RE = _pattern(r"[a-z0-9][a-z0-9+.-]{1,127}(=[A-Za-z0-9.+~:-]{1,128})?")
_MIRROR_RE = _pattern(r"https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[A-Za-z0-9._~%/+-]*)?")


def parse_package(value: Any) -> str:
    """A Debian package name, optionally pinned: ``python3`` or ``python3=3.11.2-1``."""
    if not _whole(_PACKAGE_RE, value):
        raise ValueError(
            "expected a Debian package name, optionally pinned: 'python3' or 'python3=3.11.2-1'"
        )
    return str(value)


def parse_mirror(value: Any) -> str:
    """An http(s) URL of an apt mirror."""
    if not _whole(_MIRROR_RE, value) or len(value) > URL_MAX:
        raise ValueError(
            "expected an http:// or https:// mirror URL such as http://deb.debian.org/debian"
        )
    return str(value)


_ARMORED_KEY_RE = re.compile(
    r"-----BEGIN PGP PUBLIC KEY BLOCK-----\n.+\n-----END PGP PUBLIC KEY BLOCK-----", re.S
)


def parse_armored_key(value: Any) -> str:
    """An OpenPGP public key in ASCII armour (a ``.asc`` file), ending with a newline."""
    text = value.strip().replace("\r\n", "\n") if isinstance(value, str) else ""
    if not _ARMORED_KEY_RE.fullmatch(text):
        raise ValueError(
            "expected an armoured OpenPGP public key (-----BEGIN PGP PUBLIC KEY BLOCK----- ... "
            "-----END PGP PUBLIC KEY BLOCK-----), such as the text of the mirror's .asc file"
        )
    return text + "\n"


PackageName = Annotated[str, BeforeValidator(parse_package)]
MirrorUrl = Annotated[str, BeforeValidator(parse_mirror)]
ArmoredKey = Annotated[str, BeforeValidator(parse_armored_key)]
