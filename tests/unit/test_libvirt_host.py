"""libvirt-host, from its shipped stack file, checked against docs/labs.md#libvirt-host."""

from __future__ import annotations

import ipaddress
import shlex
import subprocess
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import yaml

from tests.harness import (
    ScriptRun,
    StackRun,
    change,
    changed,
    revealed,
    run_program,
    run_stack_file,
    script_run,
)
from tests.validators import assert_cloud_config_valid, require

STACK = "libvirt-host"
COMMAND = "command:local:Command"
REMOTE = "command:remote:Command"
K = "cloud-labs:"
HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFYK9Jv4TR4Dl95nNJ+uqp/wuzy8aHCte3sF1XpqnC6M"
ROLES_BY_IP = {
    "10.0.0.2": "gateway",
    "10.0.0.3": "storage",
    "10.0.0.4": "controller",
    "10.0.0.5": "kvm1",
    "10.0.0.6": "kvm2",
}


def env(run: StackRun, name: str) -> dict[str, str]:
    return dict(run.one(COMMAND, name).inputs["environment"])


def domain(run: StackRun, vm: str) -> ET.Element:
    return ET.fromstring(env(run, f"vm-{vm}-domain")["DOMAIN_XML"])


def validate_xml(text: str, kind: str) -> None:
    tool = require("virt-xml-validate")
    with tempfile.NamedTemporaryFile("w", suffix=".xml") as f:
        f.write(text)
        f.flush()
        result = subprocess.run([tool, f.name, kind], capture_output=True, text=True)
    assert result.returncode == 0, f"{kind}: {result.stdout}{result.stderr}\n{text}"


def test_five_vms_with_the_lab_addresses(run: StackRun) -> None:
    seeds = {
        r.inputs["environment"]["NETWORK_CONFIG"]: r
        for r in run.of_type(COMMAND)
        if r.name.endswith("-seed")
    }
    found = {}
    for text, res in seeds.items():
        doc = yaml.safe_load(text)
        static = [e for e in doc["ethernets"].values() if e.get("addresses")]
        assert len(static) == 1, res
        found[static[0]["addresses"][0].split("/")[0]] = res.name.split("-")[1]
    assert found == ROLES_BY_IP


def test_nic_order_nat_first_then_management(run: StackRun) -> None:
    for vm in ROLES_BY_IP.values():
        nets = [
            i.find("source").get("network") for i in domain(run, vm).findall("devices/interface")
        ]
        assert nets == ["default", "privatenet"], vm


def test_gateway_also_on_br0_when_enabled(shipped: dict[str, Any]) -> None:
    config = {**shipped, K + "publicBridge": {"enabled": True, "bridge": "br0", "network": "br0"}}
    run = run_program(config)
    for vm in ROLES_BY_IP.values():
        nets = [
            i.find("source").get("network") for i in domain(run, vm).findall("devices/interface")
        ]
        expected = (
            ["default", "br0", "privatenet"] if vm == "gateway" else ["default", "privatenet"]
        )
        assert nets == expected, vm
    public = ET.fromstring(env(run, "public-define")["NETWORK_XML"])
    assert public.find("forward").get("mode") == "bridge"
    assert public.find("bridge").get("name") == "br0"
    validate_xml(env(run, "public-define")["NETWORK_XML"], "network")


def test_fixed_macs_from_config(run: StackRun, shipped: dict[str, Any]) -> None:
    for vm in shipped[K + "vms"]:
        macs = [
            i.find("mac").get("address")
            for i in domain(run, vm["name"]).findall("devices/interface")
        ]
        assert macs == [vm["natMac"], vm["mac"]], vm["name"]


def test_controller_has_the_most_memory(run: StackRun) -> None:
    memory = {vm: int(domain(run, vm).findtext("memory")) for vm in ROLES_BY_IP.values()}
    assert max(memory, key=lambda vm: memory[vm]) == "controller"
    assert all(m < memory["controller"] for vm, m in memory.items() if vm != "controller")
    assert memory["controller"] > 4096, "the lab's notes: 4 GB is too little for the controller"


def test_sizes_follow_config(run: StackRun, shipped: dict[str, Any]) -> None:
    for vm in shipped[K + "vms"]:
        dom = domain(run, vm["name"])
        assert dom.find("memory").attrib["unit"] == "MiB"
        assert int(dom.findtext("memory")) == vm["memoryMib"]
        assert int(dom.findtext("vcpu")) == vm["vcpus"]
        disk = env(run, f"vm-{vm['name']}-disk")
        assert disk["DISK_SIZE_GIB"] == str(vm["diskGib"])
        assert disk["DISK_MODE"] == "backing"
        assert dom.get("type") == "kvm"


def test_networks(run: StackRun) -> None:
    nat = ET.fromstring(env(run, "nat-define")["NETWORK_XML"])
    assert nat.findtext("name") == "default"
    assert nat.find("forward").get("mode") == "nat"
    assert nat.find("bridge").get("name") == "virbr0"
    assert nat.find("ip").attrib == {"address": "192.168.122.1", "netmask": "255.255.255.0"}
    assert nat.find("ip/dhcp/range").attrib == {"start": "192.168.122.2", "end": "192.168.122.254"}
    assert env(run, "nat-define")["ADOPT_EXISTING"] == "1", "an existing default is reused"
    mgmt = ET.fromstring(env(run, "management-define")["NETWORK_XML"])
    assert mgmt.findtext("name") == "privatenet"
    assert mgmt.find("forward") is None
    assert mgmt.find("bridge").get("name") == "privatebr0"
    assert mgmt.find("ip").attrib == {"address": "10.0.0.1", "netmask": "255.255.255.0"}
    assert env(run, "management-define")["ADOPT_EXISTING"] == "0"
    assert not [r for r in run.of_type(COMMAND) if r.name == "public-define"]


def test_definitions_are_valid_and_marked(run: StackRun) -> None:
    for res in run.of_type(COMMAND):
        e = res.inputs["environment"]
        for key, kind in (("DOMAIN_XML", "domain"), ("NETWORK_XML", "network")):
            if key in e:
                validate_xml(e[key], kind)
                mark = ET.fromstring(e[key]).find(
                    "metadata/{http://cloudlabs.invalid/libvirt/1}owner"
                )
                assert mark is not None, res
                assert mark.get("stack") == "cloud-labs/libvirt-host", res
                assert mark.get("digest") == e["DIGEST"], res
                assert e["OWNER"] == "cloud-labs/libvirt-host"


def test_seed_documents(run: StackRun, shipped: dict[str, Any]) -> None:
    key = shipped[K + "sshPublicKey"]
    for vm in shipped[K + "vms"]:
        e = env(run, f"vm-{vm['name']}-seed")
        assert yaml.safe_load(e["META_DATA"])["local-hostname"] == vm["name"]
        assert_cloud_config_valid(e["USER_DATA"], f"{vm['name']}-user-data")
        user = yaml.safe_load(e["USER_DATA"])["users"][0]
        assert user["name"] == "ubuntu"
        assert user["ssh_authorized_keys"] == [key]
        assert user["sudo"] == "ALL=(ALL) NOPASSWD:ALL"
        assert e["ISO_PATH"] == f"/var/lib/libvirt/images/cloudlabs/{vm['name']}-cidata.iso"
        sources = [
            d.find("source").get("file") for d in domain(run, vm["name"]).findall("devices/disk")
        ]
        assert sources == [
            f"/var/lib/libvirt/images/cloudlabs/{vm['name']}.qcow2",
            e["ISO_PATH"],
        ]


def test_base_image_url_is_downloaded_into_the_storage_dir(run: StackRun, shipped: dict) -> None:
    e = env(run, "base-image-fetch")
    assert e["BASE_SOURCE"] == shipped[K + "baseImage"]
    assert e["BASE_PATH"] == (
        "/var/lib/libvirt/images/cloudlabs/base-ubuntu-24.04-server-cloudimg-amd64.img"
    )
    assert env(run, "vm-gateway-disk")["BASE_PATH"] == e["BASE_PATH"]


def test_dependencies_give_a_safe_create_and_delete_order(run: StackRun) -> None:
    prep = run.one(COMMAND, "host-kernel")
    base = run.one(COMMAND, "base-image-fetch")
    nets = [run.one(COMMAND, "nat-define"), run.one(COMMAND, "management-define")]
    for net in [*nets, base]:
        assert run.depends_on(net, prep), net
    for vm in ROLES_BY_IP.values():
        dom = run.one(COMMAND, f"vm-{vm}-domain")
        for other in [
            *nets,
            base,
            run.one(COMMAND, f"vm-{vm}-disk"),
            run.one(COMMAND, f"vm-{vm}-seed"),
        ]:
            assert run.depends_on(dom, other), f"{dom} must depend on {other}"
        assert run.depends_on(run.one(COMMAND, f"vm-{vm}-disk"), base)


def test_commands_carry_their_scripts_and_parameters_only_in_the_environment(
    run: StackRun, root: Path
) -> None:
    for res in run.of_type(COMMAND):
        for action in ("create", "delete"):
            run_of = script_run(res.inputs[action])
            assert run_of.script.startswith("scripts/libvirt/"), res
            assert run_of == ScriptRun([], run_of.script, action, {}), res
        assert res.inputs["environment"]["LIBVIRT_URI"] == "qemu:///system"


def test_every_child_is_parented_to_its_component(run: StackRun) -> None:
    for res in run.of_type(COMMAND):
        assert res.parent is not None and "cloudlabs:libvirt:" in res.parent, res
        component = res.parent.rsplit("::", 1)[-1]
        assert res.name.startswith(f"{component}-"), res


def test_outputs_inventory_and_ssh_commands(run: StackRun) -> None:
    inventory = run.outputs["inventory"]
    groups: dict[str, list[str]] = {}
    current = ""
    for line in inventory.splitlines():
        if line.startswith("["):
            current = line.strip("[]")
            groups[current] = []
        elif line.strip():
            groups[current].append(line)
    assert groups["gateway"] == ["gateway ansible_host=10.0.0.2"]
    assert groups["storage"] == ["storage ansible_host=10.0.0.3"]
    assert groups["controller"] == ["controller ansible_host=10.0.0.4"]
    assert groups["compute"] == ["kvm1 ansible_host=10.0.0.5", "kvm2 ansible_host=10.0.0.6"]
    assert "ansible_user=ubuntu" in groups["all:vars"]
    ssh = run.outputs["sshCommands"]
    assert set(ssh) == set(ROLES_BY_IP.values())
    for ip, vm in ROLES_BY_IP.items():
        assert shlex.split(ssh[vm])[0] == "ssh" and shlex.split(ssh[vm])[-1] == f"ubuntu@{ip}"
    assert run.outputs["networks"] == ["default", "privatenet"]


def test_remote_host_over_ssh(shipped: dict[str, Any]) -> None:
    config = {
        **shipped,
        K + "connection": {
            "host": "kvm.example.org",
            "user": "lab",
            "port": 2222,
            "privateKey": "-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH...\n",
            "hostKey": HOST_KEY,
            "sudo": True,
            "dialErrorLimit": 20,
        },
    }
    run = run_program(config)
    local_env = {
        r.name: dict(r.inputs["environment"]) for r in run_program(shipped).of_type(COMMAND)
    }
    assert not run.of_type(COMMAND), "every command runs on the remote host"
    remote = run.of_type(REMOTE)
    assert len(remote) == 1 + 2 + 1 + 5 * 3
    for res in remote:
        conn, secret = revealed(res.inputs["connection"])
        assert secret, f"{res}: the connection holding the private key must be a secret"
        assert conn["host"] == "kvm.example.org" and conn["user"] == "lab"
        assert conn["port"] == 2222 and conn["dialErrorLimit"] == 20
        assert conn["perDialTimeout"] == 15 and conn["hostKey"] == HOST_KEY
        assert "BEGIN OPENSSH PRIVATE KEY" in conn["privateKey"]
        assert "environment" not in res.inputs, "a remote sshd drops unknown variables"
        assert res.inputs["addPreviousOutputInEnv"] is False, "nor would it take these"
        for action in ("create", "delete"):
            run_of = script_run(res.inputs[action])
            assert run_of.prefix == ["sudo", "-n"] and run_of.action == action, res
            # Every value (XML, multi-line YAML, paths) reaches the script exactly as the
            # local command would hand it over: exported inside the command, quoted once,
            # and inside sudo, so sudo need not keep any variable.
            assert run_of.exports == local_env[res.name], f"{res} {action}"
            assert "PRIVATE KEY" not in res.inputs[action], "the key travels only as a secret"
    assert "<name>gateway</name>" in local_env["vm-gateway-domain"]["DOMAIN_XML"]
    assert "PRIVATE KEY" not in repr(run.outputs), "no output may carry the private key"
    assert run.outputs["sshCommands"]["gateway"].endswith(
        "-J lab@kvm.example.org:2222 ubuntu@10.0.0.2"
    )
    assert "ProxyJump" not in run.outputs["inventory"]
    assert "-J lab@kvm.example.org:2222" in run.outputs["inventory"]


def test_qemu_domain_type_drops_cpu_passthrough(shipped: dict[str, Any]) -> None:
    run = run_program({**shipped, K + "domainType": "qemu"})
    dom = domain(run, "gateway")
    assert dom.get("type") == "qemu"
    assert dom.find("cpu") is None
    assert env(run, "host-kernel")["DOMAIN_TYPE"] == "qemu"
    assert domain(run_stack_file("libvirt-host"), "gateway").find("cpu").get("mode") == (
        "host-passthrough"
    ), "kvm guests get the host CPU, for nested KVM"


def test_vm_defaults_match_the_shipped_file(shipped: dict[str, Any]) -> None:
    config = changed(shipped, change("vms", delete=True))
    a = {r.name: r.inputs for r in run_program(config).of_type(COMMAND)}
    b = {r.name: r.inputs for r in run_program(shipped).of_type(COMMAND)}
    assert a == b


def test_addresses_are_in_the_management_subnet(run: StackRun) -> None:
    net = ipaddress.IPv4Network("10.0.0.0/24")
    for ip in ROLES_BY_IP:
        assert ipaddress.IPv4Address(ip) in net
