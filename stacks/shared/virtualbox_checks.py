"""What the VirtualBox labs are checked and drawn by alike: the host the forwards listen on,
and each VM's NAT adapter, which VirtualBox gives the same network in every VM."""

from __future__ import annotations

from collections.abc import Sequence

from diagram.model import Network, Node, ident
from stacks.shared.virtualbox import VboxLabConfig

NAT_CIDR = "10.0.2.0/24"
NAT_GUEST = "10.0.2.15"
NAT_GATEWAY = "10.0.2.2"
"""VirtualBox's NAT engine, the same in every VM: the guest's DHCP address, its gateway (and
DNS proxy, 10.0.2.3)."""


def nat_line() -> str:
    return f"NAT {NAT_GUEST} (gateway {NAT_GATEWAY})"


def host_node(config: VboxLabConfig, forwards: Sequence[str]) -> Node:
    """The VirtualBox host: this machine or ``remoteHost``, with its NAT forwards."""
    remote = config.remote_host
    where = f"{remote.user}@{remote.host}" if remote is not None else "this machine"
    return Node("host", f"VirtualBox host ({where})", "host", (config.vbox_manage, *forwards))


def nat_network(vm: str) -> Network:
    """The NAT adapter of ``vm`` (adapter 1), a network of its own."""
    return Network(
        ident("nat", vm),
        f"NAT of {vm}",
        "VirtualBox NAT (adapter 1)",
        (NAT_CIDR, f"gateway and DNS {NAT_GATEWAY}"),
    )
