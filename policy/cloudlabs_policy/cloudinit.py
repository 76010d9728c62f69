"""What the rules read in cloud-init user-data: logins, embedded Kubernetes objects, size."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import yaml

NOVA_USER_DATA_LIMIT = 65535
"""Nova refuses user-data longer than this once base64-encoded."""
DEFAULT_NODE_PORT_RANGE = (30000, 32767)
"""kube-apiserver's ``--service-node-port-range`` when the cluster config does not set one."""

_PASSWORD_KEYS = ("passwd", "plain_text_passwd", "hashed_passwd")


def is_cloud_config(text: object) -> bool:
    return isinstance(text, str) and text.lstrip().startswith("#cloud-config")


def base64_size(text: str) -> int:
    """The length of ``text`` (UTF-8) once base64-encoded, as Nova measures user-data."""
    return 4 * ((len(text.encode()) + 2) // 3)


def load(text: str) -> dict[str, Any] | None:
    """The cloud-config document, or None when it is not a YAML mapping."""
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError:
        return None
    return doc if isinstance(doc, dict) else None


@dataclass(frozen=True)
class LoginProblems:
    keys: int
    """SSH keys the document installs (top level and per user)."""
    passwords: tuple[str, ...]
    """What enables a password login, each as ``where: what``."""


def login_problems(doc: Mapping[str, Any]) -> LoginProblems:
    """Count SSH keys and find password logins in a cloud-config document."""
    keys = len(doc.get("ssh_authorized_keys") or [])
    passwords: list[str] = []
    if doc.get("ssh_pwauth") in (True, "true", "yes", 1):
        passwords.append("ssh_pwauth: true (SSH accepts passwords)")
    if doc.get("password"):
        passwords.append("password: the default user gets a password")
    chpasswd = doc.get("chpasswd")
    if isinstance(chpasswd, Mapping) and (chpasswd.get("users") or chpasswd.get("list")):
        passwords.append("chpasswd: sets passwords")
    for user in doc.get("users") or []:
        if not isinstance(user, Mapping):
            continue
        name = user.get("name", "?")
        keys += len(user.get("ssh_authorized_keys") or [])
        for key in _PASSWORD_KEYS:
            if user.get(key):
                passwords.append(f"users[{name}].{key}: the user gets a password")
        if user.get("lock_passwd") is False:
            passwords.append(f"users[{name}].lock_passwd: false (password login unlocked)")
    return LoginProblems(keys=keys, passwords=tuple(passwords))


def embedded_objects(doc: Mapping[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """``(path, object)`` for every Kubernetes-style object in the files the document writes."""
    for entry in doc.get("write_files") or []:
        if not isinstance(entry, Mapping) or entry.get("encoding") not in (None, "text/plain"):
            continue
        content = entry.get("content")
        if not isinstance(content, str) or "kind:" not in content:
            continue
        try:
            objects = list(yaml.safe_load_all(content))
        except yaml.YAMLError:
            continue
        for obj in objects:
            if isinstance(obj, dict) and "kind" in obj:
                yield str(entry.get("path", "?")), obj


def node_port_range(doc: Mapping[str, Any]) -> tuple[int, int]:
    """The NodePort range of a cluster configured by this document (kubeadm's API server
    ``service-node-port-range``), else Kubernetes' default."""
    for _, obj in embedded_objects(doc):
        if obj.get("kind") != "ClusterConfiguration":
            continue
        args = (obj.get("apiServer") or {}).get("extraArgs") or {}
        if isinstance(args, list):  # kubeadm v1beta4: [{name, value}]
            args = {a.get("name"): a.get("value") for a in args if isinstance(a, Mapping)}
        value = args.get("service-node-port-range") if isinstance(args, Mapping) else None
        if isinstance(value, str) and "-" in value:
            low, _, high = value.partition("-")
            if low.strip().isdigit() and high.strip().isdigit():
                return int(low), int(high)
    return DEFAULT_NODE_PORT_RANGE


def node_ports(service: Mapping[str, Any]) -> Iterator[int]:
    """The NodePorts a Service asks for (only NodePort and LoadBalancer services have them)."""
    spec = service.get("spec") or {}
    if not isinstance(spec, Mapping) or spec.get("type") not in ("NodePort", "LoadBalancer"):
        return
    for port in spec.get("ports") or []:
        if isinstance(port, Mapping) and port.get("nodePort") is not None:
            try:
                yield int(port["nodePort"])
            except (TypeError, ValueError):
                yield -1
