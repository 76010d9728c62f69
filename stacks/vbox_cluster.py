"""vbox-cluster: a template VM, ``master`` and ``node01..node0N`` on VirtualBox (LABS.md, 000).

Adapter 1 is NAT with the forwards of LABS.md (master ssh 3022 and http 8080, node i ssh
4022+i-1); adapter 2 joins the internal network ``CloudBasicNet`` (or a host-only interface).
Everything inside the guests is set up on first boot by cloud-init, from files rendered here:
master has the static address, runs dnsmasq (DHCP with a fixed lease per node, DNS for the
names), exports ``/shared`` over NFS and balances HTTP on :80 over the nodes' counter app on
:5001 with nginx; the nodes take their address by DHCP, mount ``/shared`` with autofs and run
the counter, backed by Redis on one node when configured.

Disks: the cloud image is imported once as a base disk; the template, master and nodes are
clones of it, each grown to its size (a disk never shrinks, so a 10 GB node cannot be cloned
from a 25 GB template's disk).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pulumi
from pydantic import Field

from components.hostexec import Host
from components.renderers.cloudinit import (
    Commands,
    File,
    Files,
    Hostname,
    Login,
    Nic,
    Packages,
    Seed,
    render_meta_data,
    render_network_config,
    render_user_data,
)
from components.renderers.dnsmasq import DhcpHost, DnsmasqConfig, render_dnsmasq
from components.renderers.hosts import render_hosts
from components.renderers.nfs import render_auto_master, render_direct_map, render_exports
from components.renderers.nginx import LoadBalancer, Upstream, render_load_balancer
from components.renderers.redis import render_redis_overrides
from components.renderers.systemd import Service, render_dropin, render_service
from components.virtualbox import (
    AdapterMacs,
    Disk,
    DiskArgs,
    InternalNic,
    Machine,
    MachineArgs,
    PortForward,
    SeedIso,
    SeedIsoArgs,
)
from components.virtualbox.machine import colon_mac
from stacks.errors import Problem
from stacks.registry import Lab
from stacks.remote import RemoteHostConfig
from stacks.types import Cidr, IPv4, Name, NonEmptyText, Port, SshPublicKey
from stacks.validation import LabModel, check
from stacks.vbox_config import (
    HostPath,
    ImageConfig,
    OsType,
    VmSize,
    forward_problems,
    vbox_host,
)

COUNTER_APP = Path(__file__).resolve().parent.parent / "apps" / "counter" / "counter.py"
SHARED = "/shared"


class TemplateConfig(VmSize):
    name: Name = "template"
    cpus: int = Field(1, ge=1, le=64)
    memory_mb: int = Field(1024, ge=256, le=1048576)
    disk_gb: int = Field(25, ge=3, le=4096)
    start: bool = False
    """Start the template too (e.g. to benchmark it); it has no forwards."""


class MasterConfig(VmSize):
    name: Name = "master"
    memory_mb: int = Field(2048, ge=256, le=1048576)
    disk_gb: int = Field(25, ge=3, le=4096)
    ssh_port: Port = 3022
    """Host port (127.0.0.1) forwarded to master's port 22."""
    http_port: Port = 8080
    """Host port (127.0.0.1) forwarded to master's port 80 (the load balancer)."""


class NodesConfig(VmSize):
    count: int = Field(3, ge=1)
    """How many nodes: node01 .. node0N."""
    name_prefix: Name = "node"
    disk_gb: int = Field(10, ge=3, le=4096)
    ssh_port_base: Port = 4022
    """Host port forwarded to node01's port 22; node i gets base + i - 1."""
    app_port: Port = 5001
    """The counter app's port on each node."""

    def names(self) -> list[str]:
        return [f"{self.name_prefix}{i:02d}" for i in range(1, self.count + 1)]


class DhcpRange(LabModel):
    start: IPv4
    end: IPv4


class LabNetworkConfig(LabModel):
    name: Name = "CloudBasicNet"
    """The internal network's name (mode intnet)."""
    mode: Literal["intnet", "hostonly"] = "intnet"
    host_only_adapter: Name | None = None
    """The host-only interface (``vboxnet0``) for mode hostonly; its host address must not be
    master's, and VirtualBox's own DHCP server on it must be off (master serves DHCP)."""
    cidr: Cidr = ipaddress.IPv4Network("192.168.56.0/24")
    master_ip: IPv4 = ipaddress.IPv4Address("192.168.56.1")
    dhcp_range: DhcpRange = DhcpRange(
        start=ipaddress.IPv4Address("192.168.56.2"), end=ipaddress.IPv4Address("192.168.56.199")
    )
    """dnsmasq's range; the nodes get its first addresses, fixed by MAC address."""

    @property
    def range_size(self) -> int:
        return int(self.dhcp_range.end) - int(self.dhcp_range.start) + 1

    @check
    def _addresses(self) -> Iterator[Problem]:
        hosts = self.cidr.num_addresses > 2
        net, bcast = self.cidr.network_address, self.cidr.broadcast_address
        if self.master_ip not in self.cidr or (hosts and self.master_ip in (net, bcast)):
            yield Problem(
                ("masterIp",), f"must be a host address in {self.cidr}", str(self.master_ip)
            )
        start, end = self.dhcp_range.start, self.dhcp_range.end
        for key, ip in (("start", start), ("end", end)):
            if ip not in self.cidr or (hosts and ip in (net, bcast)):
                yield Problem(("dhcpRange", key), f"must be a host address in {self.cidr}", str(ip))
        if start > end:
            yield Problem(("dhcpRange",), "the range ends before it starts", f"{start}-{end}")
        elif start <= self.master_ip <= end:
            yield Problem(
                ("dhcpRange",),
                f"the range contains master's address {self.master_ip}",
                f"{start}-{end}",
            )

    @check
    def _host_only(self) -> Iterator[Problem]:
        if self.mode == "hostonly" and self.host_only_adapter is None:
            yield Problem(("hostOnlyAdapter",), "mode hostonly needs the host-only interface")


class RedisConfig(LabModel):
    enabled: bool = True
    """Back the counter with Redis (exact, shared count); False = one count per process."""
    node: Name = "node01"
    """The node running redis-server, bound to its address on the lab network."""
    port: Port = 6379


class BenchmarkConfig(LabModel):
    enabled: bool = False
    """Install a benchmark script (sysbench CPU/memory, fio disk) on master and the nodes."""


class VboxClusterConfig(LabModel):
    """Config of the ``vbox-cluster`` lab (keys of ``Pulumi.<stack>.yaml``)."""

    ssh_public_key: SshPublicKey
    ssh_user: Name = "ubuntu"
    image: ImageConfig
    work_dir: HostPath = "~/cloudlabs-vbox/vbox-cluster"
    vbox_manage: NonEmptyText = "VBoxManage"
    remote_host: RemoteHostConfig | None = None
    os_type: OsType = "Ubuntu_64"
    template: TemplateConfig = TemplateConfig()
    master: MasterConfig = MasterConfig()
    nodes: NodesConfig = NodesConfig()
    network: LabNetworkConfig = LabNetworkConfig()
    redis: RedisConfig = RedisConfig()
    benchmark: BenchmarkConfig = BenchmarkConfig()

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
    def _names(self) -> Iterator[Problem]:
        nodes = self.nodes.names()
        if self.master.name in nodes or self.master.name == self.template.name:
            yield Problem(("master", "name"), "master needs a name of its own", self.master.name)
        if self.template.name in nodes:
            yield Problem(("template", "name"), "clashes with a node's name", self.template.name)
        if self.redis.enabled and self.redis.node not in nodes:
            yield Problem(("redis", "node"), f"expected one of {nodes}", self.redis.node)


# --- what goes inside the guests (pure functions of the config) ---------------------------


@dataclass(frozen=True)
class Guest:
    name: str
    macs: AdapterMacs
    address: ipaddress.IPv4Address


def guests(config: VboxClusterConfig) -> tuple[Guest, list[Guest]]:
    """master and the nodes: names, MAC addresses (stable) and lab addresses."""

    def guest(name: str, address: ipaddress.IPv4Address) -> Guest:
        return Guest(name, AdapterMacs.of(name), address)

    master = guest(config.master.name, config.network.master_ip)
    start = config.network.dhcp_range.start
    nodes = [guest(name, start + i) for i, name in enumerate(config.nodes.names())]
    return master, nodes


def hosts_file(config: VboxClusterConfig, hostname: str) -> str:
    master, nodes = guests(config)
    return render_hosts([(str(g.address), g.name) for g in (master, *nodes)], hostname)


def network_config(config: VboxClusterConfig, guest: Guest, is_master: bool) -> str:
    """netplan: NAT by DHCP (the way out); the lab adapter static on master, DHCP on nodes."""
    nat = Nic(
        id="nat",
        mac=colon_mac(guest.macs.nat),
        dhcp4=True,
        use_dhcp_dns=is_master,
        dhcp_identifier="mac",
    )
    prefix = config.network.cidr.prefixlen
    master_ip = str(config.network.master_ip)
    if is_master:
        lab = Nic(id="lab", mac=colon_mac(guest.macs.internal), addresses=[f"{master_ip}/{prefix}"])
    else:
        lab = Nic(
            id="lab",
            mac=colon_mac(guest.macs.internal),
            dhcp4=True,
            nameservers=[master_ip],
            use_dhcp_routes=False,
            dhcp_identifier="mac",
        )
    return render_network_config([nat, lab], netplan=True)


def dnsmasq_conf(config: VboxClusterConfig) -> str:
    master, nodes = guests(config)
    net = config.network
    return render_dnsmasq(
        DnsmasqConfig(
            network=net.cidr,
            server_address=net.master_ip,
            dhcp_start=net.dhcp_range.start,
            dhcp_end=net.dhcp_range.end,
            server_name=master.name,
            hosts=[DhcpHost(g.name, colon_mac(g.macs.internal), g.address) for g in nodes],
        )
    )


def load_balancer_conf(config: VboxClusterConfig) -> str:
    _, nodes = guests(config)
    port = config.nodes.app_port
    return render_load_balancer(LoadBalancer([Upstream(str(g.address), port) for g in nodes]))


def redis_address(config: VboxClusterConfig) -> ipaddress.IPv4Address | None:
    if not config.redis.enabled:
        return None
    _, nodes = guests(config)
    return next(g.address for g in nodes if g.name == config.redis.node)


def counter_unit(config: VboxClusterConfig) -> str:
    env = {"COUNTER_HOST": "0.0.0.0", "COUNTER_PORT": str(config.nodes.app_port)}
    redis = redis_address(config)
    if redis is not None:
        env |= {"COUNTER_REDIS_HOST": str(redis), "COUNTER_REDIS_PORT": str(config.redis.port)}
    return render_service(
        Service(
            description="Request counter (cloud-labs)",
            exec_start="/usr/bin/python3 /opt/counter/counter.py",
            environment=env,
        )
    )


BENCHMARK = """#!/bin/bash
# Guest benchmark: CPU and memory (sysbench), sequential disk write/read (fio).
# Results go to /shared/data/bench-<host>.txt when /shared is mounted, else /var/tmp.
set -euo pipefail
out=/var/tmp
if [[ -d /shared/data ]]; then out=/shared/data; fi
file="${out}/bench-$(hostname).txt"
{
    echo "== $(hostname) $(date -u +%FT%TZ)"
    sysbench cpu --threads="$(nproc)" --time=20 run
    sysbench memory --memory-total-size=4G run
    fio --name=seq --filename=/var/tmp/fio.bin --size=512M --rw=write --bs=1M --direct=1
    fio --name=seq --filename=/var/tmp/fio.bin --size=512M --rw=read --bs=1M --direct=1
    rm -f /var/tmp/fio.bin
} >"${file}" 2>&1
echo "${file}"
"""


def _benchmark(config: VboxClusterConfig) -> tuple[list[File], list[str]]:
    """The benchmark script and its packages, when enabled (every VM gets them)."""
    if not config.benchmark.enabled:
        return [], []
    return [File("/usr/local/bin/cloudlabs-benchmark", BENCHMARK, "0755")], ["sysbench", "fio"]


GUEST_FILE_KEYS = ("path", "content", "permissions", "owner")
"""The key order of these guests' files in their user-data: a changed byte is a new seed ISO."""


def _user_data(
    config: VboxClusterConfig,
    hostname: str,
    files: list[File],
    packages: list[str],
    runcmd: list[str],
    manage_etc_hosts: bool,
) -> str:
    return render_user_data(
        Hostname(hostname, manage_etc_hosts=manage_etc_hosts),
        Login(config.ssh_user, [config.ssh_public_key]),
        Files(files, key_order=GUEST_FILE_KEYS),
        Packages(packages),
        Commands(runcmd),
    )


def master_user_data(config: VboxClusterConfig) -> str:
    name = config.master.name
    bench, packages = _benchmark(config)
    exports = render_exports(SHARED, config.network.cidr)
    files = [
        File("/etc/hosts", hosts_file(config, name)),
        *bench,
        File("/etc/dnsmasq.d/cloudlabs.conf", dnsmasq_conf(config)),
        File("/etc/exports.d/cloudlabs.exports", exports),
        File("/etc/nginx/conf.d/load-balancer.conf", load_balancer_conf(config)),
    ]
    runcmd = [
        f"mkdir -p {SHARED}/data {SHARED}/home",
        f"chmod 0777 {SHARED} {SHARED}/data {SHARED}/home",
        "exportfs -ra",
        "rm -f /etc/nginx/sites-enabled/default",
        "systemctl enable nfs-kernel-server dnsmasq nginx",
        "systemctl restart nfs-kernel-server dnsmasq nginx",
    ]
    return _user_data(
        config, name, files, [*packages, "dnsmasq", "nfs-kernel-server", "nginx"], runcmd, False
    )


def node_user_data(config: VboxClusterConfig, node: Guest) -> str:
    bench, packages = _benchmark(config)
    master_ip = str(config.network.master_ip)
    files = [
        File("/etc/hosts", hosts_file(config, node.name)),
        *bench,
        File("/etc/auto.master.d/cloudlabs.autofs", render_auto_master("/etc/auto.cloudlabs")),
        File("/etc/auto.cloudlabs", render_direct_map(SHARED, master_ip, SHARED)),
        File("/opt/counter/counter.py", COUNTER_APP.read_text(), "0755"),
        File("/etc/systemd/system/counter.service", counter_unit(config)),
    ]
    packages += ["nfs-common", "autofs"]
    runcmd = ["systemctl restart autofs"]
    if config.redis.enabled and config.redis.node == node.name:
        packages.append("redis-server")
        files += [
            File(
                "/etc/redis/cloudlabs.conf",
                render_redis_overrides([str(node.address), "127.0.0.1"], config.redis.port),
            ),
            File(
                "/etc/systemd/system/redis-server.service.d/cloudlabs.conf",
                render_dropin(
                    ["After=network-online.target", "Wants=network-online.target"],
                    ["Restart=always", "RestartSec=2"],
                ),
            ),
        ]
        runcmd += [
            "grep -qx 'include /etc/redis/cloudlabs.conf' /etc/redis/redis.conf || "
            "echo 'include /etc/redis/cloudlabs.conf' >> /etc/redis/redis.conf",
            "systemctl daemon-reload",
            "systemctl restart redis-server",
        ]
    runcmd += ["systemctl daemon-reload", "systemctl enable --now counter.service"]
    return _user_data(config, node.name, files, packages, runcmd, False)


def template_user_data(config: VboxClusterConfig) -> str:
    files, packages = _benchmark(config)
    return _user_data(config, config.template.name, files, packages, [], True)


# --- resources ----------------------------------------------------------------------------


def _seed(
    config: VboxClusterConfig, host: Host, name: str, user_data: str, netplan: str | None
) -> SeedIso:
    return SeedIso(
        f"{name}-seed",
        SeedIsoArgs(
            directory=f"{config.work_dir}/seeds",
            hostname=name,
            seed=Seed(user_data, render_meta_data(f"cloudlabs-{name}", name), netplan),
            host=host,
        ),
    )


def build(config: VboxClusterConfig) -> None:
    host = vbox_host(config.vbox_manage, config.remote_host)
    disks = f"{config.work_dir}/disks"
    base_path = f"{disks}/base.vdi"
    base = Disk(
        "base-disk",
        DiskArgs(path=base_path, source=config.image.path, source_url=config.image.url, host=host),
    )

    def disk(name: str, size_gb: int) -> Disk:
        return Disk(
            f"{name}-disk",
            DiskArgs(
                path=f"{disks}/{name}.vdi",
                source=base_path,
                source_is_disk=True,
                size_mb=size_gb * 1024,
                host=host,
            ),
            opts=pulumi.ResourceOptions(depends_on=[base]),
        )

    net = config.network
    network = (
        net.host_only_adapter if net.mode == "hostonly" and net.host_only_adapter else net.name
    )

    def machine(
        name: str,
        size: VmSize,
        seed: SeedIso,
        guest: Guest,
        forwards: list[PortForward],
        start: bool,
        after: list[pulumi.Resource],
    ) -> Machine:
        return Machine(
            name,
            MachineArgs(
                vm_name=name,
                base_folder=f"{config.work_dir}/vms",
                cpus=size.cpus,
                memory_mb=size.memory_mb,
                disk=disk(name, size.disk_gb),
                seed=seed,
                nat_mac=guest.macs.nat,
                internal=InternalNic(network, guest.macs.internal, net.mode),
                forwards=forwards,
                ostype=config.os_type,
                start=start,
                wait_for_ssh="ssh" if forwards else None,
                host=host,
            ),
            opts=pulumi.ResourceOptions(depends_on=after),
        )

    t = config.template
    template = Machine(
        t.name,
        MachineArgs(
            vm_name=t.name,
            base_folder=f"{config.work_dir}/vms",
            cpus=t.cpus,
            memory_mb=t.memory_mb,
            disk=disk(t.name, t.disk_gb),
            seed=_seed(config, host, t.name, template_user_data(config), None),
            nat_mac=AdapterMacs.of(t.name).nat,
            ostype=config.os_type,
            start=t.start,
            host=host,
        ),
    )

    master_guest, node_guests = guests(config)
    m = config.master
    master = machine(
        m.name,
        m,
        _seed(
            config,
            host,
            m.name,
            master_user_data(config),
            network_config(config, master_guest, is_master=True),
        ),
        master_guest,
        [PortForward("ssh", m.ssh_port, 22), PortForward("http", m.http_port, 80)],
        start=True,
        after=[],
    )
    ssh = host.ssh_prefix()
    user = config.ssh_user
    commands = {m.name: f"{ssh} -p {m.ssh_port} {user}@127.0.0.1"}
    for i, guest in enumerate(node_guests):
        port = config.nodes.ssh_port_base + i
        machine(
            guest.name,
            config.nodes,
            _seed(
                config,
                host,
                guest.name,
                node_user_data(config, guest),
                network_config(config, guest, is_master=False),
            ),
            guest,
            [PortForward("ssh", port, 22)],
            start=True,
            # Nodes boot once master (their DHCP and DNS server) answers on SSH.
            after=[master],
        )
        commands[guest.name] = f"{ssh} -p {port} {user}@127.0.0.1"

    pulumi.export("sshCommands", commands)
    pulumi.export("curl", host.command_there(f"curl -X POST http://localhost:{m.http_port}"))
    pulumi.export("loadBalancerUrl", f"http://localhost:{m.http_port}")
    pulumi.export(
        "labAddresses",
        {g.name: str(g.address) for g in (master_guest, *node_guests)},
    )
    pulumi.export("templateVm", template.vm_name)
    redis = redis_address(config)
    pulumi.export("counterStore", f"redis {redis}:{config.redis.port}" if redis else "in-process")


LAB = Lab(
    name="vbox-cluster",
    platform="VirtualBox",
    summary="master + N nodes: dnsmasq, NFS + autofs, nginx load balancer, counter app, Redis",
    config=VboxClusterConfig,
    build=build,
)
