"""Bad config is rejected before any resource exists, with every problem named at once."""

from __future__ import annotations

from typing import Any

import pytest

from tests.harness import (
    Change,
    StackRun,
    assert_rejected,
    change,
    changed,
    load_stack_file,
    rejected,
    run_program,
)

Config = dict[str, Any]
SHIPPED = load_stack_file("openstack-vm")
K = "cloud-labs:"


# (case id, mutations, [(field path as reported, words expected in the message)])
CASES: list[tuple[str, list[Change], list[tuple[str, str]]]] = [
    ("bad-cidr", [change("network", "cidr", value="192.168.100.0/33")], [("network.cidr", "CIDR")]),
    (
        "cidr-host-bits",
        [change("network", "cidr", value="192.168.100.5/24")],
        [("network.cidr", "did you mean 192.168.100.0/24")],
    ),
    (
        "cidr-not-a-network",
        [change("network", "cidr", value="lab-net")],
        [("network.cidr", "CIDR")],
    ),
    (
        "gateway-outside",
        [change("network", "gatewayIp", value="10.0.0.1")],
        [("network.gatewayIp", "inside 192.168.100.0/24")],
    ),
    (
        "gateway-is-broadcast",
        [change("network", "gatewayIp", value="192.168.100.255")],
        [("network.gatewayIp", "host address")],
    ),
    (
        "gateway-not-an-ip",
        [change("network", "gatewayIp", value="192.168.100.300")],
        [("network.gatewayIp", "IPv4 address")],
    ),
    (
        "pool-outside",
        [change("network", "allocationPools", 0, "end", value="192.168.101.10")],
        [("network.allocationPools[0].end", "in 192.168.100.0/24")],
    ),
    (
        "pool-contains-gateway",
        [change("network", "allocationPools", 0, "start", value="192.168.100.1")],
        [
            ("network.allocationPools[0]", "contains the gateway"),
            # The pool is read even though its network has a problem: it also holds the VM's.
            ("server.fixedIp", "inside the subnet's allocationPools[0]"),
        ],
    ),
    (
        "pool-reversed",
        [change("network", "allocationPools", 0, "start", value="192.168.100.250")],
        [("network.allocationPools[0].end", "ends before it starts")],
    ),
    (
        "pools-overlap",
        [
            change(
                "network",
                "allocationPools",
                value=[
                    {"start": "192.168.100.100", "end": "192.168.100.150"},
                    {"start": "192.168.100.140", "end": "192.168.100.200"},
                ],
            )
        ],
        [("network.allocationPools[1]", "overlaps allocationPools[0]")],
    ),
    (
        "dns-not-an-ip",
        [change("network", "dnsServers", 1, value="dns.example")],
        [("network.dnsServers[1]", "IPv4 address")],
    ),
    (
        "route-next-hop-outside",
        [
            change(
                "network",
                "hostRoutes",
                value=[{"destination": "10.1.0.0/16", "nextHop": "10.9.9.9"}],
            )
        ],
        [("network.hostRoutes[0].nextHop", "inside 192.168.100.0/24")],
    ),
    (
        "fixed-ip-outside",
        [change("server", "fixedIp", value="192.168.200.20")],
        [("server.fixedIp", "host address in 192.168.100.0/24")],
    ),
    (
        "fixed-ip-is-gateway",
        [change("server", "fixedIp", value="192.168.100.1")],
        [("server.fixedIp", "gateway")],
    ),
    (
        "fixed-ip-in-dhcp-pool",
        [change("server", "fixedIp", value="192.168.100.150")],
        [("server.fixedIp", "inside the subnet's allocationPools[0]")],
    ),
    (
        "fixed-ip-network-address",
        [change("server", "fixedIp", value="192.168.100.0")],
        [("server.fixedIp", "host address")],
    ),
    ("empty-server-name", [change("server", "name", value="")], [("server.name", "empty")]),
    ("bad-server-name", [change("server", "name", value="my vm!")], [("server.name", "letters")]),
    ("empty-network-name", [change("network", "name", value="  ")], [("network.name", "empty")]),
    ("empty-image", [change("server", "image", value="")], [("server.image", "must not be empty")]),
    ("missing-flavor", [change("server", "flavor", delete=True)], [("server.flavor", "missing")]),
    (
        "ssh-key-garbage",
        [change("sshPublicKey", value="not a key")],
        [("sshPublicKey", "unknown key type")],
    ),
    (
        "ssh-key-bad-base64",
        [change("sshPublicKey", value="ssh-ed25519 AAAA!!!! me")],
        [("sshPublicKey", "base64")],
    ),
    (
        "ssh-key-type-mismatch",
        [
            change(
                "sshPublicKey", value=SHIPPED[K + "sshPublicKey"].replace("ssh-ed25519", "ssh-rsa")
            )
        ],
        [("sshPublicKey", "does not describe a ssh-rsa key")],
    ),
    (
        "ssh-key-private",
        [change("sshPublicKey", value="-----BEGIN OPENSSH PRIVATE KEY----- x")],
        [("sshPublicKey", "private key")],
    ),
    (
        "ssh-key-truncated",
        [change("sshPublicKey", value="ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA== x")],
        [("sshPublicKey", "")],
    ),
    ("access-cidr-bad", [change("accessCidr", value="0.0.0.0")], [("accessCidr", "CIDR")]),
    ("unknown-top-key", [change("flavour", value="small2")], [("flavour", "unknown key")]),
    (
        "unknown-nested-key",
        [change("server", "floating", value=True)],
        [("server.floating", "unknown key")],
    ),
    (
        "port-out-of-range",
        [
            change(
                "extraRules", value=[{"protocol": "tcp", "ports": 70000, "remoteCidr": "0.0.0.0/0"}]
            )
        ],
        [("extraRules[0].ports", "between 1 and 65535")],
    ),
    (
        "port-range-reversed",
        [
            change(
                "extraRules",
                value=[{"protocol": "tcp", "ports": "9000-8000", "remoteCidr": "10.0.0.0/8"}],
            )
        ],
        [("extraRules[0].ports", "above its high port")],
    ),
    (
        "icmp-with-ports",
        [
            change(
                "extraRules", value=[{"protocol": "icmp", "ports": 8, "remoteCidr": "10.0.0.0/8"}]
            )
        ],
        [("extraRules[0].ports", "icmp rules have no ports")],
    ),
    (
        "unknown-protocol",
        [change("extraRules", value=[{"protocol": "sctp", "remoteCidr": "10.0.0.0/8"}])],
        [("extraRules[0].protocol", "tcp")],
    ),
    (
        "missing-external-network",
        [change("externalNetwork", delete=True)],
        [("externalNetwork", "missing")],
    ),
    # combinations: every problem reported in the same message
    (
        "combo-fields-and-cross-checks",
        [
            change("network", "gatewayIp", value="10.0.0.1"),
            change("server", "fixedIp", value="10.0.0.5"),
            change("sshPublicKey", value="nope"),
            change(
                "extraRules", value=[{"protocol": "udp", "ports": 0, "remoteCidr": "1.2.3.4/32"}]
            ),
        ],
        [
            ("network.gatewayIp", "inside"),
            ("server.fixedIp", "192.168.100.0/24"),
            ("sshPublicKey", "key"),
            ("extraRules[0].ports", "between"),
        ],
    ),
    (
        "combo-cross-check-survives-other-field-error",
        [
            change("server", "fixedIp", value="192.168.7.7"),
            change("accessCidr", value="everywhere"),
        ],
        [("server.fixedIp", "192.168.100.0/24"), ("accessCidr", "CIDR")],
    ),
]


@pytest.mark.parametrize(
    ("mutations", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_rejected_before_any_resource(
    mutations: list[Change], expected: list[tuple[str, str]]
) -> None:
    assert_rejected(changed(SHIPPED, *mutations), "openstack-vm", expected)


def test_the_corpus_is_large_enough() -> None:
    assert len(CASES) >= 25


def test_a_valid_config_does_register_resources() -> None:
    # The counterpart of the corpus' "nothing registered": the recorder does see resources.
    recorded = StackRun()
    run_program(SHIPPED, run=recorded)
    assert len(recorded.resources) > 10


def test_message_shows_the_value_given() -> None:
    config = changed(SHIPPED, change("network", "gatewayIp", value="10.0.0.1"))
    error = rejected(config, "openstack-vm")
    assert "(got '10.0.0.1')" in str(error)
    assert str(error).startswith("invalid config for lab 'openstack-vm': 1 problem")


def test_a_failed_field_is_not_replaced_by_its_default_in_cross_checks() -> None:
    # gatewayIp fails; its default (the first host) must not be used to judge the fixed IP.
    config = changed(
        SHIPPED,
        change("network", "gatewayIp", value="not-an-ip"),
        change("server", "fixedIp", value="192.168.100.1"),
    )
    error = rejected(config, "openstack-vm")
    assert [p.location for p in error.problems] == ["network.gatewayIp"]
