"""vbox-cluster once deployed: its checks and its topology.

Checks: ssh through each forward answers with the machine's name; master's DNS (dnsmasq)
resolves every node to its lab address; a file written to ``/shared`` on one node is read on
another (NFS + autofs); N requests to the load balancer reach every node, and with Redis the
count grows by exactly N.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping, Sequence
from typing import Any

from checks.guest import Reach, named
from checks.model import Check, Contains, Judged, Run, Steps
from components.virtualbox.guests import SHARED
from diagram.model import Link, Network, Node, Topology, ident
from stacks.shared.virtualbox_checks import host_node, nat_line
from stacks.vbox_cluster import VboxClusterConfig, cluster

REQUESTS_PER_NODE = 4
"""The balancer check sends this many requests per node."""
_ANSWER = re.compile(r"Server \(IP: ([\d.]+)\) has processed (\d+) requests")


def spread(addresses: Sequence[str], count: int, exact: bool) -> Judged:
    """``count`` answers, from every one of ``addresses``; with ``exact``, their counts are
    ``count`` consecutive numbers (the shared count grew by one per request)."""

    def verdict(text: str) -> tuple[bool, str]:
        answers = [(m.group(1), int(m.group(2))) for m in _ANSWER.finditer(text)]
        seen = sorted({ip for ip, _ in answers})
        counts = sorted(n for _, n in answers)
        shown = f"{len(answers)} answers from {', '.join(seen) or 'nobody'}"
        passed = len(answers) == count and set(seen) == set(addresses)
        if exact and answers:
            run = counts == list(range(counts[0], counts[0] + count))
            shown += f"; counts {counts[0]}..{counts[-1]}"
            passed = passed and run
        return passed, shown

    what = f"{count} answers from {', '.join(addresses)}"
    return Judged(what + ("; count +1 each" if exact else ""), verdict)


def checks(config: VboxClusterConfig, outputs: Mapping[str, Any], reach: Reach) -> list[Check]:
    guests = cluster(config)
    master = reach.guest(guests.master.name)
    found = [named(master, guests.master.name, f"forward 127.0.0.1:{config.master.ssh_port}")]
    for i, node in enumerate(guests.nodes):
        port = config.nodes.ssh_port_base + i
        found.append(named(reach.guest(node.name), node.name, f"forward 127.0.0.1:{port}"))
    for node in guests.nodes:
        found.append(
            Check(
                f"{guests.master.name} resolves {node.name} (dnsmasq)",
                # Asked of dnsmasq itself (it listens on master's loopback too): the resolver
                # would answer from /etc/hosts, which has every name of the lab as well.
                Run(master, shlex.join(["host", "-t", "A", node.name, "127.0.0.1"])),
                Contains(f"has address {node.address}"),
            )
        )
    writer = guests.nodes[0].name
    reader = guests.nodes[1].name if len(guests.nodes) > 1 else guests.master.name
    path = f"{SHARED}/data/.cloudlabs-check-{reach.token}"
    write = f"echo {shlex.quote(reach.token)} > {shlex.quote(path)}"
    read = f"cat {shlex.quote(path)} && rm -f {shlex.quote(path)}"
    found.append(
        Check(
            f"{path} written on {writer} is read on {reader}",
            Steps((Run(reach.guest(writer), write), Run(reach.guest(reader), read))),
            Contains(reach.token),
        )
    )
    count = REQUESTS_PER_NODE * len(guests.nodes)
    loop = f"for i in $(seq {count}); do {outputs['curl']}; echo; done"
    addresses = [str(node.address) for node in guests.nodes]
    found.append(
        Check(
            f"load balancer spreads {count} requests over every node",
            Run(reach.host, loop),
            spread(addresses, count, exact=config.redis.enabled),
        )
    )
    return found


def topology(config: VboxClusterConfig, outputs: Mapping[str, Any]) -> Topology:
    guests = cluster(config)
    net, m = config.network, config.master
    lab = Network(
        ident("net", net.name),
        net.name,
        "VirtualBox host-only network" if net.mode == "hostonly" else "VirtualBox internal network",
        (
            str(net.cidr),
            f"DHCP {net.dhcp_range.start} - {net.dhcp_range.end} and DNS: dnsmasq on {m.name}",
        ),
    )
    base = config.nodes.ssh_port_base
    node_forwards = [f"127.0.0.1:{base + i} → {g.name}:22" for i, g in enumerate(guests.nodes)]
    forwards = [f"127.0.0.1:{m.ssh_port} → {m.name}:22", f"127.0.0.1:{m.http_port} → {m.name}:80"]
    host = host_node(config, [*forwards, *node_forwards])
    master = Node(
        ident("vm", m.name),
        m.name,
        "vm",
        (
            f"{guests.master.address} (static)",
            nat_line(),
            f"nginx :80, dnsmasq, NFS {SHARED}",
            f"{m.cpus} vCPU, {m.memory_mb} MB, {m.disk_gb} GB",
        ),
        lab.id,
    )
    t = config.template
    template = Node(
        ident("vm", t.name),
        t.name,
        "vm",
        (
            nat_line(),
            "started" if t.start else "not started",
            f"{t.cpus} vCPU, {t.memory_mb} MB, {t.disk_gb} GB",
        ),
    )
    nodes = [host, master, template]
    links = [
        Link(host.id, master.id, "forward", f":{m.ssh_port} → 22, :{m.http_port} → 80"),
    ]
    redis = guests.redis_address
    sizes = f"{config.nodes.cpus} vCPU, {config.nodes.memory_mb} MB, {config.nodes.disk_gb} GB"
    for i, guest in enumerate(guests.nodes):
        runs = f"counter :{config.nodes.app_port}, autofs {SHARED}"
        if config.redis.enabled and guest.name == config.redis.node:
            runs += f", redis :{config.redis.port}"
        node = Node(
            ident("vm", guest.name),
            guest.name,
            "vm",
            (f"{guest.address} (DHCP, by MAC)", nat_line(), runs, sizes),
            lab.id,
        )
        nodes.append(node)
        links += [
            Link(host.id, node.id, "forward", f":{base + i} → 22"),
            Link(master.id, node.id, "calls", f"HTTP :{config.nodes.app_port}"),
        ]
    if redis is not None:
        store = ident("vm", config.redis.node)
        for guest in guests.nodes:
            if guest.name != config.redis.node:
                links.append(
                    Link(
                        ident("vm", guest.name),
                        store,
                        "calls",
                        f"redis {redis}:{config.redis.port}",
                    )
                )
    return Topology(
        "vbox-cluster",
        f"{m.name} and {len(guests.nodes)} nodes on VirtualBox: DHCP/DNS, NFS, a load "
        "balancer, a shared counter",
        (lab,),
        tuple(nodes),
        tuple(links),
        (
            "every disk is a clone of the cloud image's base disk",
            "adapter 1 of each VM is a NAT of its own",
            f"nodes mount {SHARED} from {m.name} ({guests.master.address}) with autofs",
        ),
    )
