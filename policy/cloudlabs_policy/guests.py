"""Rules on what runs: service containers, VM logins, user-data, Kubernetes NodePorts."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    ReportViolation,
    ResourceValidation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
)

from cloudlabs_policy import cloudinit
from cloudlabs_policy.conventions import ROLE_LABEL, TIER_LABEL, container_labels
from cloudlabs_policy.resources import COMMANDS, CONTAINER, INSTANCE, UNKNOWN, get, plain

CONTAINERS_LOCKED_DOWN = "service-containers-non-root-read-only"
VM_SSH_KEY_ONLY = "vms-ssh-key-never-password"
NODE_PORTS_IN_RANGE = "node-ports-in-kubernetes-range"
USER_DATA_SIZE = "user-data-within-nova-limit"
KUBERNETES_SERVICE = "kubernetes:core/v1:Service"


def _mandatory(
    name: str, description: str, validate: ResourceValidation
) -> ResourceValidationPolicy:
    return ResourceValidationPolicy(
        name=name,
        description=description,
        enforcement_level=EnforcementLevel.MANDATORY,
        validate=validate,
    )


def _is_root(user: str) -> bool:
    name = user.split(":", 1)[0].strip()
    return name == "root" or (name.isdigit() and int(name) == 0)


def _containers(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type != CONTAINER:
        return
    props = args.props
    labels = container_labels(plain(props) or {})
    if ROLE_LABEL not in labels and TIER_LABEL not in labels:
        return  # not one of a lab's services
    user = get(props, "user", "")
    if user is not UNKNOWN:
        if not user:
            report(
                "no user is set: the container runs as its image's user (root by default).", None
            )
        elif _is_root(str(user)):
            report(f"it runs as root (user {user!r}); set a non-root uid:gid.", None)
    read_only = get(props, "readOnly", False)
    if read_only is not UNKNOWN and read_only is not True:
        report("its root filesystem is writable; set read_only (writable paths as tmpfs).", None)


def user_data_of(args: ResourceValidationArgs) -> Iterator[tuple[str, str]]:
    """``(where, text)`` of the cloud-config user-data a resource hands to a guest: an OpenStack
    instance's ``userData``, a command's environment value (a seed ISO's user-data)."""
    if args.resource_type == INSTANCE:
        text = get(args.props, "userData", "")
        if isinstance(text, str) and text:
            yield "userData", text
    elif args.resource_type in COMMANDS:
        env = plain(get(args.props, "environment", {}))
        if isinstance(env, dict):
            for name, value in sorted(env.items()):
                if cloudinit.is_cloud_config(value):
                    yield f"environment.{name}", value


def _documents(args: ResourceValidationArgs) -> Iterator[tuple[str, Mapping[str, Any]]]:
    for where, text in user_data_of(args):
        doc = cloudinit.load(text) if cloudinit.is_cloud_config(text) else None
        if doc is not None:
            yield where, doc


def _ssh_key_only(args: ResourceValidationArgs, report: ReportViolation) -> None:
    docs = list(_documents(args))
    for where, doc in docs:
        login = cloudinit.login_problems(doc)
        for problem in login.passwords:
            report(f"{where}: {problem}.", None)
        if args.resource_type in COMMANDS and login.keys == 0:
            report(f"{where}: the guest's user-data installs no SSH key.", None)
    if args.resource_type != INSTANCE:
        return
    if get(args.props, "adminPass", ""):
        report("adminPass gives the server a password.", None)
    key_pair = get(args.props, "keyPair", "")
    keys = sum(cloudinit.login_problems(doc).keys for _, doc in docs)
    if key_pair is not UNKNOWN and not key_pair and keys == 0:
        report("the server gets no SSH key: set its keypair (or keys in its user-data).", None)


def _node_ports(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type == KUBERNETES_SERVICE:
        service = plain(args.props)
        if isinstance(service, dict):
            low, high = cloudinit.DEFAULT_NODE_PORT_RANGE
            for port in cloudinit.node_ports(service):
                if not low <= port <= high:
                    report(f"NodePort {port} is outside {low}-{high}.", None)
        return
    for where, doc in _documents(args):
        low, high = cloudinit.node_port_range(doc)
        for path, obj in cloudinit.embedded_objects(doc):
            if obj.get("kind") != "Service":
                continue
            name = (obj.get("metadata") or {}).get("name", "?")
            for port in cloudinit.node_ports(obj):
                if not low <= port <= high:
                    report(
                        f"{where}: {path}: Service {name} asks for NodePort {port}, outside "
                        f"the cluster's range {low}-{high}.",
                        None,
                    )


def _user_data_size(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type != INSTANCE:
        return
    for where, text in user_data_of(args):
        size = cloudinit.base64_size(text)
        if size > cloudinit.NOVA_USER_DATA_LIMIT:
            report(
                f"{where} is {size} bytes once base64-encoded, over Nova's "
                f"{cloudinit.NOVA_USER_DATA_LIMIT}.",
                None,
            )


def resource_policies() -> list[ResourceValidationPolicy]:
    """The pack's rules on single resources, each mandatory."""
    return [
        _mandatory(
            CONTAINERS_LOCKED_DOWN,
            (
                "A lab's service containers (labelled org.cloudlabs.role) run as a non-root user "
                "on a read-only root filesystem."
            ),
            _containers,
        ),
        _mandatory(
            VM_SSH_KEY_ONLY,
            (
                "Every VM gets an SSH key and never a password: no adminPass, no password, "
                "chpasswd or ssh_pwauth in its user-data, lock_passwd kept."
            ),
            _ssh_key_only,
        ),
        _mandatory(
            NODE_PORTS_IN_RANGE,
            (
                "Kubernetes NodePorts lie inside the cluster's NodePort range (30000-32767 unless "
                "the API server is given another one)."
            ),
            _node_ports,
        ),
        _mandatory(
            USER_DATA_SIZE,
            (
                "An OpenStack server's user-data fits Nova's limit: at most 65535 bytes once "
                "base64-encoded."
            ),
            _user_data_size,
        ),
    ]
