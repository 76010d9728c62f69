"""The Kubernetes cluster of a lab: its config models (nodes, releases and networks, the
sample application), the security-group rules its nodes need, and the specs the nodes'
cloud-init is rendered from (``components/kubernetes``)."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator
from typing import Literal

import pulumi
from pydantic import Field

from bench.archive import guest_suite
from components.calculator_bootstrap import USER_DATA_LIMIT, nova_size
from components.kubernetes import (
    API_PORT,
    AppSpec,
    BootstrapSpec,
    ClusterSpec,
    NodeSpec,
    PackageSpec,
    master_user_data,
    worker_user_data,
)
from components.openstack import RuleSpec
from components.renderers.cloudinit import AptMirror
from stacks.shared.errors import ConfigError, KeyPath, Problem
from stacks.shared.operations import CloudMachine
from stacks.shared.types import (
    Cidr,
    CommandArgument,
    DebVersion,
    DisplayName,
    HttpsUrl,
    ImageRef,
    IPv4,
    KubernetesVersion,
    Labels,
    NodeName,
    Port,
    kubernetes_minor,
)
from stacks.shared.validation import LabModel, check

NODE_PORT_RANGE = (30000, 32767)
"""Kubernetes' default NodePort range (kube-apiserver ``--service-node-port-range``)."""


class NodeConfig(CloudMachine):
    """One VM of the cluster, its snapshots (images) and restore."""

    name: NodeName
    """Node name in Kubernetes, hostname and Nova instance name."""
    fixed_ip: IPv4
    """The node's private address (kubelet's node IP; the API address on the master)."""
    labels: Labels = {}
    """Labels the node registers with (workers), e.g. ``{PoP: space_1}``."""


class NodesConfig(LabModel):
    """The master and the workers, all from one image and flavor."""

    image: DisplayName = "ubuntu-22.04"
    """Glance image: an Ubuntu cloud image (22.04 or 24.04)."""
    flavor: DisplayName = "medium"
    """Nova flavor; kubeadm needs 2 vCPUs and 2 GB of RAM per node."""
    master: NodeConfig
    workers: list[NodeConfig]


class KubernetesConfig(LabModel):
    """Versions and networks of the cluster."""

    version: KubernetesVersion
    """Kubernetes release of kubeadm, kubelet, kubectl and the control plane (``1.31.4``)."""
    package_revision: DebVersion = "1.1"
    """Debian revision of the pkgs.k8s.io packages: they are installed as ``<version>-<rev>``."""
    apt_repository: HttpsUrl | None = None
    """pkgs.k8s.io repository; omitted = ``https://pkgs.k8s.io/core:/stable:/v1.<minor>/deb/``."""
    containerd_version: DebVersion = "1.7.25-1"
    """Version of ``containerd.io`` (``apt-cache madison containerd.io`` on a node)."""
    containerd_apt_repository: HttpsUrl = "https://download.docker.com/linux/ubuntu"
    """Docker's apt repository for Ubuntu, which ships ``containerd.io``."""
    pod_cidr: Cidr
    """The pod network: Calico's IP pool and kubeadm's ``podSubnet``."""
    service_cidr: Cidr = ipaddress.IPv4Network("10.96.0.0/12")
    """The service (cluster IP) network."""
    calico_manifest_url: HttpsUrl
    """Calico's manifest at a pinned release (``.../calico/v3.29.3/manifests/calico.yaml``)."""
    calico_encapsulation: Literal["ipip", "vxlan"] = "ipip"
    """Pod traffic between nodes: IP-in-IP (IP protocol 4) or VXLAN (UDP 4789)."""
    ready_timeout_minutes: int = Field(default=20, ge=1, le=180)
    """How long the master waits for every node to be Ready before applying the app."""

    @property
    def minor(self) -> int:
        return kubernetes_minor(self.version)

    @property
    def repository(self) -> str:
        default = f"https://pkgs.k8s.io/core:/stable:/v1.{self.minor}/deb/"
        return self.apt_repository or default

    @check
    def _repository_matches_version(self) -> Iterator[Problem]:
        if self.apt_repository is not None and f"/v1.{self.minor}/" not in self.apt_repository:
            yield Problem(
                ("aptRepository",),
                f"the repository must serve Kubernetes 1.{self.minor} (…/v1.{self.minor}/deb/) "
                f"like kubernetes.version {self.version}",
                self.apt_repository,
            )

    @check
    def _calico_pinned(self) -> Iterator[Problem]:
        if not re.search(r"/v\d+\.\d+\.\d+/", self.calico_manifest_url):
            yield Problem(
                ("calicoManifestUrl",),
                "the URL must name a Calico release (…/calico/v3.29.3/manifests/calico.yaml), "
                "so every node applies the same manifest",
                self.calico_manifest_url,
            )

    @check
    def _networks(self) -> Iterator[Problem]:
        if self.pod_cidr.overlaps(self.service_cidr):
            yield Problem(
                ("podCidr",),
                f"the pod network overlaps serviceCidr ({self.service_cidr})",
                str(self.pod_cidr),
            )
        if self.service_cidr.prefixlen < 12:
            yield Problem(
                ("serviceCidr",),
                "kubeadm accepts a service network of at most a /12",
                str(self.service_cidr),
            )


class AppConfig(LabModel):
    """The sample web application."""

    name: NodeName = "fastapi-app"
    """Name of the Deployment; the services are ``<name>-clusterip-service`` and
    ``<name>-nodeport-service``."""
    image: ImageRef
    """Its container image (public, or pullable by the nodes)."""
    command: list[CommandArgument] = []
    """Command run in the container; empty = the image's own."""
    replicas: int = Field(default=3, ge=1, le=100)
    container_port: Port = 5000
    service_port: Port = 80
    """Port of the ClusterIP and NodePort services."""
    node_port: int = 30080
    """Port opened on every node (30000-32767)."""
    node_selector: Labels = {}
    """Node labels the pods must run on, e.g. ``{PoP: space_1}``; empty = any worker."""

    @check
    def _node_port_in_range(self) -> Iterator[Problem]:
        low, high = NODE_PORT_RANGE
        if not low <= self.node_port <= high:
            yield Problem(("nodePort",), f"a NodePort must be in {low}-{high}", self.node_port)


def node_rules(
    admin_cidr: ipaddress.IPv4Network,
    node_port_cidr: ipaddress.IPv4Network,
    encapsulation: Literal["ipip", "vxlan"],
) -> list[RuleSpec]:
    """Ingress of every node: SSH (from ``admin_cidr``), kubelet, Calico between nodes, the
    NodePort range (from ``node_port_cidr``)."""
    admin, node_ports = str(admin_cidr), str(node_port_cidr)
    if encapsulation == "ipip":
        overlay = RuleSpec("4", remote_own_group=True, description="Calico IP-in-IP")
    else:
        overlay = RuleSpec("udp", 4789, remote_own_group=True, description="Calico VXLAN")
    low, high = NODE_PORT_RANGE
    return [
        RuleSpec("tcp", 22, remote_cidr=admin, description="ssh"),
        RuleSpec("tcp", 10250, remote_own_group=True, description="kubelet API"),
        RuleSpec("tcp", 179, remote_own_group=True, description="Calico BGP"),
        overlay,
        RuleSpec("tcp", low, high, remote_cidr=node_ports, description="NodePort services"),
    ]


def control_plane_rules(
    admin_cidr: ipaddress.IPv4Network, nodes_group: pulumi.Input[str]
) -> list[RuleSpec]:
    """Ingress of the master on top of :func:`node_rules`: API server (from the nodes' group
    and ``admin_cidr``) and etcd."""
    return [
        RuleSpec("tcp", API_PORT, remote_group_id=nodes_group, description="API server (nodes)"),
        RuleSpec("tcp", API_PORT, remote_cidr=str(admin_cidr), description="API server (kubectl)"),
        RuleSpec("tcp", 2379, 2380, remote_own_group=True, description="etcd"),
    ]


PEM_ALLOWANCE = 2048
"""Bytes allowed for each of the CA's certificate and key when user-data is measured before
they exist (an RSA-2048 key is about 1.7 KB in PEM, its self-signed certificate about 1.1 KB)."""


def _pem(kind: str) -> str:
    """A stand-in PEM block of :data:`PEM_ALLOWANCE` bytes."""
    head, tail = f"-----BEGIN {kind}-----\n", f"-----END {kind}-----\n"
    lines = (PEM_ALLOWANCE - len(head) - len(tail)) // 65
    return head + ("A" * 64 + "\n") * lines + tail


def check_user_data_size(lab: str, boot: BootstrapSpec) -> None:
    """Stop before any resource when a node's user-data would exceed Nova's limit.

    The join secrets do not exist yet: they are measured at their size (a token of 23
    characters, a ``sha256:`` hash) and the CA at :data:`PEM_ALLOWANCE` bytes each.
    """
    token, ca_hash = "a" * 6 + "." + "a" * 16, "sha256:" + "0" * 64
    documents: list[tuple[KeyPath, str, str]] = [
        (
            ("nodes", "master"),
            boot.cluster.control_plane.name,
            master_user_data(boot, token, _pem("CERTIFICATE"), _pem("RSA PRIVATE KEY")),
        )
    ]
    documents += [
        (("nodes", "workers", i), node.name, worker_user_data(boot, node, token, ca_hash))
        for i, node in enumerate(boot.cluster.workers)
    ]
    problems = [
        Problem(
            where,
            f"the {name} VM's user-data would be {size} bytes once base64-encoded, over Nova's "
            f"{USER_DATA_LIMIT}; shorten what it carries (app.command, labels)",
        )
        for where, name, data in documents
        if (size := nova_size(data)) > USER_DATA_LIMIT
    ]
    if problems:
        raise ConfigError(lab, problems)


def _node_spec(node: NodeConfig) -> NodeSpec:
    return NodeSpec(name=node.name, address=str(node.fixed_ip), labels=dict(node.labels))


def bootstrap_spec(
    nodes: NodesConfig,
    k8s: KubernetesConfig,
    app: AppConfig,
    ssh_user: str,
    apt_mirror: AptMirror | None = None,
    benchmark: bool = False,
) -> BootstrapSpec:
    """What the nodes' user-data is rendered from (with ``benchmark``, the suite's files and
    packages on every node)."""
    files, packages = guest_suite(benchmark)
    return BootstrapSpec(
        cluster=ClusterSpec(
            version=k8s.version,
            pod_cidr=str(k8s.pod_cidr),
            service_cidr=str(k8s.service_cidr),
            control_plane=_node_spec(nodes.master),
            workers=tuple(_node_spec(w) for w in nodes.workers),
        ),
        packages=PackageSpec(
            kubernetes_apt_repository=k8s.repository,
            kubernetes_package_version=f"{k8s.version}-{k8s.package_revision}",
            containerd_apt_repository=k8s.containerd_apt_repository,
            containerd_version=k8s.containerd_version,
        ),
        calico_manifest_url=k8s.calico_manifest_url,
        calico_encapsulation=k8s.calico_encapsulation,
        app=AppSpec(
            name=app.name,
            image=app.image,
            command=tuple(app.command),
            replicas=app.replicas,
            container_port=app.container_port,
            service_port=app.service_port,
            node_port=app.node_port,
            node_selector=dict(app.node_selector),
        ),
        ssh_user=ssh_user,
        ready_timeout_seconds=k8s.ready_timeout_minutes * 60,
        apt_mirror=apt_mirror,
        extra_files=tuple(files),
        extra_packages=tuple(packages),
    )
