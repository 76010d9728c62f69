"""openstack-k8s: a kubeadm Kubernetes cluster (Calico) on three OpenStack VMs, with the sample app.

LABS.md, Lab 2 of the second seed. The stack builds the network, the security groups, the VMs and
the cluster's join secrets; cloud-init on each VM does the rest (see components/kubernetes): the
master runs ``kubeadm init`` and installs Calico, the workers join with the stack's token and
the CA pinned by hash, and once every node is Ready the master applies the application.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator
from typing import Annotated, Any, Literal

import pulumi
from pydantic import BeforeValidator, Field

from components.kubernetes import (
    API_PORT,
    CLUSTER_NAME,
    AppSpec,
    BootstrapSpec,
    ClusterCredentials,
    ClusterSpec,
    NodeSpec,
    PackageSpec,
    master_user_data,
    worker_user_data,
)
from components.openstack import (
    Keypair,
    KeypairArgs,
    RuleSpec,
    SecurityGroup,
    SecurityGroupArgs,
    Server,
    ServerArgs,
)
from stacks.errors import Problem
from stacks.openstack_build import gateway_router, private_network
from stacks.openstack_config import NetworkConfig, fixed_ip_problems
from stacks.registry import Lab
from stacks.types import Cidr, IPv4, Name, NonEmptyText, Port, SshPublicKey
from stacks.validation import LabModel, check

NODE_PORT_RANGE = (30000, 32767)
"""Kubernetes' default NodePort range (kube-apiserver ``--service-node-port-range``)."""
MIN_MINOR = 28
"""Oldest Kubernetes minor release the lab installs (pkgs.k8s.io, kubeadm config v1beta3/4)."""

_VERSION_RE = re.compile(r"^1\.(\d+)\.(\d+)$")
_DNS_LABEL_RE = re.compile(r"^[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?$")
_LABEL_NAME_RE = re.compile(r"^[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")
_DNS_SUBDOMAIN_RE = re.compile(r"^[a-z0-9](?:[-a-z0-9.]{0,251}[a-z0-9])?$")
_DEB_VERSION_RE = re.compile(r"^[0-9][A-Za-z0-9.+~:-]*$")
_URL_RE = re.compile(r"^https://[A-Za-z0-9.-]+(?::\d+)?(?:/[A-Za-z0-9._~:/%+@=-]*)?$")
_IMAGE_RE = re.compile(r"^[a-z0-9][a-z0-9._/:@-]*[a-z0-9]$")


def parse_kubernetes_version(value: Any) -> str:
    """A Kubernetes release ``1.<minor>.<patch>`` (``1.31.4``), 1.28 or newer."""
    if not isinstance(value, str):
        raise ValueError("expected a Kubernetes release such as '1.31.4' (major.minor.patch)")
    match = _VERSION_RE.match(value.strip())
    if match is None:
        hint = " without the leading 'v'" if value.strip().startswith("v") else ""
        raise ValueError(f"expected a Kubernetes release such as '1.31.4'{hint}")
    if int(match[1]) < MIN_MINOR:
        raise ValueError(f"Kubernetes 1.{MIN_MINOR} or newer is needed")
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


def parse_image(value: Any) -> str:
    """A container image reference (``registry/name:tag`` or ``name@sha256:...``)."""
    if not isinstance(value, str) or not _IMAGE_RE.match(value.strip()):
        raise ValueError("expected a container image such as docker.io/library/nginx:1.27")
    return value.strip()


KubernetesVersion = Annotated[str, BeforeValidator(parse_kubernetes_version)]
NodeName = Annotated[str, BeforeValidator(parse_dns_label)]
LabelKey = Annotated[str, BeforeValidator(parse_label_key)]
LabelValue = Annotated[str, BeforeValidator(parse_label_value)]
DebVersion = Annotated[str, BeforeValidator(parse_deb_version)]
HttpsUrl = Annotated[str, BeforeValidator(parse_https_url)]
Image = Annotated[str, BeforeValidator(parse_image)]
Labels = dict[LabelKey, LabelValue]


class NodeConfig(LabModel):
    """One VM of the cluster."""

    name: NodeName
    """Node name in Kubernetes, hostname and Nova instance name."""
    fixed_ip: IPv4
    """The node's private address (kubelet's node IP; the API address on the master)."""
    labels: Labels = {}
    """Labels the node registers with (workers), e.g. ``{PoP: space_1}``."""


class NodesConfig(LabModel):
    """The master and the workers, all from one image and flavor."""

    image: NonEmptyText = "ubuntu-22.04"
    """Glance image: an Ubuntu cloud image (22.04 or 24.04)."""
    flavor: NonEmptyText = "medium"
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
        match = _VERSION_RE.match(self.version)
        assert match is not None
        return int(match[1])

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
    image: Image
    """Its container image (public, or pullable by the nodes)."""
    command: list[NonEmptyText] = []
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


class OpenStackK8sConfig(LabModel):
    """Config of the ``openstack-k8s`` lab (keys of ``Pulumi.<stack>.yaml``)."""

    external_network: Name
    """The provider's public network: router gateway and floating IP pool."""
    ssh_public_key: SshPublicKey
    ssh_user: Name = "ubuntu"
    """The image's login user (ssh commands; it gets the admin kubeconfig on the master)."""
    admin_cidr: Cidr
    """Where SSH and the Kubernetes API (6443) may be reached from."""
    node_port_cidr: Cidr
    """Where the NodePort range (30000-32767) may be reached from."""
    keypair_name: Name = "cloudlabs-k8s-key"
    router_name: Name = "cloudlabs-k8s-router"
    security_group_name: Name = "cloudlabs-k8s"
    """Prefix of the two groups: ``<name>-nodes`` and ``<name>-control-plane``."""
    network: NetworkConfig
    nodes: NodesConfig
    kubernetes: KubernetesConfig
    app: AppConfig

    @check
    def _workers(self) -> Iterator[Problem]:
        if not self.nodes.workers:
            yield Problem(
                ("nodes", "workers"),
                "at least one worker is needed (the control plane does not run the app)",
                [],
            )

    @check
    def _node_addresses(self) -> Iterator[Problem]:
        paths: list[tuple[tuple[str | int, ...], NodeConfig]] = [
            (("nodes", "master", "fixedIp"), self.nodes.master)
        ]
        paths += [(("nodes", "workers", i, "fixedIp"), w) for i, w in enumerate(self.nodes.workers)]
        yield from fixed_ip_problems([(path, n.fixed_ip, self.network) for path, n in paths])

    @check
    def _node_names(self) -> Iterator[Problem]:
        seen = {self.nodes.master.name}
        for i, worker in enumerate(self.nodes.workers):
            if worker.name in seen:
                yield Problem(
                    ("nodes", "workers", i, "name"), "another node has this name", worker.name
                )
            seen.add(worker.name)

    @check
    def _cluster_networks(self) -> Iterator[Problem]:
        node_net = self.network.cidr
        for key, cidr in (
            ("podCidr", self.kubernetes.pod_cidr),
            ("serviceCidr", self.kubernetes.service_cidr),
        ):
            if cidr.overlaps(node_net):
                yield Problem(
                    ("kubernetes", key),
                    f"overlaps the node network network.cidr ({node_net})",
                    str(cidr),
                )
        count = 1 + len(self.nodes.workers)
        pod = self.kubernetes.pod_cidr
        if pod.prefixlen > 24 or 2 ** (24 - pod.prefixlen) < count:
            yield Problem(
                ("kubernetes", "podCidr"),
                f"each of the {count} nodes gets a /24 of the pod network: it is too small",
                str(pod),
            )

    @check
    def _selector_matches_a_worker(self) -> Iterator[Problem]:
        wanted = self.app.node_selector.items()
        workers = self.nodes.workers
        if wanted and workers and not any(wanted <= w.labels.items() for w in workers):
            yield Problem(
                ("app", "nodeSelector"),
                "no worker has these labels: the pods would stay Pending",
                dict(self.app.node_selector),
            )


def node_rules(config: OpenStackK8sConfig) -> list[RuleSpec]:
    """Ingress of every node: SSH, kubelet, Calico between nodes, the NodePort range."""
    admin, node_ports = str(config.admin_cidr), str(config.node_port_cidr)
    if config.kubernetes.calico_encapsulation == "ipip":
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
    config: OpenStackK8sConfig, nodes_group: pulumi.Input[str]
) -> list[RuleSpec]:
    """Ingress of the master on top of :func:`node_rules`: API server and etcd."""
    return [
        RuleSpec("tcp", API_PORT, remote_group_id=nodes_group, description="API server (nodes)"),
        RuleSpec(
            "tcp", API_PORT, remote_cidr=str(config.admin_cidr), description="API server (kubectl)"
        ),
        RuleSpec("tcp", 2379, 2380, remote_own_group=True, description="etcd"),
    ]


def _node_spec(node: NodeConfig) -> NodeSpec:
    return NodeSpec(name=node.name, address=str(node.fixed_ip), labels=dict(node.labels))


def bootstrap_spec(config: OpenStackK8sConfig) -> BootstrapSpec:
    """What the nodes' user-data is rendered from."""
    k8s, app = config.kubernetes, config.app
    return BootstrapSpec(
        cluster=ClusterSpec(
            version=k8s.version,
            pod_cidr=str(k8s.pod_cidr),
            service_cidr=str(k8s.service_cidr),
            control_plane=_node_spec(config.nodes.master),
            workers=tuple(_node_spec(w) for w in config.nodes.workers),
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
        ssh_user=config.ssh_user,
        ready_timeout_seconds=k8s.ready_timeout_minutes * 60,
    )


def build(config: OpenStackK8sConfig) -> None:
    net = config.network
    keypair = Keypair(
        "k8s-key", KeypairArgs(name=config.keypair_name, public_key=config.ssh_public_key)
    )
    network = private_network("k8s-net", net)
    router = gateway_router("k8s-router", config.router_name, config.external_network, network)
    nodes_group = SecurityGroup(
        "k8s-nodes-sg",
        SecurityGroupArgs(
            group_name=f"{config.security_group_name}-nodes",
            description="Kubernetes nodes: SSH, kubelet, Calico, NodePort services",
            rules=node_rules(config),
        ),
    )
    control_plane_group = SecurityGroup(
        "k8s-control-plane-sg",
        SecurityGroupArgs(
            group_name=f"{config.security_group_name}-control-plane",
            description="Kubernetes control plane: API server, etcd",
            rules=control_plane_rules(config, nodes_group.group_id),
        ),
    )
    credentials = ClusterCredentials("k8s-credentials")
    boot = bootstrap_spec(config)

    def server(node: NodeConfig, groups: list[pulumi.Output[str]], user_data: Any) -> Server:
        return Server(
            f"k8s-{node.name}",
            ServerArgs(
                server_name=node.name,
                image_name=config.nodes.image,
                flavor_name=config.nodes.flavor,
                network_id=network.network_id,
                subnet_id=network.subnet_id,
                fixed_ip=str(node.fixed_ip),
                security_group_ids=groups,
                key_pair=keypair.name,
                user_data=user_data,
                floating_ip_pool=config.external_network,
            ),
            # cloud-init downloads through the router; the floating IP goes through it.
            opts=pulumi.ResourceOptions(depends_on=[router]),
        )

    master_data = pulumi.Output.all(
        credentials.bootstrap_token, credentials.ca_cert_pem, credentials.ca_key_pem
    ).apply(lambda v: master_user_data(boot, v[0], v[1], v[2]))
    master = server(
        config.nodes.master, [nodes_group.group_id, control_plane_group.group_id], master_data
    )

    def worker_data(spec: NodeSpec) -> pulumi.Output[str]:
        return pulumi.Output.all(credentials.bootstrap_token, credentials.ca_cert_hash).apply(
            lambda v: worker_user_data(boot, spec, v[0], v[1])
        )

    workers = {
        worker.name: server(worker, [nodes_group.group_id], worker_data(spec))
        for worker, spec in zip(config.nodes.workers, boot.cluster.workers, strict=True)
    }

    user = config.ssh_user
    stack = pulumi.get_stack()
    nodes = {config.nodes.master.name: master, **workers}
    floating = {name: s.floating_ip for name, s in nodes.items()}
    pulumi.export("masterPrivateIp", str(config.nodes.master.fixed_ip))
    pulumi.export("floatingIps", floating)
    pulumi.export(
        "sshCommands",
        {name: ip.apply(lambda ip: f"ssh {user}@{ip}") for name, ip in floating.items()},
    )
    pulumi.export(
        "clusterReadyCommand",
        master.floating_ip.apply(lambda ip: f"ssh {user}@{ip} cloud-init status --wait"),
    )
    pulumi.export(
        "kubeconfigCommand",
        master.floating_ip.apply(
            lambda ip: (
                f"ssh {user}@{ip} sudo cat /etc/kubernetes/admin.conf > kubeconfig-{stack}"
                f" && kubectl --kubeconfig kubeconfig-{stack} config set-cluster {CLUSTER_NAME}"
                f" --server https://{ip}:{API_PORT} --tls-server-name {CLUSTER_NAME}"
            )
        ),
    )
    port = config.app.node_port
    pulumi.export(
        "nodePortUrls",
        {
            name: s.floating_ip.apply(lambda ip: f"http://{ip}:{port}/")
            for name, s in workers.items()
        },
    )


LAB = Lab(
    name="openstack-k8s",
    platform="OpenStack",
    summary="a kubeadm Kubernetes cluster (Calico) on three VMs with the sample app",
    config=OpenStackK8sConfig,
    build=build,
)
