"""openstack-k8s: a kubeadm Kubernetes cluster (Calico) on three OpenStack VMs, with the sample app.

The lab of docs/labs.md#openstack-k8s. The stack builds the network, the security groups, the
VMs and the cluster's join secrets; cloud-init on each VM does the rest (components/kubernetes):
the master runs ``kubeadm init`` and installs Calico, the workers join with the stack's token
and the CA pinned by hash, and once every node is Ready the master applies the application.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterator
from functools import partial
from typing import Any

import pulumi

from components.hostexec import ssh_command
from components.kubernetes import (
    API_PORT,
    CLUSTER_NAME,
    ClusterCredentials,
    NodeSpec,
    master_user_data,
    worker_user_data,
)
from components.openstack import (
    SecurityGroup,
    SecurityGroupArgs,
    Server,
    ServerArgs,
)
from stacks.shared.benchmark import BenchmarkConfig
from stacks.shared.catalogue import Lab
from stacks.shared.errors import Problem
from stacks.shared.kubernetes import (
    AppConfig,
    KubernetesConfig,
    NodeConfig,
    NodesConfig,
    bootstrap_spec,
    check_user_data_size,
    control_plane_rules,
    node_rules,
)
from stacks.shared.mirror import PackageMirrorSetting, cloud_init_mirror, cloud_init_problems
from stacks.shared.names import renamed
from stacks.shared.openstack import NetworkConfig, fixed_ip_problems
from stacks.shared.openstack_access import external_network
from stacks.shared.openstack_build import (
    cli_environment,
    gateway_router,
    lab_keypair,
    private_network,
)
from stacks.shared.operations import export_restored
from stacks.shared.types import (
    Cidr,
    Name,
    SshPublicKey,
)
from stacks.shared.validation import LabModel, check


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
    apt_mirror: PackageMirrorSetting = None
    """The primary apt mirror of the image's distribution the nodes install their packages from
    (its URL, or ``url`` with the ``key`` it is signed with); omitted = the image's own."""
    benchmark: BenchmarkConfig = BenchmarkConfig()

    @check
    def _mirror_checked(self) -> Iterator[Problem]:
        yield from cloud_init_problems(self.apt_mirror, ("aptMirror",))

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


def kubeconfig_command(user: str, ip: str) -> str:
    """Copies the admin kubeconfig from the master at ``ip`` and points it at that address."""
    local = f"kubeconfig-{pulumi.get_stack()}"
    copy = ssh_command(f"{user}@{ip}", remote=["sudo", "cat", "/etc/kubernetes/admin.conf"])
    server = f"https://{ip}:{API_PORT}"
    point = ["kubectl", "--kubeconfig", local, "config", "set-cluster", CLUSTER_NAME]
    point += ["--server", server, "--tls-server-name", CLUSTER_NAME]
    return f"{copy} > {shlex.quote(local)} && {shlex.join(point)}"


def build(config: OpenStackK8sConfig) -> None:
    boot = bootstrap_spec(
        config.nodes,
        config.kubernetes,
        config.app,
        config.ssh_user,
        cloud_init_mirror(config.apt_mirror),
        config.benchmark.enabled,
    )
    check_user_data_size("openstack-k8s", boot)
    external = external_network(config.external_network)
    net = config.network
    keypair = lab_keypair("k8s", config)
    network = private_network("k8s-net", net)
    router = gateway_router("k8s-router", config.router_name, external, network)
    rules = node_rules(
        config.admin_cidr, config.node_port_cidr, config.kubernetes.calico_encapsulation
    )
    nodes_group = SecurityGroup(
        "k8s-nodes-sg",
        SecurityGroupArgs(
            group_name=f"{config.security_group_name}-nodes",
            description="Kubernetes nodes: SSH, kubelet, Calico, NodePort services",
            rules=rules,
        ),
    )
    control_plane_group = SecurityGroup(
        "k8s-control-plane-sg",
        SecurityGroupArgs(
            group_name=f"{config.security_group_name}-control-plane",
            description="Kubernetes control plane: API server, etcd",
            rules=control_plane_rules(config.admin_cidr, nodes_group.group_id),
        ),
    )
    credentials = ClusterCredentials("k8s-credentials")

    # Named by role: a node's own name (a DNS label such as `key` or `net`) is never a name of
    # the lab's (k8s-key, k8s-net...). Earlier versions named the nodes k8s-<name>.
    roles = {
        "k8s-master": config.nodes.master.name,
        **{f"k8s-worker-{w.name}": w.name for w in config.nodes.workers},
    }
    fixed = {"k8s-key", "k8s-net", "k8s-router", "k8s-nodes-sg", "k8s-control-plane-sg"}
    taken = {*roles, *fixed, "k8s-credentials"}

    def server(
        role: str, node: NodeConfig, groups: list[pulumi.Output[str]], user_data: Any
    ) -> Server:
        return Server(
            role,
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
                snapshots=node.snapshot_specs(),
                restore=node.restore_spec(),
                cli_env=cli_environment() if node.snapshots else {},
            ),
            # cloud-init downloads through the router; the floating IP goes through it.
            opts=renamed(role, f"k8s-{node.name}", taken, depends_on=[router]),
        )

    master_data = pulumi.Output.all(
        credentials.bootstrap_token, credentials.ca_cert_pem, credentials.ca_key_pem
    ).apply(lambda v: master_user_data(boot, v[0], v[1], v[2]))
    master = server(
        "k8s-master",
        config.nodes.master,
        [nodes_group.group_id, control_plane_group.group_id],
        master_data,
    )

    def worker_data(spec: NodeSpec) -> pulumi.Output[str]:
        return pulumi.Output.all(credentials.bootstrap_token, credentials.ca_cert_hash).apply(
            lambda v: worker_user_data(boot, spec, v[0], v[1])
        )

    workers = {
        worker.name: server(
            f"k8s-worker-{worker.name}", worker, [nodes_group.group_id], worker_data(spec)
        )
        for worker, spec in zip(config.nodes.workers, boot.cluster.workers, strict=True)
    }

    user = config.ssh_user
    nodes = {config.nodes.master.name: master, **workers}
    floating = {name: s.floating_ip for name, s in nodes.items()}
    pulumi.export("masterPrivateIp", str(config.nodes.master.fixed_ip))
    pulumi.export("floatingIps", floating)
    export_restored(nodes)
    pulumi.export(
        "sshCommands",
        {name: ip.apply(lambda ip: ssh_command(f"{user}@{ip}")) for name, ip in floating.items()},
    )
    ready = ["cloud-init", "status", "--wait"]
    pulumi.export(
        "clusterReadyCommand",
        master.floating_ip.apply(lambda ip: ssh_command(f"{user}@{ip}", remote=ready)),
    )
    pulumi.export("kubeconfigCommand", master.floating_ip.apply(partial(kubeconfig_command, user)))
    port = config.app.node_port
    pulumi.export(
        "nodePortUrls",
        {
            name: s.floating_ip.apply(lambda ip: f"http://{ip}:{port}/")
            for name, s in workers.items()
        },
    )


LAB = Lab(config=OpenStackK8sConfig, build=build)
