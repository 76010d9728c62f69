"""openstack-naas, from its shipped stack file, checked against docs/labs.md."""

from __future__ import annotations

import ipaddress

import pytest

from tests.harness import (
    Change,
    Resource,
    StackRun,
    assert_rejected,
    change,
    changed,
    load_stack_file,
    problems_at,
    rejected,
    run_program,
)
from tests.unit.test_openstack_calculator import (
    ASSOC,
    FIP,
    INTERFACE,
    OPERATORS,
    PORT,
    env_of,
    group_named,
    instance_of,
    port_of,
    rules_of,
)

STACK = "openstack-naas"
K = "cloud-labs:"
SUBNET = "openstack:networking/subnet:Subnet"
ROUTER = "openstack:networking/router:Router"
ROUTER_ROUTE = "openstack:networking/routerRoute:RouterRoute"
SUBNET_ROUTE = "openstack:networking/subnetRoute:SubnetRoute"
SHIPPED = load_stack_file("openstack-naas")
SERVICES = SHIPPED[K + "services"]


def subnet_with(run: StackRun, cidr: str) -> Resource:
    found = [s for s in run.of_type(SUBNET) if s.inputs["cidr"] == cidr]
    assert len(found) == 1, f"expected one subnet {cidr}: {found}"
    return found[0]


def router_named(run: StackRun, name: str) -> Resource:
    found = [r for r in run.of_type(ROUTER) if r.inputs["name"] == name]
    assert len(found) == 1, f"expected one router {name}: {found}"
    return found[0]


def interfaces_of(run: StackRun, router: Resource) -> list[tuple[str, str, Resource]]:
    """(subnet id, address, interface) of each interface of ``router``.

    An interface made from a subnet takes the subnet's gateway address; one made from a port
    has the port's fixed IP.
    """
    out = []
    for interface in run.of_type(INTERFACE):
        if interface.inputs["routerId"] != router.id:
            continue
        if interface.inputs.get("portId"):
            port = run.by_id(interface.inputs["portId"])
            (fixed,) = port.inputs["fixedIps"]
            out.append((fixed["subnetId"], fixed["ipAddress"], interface))
        else:
            subnet = run.by_id(interface.inputs["subnetId"])
            out.append((subnet.id, subnet.inputs["gatewayIp"], interface))
    return out


def test_the_two_sub_networks(run: StackRun) -> None:
    net1 = subnet_with(run, "192.168.1.0/24")
    net2 = subnet_with(run, "192.168.2.0/24")
    assert len(run.of_type(SUBNET)) == 2
    assert net1.inputs["gatewayIp"] == "192.168.1.254"
    assert net2.inputs["gatewayIp"] == "192.168.2.254"
    assert net1.inputs["networkId"] != net2.inputs["networkId"]


def test_router_interface_addresses(run: StackRun) -> None:
    net1 = subnet_with(run, "192.168.1.0/24")
    net2 = subnet_with(run, "192.168.2.0/24")
    routers = SHIPPED[K + "routers"]
    access = router_named(run, routers["access"]["name"])
    public = router_named(run, routers["public"]["name"])
    inter = router_named(run, routers["inter"]["name"])
    assert len(run.of_type(ROUTER)) == 3
    external = f"{SHIPPED[K + 'externalNetwork']}-network-id"
    assert access.inputs["externalNetworkId"] == external
    assert public.inputs["externalNetworkId"] == external
    assert not inter.inputs.get("externalNetworkId"), "the inter-subnet router has no gateway"
    assert [(s, ip) for s, ip, _ in interfaces_of(run, access)] == [(net1.id, "192.168.1.254")]
    assert [(s, ip) for s, ip, _ in interfaces_of(run, public)] == [(net1.id, "192.168.1.253")]
    assert sorted((s, ip) for s, ip, _ in interfaces_of(run, inter)) == sorted(
        [(net2.id, "192.168.2.254"), (net1.id, "192.168.1.252")]
    )


def test_route_to_sub_network_2_reaches_sub_network_1_hosts(run: StackRun) -> None:
    net1 = subnet_with(run, "192.168.1.0/24")
    net2 = subnet_with(run, "192.168.2.0/24")
    routes = [r for r in run.of_type(SUBNET_ROUTE) if r.inputs["subnetId"] == net1.id]
    assert [r.inputs["destinationCidr"] for r in routes] == ["192.168.2.0/24"]
    hop = routes[0].inputs["nextHop"]
    assert ipaddress.IPv4Address(hop) in ipaddress.IPv4Network("192.168.1.0/24")
    # The next hop is a router interface in sub-network 1 of a router that is on sub-network 2.
    owners = [
        router
        for router in run.of_type(ROUTER)
        if (net1.id, hop) in [(s, ip) for s, ip, _ in interfaces_of(run, router)]
    ]
    assert len(owners) == 1, f"no router interface holds {hop}"
    assert net2.id in [s for s, _, _ in interfaces_of(run, owners[0])]
    assert not [r for r in run.of_type(SUBNET_ROUTE) if r.inputs["subnetId"] == net2.id]


def test_router_routes_send_sub_network_2_out_through_the_public_router(run: StackRun) -> None:
    routers = SHIPPED[K + "routers"]
    public = router_named(run, routers["public"]["name"])
    inter = router_named(run, routers["inter"]["name"])
    by_router = {
        rid: sorted(
            (r.inputs["destinationCidr"], r.inputs["nextHop"])
            for r in run.of_type(ROUTER_ROUTE)
            if r.inputs["routerId"] == rid
        )
        for rid in (public.id, inter.id)
    }
    assert by_router[inter.id] == [("0.0.0.0/0", "192.168.1.253")]
    assert by_router[public.id] == [("192.168.2.0/24", "192.168.1.252")]
    assert len(run.of_type(ROUTER_ROUTE)) == 2


def test_front_end_in_sub_network_1_operators_in_sub_network_2(run: StackRun) -> None:
    net1 = subnet_with(run, "192.168.1.0/24")
    net2 = subnet_with(run, "192.168.2.0/24")
    front = port_of(run, instance_of(run, SERVICES["calculator"]["name"]))
    assert front.inputs["fixedIps"] == [{"subnetId": net1.id, "ipAddress": "192.168.1.10"}]
    for op in OPERATORS:
        port = port_of(run, instance_of(run, SERVICES[op]["name"]))
        assert port.inputs["fixedIps"][0]["subnetId"] == net2.id, port
        assert port.inputs["fixedIps"][0]["ipAddress"] == SERVICES[op]["fixedIp"], port


def test_front_end_user_data_names_the_four_operators(run: StackRun) -> None:
    env = env_of(instance_of(run, SERVICES["calculator"]["name"]), "calculator")
    assert {op: env[f"CALC_{op.upper()}_URL"] for op in OPERATORS} == {
        "sum": "http://192.168.2.11:50001",
        "sub": "http://192.168.2.12:50002",
        "mul": "http://192.168.2.13:50003",
        "div": "http://192.168.2.14:50004",
    }


def test_no_floating_ip_and_no_outside_ingress_for_any_operator(run: StackRun) -> None:
    front_port = port_of(run, instance_of(run, SERVICES["calculator"]["name"]))
    assert len(run.of_type(FIP)) == 1
    assert [a.inputs["portId"] for a in run.of_type(ASSOC)] == [front_port.id]
    front_group = group_named(run, SHIPPED[K + "frontEndGroupName"])
    operator_group = group_named(run, SHIPPED[K + "operatorGroupName"])
    for op in OPERATORS:
        port = port_of(run, instance_of(run, SERVICES[op]["name"]))
        assert port.inputs["securityGroupIds"] == [operator_group.id], port
    rules = rules_of(run, operator_group)
    assert rules
    for rule in rules:
        assert rule.get("remoteIpPrefix") is None, f"operators open to a CIDR: {rule}"
        assert rule["remoteGroupId"] == front_group.id, rule
    assert front_port.inputs["securityGroupIds"] == [front_group.id]


def test_teardown_order(run: StackRun) -> None:
    routers = SHIPPED[K + "routers"]
    access = router_named(run, routers["access"]["name"])
    public = router_named(run, routers["public"]["name"])
    inter = router_named(run, routers["inter"]["name"])
    assoc = run.one(ASSOC)
    # The floating IP goes before the access router's interface in sub-network 1.
    for _, _, interface in interfaces_of(run, access):
        assert run.depends_on(assoc, interface), f"{assoc} must depend on {interface}"
    # Each router's routes go before its interfaces (Neutron refuses the other order).
    for router in (public, inter):
        for route in [r for r in run.of_type(ROUTER_ROUTE) if r.inputs["routerId"] == router.id]:
            for _, _, interface in interfaces_of(run, router):
                assert run.depends_on(route, interface), f"{route} must depend on {interface}"
    # The inter router's default route leads to the public router: the route depends on the
    # inter router's interfaces, which depend on every resource of the public router.
    for _, _, interface in interfaces_of(run, inter):
        for _, _, public_interface in interfaces_of(run, public):
            assert run.reaches(interface, public_interface), f"{interface} before public"
            assert not run.reaches(public_interface, interface), "dependency cycle"
        for route in run.of_type(ROUTER_ROUTE):
            if route.inputs["routerId"] == public.id:
                assert run.reaches(interface, route), f"{interface} before {route}"


def test_vms_boot_after_their_routes_and_routers(run: StackRun) -> None:
    routers = SHIPPED[K + "routers"]
    inter = router_named(run, routers["inter"]["name"])
    net1_route = run.one(SUBNET_ROUTE)
    front = port_of(run, instance_of(run, SERVICES["calculator"]["name"]))
    # DHCP hands the route to the front end at its first boot: the route exists before its port.
    assert run.depends_on(front, net1_route), f"{front} must depend on {net1_route}"
    for op in ("calculator", *OPERATORS):
        port = port_of(run, instance_of(run, SERVICES[op]["name"]))
        for _, _, interface in interfaces_of(run, inter):
            assert run.depends_on(port, interface), f"{port} must depend on {interface}"


def test_outputs(run: StackRun) -> None:
    out = run.outputs
    assert out["curlCommand"] == f'curl -d "(5+6)*2" -X POST http://{out["floatingIp"]}:50000'
    assert out["routerAddresses"] == {
        "access": "192.168.1.254",
        "public": "192.168.1.253",
        "interFront": "192.168.1.252",
        "interOperators": "192.168.2.254",
    }
    assert out["interSubnetRoute"] == "192.168.2.0/24 via 192.168.1.252"
    assert out["operatorIps"]["sum"] == "192.168.2.11"


def test_allocated_operator_addresses_reach_the_front_end() -> None:
    config = changed(SHIPPED, *(change("services", op, "fixedIp", delete=True) for op in OPERATORS))
    run = run_program(config)
    env = env_of(instance_of(run, SERVICES["calculator"]["name"]), "calculator")
    for op in OPERATORS:
        address = port_of(run, instance_of(run, SERVICES[op]["name"])).state["allFixedIps"][0]
        assert (
            env[f"CALC_{op.upper()}_URL"] == f"http://{address}:{50000 + OPERATORS.index(op) + 1}"
        )


def test_fixed_addresses_are_outside_the_dhcp_pools(run: StackRun) -> None:
    # Neutron gives the subnet's DHCP (or metadata) port a random address of the pool when the
    # subnet is created: a VM's fixed address inside the pool could already be taken.
    pools = [
        ipaddress.summarize_address_range(
            ipaddress.IPv4Address(pool["start"]), ipaddress.IPv4Address(pool["end"])
        )
        for subnet in run.of_type(SUBNET)
        for pool in subnet.inputs["allocationPools"]
    ]
    assert pools
    fixed = [f["ipAddress"] for p in run.of_type(PORT) for f in p.inputs["fixedIps"]]
    assert len(fixed) == 7, fixed  # five VMs, the public and inter routers' ports
    for address in map(ipaddress.IPv4Address, fixed):
        assert not any(address in net for nets in pools for net in nets), address


def test_ports_have_one_address_each(run: StackRun) -> None:
    addresses = [ip for p in run.of_type(PORT) for ip in p.state["allFixedIps"]]
    assert len(addresses) == len(set(addresses)), addresses


# -- bad config ---------------------------------------------------------------------------------


BAD = [
    (
        "overlapping-sub-networks",
        [
            change("operatorNetwork", "cidr", value="192.168.0.0/16"),
            change("operatorNetwork", "gatewayIp", value="192.168.2.254"),
            change("operatorNetwork", "allocationPools", value=[]),
        ],
        {"operatorNetwork.cidr": "overlaps frontNetwork.cidr"},
    ),
    (
        "router-address-outside-its-sub-network",
        [change("routers", "public", "address", value="192.168.2.253")],
        {"routers.public.address": "host address in 192.168.1.0/24"},
    ),
    (
        "router-address-is-the-front-end",
        [
            change("routers", "inter", "address", value="192.168.1.250"),
            change("services", "calculator", "fixedIp", value="192.168.1.250"),
        ],
        {"routers.inter.address": "already given to services.calculator.fixedIp"},
    ),
    (
        "two-routers-one-address",
        [change("routers", "inter", "address", value="192.168.1.253")],
        {"routers.inter.address": "already given to routers.public.address"},
    ),
    (
        "router-address-is-the-gateway",
        [change("routers", "public", "address", value="192.168.1.254")],
        {"routers.public.address": "gateway 192.168.1.254"},
    ),
    (
        "router-address-in-the-dhcp-pool",
        [change("routers", "inter", "address", value="192.168.1.100")],
        {"routers.inter.address": "allocationPools[0]"},
    ),
    (
        "operator-in-sub-network-1",
        [change("services", "mul", "fixedIp", value="192.168.1.13")],
        {"services.mul.fixedIp": "host address in 192.168.2.0/24"},
    ),
    (
        "front-end-in-sub-network-2",
        [change("services", "calculator", "fixedIp", value="192.168.2.10")],
        {"services.calculator.fixedIp": "host address in 192.168.1.0/24"},
    ),
    (
        "operator-on-its-gateway",
        [change("services", "div", "fixedIp", value="192.168.2.254")],
        {"services.div.fixedIp": "gateway"},
    ),
    (
        "competing-host-route",
        [
            change(
                "frontNetwork",
                "hostRoutes",
                value=[{"destination": "192.168.2.0/24", "nextHop": "192.168.1.9"}],
            )
        ],
        {"frontNetwork.hostRoutes[0].destination": "the lab's own"},
    ),
    (
        "missing-external-network",
        [change("externalNetwork", delete=True)],
        {"externalNetwork": "missing"},
    ),
    (
        "missing-inter-address",
        [change("routers", "inter", "address", delete=True)],
        {"routers.inter.address": "missing"},
    ),
    (
        "bad-router-name",
        [change("routers", "access", "name", value="my router")],
        {"routers.access.name": "letters"},
    ),
]


@pytest.mark.parametrize(("changes", "expected"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_config_is_rejected_before_any_resource(
    changes: list[Change], expected: dict[str, str]
) -> None:
    assert_rejected(changed(SHIPPED, *changes), "openstack-naas", list(expected.items()))


def test_every_problem_at_once() -> None:
    error = rejected(
        changed(
            SHIPPED,
            change("operatorNetwork", "cidr", value="192.168.1.0/24"),
            change("routers", "public", "address", value="10.1.1.1"),
            change("externalNetwork", delete=True),
        ),
        "openstack-naas",
    )
    found = problems_at(error)
    assert {"operatorNetwork.cidr", "routers.public.address", "externalNetwork"} <= set(found)
    # The operators' 192.168.2.x addresses are now outside their (moved) sub-network too.
    assert "services.sum.fixedIp" in found
