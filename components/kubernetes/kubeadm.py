"""kubeadm configuration files for the control plane (init) and the workers (join).

kubeadm's config API changed in Kubernetes 1.31 (``v1beta4``: kubelet flags as a list of
name/value pairs); :func:`kubeadm_api` picks the version the configured release reads.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from components.renderers.yamltext import yaml_documents

API_PORT = 6443
"""Port of the API server on the control plane's private address."""
CLUSTER_NAME = "kubernetes"
"""Name of the cluster in kubeconfig files (kubeadm's default)."""
CRI_SOCKET = "unix:///var/run/containerd/containerd.sock"

_VERSION_RE = re.compile(r"^1\.(\d+)\.(\d+)$")


def minor_of(version: str) -> int:
    """The minor release of a Kubernetes version such as ``1.31.4`` (31)."""
    match = _VERSION_RE.match(version)
    if match is None:
        raise ValueError(f"expected a Kubernetes version such as 1.31.4, got {version!r}")
    return int(match[1])


def kubeadm_api(version: str) -> str:
    """The kubeadm config API that kubeadm ``version`` reads."""
    return "kubeadm.k8s.io/v1beta4" if minor_of(version) >= 31 else "kubeadm.k8s.io/v1beta3"


@dataclass(frozen=True)
class NodeSpec:
    name: str
    """Node name in Kubernetes (also the VM's hostname)."""
    address: str
    """The node's private address: kubelet's node IP (and the API address on the master)."""
    labels: Mapping[str, str] = field(default_factory=dict)
    """Labels the kubelet registers the node with."""


@dataclass(frozen=True)
class ClusterSpec:
    version: str
    """Kubernetes release, e.g. ``1.31.4``."""
    pod_cidr: str
    """Pod network (Calico's IP pool)."""
    service_cidr: str
    """Service (cluster IP) network."""
    control_plane: NodeSpec
    """The master."""
    workers: tuple[NodeSpec, ...]
    """Every worker."""


def _kubelet_args(spec: ClusterSpec, node: NodeSpec) -> Any:
    args = {"node-ip": node.address}
    if node.labels:
        args["node-labels"] = ",".join(f"{k}={v}" for k, v in sorted(node.labels.items()))
    if kubeadm_api(spec.version).endswith("v1beta3"):
        return args
    return [{"name": k, "value": v} for k, v in args.items()]


def _registration(spec: ClusterSpec, node: NodeSpec) -> dict[str, Any]:
    return {
        "name": node.name,
        "criSocket": CRI_SOCKET,
        "kubeletExtraArgs": _kubelet_args(spec, node),
    }


def init_objects(spec: ClusterSpec, token: str) -> list[dict[str, Any]]:
    """InitConfiguration, ClusterConfiguration and KubeletConfiguration for ``kubeadm init``.

    The bootstrap token never expires, so a worker re-created by ``pulumi up`` can still join;
    ``kubeadm token delete`` on the master revokes it.
    """
    api = kubeadm_api(spec.version)
    master = spec.control_plane
    return [
        {
            "apiVersion": api,
            "kind": "InitConfiguration",
            "bootstrapTokens": [
                {
                    "token": token,
                    "ttl": "0s",
                    "usages": ["signing", "authentication"],
                    "groups": ["system:bootstrappers:kubeadm:default-node-token"],
                    "description": "cloud-labs worker join token",
                }
            ],
            "localAPIEndpoint": {"advertiseAddress": master.address, "bindPort": API_PORT},
            "nodeRegistration": _registration(spec, master),
        },
        {
            "apiVersion": api,
            "kind": "ClusterConfiguration",
            "clusterName": CLUSTER_NAME,
            "kubernetesVersion": f"v{spec.version}",
            "controlPlaneEndpoint": f"{master.address}:{API_PORT}",
            "networking": {"podSubnet": spec.pod_cidr, "serviceSubnet": spec.service_cidr},
        },
        {
            "apiVersion": "kubelet.config.k8s.io/v1beta1",
            "kind": "KubeletConfiguration",
            "cgroupDriver": "systemd",
        },
    ]


def join_objects(
    spec: ClusterSpec, node: NodeSpec, token: str, ca_hash: str
) -> list[dict[str, Any]]:
    """JoinConfiguration of a worker: token discovery pinned to the cluster CA's key.

    Workers take their kubelet configuration from the cluster (set by :func:`init_objects`).
    """
    return [
        {
            "apiVersion": kubeadm_api(spec.version),
            "kind": "JoinConfiguration",
            "discovery": {
                "bootstrapToken": {
                    "apiServerEndpoint": f"{spec.control_plane.address}:{API_PORT}",
                    "token": token,
                    "caCertHashes": [ca_hash],
                }
            },
            "nodeRegistration": _registration(spec, node),
        }
    ]


def render(objects: list[dict[str, Any]]) -> str:
    return yaml_documents(objects)
