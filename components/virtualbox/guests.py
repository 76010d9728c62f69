"""What goes inside the VirtualBox labs' guests: their cloud-init seeds, from plain values.

vbox-nat's VMs get the login user and their NAT adapter by DHCP. In vbox-cluster, adapter 1 is
NAT (the way out) and adapter 2 the lab network: master has the static address, runs dnsmasq
(DHCP with a fixed lease per node, DNS for the names), exports ``/shared`` over NFS and balances
HTTP on :80 over the nodes' counter app with nginx; the nodes take their address by DHCP, mount
``/shared`` with autofs and run the counter (``apps/counter/``), backed by Redis on one node when
configured. The template gets the login alone. Everything is set up on first boot by cloud-init.
"""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.archive import guest_suite
from components.renderers.cloudinit import (
    AptMirror,
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
from components.virtualbox.machine import AdapterMacs, colon_mac

ROOT = Path(__file__).resolve().parents[2]
COUNTER_APP = ROOT / "apps" / "counter" / "counter.py"
"""The request counter the nodes run."""
SHARED = "/shared"
"""master's NFS export, mounted at the same path on the nodes."""
NODE_PORTS = {22: "sshd", 53: "systemd-resolved (DNS)", 111: "rpcbind (nfs-common)"}
"""Ports the nodes' own services listen on: the counter app and Redis need others."""
FILE_KEYS = ("path", "content", "permissions", "owner", "encoding")
"""The key order of these guests' files in their user-data: a changed byte is a new seed ISO
(``encoding`` only on base64 files, which the others do not have)."""


@dataclass(frozen=True)
class Guest:
    """A VM of the cluster as its guest sees itself."""

    name: str
    macs: AdapterMacs
    address: ipaddress.IPv4Address
    """Its address on the lab network."""

    @classmethod
    def named(cls, name: str, address: ipaddress.IPv4Address) -> Guest:
        return cls(name, AdapterMacs.of(name), address)


@dataclass(frozen=True)
class Redis:
    node: str
    """The node running redis-server, bound to its lab address."""
    port: int


@dataclass(frozen=True)
class Cluster:
    """vbox-cluster's guests and what they run."""

    login: Login
    network: ipaddress.IPv4Network
    """The lab network."""
    master: Guest
    nodes: Sequence[Guest]
    dhcp_range: tuple[ipaddress.IPv4Address, ipaddress.IPv4Address]
    """dnsmasq's range on master (the nodes have the first addresses of it)."""
    app_port: int
    """The counter app's port on each node."""
    redis: Redis | None = None
    """None: the counter counts per process."""
    benchmark: bool = False
    apt_mirror: AptMirror | None = None
    """The primary apt mirror every VM installs its packages from; None: the image's own."""

    @property
    def redis_address(self) -> ipaddress.IPv4Address | None:
        if self.redis is None:
            return None
        return next(g.address for g in self.nodes if g.name == self.redis.node)


def instance_id(name: str, user_data: str, network_config: str | None) -> str:
    """The guest's cloud-init instance id: its name and a hash of its user-data and
    network-config. cloud-init applies a seed's once-per-instance settings only to a new
    instance id, so a changed seed is a new instance (and an unchanged one, booted again, is
    not)."""
    hashed = hashlib.sha256(user_data.encode() + b"\0" + (network_config or "").encode())
    return f"cloudlabs-{name}-{hashed.hexdigest()[:12]}"


def guest_seed(name: str, user_data: str, network_config: str | None = None) -> Seed:
    """The NoCloud documents of guest ``name``, meta-data with :func:`instance_id`."""
    meta = render_meta_data(instance_id(name, user_data, network_config), name)
    return Seed(user_data, meta, network_config)


def _user_data(
    login: Login,
    hostname: str,
    files: Sequence[File],
    packages: Sequence[str],
    runcmd: Sequence[str],
    manage_etc_hosts: bool,
    apt_mirror: AptMirror | None = None,
) -> str:
    return render_user_data(
        Hostname(hostname, manage_etc_hosts=manage_etc_hosts),
        login,
        Files(files, key_order=FILE_KEYS),
        apt_mirror,
        Packages(packages),
        Commands(runcmd),
    )


def nat_seed(name: str, login: Login, macs: AdapterMacs, benchmark: bool = False) -> Seed:
    """A VM with its NAT adapter only (vbox-nat); with ``benchmark``, the suite too."""
    nat = Nic(id="nat", mac=colon_mac(macs.nat), dhcp4=True, dhcp_identifier="mac")
    files, packages = guest_suite(benchmark)
    user_data = _user_data(login, name, files, packages, (), True)
    return guest_seed(name, user_data, render_network_config([nat], netplan=True))


def _benchmark(cluster: Cluster) -> tuple[list[File], list[str]]:
    """The benchmark suite's files and packages, when enabled (every VM gets them)."""
    return guest_suite(cluster.benchmark)


def template_seed(cluster: Cluster, name: str) -> Seed:
    """The template: the login and the benchmark, no network-config (DHCP on the NAT adapter)."""
    files, packages = _benchmark(cluster)
    user_data = _user_data(cluster.login, name, files, packages, (), True, cluster.apt_mirror)
    return guest_seed(name, user_data)


def hosts_file(cluster: Cluster, hostname: str) -> str:
    guests = (cluster.master, *cluster.nodes)
    return render_hosts([(str(g.address), g.name) for g in guests], hostname)


def network_config(cluster: Cluster, guest: Guest) -> str:
    """NAT by DHCP (the way out); the lab adapter static on master, by DHCP on the nodes."""
    is_master = guest.name == cluster.master.name
    nat = Nic(
        id="nat",
        mac=colon_mac(guest.macs.nat),
        dhcp4=True,
        use_dhcp_dns=is_master,
        dhcp_identifier="mac",
    )
    master_ip = str(cluster.master.address)
    lab_mac = colon_mac(guest.macs.internal)
    if is_master:
        lab = Nic(id="lab", mac=lab_mac, addresses=[f"{master_ip}/{cluster.network.prefixlen}"])
    else:
        lab = Nic(
            id="lab",
            mac=lab_mac,
            dhcp4=True,
            nameservers=[master_ip],
            use_dhcp_routes=False,
            dhcp_identifier="mac",
        )
    return render_network_config([nat, lab], netplan=True)


def dnsmasq_conf(cluster: Cluster) -> str:
    start, end = cluster.dhcp_range
    return render_dnsmasq(
        DnsmasqConfig(
            network=cluster.network,
            server_address=cluster.master.address,
            dhcp_start=start,
            dhcp_end=end,
            server_name=cluster.master.name,
            hosts=[DhcpHost(g.name, colon_mac(g.macs.internal), g.address) for g in cluster.nodes],
        )
    )


def load_balancer_conf(cluster: Cluster) -> str:
    port = cluster.app_port
    return render_load_balancer(
        LoadBalancer([Upstream(str(g.address), port) for g in cluster.nodes])
    )


def counter_unit(cluster: Cluster) -> str:
    env = {"COUNTER_HOST": "0.0.0.0", "COUNTER_PORT": str(cluster.app_port)}
    redis = cluster.redis_address
    if redis is not None and cluster.redis is not None:
        env |= {"COUNTER_REDIS_HOST": str(redis), "COUNTER_REDIS_PORT": str(cluster.redis.port)}
    return render_service(
        Service(
            description="Request counter (cloud-labs)",
            exec_start="/usr/bin/python3 /opt/counter/counter.py",
            environment=env,
        )
    )


def master_seed(cluster: Cluster) -> Seed:
    name = cluster.master.name
    bench, packages = _benchmark(cluster)
    files = [
        File("/etc/hosts", hosts_file(cluster, name)),
        *bench,
        File("/etc/dnsmasq.d/cloudlabs.conf", dnsmasq_conf(cluster)),
        File("/etc/exports.d/cloudlabs.exports", render_exports(SHARED, cluster.network)),
        File("/etc/nginx/conf.d/load-balancer.conf", load_balancer_conf(cluster)),
    ]
    runcmd = [
        f"mkdir -p {SHARED}/data {SHARED}/home",
        f"chmod 0777 {SHARED} {SHARED}/data {SHARED}/home",
        "exportfs -ra",
        "rm -f /etc/nginx/sites-enabled/default",
        "systemctl enable nfs-kernel-server dnsmasq nginx",
        "systemctl restart nfs-kernel-server dnsmasq nginx",
    ]
    # bind9-host: `host`, to ask master's DNS as the lab does (not on every cloud image).
    packages += ["dnsmasq", "nfs-kernel-server", "nginx", "bind9-host"]
    user_data = _user_data(cluster.login, name, files, packages, runcmd, False, cluster.apt_mirror)
    return guest_seed(name, user_data, network_config(cluster, cluster.master))


def node_seed(cluster: Cluster, node: Guest) -> Seed:
    bench, packages = _benchmark(cluster)
    master_ip = str(cluster.master.address)
    files = [
        File("/etc/hosts", hosts_file(cluster, node.name)),
        *bench,
        File("/etc/auto.master.d/cloudlabs.autofs", render_auto_master("/etc/auto.cloudlabs")),
        File("/etc/auto.cloudlabs", render_direct_map(SHARED, master_ip, SHARED)),
        File("/opt/counter/counter.py", COUNTER_APP.read_text(), "0755"),
        File("/etc/systemd/system/counter.service", counter_unit(cluster)),
    ]
    packages += ["nfs-common", "autofs", "bind9-host"]
    runcmd = ["systemctl restart autofs"]
    if cluster.redis is not None and cluster.redis.node == node.name:
        packages.append("redis-server")
        files += [
            File(
                "/etc/redis/cloudlabs.conf",
                render_redis_overrides([str(node.address), "127.0.0.1"], cluster.redis.port),
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
    user_data = _user_data(
        cluster.login, node.name, files, packages, runcmd, False, cluster.apt_mirror
    )
    return guest_seed(node.name, user_data, network_config(cluster, node))
