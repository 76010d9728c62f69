"""vbox-nat once deployed: its checks and its topology.

Checks, for the VM and its clone: ssh through the forward answers with the VM's own name,
cloud-init finished, the default route leads to VirtualBox's NAT gateway.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from checks.guest import Reach, cloud_init_done, named, routes_via
from checks.model import Check
from diagram.model import Link, Node, Topology, ident
from stacks.shared.virtualbox_checks import NAT_GATEWAY, host_node, nat_line, nat_network
from stacks.vbox_nat import VboxNatConfig


def checks(config: VboxNatConfig, outputs: Mapping[str, Any], reach: Reach) -> list[Check]:
    found = []
    for vm in (config.vm, config.clone):
        on = reach.guest(vm.name)
        found += [
            named(on, vm.name, f"forward 127.0.0.1:{vm.ssh_port}"),
            cloud_init_done(on),
            routes_via(on, "default", NAT_GATEWAY),
        ]
    return found


def topology(config: VboxNatConfig, outputs: Mapping[str, Any]) -> Topology:
    vm, clone = config.vm, config.clone
    forwards = [f"127.0.0.1:{v.ssh_port} → {v.name}:22" for v in (vm, clone)]
    image = Node("image", config.image.path.rsplit("/", 1)[-1], "image", ("the cloud image",))
    nodes = [host_node(config, forwards), image]
    networks = []
    links = []
    for v, disk in ((vm, f"{vm.name}.vdi ({vm.disk_gb} GB)"), (clone, f"{clone.name}.vdi")):
        net = nat_network(v.name)
        networks.append(net)
        size = f"{v.cpus} vCPU, {v.memory_mb} MB"
        nodes.append(Node(ident("vm", v.name), v.name, "vm", (nat_line(), size, disk), net.id))
        links.append(Link("host", ident("vm", v.name), "forward", f"127.0.0.1:{v.ssh_port} → 22"))
    links += [
        Link("image", ident("vm", vm.name), "derived", "disk cloned from"),
        Link(
            ident("vm", vm.name),
            ident("vm", clone.name),
            "derived",
            "clonemedium (before first boot)",
        ),
    ]
    return Topology(
        "vbox-nat",
        "a VirtualBox VM behind NAT, and a second VM on a clone of its disk",
        tuple(networks),
        tuple(nodes),
        tuple(links),
        ("both boot with cloud-init from a NoCloud seed ISO (the user's key)",),
    )
