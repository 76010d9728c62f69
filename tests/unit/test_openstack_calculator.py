"""openstack-calculator, from its shipped stack file, checked against docs/labs.md."""

from __future__ import annotations

import base64
from typing import Any

import pytest
import yaml

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
    run_stack_file,
)
from tests.validators import assert_cloud_config_valid

STACK = "openstack-calculator"
K = "cloud-labs:"
INSTANCE = "openstack:compute/instance:Instance"
PORT = "openstack:networking/port:Port"
RULE = "openstack:networking/secGroupRule:SecGroupRule"
GROUP = "openstack:networking/secGroup:SecGroup"
FIP = "openstack:networking/floatingIp:FloatingIp"
ASSOC = "openstack:networking/floatingIpAssociate:FloatingIpAssociate"
INTERFACE = "openstack:networking/routerInterface:RouterInterface"
ROLES = ("calculator", "sum", "sub", "mul", "div")
OPERATORS = ROLES[1:]
SHIPPED = load_stack_file("openstack-calculator")


# -- helpers shared with the openstack-naas tests ---------------------------------------------


def instance_of(run: StackRun, name: str) -> Resource:
    found = [r for r in run.of_type(INSTANCE) if r.inputs["name"] == name]
    assert len(found) == 1, f"expected one instance named {name}: {found}"
    return found[0]


def port_of(run: StackRun, instance: Resource) -> Resource:
    return run.by_id(instance.inputs["networks"][0]["port"])


def written_files(instance: Resource) -> dict[str, str]:
    doc = yaml.safe_load(instance.inputs["userData"])
    out = {}
    for entry in doc["write_files"]:
        raw = entry["content"]
        out[entry["path"]] = base64.b64decode(raw).hex() if entry.get("encoding") == "b64" else raw
    return out


def env_of(instance: Resource, role: str) -> dict[str, str]:
    text = written_files(instance)[f"/etc/calculator/{role}.env"]
    pairs = [line.split("=", 1) for line in text.splitlines() if line and not line.startswith("#")]
    return {key: value for key, value in pairs}


def rules_of(run: StackRun, group: Resource) -> list[dict[str, Any]]:
    return [r.inputs for r in run.of_type(RULE) if r.inputs["securityGroupId"] == group.id]


def group_named(run: StackRun, name: str) -> Resource:
    found = [g for g in run.of_type(GROUP) if g.inputs["name"] == name]
    assert len(found) == 1, f"expected one security group {name}: {found}"
    return found[0]


# -- the shipped stack --------------------------------------------------------------------------


def test_five_vms_with_the_configured_names_image_flavor_and_addresses(run: StackRun) -> None:
    services = SHIPPED[K + "services"]
    assert len(run.of_type(INSTANCE)) == 5
    subnet = run.one("openstack:networking/subnet:Subnet")
    for role in ROLES:
        instance = instance_of(run, services[role]["name"])
        assert instance.inputs["imageName"] == SHIPPED[K + "image"], instance
        assert instance.inputs["flavorName"] == SHIPPED[K + "flavor"], instance
        assert instance.inputs["keyPair"] == SHIPPED[K + "keypairName"], instance
        fixed = port_of(run, instance).inputs["fixedIps"]
        assert fixed == [{"subnetId": subnet.id, "ipAddress": services[role]["fixedIp"]}]


def test_each_role_runs_its_service_from_cloud_init(run: StackRun) -> None:
    services = SHIPPED[K + "services"]
    for role in ROLES:
        instance = instance_of(run, services[role]["name"])
        user_data = instance.inputs["userData"]
        files = written_files(instance)
        assert "Restart=on-failure" in files["/etc/systemd/system/calculator@.service"]
        assert yaml.safe_load(user_data)["runcmd"][-1] == [
            "systemctl",
            "enable",
            "--now",
            f"calculator@{role}.service",
        ]
        env = env_of(instance, role)
        assert env["CALC_PORT"] == str(services[role]["port"]), instance
        assert env["CALC_HOST"] == SHIPPED[K + "bootstrap"]["bindAddress"]
        doc = yaml.safe_load(user_data)
        assert doc["packages"] == SHIPPED[K + "bootstrap"]["packages"]
        assert doc["apt"]["primary"][0]["uri"] == SHIPPED[K + "bootstrap"]["aptMirror"]
        assert_cloud_config_valid(user_data, f"{role}-user-data")
        assert len(base64.b64encode(user_data.encode())) <= 65535, instance


def test_front_end_is_wired_to_the_operators_addresses(run: StackRun) -> None:
    services = SHIPPED[K + "services"]
    env = env_of(instance_of(run, services["calculator"]["name"]), "calculator")
    for op in OPERATORS:
        want = f"http://{services[op]['fixedIp']}:{services[op]['port']}"
        assert env[f"CALC_{op.upper()}_URL"] == want
    assert env["CALC_TIMEOUT"] == "5"


def test_allocated_addresses_are_wired_from_the_operator_ports() -> None:
    config = changed(SHIPPED, *(change("services", role, "fixedIp", delete=True) for role in ROLES))
    run = run_program(config)
    services = config[K + "services"]
    env = env_of(instance_of(run, services["calculator"]["name"]), "calculator")
    for op in OPERATORS:
        port = port_of(run, instance_of(run, services[op]["name"]))
        address = port.state["allFixedIps"][0]
        assert "ipAddress" not in port.inputs["fixedIps"][0]
        assert env[f"CALC_{op.upper()}_URL"] == f"http://{address}:{services[op]['port']}"
    assert run.outputs["operatorIps"] == {
        op: port_of(run, instance_of(run, services[op]["name"])).state["allFixedIps"][0]
        for op in OPERATORS
    }


def test_front_end_group_opens_its_port_to_users_and_ssh_to_admins(run: StackRun) -> None:
    front = group_named(run, SHIPPED[K + "frontEndGroupName"])
    seen = {
        (r["protocol"], r.get("portRangeMin"), r.get("portRangeMax"), r.get("remoteIpPrefix"))
        for r in rules_of(run, front)
    }
    assert seen == {
        ("tcp", 50000, 50000, SHIPPED[K + "accessCidr"]),
        ("tcp", 22, 22, SHIPPED[K + "adminCidr"]),
        ("icmp", None, None, SHIPPED[K + "adminCidr"]),
    }
    port = port_of(run, instance_of(run, SHIPPED[K + "services"]["calculator"]["name"]))
    assert port.inputs["securityGroupIds"] == [front.id], port


def test_operators_admit_only_the_front_end_group(run: StackRun) -> None:
    front = group_named(run, SHIPPED[K + "frontEndGroupName"])
    operators = group_named(run, SHIPPED[K + "operatorGroupName"])
    rules = rules_of(run, operators)
    for rule in rules:
        assert rule["direction"] == "ingress"
        assert rule.get("remoteIpPrefix") is None, f"operator rule open to a CIDR: {rule}"
        assert rule["remoteGroupId"] == front.id, rule
    ports = {(r["protocol"], r.get("portRangeMin")) for r in rules}
    assert {("tcp", p) for p in (50001, 50002, 50003, 50004)} <= ports
    for op in OPERATORS:
        port = port_of(run, instance_of(run, SHIPPED[K + "services"][op]["name"]))
        assert port.inputs["securityGroupIds"] == [operators.id], port


def test_one_floating_ip_on_the_front_end(run: StackRun) -> None:
    fip = run.one(FIP)
    assoc = run.one(ASSOC)
    front = port_of(run, instance_of(run, SHIPPED[K + "services"]["calculator"]["name"]))
    assert fip.inputs["pool"] == SHIPPED[K + "externalNetwork"]
    assert assoc.inputs["portId"] == front.id
    assert assoc.inputs["floatingIp"] == fip.state["address"]


def test_teardown_order_floating_ip_and_vms_before_the_router_interface(run: StackRun) -> None:
    assoc = run.one(ASSOC)
    interface = run.one(INTERFACE)
    assert run.depends_on(assoc, interface), f"{assoc} must depend on {interface}"
    for instance in run.of_type(INSTANCE):
        port = port_of(run, instance)
        assert run.depends_on(instance, port), f"{instance} must depend on {port}"
        assert run.depends_on(port, interface), f"{port} is created before the router"


def test_outputs_give_the_exact_curl_line(run: StackRun) -> None:
    out = run.outputs
    fip = out["floatingIp"]
    assert out["curlCommand"] == f'curl -d "(5+6)*2" -X POST http://{fip}:50000'
    assert out["url"] == f"http://{fip}:50000"
    assert out["sshCommand"] == f"ssh ubuntu@{fip}"
    services = SHIPPED[K + "services"]
    assert out["frontEndIp"] == services["calculator"]["fixedIp"]
    assert out["operatorIps"] == {op: services[op]["fixedIp"] for op in OPERATORS}
    assert out["operatorSshCommands"]["div"] == f"ssh -J ubuntu@{fip} ubuntu@192.168.110.14"


def test_same_config_same_user_data(run: StackRun) -> None:
    again = run_stack_file("openstack-calculator")
    before = {r.inputs["name"]: r.inputs["userData"] for r in run.of_type(INSTANCE)}
    after = {r.inputs["name"]: r.inputs["userData"] for r in again.of_type(INSTANCE)}
    assert before == after


def test_every_child_is_parented_to_its_component(run: StackRun) -> None:
    for res in run.resources:
        if res.type.startswith("openstack:"):
            assert res.parent is not None and "cloudlabs:openstack:" in res.parent, res
            component = res.parent.rsplit("::", 1)[-1]
            assert res.name.startswith(f"{component}-"), res


def test_defaults_fill_ports_names_and_bootstrap() -> None:
    config = changed(SHIPPED, change("services", delete=True), change("bootstrap", delete=True))
    run = run_program(config)
    names = sorted(r.inputs["name"] for r in run.of_type(INSTANCE))
    assert names == ["calc-div", "calc-front", "calc-mul", "calc-sub", "calc-sum"]
    front = instance_of(run, "calc-front")
    assert env_of(front, "calculator")["CALC_PORT"] == "50000"
    doc = yaml.safe_load(front.inputs["userData"])
    assert doc["packages"] == ["python3"] and "apt" not in doc


# -- bad config ---------------------------------------------------------------------------------


BAD = [
    (
        "operator-outside-network",
        [change("services", "sum", "fixedIp", value="192.168.2.11")],
        {"services.sum.fixedIp": "host address in 192.168.110.0/24"},
    ),
    (
        "two-vms-one-address",
        [change("services", "div", "fixedIp", value="192.168.110.10")],
        {"services.div.fixedIp": "already given to services.calculator.fixedIp"},
    ),
    (
        "vm-on-the-gateway",
        [change("services", "mul", "fixedIp", value="192.168.110.1")],
        {"services.mul.fixedIp": "gateway"},
    ),
    (
        "two-vms-one-name",
        [change("services", "sub", "name", value="calc-sum")],
        {"services.sub.name": "already given to sum"},
    ),
    (
        "service-on-ssh-port",
        [change("services", "calculator", "port", value=22)],
        {"services.calculator.port": "SSH"},
    ),
    (
        "port-out-of-range",
        [change("services", "mul", "port", value=70000)],
        {"services.mul.port": "less than or equal to 65535"},
    ),
    (
        "unknown-role",
        [change("services", "pow", value={"name": "calc-pow"})],
        {"services.pow": "unknown key"},
    ),
    (
        "bad-package",
        [change("bootstrap", "packages", value=["python3", "Python 3!"])],
        {"bootstrap.packages[1]": "Debian package name"},
    ),
    (
        "bad-mirror",
        [change("bootstrap", "aptMirror", value="ftp://mirror/debian")],
        {"bootstrap.aptMirror": "http:// or https://"},
    ),
    (
        "zero-timeout",
        [change("bootstrap", "timeout", value=0)],
        {"bootstrap.timeout": "greater than 0"},
    ),
    (
        "bad-bind-address",
        [change("bootstrap", "bindAddress", value="any")],
        {"bootstrap.bindAddress": "IPv4"},
    ),
    (
        "missing-external-network",
        [change("externalNetwork", delete=True)],
        {"externalNetwork": "missing"},
    ),
    ("missing-admin-cidr", [change("adminCidr", delete=True)], {"adminCidr": "missing"}),
    ("bad-access-cidr", [change("accessCidr", value="everyone")], {"accessCidr": "CIDR"}),
]


@pytest.mark.parametrize(("changes", "expected"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_config_is_rejected_before_any_resource(
    changes: list[Change], expected: dict[str, str]
) -> None:
    assert_rejected(changed(SHIPPED, *changes), "openstack-calculator", list(expected.items()))


def test_every_problem_is_reported_at_once() -> None:
    error = rejected(
        changed(
            SHIPPED,
            change("services", "sum", "fixedIp", value="10.0.0.1"),
            change("bootstrap", "packages", value=["!"]),
            change("externalNetwork", delete=True),
        ),
        "openstack-calculator",
    )
    assert set(problems_at(error)) == {
        "services.sum.fixedIp",
        "bootstrap.packages[0]",
        "externalNetwork",
    }


def test_user_data_over_novas_limit_is_refused_before_any_resource() -> None:
    packages = [f"extra-package-{i:04d}" for i in range(2000)]
    config = changed(SHIPPED, change("bootstrap", "packages", value=packages))
    error = rejected(config, "openstack-calculator")
    assert list(problems_at(error)) == ["bootstrap.packages"]
    assert "over Nova's 65535" in str(error)
