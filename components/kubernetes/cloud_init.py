"""cloud-init user-data of the cluster's nodes: files for the bootstrap script, then running it.

Every node gets the kernel module and sysctl settings, ``/etc/cloudlabs/kubernetes.env`` (the
script's parameters, shell-quoted), its kubeadm config (0600: it holds the bootstrap token) and
the bootstrap script (``scripts/kubernetes/bootstrap.sh``). The master also gets the cluster CA
(its key 0600) and the application's manifests.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from components.kubernetes.kubeadm import ClusterSpec, NodeSpec, init_objects, join_objects, render
from components.kubernetes.manifests import AppSpec, render_manifests
from components.renderers.cloudinit import (
    AptMirror,
    Commands,
    File,
    Files,
    Hostname,
    Packages,
    render_user_data,
)

BOOTSTRAP_SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "kubernetes" / "bootstrap.sh"
"""The script every node runs (shellcheck-clean; runnable by hand as root)."""
BOOTSTRAP_PATH = "/usr/local/sbin/cloudlabs-k8s-bootstrap"
CONFIG_DIR = "/etc/cloudlabs"
KERNEL_MODULES = ("overlay", "br_netfilter")
SYSCTLS = {
    "net.bridge.bridge-nf-call-iptables": "1",
    "net.bridge.bridge-nf-call-ip6tables": "1",
    "net.ipv4.ip_forward": "1",
}


@dataclass(frozen=True)
class PackageSpec:
    kubernetes_apt_repository: str
    """pkgs.k8s.io repository of one minor release, e.g. ``.../core:/stable:/v1.31/deb/``."""
    kubernetes_package_version: str
    """Debian version of kubeadm, kubelet and kubectl, e.g. ``1.31.4-1.1``."""
    containerd_apt_repository: str
    """Docker's apt repository for Ubuntu (it ships ``containerd.io``)."""
    containerd_version: str
    """Debian version of ``containerd.io``, e.g. ``1.7.25-1``."""


@dataclass(frozen=True)
class BootstrapSpec:
    cluster: ClusterSpec
    """Version, networks and nodes."""
    packages: PackageSpec
    """Where the pinned packages come from."""
    calico_manifest_url: str
    """Calico's manifest, at a pinned release."""
    calico_encapsulation: Literal["ipip", "vxlan"]
    """How pod traffic crosses the node network."""
    app: AppSpec
    """The sample application, applied on the master once every node is Ready."""
    ssh_user: str
    """The image's login user; it gets the admin kubeconfig in ``~/.kube/config``."""
    ready_timeout_seconds: int
    """How long the master waits for every node (and a worker for the API server)."""
    apt_mirror: AptMirror | None = None
    """The primary apt mirror of the image's distribution; None: the image's own."""
    extra_files: tuple[File, ...] = ()
    """More files every node gets (the benchmark suite's)."""
    extra_packages: tuple[str, ...] = ()
    """More distribution packages every node installs (the benchmark suite's)."""


def render_env(values: Mapping[str, str]) -> str:
    """``KEY=value`` lines a shell can source, every value quoted."""
    return "".join(f"{key}={shlex.quote(value)}\n" for key, value in values.items())


def _common_env(boot: BootstrapSpec, role: str, node: NodeSpec) -> dict[str, str]:
    packages = boot.packages
    return {
        "ROLE": role,
        "NODE_NAME": node.name,
        "NODE_IP": node.address,
        "MASTER_IP": boot.cluster.control_plane.address,
        "K8S_VERSION": boot.cluster.version,
        "K8S_APT_REPO": packages.kubernetes_apt_repository,
        "K8S_PACKAGE_VERSION": packages.kubernetes_package_version,
        "CONTAINERD_APT_REPO": packages.containerd_apt_repository,
        "CONTAINERD_VERSION": packages.containerd_version,
        "SSH_USER": boot.ssh_user,
        "READY_TIMEOUT": str(boot.ready_timeout_seconds),
    }


def master_env(boot: BootstrapSpec) -> dict[str, str]:
    """The master's script parameters."""
    return {
        **_common_env(boot, "master", boot.cluster.control_plane),
        "POD_CIDR": boot.cluster.pod_cidr,
        "CALICO_MANIFEST_URL": boot.calico_manifest_url,
        "CALICO_ENCAPSULATION": boot.calico_encapsulation,
        "EXPECTED_NODES": str(1 + len(boot.cluster.workers)),
        "APP_NAME": boot.app.name,
        "APP_NAMESPACE": boot.app.namespace,
    }


def worker_env(boot: BootstrapSpec, node: NodeSpec) -> dict[str, str]:
    """A worker's script parameters."""
    return _common_env(boot, "worker", node)


def _document(boot: BootstrapSpec, node: NodeSpec, files: list[File]) -> str:
    kernel = [
        File("/etc/modules-load.d/kubernetes.conf", "".join(f"{m}\n" for m in KERNEL_MODULES)),
        File(
            "/etc/sysctl.d/99-kubernetes.conf",
            "".join(f"{key} = {value}\n" for key, value in SYSCTLS.items()),
        ),
    ]
    script = File(BOOTSTRAP_PATH, BOOTSTRAP_SCRIPT.read_text(), "0755")
    return render_user_data(
        Hostname(node.name),
        boot.apt_mirror,
        Packages(["apt-transport-https", "ca-certificates", "curl", "gpg", *boot.extra_packages]),
        Files([*kernel, *files, script, *boot.extra_files]),
        Commands([[BOOTSTRAP_PATH]]),
    )


def master_user_data(boot: BootstrapSpec, token: str, ca_cert_pem: str, ca_key_pem: str) -> str:
    """The master's user-data: kubeadm init config, the CA, Calico, the application."""
    node = boot.cluster.control_plane
    return _document(
        boot,
        node,
        [
            File(f"{CONFIG_DIR}/kubernetes.env", render_env(master_env(boot))),
            File(f"{CONFIG_DIR}/kubeadm.yaml", render(init_objects(boot.cluster, token)), "0600"),
            File(f"{CONFIG_DIR}/pki/ca.crt", ca_cert_pem),
            File(f"{CONFIG_DIR}/pki/ca.key", ca_key_pem, "0600"),
            File(f"{CONFIG_DIR}/app.yaml", render_manifests(boot.app)),
        ],
    )


def worker_user_data(boot: BootstrapSpec, node: NodeSpec, token: str, ca_hash: str) -> str:
    """A worker's user-data: its kubeadm join config (master's private address, token, CA pin)."""
    return _document(
        boot,
        node,
        [
            File(f"{CONFIG_DIR}/kubernetes.env", render_env(worker_env(boot, node))),
            File(
                f"{CONFIG_DIR}/kubeadm.yaml",
                render(join_objects(boot.cluster, node, token, ca_hash)),
                "0600",
            ),
        ],
    )
