"""Validated scalar types of the labs' config models, every one of them.

Each type turns the text a user wrote in ``Pulumi.<stack>.yaml`` into a typed value, or fails
with a message that says what was expected. The parsing functions are pure and tested directly.
Sections: names, addresses and keys (every lab); paths and URLs; container images and the
Docker engine's values; Kubernetes' names and versions; Debian packages.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
from typing import Annotated, Any, Literal

import pulumi
from pydantic import AfterValidator, BeforeValidator, Field, GetCoreSchemaHandler
from pydantic_core import core_schema

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
        return cls(value)

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: GetCoreSchemaHandler) -> Any:
        return core_schema.no_info_plain_validator_function(
            cls._validate,
            serialization=core_schema.plain_serializer_function_ser_schema(lambda _: "**********"),
        )


Name = Annotated[str, BeforeValidator(parse_name)]
HostName = Annotated[str, BeforeValidator(parse_host_name)]
Cidr = Annotated[ipaddress.IPv4Network, BeforeValidator(parse_cidr)]
IPv4 = Annotated[ipaddress.IPv4Address, BeforeValidator(parse_ipv4)]
SshPublicKey = Annotated[str, AfterValidator(parse_ssh_public_key)]
Port = Annotated[int, Field(ge=1, le=65535)]
PortRange = Annotated[tuple[int, int], BeforeValidator(parse_port_range)]
NonEmptyText = Annotated[str, Field(min_length=1)]


# --- paths, URLs, NICs -------------------------------------------------------------------

_MAC_RE = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")
_BRIDGE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}$")


def parse_mac(value: Any) -> str:
    """A unicast MAC address ``52:54:00:xx:xx:xx`` (normalised to lower case)."""
    if not isinstance(value, str) or not _MAC_RE.match(value.strip().lower()):
        raise ValueError("expected a MAC address such as 52:54:00:00:00:02")
    mac = value.strip().lower()
    if int(mac[:2], 16) & 1:
        raise ValueError("a NIC needs a unicast MAC (the first byte must be even)")
    return mac


def parse_bridge(value: Any) -> str:
    """A Linux interface name: 1-15 letters, digits, '.', '_' or '-'."""
    if not isinstance(value, str) or not _BRIDGE_RE.match(value):
        raise ValueError("expected a bridge name of 1-15 letters, digits, '.', '_' or '-'")
    return value


def parse_abs_path(value: Any) -> str:
    """An absolute path on the KVM host."""
    if not isinstance(value, str) or not value.startswith("/") or "\n" in value:
        raise ValueError("expected an absolute path such as /var/lib/libvirt/images/cloudlabs")
    return value.rstrip("/") or "/"


def parse_image_source(value: Any) -> str:
    """An absolute path on the KVM host or an http(s) URL."""
    if isinstance(value, str) and re.match(r"^https?://[^\s/]+/\S+$", value):
        return value
    try:
        return parse_abs_path(value)
    except ValueError:
        raise ValueError(
            "expected an absolute path on the KVM host or an http(s) URL of a cloud image"
        ) from None


Mac = Annotated[str, BeforeValidator(parse_mac)]
Bridge = Annotated[str, BeforeValidator(parse_bridge)]
AbsPath = Annotated[str, BeforeValidator(parse_abs_path)]
ImageSource = Annotated[str, BeforeValidator(parse_image_source)]


def parse_host_path(value: str) -> str:
    """A path on the VirtualBox host: absolute, or ``~/...`` (that user's home)."""
    if "\n" in value or "\0" in value:
        raise ValueError("a path must be one line")
    if not (value.startswith("/") or value.startswith("~/")):
        raise ValueError("expected an absolute path, or one starting with ~/ (the home directory)")
    return value.rstrip("/") or "/"


def parse_url(value: str) -> str:
    """An http(s) URL without spaces or quotes."""
    if not re.fullmatch(r"https?://[^\s'\"]+", value):
        raise ValueError("expected an http:// or https:// URL")
    return value


HostPath = Annotated[str, AfterValidator(parse_host_path)]
Url = Annotated[str, AfterValidator(parse_url)]
OsType = Annotated[str, Field(pattern=r"^[A-Za-z0-9_]+$")]


# --- container images, the Docker engine ---------------------------------------------------

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


_PLATFORM_RE = re.compile(r"^[a-z0-9]+/[a-z0-9_]+(?:/[a-z0-9]+)?$")


def parse_docker_platform(value: Any) -> str:
    """A build platform, ``os/arch[/variant]``: ``linux/amd64``, ``linux/arm64``."""
    if not isinstance(value, str) or not _PLATFORM_RE.match(value.strip()):
        raise ValueError("expected a platform 'os/arch' such as 'linux/amd64' or 'linux/arm64'")
    return value.strip()


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
DockerPlatform = Annotated[str, BeforeValidator(parse_docker_platform)]
BuilderVersion = Annotated[str, BeforeValidator(parse_builder_version)]
ContainerName = Annotated[str, BeforeValidator(parse_container_name)]
Duration = Annotated[str, BeforeValidator(parse_duration)]
NonRootUser = Annotated[str, BeforeValidator(parse_non_root_user)]
RestartPolicy = Literal["no", "on-failure", "always", "unless-stopped"]


# --- Kubernetes ------------------------------------------------------------------------------

MIN_KUBERNETES_MINOR = 28
"""Oldest Kubernetes minor release the labs install (pkgs.k8s.io, kubeadm config v1beta3/4)."""
_VERSION_RE = re.compile(r"^1\.(\d+)\.(\d+)$")
_DNS_LABEL_RE = re.compile(r"^[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?$")
_LABEL_NAME_RE = re.compile(r"^[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")
_DNS_SUBDOMAIN_RE = re.compile(r"^[a-z0-9](?:[-a-z0-9.]{0,251}[a-z0-9])?$")
_DEB_VERSION_RE = re.compile(r"^[0-9][A-Za-z0-9.+~:-]*$")
_URL_RE = re.compile(r"^https://[A-Za-z0-9.-]+(?::\d+)?(?:/[A-Za-z0-9._~:/%+@=-]*)?$")


def parse_kubernetes_version(value: Any) -> str:
    """A Kubernetes release ``1.<minor>.<patch>`` (``1.31.4``), 1.28 or newer."""
    if not isinstance(value, str):
        raise ValueError("expected a Kubernetes release such as '1.31.4' (major.minor.patch)")
    match = _VERSION_RE.match(value.strip())
    if match is None:
        hint = " without the leading 'v'" if value.strip().startswith("v") else ""
        raise ValueError(f"expected a Kubernetes release such as '1.31.4'{hint}")
    if int(match[1]) < MIN_KUBERNETES_MINOR:
        raise ValueError(f"Kubernetes 1.{MIN_KUBERNETES_MINOR} or newer is needed")
    return value.strip()


def parse_dns_label(value: Any) -> str:
    """A Kubernetes node name: lowercase letters, digits and '-', at most 63 characters."""
    if not isinstance(value, str) or not _DNS_LABEL_RE.match(value):
        raise ValueError(
            "expected a node name of lowercase letters, digits and '-' (at most 63), "
            "starting and ending with a letter or digit"
        )
    return value


def parse_label_key(value: Any) -> str:
    """A Kubernetes label key: ``[prefix/]name``."""
    if not isinstance(value, str):
        raise ValueError("expected a label key such as 'PoP' or 'example.org/site'")
    prefix, _, name = value.rpartition("/")
    if not _LABEL_NAME_RE.match(name) or (prefix and not _DNS_SUBDOMAIN_RE.match(prefix)):
        raise ValueError(
            "expected a label key: letters, digits, '-', '_' or '.' (at most 63), "
            "optionally after a DNS prefix and '/'"
        )
    return value


def parse_label_value(value: Any) -> str:
    """A Kubernetes label value: empty, or up to 63 letters, digits, '-', '_' or '.'."""
    if not isinstance(value, str) or not (value == "" or _LABEL_NAME_RE.match(value)):
        raise ValueError(
            "expected a label value: letters, digits, '-', '_' or '.' (at most 63), "
            "starting and ending with a letter or digit"
        )
    return value


def parse_deb_version(value: Any) -> str:
    """A Debian package version (``1.7.25-1``, ``1.31.4-1.1``)."""
    if not isinstance(value, str) or not _DEB_VERSION_RE.match(value.strip()):
        raise ValueError("expected a Debian package version such as 1.7.25-1 (text, in quotes)")
    return value.strip()


def parse_https_url(value: Any) -> str:
    """An https URL without spaces or quotes."""
    if not isinstance(value, str) or not _URL_RE.match(value.strip()):
        raise ValueError("expected an https:// URL")
    return value.strip()


def kubernetes_minor(version: str) -> int:
    """The minor release of a validated Kubernetes version (``1.31.4``: 31)."""
    match = _VERSION_RE.match(version)
    if match is None:
        raise ValueError(f"not a Kubernetes release: {version!r}")
    return int(match[1])


KubernetesVersion = Annotated[str, BeforeValidator(parse_kubernetes_version)]
NodeName = Annotated[str, BeforeValidator(parse_dns_label)]
LabelKey = Annotated[str, BeforeValidator(parse_label_key)]
LabelValue = Annotated[str, BeforeValidator(parse_label_value)]
DebVersion = Annotated[str, BeforeValidator(parse_deb_version)]
HttpsUrl = Annotated[str, BeforeValidator(parse_https_url)]
Labels = dict[LabelKey, LabelValue]


# --- Debian packages -------------------------------------------------------------------------

_PACKAGE_RE = re.compile(r"^[a-z0-9][a-z0-9+.-]+(=[A-Za-z0-9.+~:-]+)?$")


def parse_package(value: str) -> str:
    """A Debian package name, optionally pinned: ``python3`` or ``python3=3.11.2-1``."""
    if not _PACKAGE_RE.match(value):
        raise ValueError(
            "expected a Debian package name, optionally pinned: 'python3' or 'python3=3.11.2-1'"
        )
    return value


def parse_mirror(value: str) -> str:
    """An http(s) URL of an apt mirror."""
    if not re.fullmatch(r"https?://[A-Za-z0-9.-]+(:\d+)?(/[A-Za-z0-9._~%/+-]*)?", value):
        raise ValueError(
            "expected an http:// or https:// mirror URL such as http://deb.debian.org/debian"
        )
    return value


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


PackageName = Annotated[str, AfterValidator(parse_package)]
MirrorUrl = Annotated[str, AfterValidator(parse_mirror)]
ArmoredKey = Annotated[str, BeforeValidator(parse_armored_key)]
