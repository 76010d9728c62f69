"""Every field of every lab's config model, walked: the cases of the property tests.

``FULL[lab]`` is a valid config of the lab in which every optional key is set (a remote host,
DHCP on the management network, extra rules...), so that walking the validated model reaches
every field of every model class the lab has (``reachable_fields`` lists them from the type
annotations; the tests check that the walk met them all). ``leaves`` walks a validated model
the way ``Pulumi.<stack>.yaml`` holds it: config keys, list elements by index, mapping keys
and values, each with its value as the config writes it.
"""

from __future__ import annotations

import copy
import functools
import ipaddress
import types
import typing
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from calculator.config import ENV_DOC, Config
from components.calculator import LIMITS
from stacks.shared.catalogue import LABS, Lab
from stacks.shared.errors import ConfigError, KeyPath, format_path
from stacks.shared.types import Secret
from stacks.shared.validation import LabModel, validate_config
from tests.harness import ARMORED_KEY, PROJECT, change, changed, load_stack_file

K = f"{PROJECT}:"
HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFYK9Jv4TR4Dl95nNJ+uqp/wuzy8aHCte3sF1XpqnC6M"
PRIVATE_KEY = (
    "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjE=\n-----END OPENSSH PRIVATE KEY-----\n"
)
REMOTE = {
    "host": "vbox.example.org",
    "user": "lab",
    "port": 2200,
    "privateKey": PRIVATE_KEY,
    "hostKey": HOST_KEY,
    "dialErrorLimit": 10,
    "perDialTimeout": 15,
}
ROUTE = {"destination": "10.20.0.0/16", "nextHop": "{net}.5"}


def _route(net: str) -> list[dict[str, str]]:
    return [{"destination": ROUTE["destination"], "nextHop": ROUTE["nextHop"].format(net=net)}]


CALCULATOR_DEFAULTS = Config(role="calculator")
ALL_LIMITS = {name: getattr(CALCULATOR_DEFAULTS, ENV_DOC[name]) for name in LIMITS}
"""Every limit of the calculator, at its default."""

SNAPSHOTS = [{"name": "fresh", "description": "first boot", "live": False}]
RESTORE = {"snapshot": "fresh", "generation": 1}
"""A machine's snapshots and restore, every key set (``live`` false: not every platform has it)."""
MIRROR_WITH_KEY = {"url": "http://archive.ubuntu.com/ubuntu", "key": ARMORED_KEY}

_EXTRAS: dict[str, list[Any]] = {
    "dev": [
        change("build", "platform", value="linux/amd64"),
        change("limits", value=ALL_LIMITS),
        change("containers", "sum", "snapshots", value=SNAPSHOTS),
        change("containers", "sum", "restore", value=RESTORE),
    ],
    "docker-basics": [
        change("ct2", "sshPublicKey", value=HOST_KEY),
        change("build", "platform", value="linux/amd64"),
        change("ct1", "snapshots", value=SNAPSHOTS),
        change("ct1", "restore", value=RESTORE),
        change(
            "aptMirror",
            value={"url": "http://172.17.0.1:8090/debian", "key": ARMORED_KEY, "trusted": False},
        ),
    ],
    "vbox-nat": [
        change("remoteHost", value=REMOTE),
        change("clone", "diskGb", value=12),
        change("benchmark", "enabled", value=True),
        change("vm", "snapshots", value=SNAPSHOTS),
        change("vm", "restore", value=RESTORE),
    ],
    "vbox-cluster": [
        change("remoteHost", value=REMOTE),
        change("network", "hostOnlyAdapter", value="vboxnet0"),
        change("benchmark", "enabled", value=True),
        change("master", "snapshots", value=SNAPSHOTS),
        change("master", "restore", value=RESTORE),
        change("aptMirror", value=MIRROR_WITH_KEY),
    ],
    "libvirt-host": [
        change("connection", value={**REMOTE, "host": "kvm.example.org", "sudo": True}),
        change("managementNetwork", "dhcpStart", value="10.0.0.100"),
        change("managementNetwork", "dhcpEnd", value="10.0.0.200"),
        change("publicBridge", "enabled", value=True),
        change("vms", 0, "memoryMib", value=512),
        change("allowUndersized", value=True),
        change("benchmark", "enabled", value=True),
        change("vms", 0, "snapshots", value=SNAPSHOTS),
        change("vms", 0, "restore", value=RESTORE),
        change("aptMirror", value=MIRROR_WITH_KEY),
    ],
    "openstack-vm": [
        change(
            "extraRules",
            value=[
                {
                    "protocol": "tcp",
                    "ports": "8080-8081",
                    "remoteCidr": "10.0.0.0/8",
                    "description": "web",
                }
            ],
        ),
        change("network", "hostRoutes", value=_route("192.168.100")),
        change("benchmark", "enabled", value=True),
        change("server", "snapshots", value=SNAPSHOTS),
        change("server", "restore", value={**RESTORE, "mode": "rebuild"}),
    ],
    "openstack-calculator": [
        change("services", "sum", "image", value="debian-12"),
        change("services", "sum", "flavor", value="tiny"),
        change("network", "hostRoutes", value=_route("192.168.110")),
        change("benchmark", "enabled", value=True),
        change("limits", value=ALL_LIMITS),
        change("bootstrap", "aptMirror", value=MIRROR_WITH_KEY),
        change("services", "div", "snapshots", value=SNAPSHOTS),
        change("services", "div", "restore", value={**RESTORE, "mode": "replace"}),
    ],
    "openstack-naas": [
        change("services", "sum", "image", value="debian-12"),
        change("services", "sum", "flavor", value="tiny"),
        change("services", "sum", "port", value=50011),
        change("bootstrap", "bindAddress", value="0.0.0.0"),
        change("limits", value={"CALC_MAX_BODY": 131072}),
        change("frontNetwork", "hostRoutes", value=_route("192.168.1")),
        change("operatorNetwork", "hostRoutes", value=_route("192.168.2")),
        change("benchmark", "enabled", value=True),
        change("bootstrap", "aptMirror", value=MIRROR_WITH_KEY),
        change("services", "calculator", "snapshots", value=SNAPSHOTS),
        change("services", "calculator", "restore", value={**RESTORE, "mode": "rebuild"}),
    ],
    "openstack-k8s": [
        change("kubernetes", "aptRepository", value="https://pkgs.k8s.io/core:/stable:/v1.31/deb/"),
        change("nodes", "master", "labels", value={"role": "control-plane"}),
        change("network", "hostRoutes", value=_route("192.168.50")),
        change("benchmark", "enabled", value=True),
        change("nodes", "master", "snapshots", value=SNAPSHOTS),
        change("nodes", "master", "restore", value={**RESTORE, "mode": "rebuild"}),
        change("aptMirror", value=MIRROR_WITH_KEY),
    ],
}

FULL: dict[str, dict[str, Any]] = {
    entry.name: changed(load_stack_file(entry.name), *_EXTRAS[entry.name]) for entry in LABS
}
"""Per lab: its shipped config with every optional key set as well (keys as written)."""


def lab(name: str) -> Lab:
    return next(entry for entry in LABS if entry.name == name).load()


def raw_values(config: Mapping[str, Any]) -> dict[str, Any]:
    """What the lab's model validates: the project's keys without prefix, without ``lab``."""
    return {key.removeprefix(K): value for key, value in config.items() if key != f"{K}lab"}


def validate(name: str, config: Mapping[str, Any]) -> LabModel:
    """The lab's model validated from ``config`` (keys as written), as the program does."""
    return validate_config(name, lab(name).config, raw_values(config))


def problems(name: str, config: Mapping[str, Any]) -> list[str] | None:
    """The locations of the problems ``config`` has, or None when it is valid."""
    try:
        validate(name, config)
    except ConfigError as error:
        return [p.location for p in error.problems]
    return None


# --- walking a validated model -----------------------------------------------------------------


@dataclass(frozen=True)
class Leaf:
    """One value a user writes in the config."""

    path: KeyPath
    """Where it is: config keys from the top, list elements by index (a mapping key: the key)."""
    value: Any
    """As the config writes it (text, a number, true/false)."""
    owner: type[LabModel]
    """The model whose field holds it."""
    field: str
    """That field's name in the model."""
    annotation: Any
    """The field's annotation (of the element, for a list or mapping)."""
    is_key: bool = False
    """True: the leaf is a mapping's key (``labels.PoP``), not a value."""
    parsed: bool = False
    """True: the model holds what the text was parsed into (an address, a network, a port
    range), and only that is used."""

    @property
    def kind(self) -> Literal["text", "number", "switch"]:
        if isinstance(self.value, bool):
            return "switch"
        if isinstance(self.value, (int, float)):
            return "number"
        return "text"

    @property
    def pattern(self) -> str:
        """The path with list indexes as ``[*]`` (``extraRules[*].description``)."""
        return format_path(tuple("*" if isinstance(p, int) else p for p in self.path)).replace(
            ".*", "[*]"
        )

    def __str__(self) -> str:
        return format_path(self.path) + (" (the key)" if self.is_key else "")


def _unwrap(annotation: Any) -> list[Any]:
    """The types an annotation may hold (through Annotated, Optional and unions)."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        return [t for arg in typing.get_args(annotation) for t in _unwrap(arg)]
    return [annotation]


def _element(annotation: Any, index: int) -> Any:
    for kind in _unwrap(annotation):
        if typing.get_origin(kind) in (list, dict):
            return typing.get_args(kind)[index]
    return annotation


def config_value(value: Any) -> Any:
    """A validated value as the config writes it."""
    if isinstance(value, LabModel):
        out = {}
        for name, info in type(value).model_fields.items():
            item = getattr(value, name)
            if item is not None:
                out[info.alias or name] = config_value(item)
        return out
    if isinstance(value, list):
        return [config_value(v) for v in value]
    if isinstance(value, dict):
        return {k: config_value(v) for k, v in value.items()}
    if isinstance(value, tuple):  # a port range
        return f"{value[0]}-{value[1]}"
    if isinstance(value, Secret):
        return value.reveal()
    if isinstance(value, (ipaddress.IPv4Address, ipaddress.IPv4Network)):
        return str(value)
    return value


def leaves(model: LabModel, path: KeyPath = ()) -> Iterator[Leaf]:
    """Every value of ``model`` that the config writes: text, numbers and switches."""
    for name, info in type(model).model_fields.items():
        key = info.alias or name
        yield from _leaves(getattr(model, name), (*path, key), type(model), name, info.annotation)


def _leaves(
    value: Any, path: KeyPath, owner: type[LabModel], field: str, ann: Any
) -> Iterator[Leaf]:
    if value is None:
        return
    if isinstance(value, LabModel):
        yield from leaves(value, path)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _leaves(item, (*path, i), owner, field, _element(ann, 0))
    elif isinstance(value, dict):
        for key, item in value.items():
            yield Leaf((*path, key), key, owner, field, _element(ann, 0), is_key=True)
            yield from _leaves(item, (*path, key), owner, field, _element(ann, 1))
    else:
        parsed = isinstance(value, (ipaddress.IPv4Address, ipaddress.IPv4Network, tuple))
        yield Leaf(path, config_value(value), owner, field, ann, parsed=parsed)


def reachable_fields(model: type[LabModel]) -> set[tuple[str, str]]:
    """Every (model class, field) reachable from ``model`` through its fields' annotations that
    holds values of its own (not only sub-models)."""
    found: set[tuple[str, str]] = set()
    visited: set[type[LabModel]] = set()

    def visit(cls: type[LabModel]) -> None:
        visited.add(cls)
        for name, info in cls.model_fields.items():
            inner = list(_models(info.annotation))
            if not inner or _holds_values(info.annotation):
                found.add((cls.__name__, name))
            for sub in inner:
                if sub not in visited:
                    visit(sub)

    visit(model)
    return found


def _holds_values(annotation: Any) -> bool:
    """True when the annotation allows a value that is not a model (nor None)."""
    for kind in _unwrap(annotation):
        if kind is type(None):
            continue
        if typing.get_origin(kind) in (list, dict):
            if any(_holds_values(arg) for arg in typing.get_args(kind)):
                return True
        elif not (isinstance(kind, type) and issubclass(kind, LabModel)):
            return True
    return False


def _models(annotation: Any) -> Iterator[type[LabModel]]:
    for kind in _unwrap(annotation):
        if isinstance(kind, type) and issubclass(kind, LabModel):
            yield kind
        for arg in typing.get_args(kind):
            yield from _models(arg)


def is_literal(annotation: Any) -> bool:
    return any(typing.get_origin(kind) is Literal for kind in _unwrap(annotation))


def literal_choices(annotation: Any) -> list[Any]:
    return [
        c
        for kind in _unwrap(annotation)
        if typing.get_origin(kind) is Literal
        for c in typing.get_args(kind)
    ]


# --- writing one value back -----------------------------------------------------------------


@functools.cache
def _written(name: str) -> dict[str, Any]:
    raw = {f"{K}{key}": item for key, item in config_value(validate(name, FULL[name])).items()}
    return {f"{K}lab": name, **raw}


def written(name: str) -> dict[str, Any]:
    """``FULL[name]`` validated and written out again as config: every key, defaults included."""
    return copy.deepcopy(_written(name))


def model_of(name: str) -> LabModel:
    """``FULL[name]`` validated."""
    return validate(name, FULL[name])


def value_at(model: LabModel, path: KeyPath) -> Any:
    """The value at ``path`` of a validated model, as the config writes it."""
    value: Any = config_value(model)
    for part in path:
        value = value[part]
    return value


def with_value(name: str, leaf: Leaf, value: Any) -> dict[str, Any]:
    """:func:`written` with ``leaf`` set to ``value`` (a key renamed, for a mapping's key)."""
    raw = written(name)
    target: Any = raw
    parts: list[Any] = [f"{K}{leaf.path[0]}", *leaf.path[1:]]
    for part in parts[:-1]:
        target = target[part]
    if leaf.is_key:
        target[value] = target.pop(parts[-1])
    else:
        target[parts[-1]] = value
    return raw


# --- what a field's type checks ----------------------------------------------------------------


def _parser_names(annotation: Any) -> set[str]:
    found: set[str] = set()
    if typing.get_origin(annotation) is typing.Annotated:
        for meta in annotation.__metadata__:
            func = getattr(meta, "func", None)
            if func is not None:
                found.add(func.__name__)
        annotation = typing.get_args(annotation)[0]
    for arg in typing.get_args(annotation):
        found |= _parser_names(arg)
    return found


def parsers(leaf: Leaf) -> set[str]:
    """The names of the parsing functions of ``stacks.shared.types`` that check ``leaf``'s
    value (``parse_host_label``...): the kind of value its field holds."""
    found = _parser_names(leaf.annotation)
    if not leaf.is_key:
        for meta in leaf.owner.model_fields[leaf.field].metadata:
            func = getattr(meta, "func", None)
            if func is not None:
                found.add(func.__name__)
    return found


# --- the property tests' cases -----------------------------------------------------------------


def by_lab_and_leaf(names: str, rows: list[tuple[Any, ...]], shown: int = 3) -> Any:
    """``pytest.mark.parametrize`` over rows ``(lab, leaf, ...)``, each case named by its first
    ``shown`` parts (``vbox-cluster:nodes.count:probe``)."""
    import pytest

    ids = [":".join(str(part) for part in row[:shown]) for row in rows]
    return pytest.mark.parametrize(tuple(names.split(",")), rows, ids=ids)


def assert_refused_at(name: str, leaf: Leaf, value: Any, *also: Leaf) -> ConfigError:
    """``leaf`` set to ``value`` is refused with a problem at it (or at one of ``also``)."""
    try:
        validate(name, with_value(name, leaf, value))
    except ConfigError as error:
        places = {format_path(w.path) for w in (leaf, *also)}
        assert any(p.location in places for p in error.problems), (
            f"{name}: {leaf} = {value!r} refused, but not at {sorted(places)}: {error}"
        )
        return error
    raise AssertionError(f"{name}: {leaf} = {value!r} is accepted")
