"""Reading resources the way the engine hands them to a policy, unknown values included.

During ``pulumi preview`` a property computed by another resource is unknown: reading it through
the policy SDK's proxy raises ``UnknownValueError``. The helpers here return ``UNKNOWN`` instead,
so that a rule skips what it cannot judge yet (``pulumi up`` judges it once it is known) and
still checks everything else. Links between resources follow the engine's property
dependencies (``securityGroupId`` → the group), which are known in preview too.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from pulumi_policy import PolicyResource
from pulumi_policy.proxy import UnknownValueError

UNKNOWN: Any = object()
"""Returned for a value not known yet (preview)."""

SECURITY_GROUP = "openstack:networking/secGroup:SecGroup"
SECURITY_GROUP_RULE = "openstack:networking/secGroupRule:SecGroupRule"
PORT = "openstack:networking/port:Port"
INSTANCE = "openstack:compute/instance:Instance"
FLOATING_IP_ASSOCIATE = "openstack:networking/floatingIpAssociate:FloatingIpAssociate"
COMPUTE_FLOATING_IP_ASSOCIATE = "openstack:compute/floatingIpAssociate:FloatingIpAssociate"
CONTAINER = "docker:index/container:Container"
STACK = "pulumi:pulumi:Stack"
COMMANDS = ("command:local:Command", "command:remote:Command")


def get(props: Mapping[str, Any], key: str, default: Any = None) -> Any:
    """``props[key]`` (``default`` when absent), or ``UNKNOWN`` when not known yet."""
    try:
        value = props.get(key, default)
    except UnknownValueError:
        return UNKNOWN
    return default if value is None else value


def plain(value: Any) -> Any:
    """A deep copy of ``value`` as dicts, lists and scalars; unknown parts become ``UNKNOWN``."""
    if value is UNKNOWN:
        return UNKNOWN
    if isinstance(value, (str, bytes, int, float, bool)) or value is None:
        return value
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key in list(value):
            out[str(key)] = plain(get(value, key))
        return out
    if isinstance(value, Iterable):
        items: list[Any] = []
        try:
            for index in range(len(value)):  # type: ignore[arg-type]
                try:
                    items.append(plain(value[index]))  # type: ignore[index]
                except UnknownValueError:
                    items.append(UNKNOWN)
        except (TypeError, UnknownValueError):
            return UNKNOWN
        return items
    return value


def strings(value: Any) -> Iterator[str]:
    """Every known string inside ``value`` (as returned by :func:`plain`)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)


def of_type(resources: Iterable[PolicyResource], *types: str) -> list[PolicyResource]:
    return [r for r in resources if r.resource_type in types]


def linked(resource: PolicyResource, prop: str, *types: str) -> list[PolicyResource]:
    """The resources of ``types`` whose outputs feed ``resource``'s property ``prop``."""
    found = resource.property_dependencies.get(prop, [])
    return [r for r in found if not types or r.resource_type in types]


def users_of(
    resources: Iterable[PolicyResource], target: PolicyResource, prop: str, *types: str
) -> list[PolicyResource]:
    """The resources of ``types`` whose property ``prop`` is fed by ``target``."""
    return [
        r
        for r in of_type(resources, *types)
        if any(d.urn == target.urn for d in r.property_dependencies.get(prop, []))
    ]
