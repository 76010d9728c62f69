"""Rules on what the world can reach: ingress from anywhere, exposed back ends."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyResource,
    ReportViolation,
    StackValidationArgs,
    StackValidationPolicy,
)

from cloudlabs_policy.conventions import (
    BACKEND,
    DECLARED_LABELS,
    PUBLIC_LABEL,
    TIER_KEY,
    TIER_LABEL,
    WORLD_HOSTS,
    PortSpan,
    container_labels,
    declared_spans,
    is_world_prefix,
    label_spans,
)
from cloudlabs_policy.resources import (
    COMPUTE_FLOATING_IP_ASSOCIATE,
    CONTAINER,
    FLOATING_IP_ASSOCIATE,
    INSTANCE,
    PORT,
    SECURITY_GROUP,
    SECURITY_GROUP_RULE,
    UNKNOWN,
    get,
    linked,
    of_type,
    plain,
    users_of,
)
from cloudlabs_policy.stack_config import StackConfig

WORLD_INGRESS = "world-ingress-only-to-declared-ports"
BACKENDS_NOT_EXPOSED = "backends-never-exposed"


def _rule_span(props: Mapping[str, Any]) -> PortSpan | None:
    protocol = get(props, "protocol")
    low = get(props, "portRangeMin")
    high = get(props, "portRangeMax")
    if UNKNOWN in (protocol, low, high):
        return None
    protocol = str(protocol or "any").lower()
    low_port = int(low) if low else None
    high_port = int(high) if high else low_port
    return PortSpan(protocol, low_port, high_port)


def declared_labels(container: PolicyResource) -> dict[str, str]:
    """A container's labels over those its enclosing components declare for it
    (:data:`DECLARED_LABELS`), the nearest component first."""
    labels: dict[str, str] = {}
    parent = container.parent
    while parent is not None:
        declared = plain(parent.props.get(DECLARED_LABELS)) if parent.props else None
        if isinstance(declared, Mapping):
            for key, value in declared.items():
                labels.setdefault(str(key), str(value))
        parent = parent.parent
    return {**labels, **container_labels(plain(container.props) or {})}


def _declares_anything(resources: Sequence[PolicyResource]) -> bool:
    for group in of_type(resources, SECURITY_GROUP):
        if declared_spans(plain(get(group.props, "tags", [])) or []):
            return True
    return any(PUBLIC_LABEL in declared_labels(c) for c in of_type(resources, CONTAINER))


def world_ingress(config: Callable[[], StackConfig]) -> StackValidationPolicy:
    def validate(args: StackValidationArgs, report: ReportViolation) -> None:
        resources = args.resources
        declared_mode = _declares_anything(resources)
        stated = config().explicit_values() if not declared_mode else set()

        def accepted(span: PortSpan, declared: list[PortSpan], source: str) -> str | None:
            """None when accepted, else why not."""
            if declared_mode:
                if any(span.covered_by(d) for d in declared):
                    return None
                have = ", ".join(str(d) for d in declared) or "no port"
                hint = " (SSH and ICMP must be declared on their own)" if span.is_admin else ""
                return f"its resource declares {have} public{hint}"
            if source and source in stated:
                return None
            return f"the stack's config does not state {source or 'an open source'} explicitly"

        for rule in of_type(resources, SECURITY_GROUP_RULE):
            props = rule.props
            if str(get(props, "direction", "ingress")) != "ingress":
                continue
            prefix = get(props, "remoteIpPrefix", "")
            remote_group = get(props, "remoteGroupId", "")
            span = _rule_span(props)
            if UNKNOWN in (prefix, remote_group) or span is None:
                continue
            if not (is_world_prefix(prefix) or (not prefix and not remote_group)):
                continue
            groups = linked(rule, "securityGroupId", SECURITY_GROUP)
            declared = [
                s for g in groups for s in declared_spans(plain(get(g.props, "tags", [])) or [])
            ]
            why = accepted(span, declared, str(prefix))
            if why is not None:
                source = prefix or "any address (no remote prefix or group)"
                report(f"{span} is open to {source}, but {why}.", rule.urn)

        for container in of_type(resources, CONTAINER):
            props = plain(container.props)
            if props is UNKNOWN or not isinstance(props, dict):
                continue
            declared = label_spans(declared_labels(container).get(PUBLIC_LABEL))
            for port in props.get("ports") or []:
                if not isinstance(port, dict) or UNKNOWN in port.values():
                    continue
                host = str(port.get("ip") if port.get("ip") is not None else "0.0.0.0")
                if host not in WORLD_HOSTS:
                    continue
                internal = int(port.get("internal") or 0)
                span = PortSpan(str(port.get("protocol") or "tcp"), internal, internal)
                why = accepted(span, declared, host)
                if why is not None:
                    external = port.get("external")
                    report(
                        f"container port {span} is published on {host or 'every address'}:"
                        f"{external}, but {why}.",
                        container.urn,
                    )

    return StackValidationPolicy(
        name=WORLD_INGRESS,
        description=(
            "No ingress from anywhere (0.0.0.0/0, a host port on 0.0.0.0) except to a port the "
            "lab declares public; SSH and ICMP only when declared on their own."
        ),
        enforcement_level=EnforcementLevel.MANDATORY,
        validate=validate,
    )


def _admits_from_addresses(group: PolicyResource, resources: Sequence[PolicyResource]) -> bool:
    """True when some ingress rule of ``group`` admits traffic from an address range."""
    for rule in users_of(resources, group, "securityGroupId", SECURITY_GROUP_RULE):
        props = rule.props
        if str(get(props, "direction", "ingress")) != "ingress":
            continue
        if get(props, "remoteIpPrefix", "") or not get(props, "remoteGroupId", ""):
            return True
    return False


def instance_tier(
    instance: PolicyResource, resources: Sequence[PolicyResource]
) -> tuple[str | None, str]:
    """The instance's tier and where it was read from.

    Its ``cloudlabs.tier`` metadata; else ``backend`` when its ports' security groups admit
    nothing from an address range (only members of other groups).
    """
    metadata = plain(get(instance.props, "metadata", {}))
    if isinstance(metadata, dict) and isinstance(metadata.get(TIER_KEY), str):
        return metadata[TIER_KEY], f"its metadata {TIER_KEY}"
    groups = [
        g
        for port in linked(instance, "networks", PORT)
        for g in linked(port, "securityGroupIds", SECURITY_GROUP)
    ]
    if groups and not any(_admits_from_addresses(g, resources) for g in groups):
        names = ", ".join(sorted(str(get(g.props, "name", g.name)) for g in groups))
        return BACKEND, f"its security groups ({names}) admit only members of other groups"
    return None, ""


def backends_not_exposed() -> StackValidationPolicy:
    def validate(args: StackValidationArgs, report: ReportViolation) -> None:
        resources = args.resources
        exposures: list[tuple[PolicyResource, PolicyResource]] = []
        for assoc in of_type(resources, FLOATING_IP_ASSOCIATE):
            for port in linked(assoc, "portId", PORT):
                exposures += [(assoc, i) for i in users_of(resources, port, "networks", INSTANCE)]
        for assoc in of_type(resources, COMPUTE_FLOATING_IP_ASSOCIATE):
            exposures += [(assoc, i) for i in linked(assoc, "instanceId", INSTANCE)]
        for assoc, instance in exposures:
            tier, source = instance_tier(instance, resources)
            if tier == BACKEND:
                name = get(instance.props, "name", instance.name)
                report(f"a floating IP is associated to {name}, a back end ({source}).", assoc.urn)
        for container in of_type(resources, CONTAINER):
            props = plain(container.props)
            if not isinstance(props, dict):
                continue
            if declared_labels(container).get(TIER_LABEL) == BACKEND and props.get("ports"):
                report(
                    f"container {props.get('name', container.name)} is a back end "
                    f"({TIER_LABEL}={BACKEND}) and publishes a host port.",
                    container.urn,
                )

    return StackValidationPolicy(
        name=BACKENDS_NOT_EXPOSED,
        description=(
            "Operators and back ends never get a floating IP or a published host port: users "
            "reach them only through the lab's front end."
        ),
        enforcement_level=EnforcementLevel.MANDATORY,
        validate=validate,
    )
