"""The shared OpenStack config rules, called directly."""

from __future__ import annotations

import ipaddress

from stacks.shared.openstack import NetworkConfig, fixed_ip_problems

NET = NetworkConfig.model_validate({"name": "n", "cidr": "10.1.0.0/24", "gatewayIp": "10.1.0.254"})


def ip(text: str) -> ipaddress.IPv4Address:
    return ipaddress.IPv4Address(text)


def test_fixed_ips_duplicated_outside_or_on_the_gateway() -> None:
    found = list(
        fixed_ip_problems(
            [
                (("a", "fixedIp"), ip("10.1.0.10"), NET),
                (("b", "fixedIp"), ip("10.1.0.10"), NET),
                (("c", "fixedIp"), ip("10.1.0.254"), NET),
                (("d", "fixedIp"), ip("10.2.0.1"), NET),
                (("e", "fixedIp"), None, NET),
            ]
        )
    )
    assert [(p.location, p.message) for p in found] == [
        ("b.fixedIp", "the address is already given to a.fixedIp"),
        ("c.fixedIp", "the address is the subnet's gateway 10.1.0.254"),
        ("d.fixedIp", "the address must be a host address in 10.1.0.0/24"),
    ]


def test_default_gateway_is_the_first_host() -> None:
    net = NetworkConfig.model_validate({"name": "n", "cidr": "10.1.0.0/24"})
    assert str(net.gateway) == "10.1.0.1"


def test_fixed_ip_inside_a_dhcp_pool_is_refused() -> None:
    net = NetworkConfig.model_validate(
        {
            "name": "n",
            "cidr": "10.1.0.0/24",
            "allocationPools": [
                {"start": "10.1.0.100", "end": "10.1.0.150"},
                {"start": "10.1.0.200", "end": "10.1.0.210"},
            ],
        }
    )
    found = list(
        fixed_ip_problems(
            [
                (("a",), ip("10.1.0.99"), net),
                (("b",), ip("10.1.0.205"), net),
                (("c",), ip("10.1.0.151"), net),
            ]
        )
    )
    assert [(p.location, p.message) for p in found] == [
        (
            "b",
            "the address is inside the subnet's allocationPools[1]; "
            "pick one outside the DHCP pools",
        )
    ]
