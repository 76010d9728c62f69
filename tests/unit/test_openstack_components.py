"""The cloudlabs:openstack:* components under mocks, on their own."""

from __future__ import annotations

import pulumi
import pulumi_openstack as openstack
import pytest

from components.openstack import (
    FloatingIp,
    FloatingIpArgs,
    PrivateNetwork,
    PrivateNetworkArgs,
    Router,
    RouterArgs,
    RouterInterfaceSpec,
    RouteSpec,
    RuleSpec,
    SecurityGroup,
    SecurityGroupArgs,
    Server,
    ServerArgs,
)
from tests.harness import Resource, StackRun, run_function


def test_network_with_pools_and_host_routes() -> None:
    def program() -> None:
        PrivateNetwork(
            "n1",
            PrivateNetworkArgs(
                network_name="sub1",
                cidr="192.168.1.0/24",
                gateway_ip="192.168.1.254",
                dns_nameservers=["9.9.9.9"],
                allocation_pools=[("192.168.1.10", "192.168.1.99")],
                host_routes=[RouteSpec("192.168.2.0/24", "192.168.1.253")],
            ),
        )

    run = run_function(program)
    subnet = run.one("openstack:networking/subnet:Subnet")
    assert subnet.inputs["gatewayIp"] == "192.168.1.254"
    assert subnet.inputs["allocationPools"] == [{"start": "192.168.1.10", "end": "192.168.1.99"}]
    route = run.one("openstack:networking/subnetRoute:SubnetRoute")
    assert route.inputs == {
        "subnetId": subnet.id,
        "destinationCidr": "192.168.2.0/24",
        "nextHop": "192.168.1.253",
    }
    assert route.name == "n1-route-0"


def test_router_interfaces_with_fixed_ips_and_routes_depend_on_interfaces() -> None:
    def program() -> None:
        Router(
            "r",
            RouterArgs(
                router_name="inner",
                interfaces=[
                    RouterInterfaceSpec(subnet_id="s1", network_id="n1", fixed_ip="192.168.1.253"),
                    RouterInterfaceSpec(subnet_id="s2"),
                ],
                routes=[RouteSpec("10.9.0.0/16", "192.168.1.254")],
            ),
        )

    run = run_function(program)
    router = run.one("openstack:networking/router:Router")
    assert "externalNetworkId" not in router.inputs
    assert not run.calls  # no external network looked up
    port = run.one("openstack:networking/port:Port")
    assert port.inputs["fixedIps"] == [{"subnetId": "s1", "ipAddress": "192.168.1.253"}]
    if0 = run.one("openstack:networking/routerInterface:RouterInterface", "r-if0")
    if1 = run.one("openstack:networking/routerInterface:RouterInterface", "r-if1")
    assert if0.inputs == {"routerId": router.id, "portId": port.id}
    assert if1.inputs == {"routerId": router.id, "subnetId": "s2"}
    route = run.one("openstack:networking/routerRoute:RouterRoute")
    assert run.depends_on(route, if0) and run.depends_on(route, if1), route


def test_router_fixed_ip_needs_the_network() -> None:
    def program() -> None:
        Router(
            "r",
            RouterArgs(router_name="x", interfaces=[RouterInterfaceSpec("s", fixed_ip="10.0.0.1")]),
        )

    with pytest.raises(ValueError, match="no network_id"):
        run_function(program)


def test_security_group_rules_from_cidr_and_from_group() -> None:
    def program() -> None:
        front = SecurityGroup("front", SecurityGroupArgs("front", "front end"))
        SecurityGroup(
            "ops",
            SecurityGroupArgs(
                "ops",
                "operators",
                rules=[
                    RuleSpec("tcp", 50001, 50004, remote_group_id=front.group_id),
                    RuleSpec("udp", 4789, remote_cidr="10.0.0.0/24"),
                    RuleSpec("icmp", remote_cidr="10.0.0.0/24"),
                ],
            ),
        )

    run = run_function(program)
    front = run.one("openstack:networking/secGroup:SecGroup", "front-group")
    rules = {
        r.name: r.inputs for r in run.of_type("openstack:networking/secGroupRule:SecGroupRule")
    }
    assert rules["ops-rule-0"]["remoteGroupId"] == front.id
    assert "remoteIpPrefix" not in rules["ops-rule-0"]
    assert (rules["ops-rule-0"]["portRangeMin"], rules["ops-rule-0"]["portRangeMax"]) == (
        50001,
        50004,
    )
    assert (rules["ops-rule-1"]["portRangeMin"], rules["ops-rule-1"]["portRangeMax"]) == (
        4789,
        4789,
    )
    assert "portRangeMin" not in rules["ops-rule-2"]


@pytest.mark.parametrize(
    "bad",
    [
        lambda: RuleSpec("tcp", 22),
        lambda: RuleSpec("tcp", 22, remote_cidr="0.0.0.0/0", remote_group_id="g"),
        lambda: RuleSpec("icmp", 8, remote_cidr="0.0.0.0/0"),
    ],
)
def test_rule_spec_rejects_ambiguous_rules(bad) -> None:
    with pytest.raises(ValueError):
        bad()


def test_server_without_floating_ip_has_no_public_resources() -> None:
    def program() -> None:
        Server(
            "op",
            ServerArgs(
                server_name="sum",
                image_name="img",
                flavor_name="small",
                network_id="n",
                subnet_id="s",
                user_data="#cloud-config\n{}\n",
            ),
        )

    run = run_function(program)
    assert not run.of_type("openstack:networking/floatingIp:FloatingIp")
    assert not run.of_type("openstack:networking/floatingIpAssociate:FloatingIpAssociate")
    instance = run.one("openstack:compute/instance:Instance")
    assert instance.inputs["userData"] == "#cloud-config\n{}\n"
    assert "keyPair" not in instance.inputs


def test_a_components_dependencies_reach_every_child() -> None:
    # A component's own depends_on does not reach its children (pulumi/pulumi#8721): each
    # component repeats it on them (components.children).
    def program() -> None:
        router = Router("r", RouterArgs(router_name="r", external_network_id="public-id"))
        Server(
            "vm",
            ServerArgs(
                server_name="vm",
                image_name="img",
                flavor_name="small",
                network_id="n",
                subnet_id="s",
                floating_ip_pool="public",
            ),
            opts=pulumi.ResourceOptions(depends_on=[router]),
        )

    run = run_function(program)
    interface = run.one("openstack:networking/router:Router")
    server = run.one("cloudlabs:openstack:Server")
    # The port, the instance, and the floating IP's address and association (children of the
    # server's FloatingIp component).
    custom = [r for r in descendants(run, server.urn) if not r.type.startswith("cloudlabs:")]
    assert sorted(r.name for r in custom) == [
        "vm-fip-address",
        "vm-fip-assoc",
        "vm-instance",
        "vm-port",
    ]
    for child in custom:
        assert run.depends_on(child, interface), f"{child} must come after the router"


def descendants(run: StackRun, urn: str) -> list[Resource]:
    found = [r for r in run.resources if r.parent == urn]
    return found + [d for r in found for d in descendants(run, r.urn)]


def _floating_ip_program(former: tuple[str, ...] = ()) -> None:
    router = Router("r", RouterArgs(router_name="r", external_network_id="public-id"))
    owner = pulumi.ComponentResource("cloudlabs:test:Owner", "owner")
    instance = openstack_instance(owner)
    FloatingIp(
        "web-fip",
        FloatingIpArgs(
            pool="public",
            port_id="port-id",
            description="web public address",
            associate_after=[instance],
            former_names=former,
        ),
        opts=pulumi.ResourceOptions(parent=owner, depends_on=[router]),
    )


def openstack_instance(parent: pulumi.Resource) -> pulumi.Resource:
    return openstack.compute.Instance("web", name="web", opts=pulumi.ResourceOptions(parent=parent))


def test_a_floating_ip_is_associated_after_its_instance_and_removed_before_the_router() -> None:
    run = run_function(_floating_ip_program)
    address = run.one("openstack:networking/floatingIp:FloatingIp", "web-fip-address")
    assoc = run.one("openstack:networking/floatingIpAssociate:FloatingIpAssociate", "web-fip-assoc")
    assert address.inputs == {"pool": "public", "description": "web public address"}
    assert assoc.inputs == {"floatingIp": address.state["address"], "portId": "port-id"}
    router = run.one("openstack:networking/router:Router")
    instance = run.one("openstack:compute/instance:Instance")
    for child in (address, assoc):
        assert child.parent == run.one("cloudlabs:openstack:FloatingIp").urn, child
        assert run.depends_on(child, router), f"{child} must be deleted before the router"
        assert "aliases" not in child.options, child
    assert run.depends_on(assoc, instance) and not run.depends_on(address, instance)


def test_a_floating_ip_keeps_what_its_parent_registered_itself() -> None:
    run = run_function(lambda: _floating_ip_program(("web-fip", "old-web-fip")))
    owner = run.one("cloudlabs:test:Owner")
    address = run.one("openstack:networking/floatingIp:FloatingIp")
    assoc = run.one("openstack:networking/floatingIpAssociate:FloatingIpAssociate")
    assert address.options["aliases"] == [
        {"spec": {"name": "web-fip", "parentUrn": owner.urn}},
        {"spec": {"name": "old-web-fip", "parentUrn": owner.urn}},
    ]
    assert assoc.options["aliases"] == [
        {"spec": {"name": "web-fip-assoc", "parentUrn": owner.urn}},
        {"spec": {"name": "old-web-fip-assoc", "parentUrn": owner.urn}},
    ]


def test_a_components_dependencies_are_resources() -> None:
    from components.children import dependencies

    assert dependencies(None) == []
    opts = pulumi.ResourceOptions()
    opts.depends_on = ["not a resource"]  # type: ignore[list-item]
    with pytest.raises(TypeError, match="must list resources"):
        dependencies(opts)
