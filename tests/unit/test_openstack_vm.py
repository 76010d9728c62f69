"""openstack-vm, from its shipped stack file, checked against docs/labs.md."""

from __future__ import annotations

import ipaddress
import re

from tests.harness import StackRun, run_program

STACK = "openstack-vm"
RULE = "openstack:networking/secGroupRule:SecGroupRule"
PORT = "openstack:networking/port:Port"


def test_keypair_from_the_configured_public_key(run: StackRun, shipped: dict) -> None:
    key = run.one("openstack:compute/keypair:Keypair")
    assert key.inputs["publicKey"] == shipped["cloud-labs:sshPublicKey"], key
    assert key.inputs["name"] == shipped["cloud-labs:keypairName"], key


def test_ingress_is_icmp_and_ssh_only_from_the_configured_cidr(
    run: StackRun, shipped: dict
) -> None:
    rules = run.of_type(RULE)
    cidr = shipped["cloud-labs:accessCidr"]
    seen = set()
    for rule in rules:
        inputs = rule.inputs
        assert inputs["direction"] == "ingress", rule
        assert inputs["remoteIpPrefix"] == cidr, f"{rule} admits {inputs.get('remoteIpPrefix')}"
        seen.add((inputs["protocol"], inputs.get("portRangeMin"), inputs.get("portRangeMax")))
    assert seen == {("icmp", None, None), ("tcp", 22, 22)}


def test_access_cidr_is_honoured(shipped: dict) -> None:
    config = {**shipped, "cloud-labs:accessCidr": "198.51.100.0/24"}
    run = run_program(config)
    assert {r.inputs["remoteIpPrefix"] for r in run.of_type(RULE)} == {"198.51.100.0/24"}


def test_network_and_subnet_follow_config(run: StackRun, shipped: dict) -> None:
    net = shipped["cloud-labs:network"]
    subnet = run.one("openstack:networking/subnet:Subnet")
    network = run.one("openstack:networking/network:Network")
    assert network.inputs["name"] == net["name"]
    assert subnet.inputs["networkId"] == network.id, subnet
    assert subnet.inputs["cidr"] == net["cidr"]
    assert subnet.inputs["gatewayIp"] == net["gatewayIp"]
    assert subnet.inputs["dnsNameservers"] == net["dnsServers"]
    assert subnet.inputs["allocationPools"] == net["allocationPools"]
    assert subnet.inputs["enableDhcp"] is True


def test_router_has_external_gateway_and_interface_on_the_subnet(
    run: StackRun, shipped: dict
) -> None:
    router = run.one("openstack:networking/router:Router")
    external = shipped["cloud-labs:externalNetwork"]
    assert router.inputs["externalNetworkId"] == f"{external}-network-id", router
    assert ("openstack:networking/getNetwork:getNetwork", {"name": external, "external": True}) in (
        run.calls
    )
    subnet = run.one("openstack:networking/subnet:Subnet")
    interface = run.one("openstack:networking/routerInterface:RouterInterface")
    assert interface.inputs["routerId"] == router.id
    assert interface.inputs["subnetId"] == subnet.id, interface


def test_vm_uses_keypair_security_group_image_flavor_and_fixed_ip(
    run: StackRun, shipped: dict
) -> None:
    server = shipped["cloud-labs:server"]
    instance = run.one("openstack:compute/instance:Instance")
    port = run.one(PORT)
    group = run.one("openstack:networking/secGroup:SecGroup")
    assert instance.inputs["name"] == server["name"]
    assert instance.inputs["imageName"] == server["image"]
    assert instance.inputs["flavorName"] == server["flavor"]
    assert instance.inputs["keyPair"] == shipped["cloud-labs:keypairName"], instance
    assert instance.inputs["networks"] == [{"port": port.id}], instance
    assert port.inputs["securityGroupIds"] == [group.id], port
    assert port.inputs["fixedIps"][0]["ipAddress"] == server["fixedIp"], port


def test_floating_ip_is_associated_with_the_vm_port(run: StackRun, shipped: dict) -> None:
    fip = run.one("openstack:networking/floatingIp:FloatingIp")
    assoc = run.one("openstack:networking/floatingIpAssociate:FloatingIpAssociate")
    port = run.one(PORT)
    assert fip.inputs["pool"] == shipped["cloud-labs:externalNetwork"]
    assert assoc.inputs["portId"] == port.id, assoc
    assert assoc.inputs["floatingIp"] == fip.state["address"], assoc


def test_floating_ip_association_is_destroyed_before_the_router_interface(run: StackRun) -> None:
    assoc = run.one("openstack:networking/floatingIpAssociate:FloatingIpAssociate")
    interface = run.one("openstack:networking/routerInterface:RouterInterface")
    assert run.depends_on(assoc, interface), f"{assoc} must depend on {interface}"


def test_outputs_say_how_to_reach_the_vm(run: StackRun, shipped: dict) -> None:
    out = run.outputs
    assert set(out) == {"floatingIp", "fixedIp", "sshCommand", "snapshotImages", "restored"}
    assert out["snapshotImages"] == {} and out["restored"] == {}
    ipaddress.IPv4Address(out["floatingIp"])
    assert out["fixedIp"] == shipped["cloud-labs:server"]["fixedIp"]
    assert re.fullmatch(r"ssh ubuntu@\d+\.\d+\.\d+\.\d+", out["sshCommand"])
    assert out["sshCommand"].endswith(out["floatingIp"])


def test_without_fixed_ip_or_floating_ip(shipped: dict) -> None:
    server = {**shipped["cloud-labs:server"], "floatingIp": False}
    del server["fixedIp"]
    run = run_program({**shipped, "cloud-labs:server": server})
    assert not run.of_type("openstack:networking/floatingIp:FloatingIp")
    assert "floatingIp" not in run.outputs
    port = run.one(PORT)
    assert "ipAddress" not in port.inputs["fixedIps"][0]
    assert run.outputs["sshCommand"].startswith(f"ssh ubuntu@{run.outputs['fixedIp']}")


def test_resize_is_a_flavor_change_updating_the_same_instance(shipped: dict) -> None:
    bigger = {**shipped["cloud-labs:server"], "flavor": "medium"}
    before = run_program(shipped).one("openstack:compute/instance:Instance")
    after = run_program({**shipped, "cloud-labs:server": bigger}).one(
        "openstack:compute/instance:Instance"
    )
    assert before.urn == after.urn
    assert after.inputs["flavorName"] == "medium"


def test_every_child_is_parented_to_its_component(run: StackRun) -> None:
    for res in run.resources:
        if res.type.startswith("openstack:"):
            assert res.parent is not None and "cloudlabs:openstack:" in res.parent, res
            component = res.parent.rsplit("::", 1)[-1]
            assert res.name.startswith(f"{component}-"), res
