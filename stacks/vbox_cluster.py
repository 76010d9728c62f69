"""vbox-cluster: a template VM, ``master`` and ``node01..node0N`` on VirtualBox.

The lab of docs/labs.md#vbox-cluster. Adapter 1 is NAT with forwards to master (ssh, http) and
to each node (ssh); adapter 2 joins the lab network, a VirtualBox internal network (or a
host-only interface). What runs inside the guests is set up on first boot by cloud-init
(``components/virtualbox/guests.py``).

Disks: the cloud image is imported once as a base disk; the template, master and nodes are
clones of it, each grown to its size (a disk never shrinks, so a 10 GB node cannot be cloned
from a 25 GB template's disk).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator

import pulumi
from pydantic import Field

from components.renderers.cloudinit import Login, Seed
from components.virtualbox import AdapterMacs, Disk, DiskArgs, InternalNic, Machine, PortForward
from components.virtualbox.guests import (
    NODE_PORTS,
    Cluster,
    Guest,
    Redis,
    master_seed,
    node_seed,
    template_seed,
)
from stacks.shared.benchmark import BenchmarkConfig
from stacks.shared.catalogue import Lab
from stacks.shared.errors import KeyPath, Problem
from stacks.shared.mirror import PackageMirrorSetting, cloud_init_mirror, cloud_init_problems
from stacks.shared.names import renamed
from stacks.shared.operations import export_restored
from stacks.shared.types import UNPRIVILEGED_PORT, HostLabel, HostLabelPrefix, HostPath, Port
from stacks.shared.validation import LabModel, check
from stacks.shared.virtualbox import (
    LabNetworkConfig,
    VboxLabConfig,
    VmSize,
    check_seeds,
    forward_problems,
    image_disk,
    lab_host,
    lab_machine,
    ssh_command,
    vm_name_problems,
)

BASE_DISK = "base"
"""The disk the cloud image is imported to, cloned for every VM."""


class TemplateConfig(VmSize):
    name: HostLabel = "template"
    disk_gb: int = Field(25, ge=3, le=4096)
    start: bool = False
    """Start the template too (e.g. to benchmark it); it has no forwards."""


class MasterConfig(VmSize):
    name: HostLabel = "master"
    memory_mb: int = Field(2048, ge=256, le=1048576)
    disk_gb: int = Field(25, ge=3, le=4096)
    ssh_port: Port = 3022
    """Host port (127.0.0.1) forwarded to master's port 22."""
    http_port: Port = 8080
    """Host port (127.0.0.1) forwarded to master's port 80 (the load balancer)."""


MAX_NODES = 99
"""The most nodes: their names keep two digits (node01..node99)."""


class NodesConfig(VmSize):
    count: int = Field(3, ge=1, le=MAX_NODES)
    """How many nodes: node01 .. node0N."""
    name_prefix: HostLabelPrefix = "node"
    disk_gb: int = Field(10, ge=3, le=4096)
    ssh_port_base: Port = 4022
    """Host port forwarded to node01's port 22; node i gets base + i - 1."""
    app_port: Port = 5001
    """The counter app's port on each node."""

    def names(self) -> list[str]:
        return [f"{self.name_prefix}{i:02d}" for i in range(1, self.count + 1)]


class RedisConfig(LabModel):
    enabled: bool = True
    """Back the counter with Redis (exact, shared count); False = one count per process."""
    node: HostLabel = "node01"
    """The node running redis-server, bound to its address on the lab network."""
    port: Port = 6379


class VboxClusterConfig(VboxLabConfig):
    """Config of the ``vbox-cluster`` lab (keys of ``Pulumi.<stack>.yaml``)."""

    work_dir: HostPath = "~/cloudlabs-vbox/vbox-cluster"
    template: TemplateConfig = TemplateConfig()
    master: MasterConfig = MasterConfig()
    nodes: NodesConfig = NodesConfig()
    network: LabNetworkConfig = LabNetworkConfig()
    redis: RedisConfig = RedisConfig()
    benchmark: BenchmarkConfig = BenchmarkConfig()
    apt_mirror: PackageMirrorSetting = None
    """The primary apt mirror of the image's distribution every VM installs its packages from
    (its URL, or ``url`` with the ``key`` it is signed with); omitted = the image's own."""

    @check
    def _mirror_checked(self) -> Iterator[Problem]:
        yield from cloud_init_problems(self.apt_mirror, ("aptMirror",))

    @check
    def _node_count(self) -> Iterator[Problem]:
        size = self.network.range_size
        if size > 0 and self.nodes.count > size:
            yield Problem(
                ("nodes", "count"),
                f"the DHCP range {self.network.dhcp_range.start}-{self.network.dhcp_range.end}"
                f" holds {size} addresses, fewer than the nodes",
                self.nodes.count,
            )

    def disk_sizes(self) -> list[tuple[KeyPath, int]]:
        return [
            (("template", "diskGb"), self.template.disk_gb),
            (("master", "diskGb"), self.master.disk_gb),
            (("nodes", "diskGb"), self.nodes.disk_gb),
        ]

    @check
    def _master_ports(self) -> Iterator[Problem]:
        yield from forward_problems(
            [
                (("master", "sshPort"), self.master.ssh_port),
                (("master", "httpPort"), self.master.http_port),
            ]
        )

    @check
    def _node_ports(self) -> Iterator[Problem]:
        base, count = self.nodes.ssh_port_base, self.nodes.count
        last = base + count - 1
        span = f"node ports {base}..{last}"
        if last > 65535:
            yield Problem(("nodes", "sshPortBase"), f"{span} go past 65535", base)
        for key in ("sshPort", "httpPort"):
            port = getattr(self.master, key.replace("P", "_p"))
            if base <= port <= last:
                yield Problem(
                    ("nodes", "sshPortBase"), f"{span} include master.{key} ({port})", base
                )

    @check
    def _guest_ports(self) -> Iterator[Problem]:
        app = self.nodes.app_port
        if app in NODE_PORTS:
            yield Problem(
                ("nodes", "appPort"), f"port {app} is {NODE_PORTS[app]}'s on every node", app
            )
        if not self.redis.enabled:
            return
        port = self.redis.port
        if port < UNPRIVILEGED_PORT:
            yield Problem(
                ("redis", "port"),
                f"redis-server runs as user redis: it listens on {UNPRIVILEGED_PORT} or above",
                port,
            )
        elif port == app:
            yield Problem(
                ("redis", "port"),
                f"{self.redis.node} runs the counter app on it (nodes.appPort)",
                port,
            )

    @check
    def _names(self) -> Iterator[Problem]:
        nodes = self.nodes.names()
        yield from vm_name_problems(
            [
                *((("nodes", "namePrefix"), name) for name in nodes),
                (("template", "name"), self.template.name),
                (("master", "name"), self.master.name),
            ],
            self,
            taken={BASE_DISK: "the base disk"},
        )
        if self.redis.enabled and self.redis.node not in nodes:
            yield Problem(("redis", "node"), f"expected one of {nodes}", self.redis.node)


def cluster(config: VboxClusterConfig, login: Login | None = None) -> Cluster:
    """The guests: names, MAC addresses (stable) and lab addresses, and what they run; their
    login is ``login`` (by default the user's key alone)."""
    net = config.network
    start = net.dhcp_range.start
    redis = config.redis
    return Cluster(
        login=login or config.login(),
        network=net.cidr,
        master=Guest.named(config.master.name, net.master_ip),
        nodes=[Guest.named(name, start + i) for i, name in enumerate(config.nodes.names())],
        dhcp_range=(start, net.dhcp_range.end),
        app_port=config.nodes.app_port,
        redis=Redis(redis.node, redis.port) if redis.enabled else None,
        benchmark=config.benchmark.enabled,
        apt_mirror=cloud_init_mirror(config.apt_mirror),
    )


def build(config: VboxClusterConfig) -> None:
    guests = cluster(config)
    t, m = config.template, config.master
    nodes = [(f"node{i:02d}", node) for i, node in enumerate(guests.nodes, start=1)]
    seeds: dict[str, Callable[[Cluster], Seed]] = {
        "template": lambda c: template_seed(c, t.name),
        "master": master_seed,
        **{role: functools.partial(node_seed, node=node) for role, node in nodes},
    }
    roles = {"template": t.name, "master": m.name, **{role: g.name for role, g in nodes}}

    def for_login(seed: Callable[[Cluster], Seed]) -> Callable[[Login], Seed]:
        return lambda login: seed(cluster(config, login))

    check_seeds("vbox-cluster", config, [(roles[r], for_login(s)) for r, s in seeds.items()])
    lab = lab_host(config)
    host = lab.host
    work = config.work_dir
    disks = f"{work}/disks"
    base_path = f"{disks}/{BASE_DISK}.vdi"
    base = image_disk(config, lab, "base-disk", base_path)
    net = config.network
    taken = {"base-disk", *roles, *(f"{r}-{kind}" for r in roles for kind in ("disk", "seed"))}

    def machine(
        role: str,
        size: VmSize,
        seed: Callable[[Cluster], Seed],
        macs: AdapterMacs,
        forwards: list[PortForward],
        start: bool,
        after: list[pulumi.Resource],
    ) -> Machine:
        """The VM of ``role`` on a clone of the base disk, booting the seed ``seed`` renders for
        the cluster (its login given by the lab); with forwards, on the lab network."""
        name = roles[role]
        disk = Disk(
            f"{role}-disk",
            DiskArgs(
                path=f"{disks}/{name}.vdi",
                source=base_path,
                source_is_disk=True,
                size_mb=size.disk_gb * 1024,
                host=host,
            ),
            opts=renamed(f"{role}-disk", f"{name}-disk", taken, depends_on=[base]),
        )
        return lab_machine(
            config,
            lab,
            role,
            name,
            size,
            disk,
            for_login(seed),
            nat_mac=macs.nat,
            forwards=forwards,
            internal=InternalNic(net.attachment, macs.internal, net.mode) if forwards else None,
            start=start,
            seed_opts=renamed(f"{role}-seed", f"{name}-seed", taken),
            opts=renamed(role, name, taken, depends_on=after),
        )

    template_macs = AdapterMacs.of(t.name)
    template = machine("template", t, seeds["template"], template_macs, [], t.start, [])
    forwards = [PortForward("ssh", m.ssh_port, 22), PortForward("http", m.http_port, 80)]
    master = machine("master", m, seeds["master"], guests.master.macs, forwards, True, [])
    commands = {m.name: ssh_command(host, config.ssh_user, m.ssh_port)}
    machines = {t.name: template, m.name: master}
    for i, (role, node) in enumerate(nodes):
        port = config.nodes.ssh_port_base + i
        # Nodes boot once master (their DHCP and DNS server) is ready.
        ssh = [PortForward("ssh", port, 22)]
        machines[node.name] = machine(
            role, config.nodes, seeds[role], node.macs, ssh, True, [master]
        )
        commands[node.name] = ssh_command(host, config.ssh_user, port)

    pulumi.export("sshCommands", commands)
    url = f"http://localhost:{m.http_port}"
    pulumi.export("curl", host.command_there(["curl", "-X", "POST", url]))
    pulumi.export("loadBalancerUrl", url)
    pulumi.export("labAddresses", {g.name: str(g.address) for g in (guests.master, *guests.nodes)})
    pulumi.export("templateVm", template.vm_name)
    redis = guests.redis_address
    pulumi.export("counterStore", f"redis {redis}:{config.redis.port}" if redis else "in-process")
    export_restored(machines)


LAB = Lab(config=VboxClusterConfig, build=build)
