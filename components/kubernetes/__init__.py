"""Kubernetes on VMs: cluster credentials and pure renderers (kubeadm, cloud-init, manifests).

Type tokens ``cloudlabs:kubernetes:*``.
"""

from components.kubernetes.cloud_init import (
    BootstrapSpec,
    PackageSpec,
    master_user_data,
    worker_user_data,
)
from components.kubernetes.credentials import ClusterCredentials, ClusterCredentialsArgs
from components.kubernetes.kubeadm import API_PORT, CLUSTER_NAME, ClusterSpec, NodeSpec
from components.kubernetes.manifests import AppSpec, app_objects, render_manifests
from components.kubernetes.pki import ca_cert_hash

__all__ = [
    "API_PORT",
    "CLUSTER_NAME",
    "AppSpec",
    "BootstrapSpec",
    "ClusterCredentials",
    "ClusterCredentialsArgs",
    "ClusterSpec",
    "NodeSpec",
    "PackageSpec",
    "app_objects",
    "ca_cert_hash",
    "master_user_data",
    "render_manifests",
    "worker_user_data",
]
