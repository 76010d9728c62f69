"""The libvirt-host stack's own commands, run against a real libvirtd with QEMU.

Prerequisites (installed and started by ``scripts/setup/libvirt.sh``): libvirtd and virtlogd
running inside the network namespace ``cloudlabs-libvirt``, QEMU, qemu-img, genisoimage/isoinfo,
xmllint. Every bridge, dnsmasq and firewall rule libvirt makes stays inside that namespace; the
commands run there too (``ip netns exec``), as they would on the KVM host.

The stack is run under mocks with a small config (software emulation, 128 MiB guests, a local
empty qcow2 as the base image); the create commands it declares run in dependency order, then
again (nothing changes), then the deletes in reverse order (nothing of the stack is left; a
network and a domain the stack did not create are untouched).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.guests import (
    STORAGE,
    attempt,
    execute,
    in_netns,
    new_tag,
    remove_leftovers,
    remove_tagged,
    require_libvirtd,
    sh,
    virsh,
)
from tests.harness import Resource, StackRun, load_stack_file, run_program
from tests.validators import require

pytestmark = pytest.mark.integration

COMMAND = "command:local:Command"


@dataclass
class Lab:
    tag: str
    storage: Path
    base: Path
    public_bridge: str
    foreign_network: str
    foreign_domain: str
    config: dict[str, Any]
    run: StackRun
    commands: list[Resource]

    def name(self, vm: str) -> str:
        return f"{self.tag}-{vm}"


def refused(command: Resource, **changes: str) -> None:
    """``create`` stops at something of the same name that the stack did not create."""
    result = attempt(command, "create", **changes)
    assert result.returncode != 0 and "not created by" in result.stderr, result.stderr


def all_domains() -> list[str]:
    return virsh("list", "--all", "--name").split()


def all_networks() -> list[str]:
    return virsh("net-list", "--all", "--name").split()


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    require("qemu-img")
    require_libvirtd()

    remove_leftovers()
    tag = new_tag("cl")
    storage = STORAGE / tag
    public = f"{tag}p0"
    try:
        storage.mkdir(parents=True)
        base = storage / "base.qcow2"
        sh("qemu-img", "create", "-q", "-f", "qcow2", str(base), "256M")
        in_netns("ip", "link", "add", public, "type", "bridge")
        in_netns("ip", "link", "set", public, "up")

        # What the stack did not create: a network and a domain it must leave alone.
        foreign_net, foreign_dom = f"{tag}-foreign", f"{tag}-foreign"
        net_xml = storage / "foreign-net.xml"
        net_xml.write_text(
            f"<network><name>{foreign_net}</name><bridge name='{tag}f0'/>"
            "<ip address='10.99.0.1' netmask='255.255.255.0'/></network>"
        )
        virsh("net-define", str(net_xml))
        virsh("net-start", foreign_net)
        dom_xml = storage / "foreign-dom.xml"
        dom_xml.write_text(
            f"<domain type='qemu'><name>{foreign_dom}</name><memory unit='MiB'>64</memory>"
            "<os><type arch='x86_64'>hvm</type></os></domain>"
        )
        virsh("define", str(dom_xml))

        config = load_stack_file("libvirt-host")
        k = "cloud-labs:"
        vms = config[k + "vms"]
        config.update(
            {
                k + "domainType": "qemu",
                k + "storageDir": str(storage),
                k + "baseImage": str(base),
                k + "allowUndersized": True,
                k + "autostart": True,
                k + "hostPreparation": {"enabled": True, "persist": False},
                k + "natNetwork": {
                    "name": f"{tag}-nat",
                    "bridge": f"{tag}n0",
                    "cidr": "192.168.150.0/24",
                    "address": "192.168.150.1",
                    "dhcpStart": "192.168.150.100",
                    "dhcpEnd": "192.168.150.199",
                    "adoptExisting": False,
                },
                k + "managementNetwork": {
                    "name": f"{tag}-mgmt",
                    "bridge": f"{tag}m0",
                    "cidr": "10.0.0.0/24",
                    "address": "10.0.0.1",
                },
                k + "publicBridge": {"enabled": True, "bridge": public, "network": f"{tag}-pub"},
                k + "vms": [
                    {
                        **vm,
                        "name": f"{tag}-{vm['name']}",
                        "memoryMib": 128,
                        "vcpus": 1,
                        "diskGib": 1,
                    }
                    for vm in vms
                ],
            }
        )
        run = run_program(config, stack="itest")
        commands = run.in_dependency_order(COMMAND)
        yield Lab(tag, storage, base, public, foreign_net, foreign_dom, config, run, commands)
    finally:
        remove_tagged(tag, storage)


def state(lab: Lab) -> dict[str, Any]:
    """What the stack made, as libvirt and the file system see it."""
    seen: dict[str, Any] = {}
    for name in all_domains():
        seen[f"domain {name}"] = (virsh("dumpxml", "--inactive", name), virsh("domstate", name))
    for name in all_networks():
        seen[f"network {name}"] = (
            virsh("net-dumpxml", "--inactive", name),
            virsh("net-info", name),
        )
    for path in sorted(lab.storage.iterdir()):
        st = path.stat()
        seen[f"file {path.name}"] = (st.st_size, st.st_mtime_ns)
    return seen


def test_lifecycle(lab: Lab) -> None:
    commands = lab.commands
    assert len(commands) == 1 + 3 + 1 + 5 * 3, commands

    # --- create --------------------------------------------------------------------------
    outputs = {c.name: execute(c, "create") for c in commands}
    assert "ip-forward: 1" in outputs["host-kernel"]
    assert in_netns("cat", "/proc/sys/net/ipv4/ip_forward").strip() == "1"
    assert "nested-kvm:" in outputs["host-kernel"]

    nets = {n.name: n.inputs["environment"] for n in commands if n.name.endswith("-define")}
    assert {e["NETWORK_NAME"] for e in nets.values()} == {
        f"{lab.tag}-nat",
        f"{lab.tag}-mgmt",
        f"{lab.tag}-pub",
    }
    for name, bridge in ((f"{lab.tag}-nat", f"{lab.tag}n0"), (f"{lab.tag}-mgmt", f"{lab.tag}m0")):
        info = virsh("net-info", name)
        assert "Active:         yes" in info and f"Bridge:         {bridge}" in info, info
        # The bridge exists in the namespace, not on this machine.
        in_netns("ip", "link", "show", bridge)
        assert sh("ip", "link", "show", bridge, check=False) == ""
    nat = ET.fromstring(virsh("net-dumpxml", f"{lab.tag}-nat"))
    assert nat.find("forward").get("mode") == "nat"
    assert nat.find("ip").attrib == {"address": "192.168.150.1", "netmask": "255.255.255.0"}
    assert nat.find("ip/dhcp/range").attrib == {
        "start": "192.168.150.100",
        "end": "192.168.150.199",
    }
    addr = in_netns("ip", "-4", "-o", "addr", "show", f"{lab.tag}n0")
    assert "192.168.150.1/24" in addr
    # NAT really set up inside the namespace: masquerading rules and dnsmasq serving the range.
    rules = in_netns("iptables", "-t", "nat", "-S")
    assert "-s 192.168.150.0/24" in rules and "MASQUERADE" in rules, rules
    assert f"{lab.tag}-nat" in sh("ps", "-eo", "args")
    mgmt = ET.fromstring(virsh("net-dumpxml", f"{lab.tag}-mgmt"))
    assert mgmt.find("forward") is None, "the management network must be isolated"
    assert mgmt.find("ip").get("address") == "10.0.0.1"
    pub = ET.fromstring(virsh("net-dumpxml", f"{lab.tag}-pub"))
    assert pub.find("forward").get("mode") == "bridge"
    assert pub.find("bridge").get("name") == lab.public_bridge

    for vm in lab.config["cloud-labs:vms"]:
        name = vm["name"]
        assert virsh("domstate", name).strip() == "running", name
        live = ET.fromstring(virsh("dumpxml", name))
        assert int(live.findtext("memory")) == 128 * 1024
        assert live.findtext("vcpu") == "1"
        nics = [
            (i.find("mac").get("address"), i.find("source").get("network"))
            for i in live.findall("devices/interface")
        ]
        expected = [(vm["natMac"], f"{lab.tag}-nat")]
        if vm["role"] == "gateway":
            expected.append((vm["publicMac"], f"{lab.tag}-pub"))
        expected.append((vm["mac"], f"{lab.tag}-mgmt"))
        assert nics == expected, name
        disk = lab.storage / f"{name}.qcow2"
        iso = lab.storage / f"{name}-cidata.iso"
        sources = [d.find("source").get("file") for d in live.findall("devices/disk")]
        assert sources == [str(disk), str(iso)], name
        chain = sh("qemu-img", "info", "-U", "--backing-chain", str(disk))
        assert f"backing file: {lab.base}" in chain and "virtual size: 1 GiB" in chain, chain
        seed = next(c for c in commands if c.name == f"vm-{name}-seed")
        env = seed.inputs["environment"]
        assert "Volume id: cidata" in sh("isoinfo", "-d", "-i", str(iso))
        for file, key in (
            ("meta-data", "META_DATA"),
            ("user-data", "USER_DATA"),
            ("network-config", "NETWORK_CONFIG"),
        ):
            assert sh("isoinfo", "-i", str(iso), "-J", "-x", f"/{file}") == env[key], file
        assert vm["ip"] + "/24" in env["NETWORK_CONFIG"]
        assert f"local-hostname: {name}" in env["META_DATA"]

    # --- create again: nothing changes ----------------------------------------------------
    before = state(lab)
    for c in commands:
        execute(c, "create")
    assert state(lab) == before

    # A changed size is an update of the same domain: redefined in place, same UUID; the
    # running domain is restarted to take its new memory (these guests have no OS to answer
    # the ACPI shutdown: forced off after the script's timeout), and its disk grows live.
    gateway = lab.name("gateway")
    uuid_before = virsh("domuuid", gateway)
    bigger = [
        {**vm, "memoryMib": 192, "diskGib": 2} if vm["name"] == gateway else vm
        for vm in lab.config["cloud-labs:vms"]
    ]
    rerun = run_program({**lab.config, "cloud-labs:vms": bigger}, stack="itest")
    changed = [
        c
        for c in rerun.in_dependency_order(COMMAND)
        if c.inputs["environment"]
        != next(o for o in commands if o.name == c.name).inputs["environment"]
    ]
    assert [c.name for c in changed] == [f"vm-{gateway}-disk", f"vm-{gateway}-domain"]
    disk = lab.storage / f"{gateway}.qcow2"
    grown = attempt(changed[0], "create")
    assert grown.returncode == 0 and f"while {gateway} runs" in grown.stderr, grown.stderr
    assert "virtual size: 2 GiB" in sh("qemu-img", "info", "-U", str(disk))
    assert virsh("domstate", gateway).strip() == "running"
    restarted = attempt(changed[1], "create", SHUTDOWN_TIMEOUT="3")
    assert restarted.returncode == 0, restarted.stderr
    assert "forcing it off" in restarted.stderr, restarted.stderr
    for view in ((), ("--inactive",)):
        xml = ET.fromstring(virsh("dumpxml", *view, gateway))
        assert int(xml.findtext("memory")) == 192 * 1024, view
    assert virsh("domuuid", gateway) == uuid_before
    assert virsh("domstate", gateway).strip() == "running"
    # Applied: the same definition again changes nothing, and does not restart the domain.
    again = attempt(changed[1], "create", SHUTDOWN_TIMEOUT="3")
    assert again.returncode == 0 and "shutting down" not in again.stderr, again.stderr

    # What the stack did not create is refused on create and kept on delete: a domain, a
    # network (unless adopted: then used as it is, started if stopped), a disk, a seed ISO.
    domain_cmd, disk_cmd, seed_cmd = (
        next(c for c in commands if c.name.endswith(suffix))
        for suffix in ("-domain", "-disk", "-seed")
    )
    nat_cmd = next(c for c in commands if c.name == "nat-define")
    refused(domain_cmd, DOMAIN_NAME=lab.foreign_domain)
    refused(nat_cmd, NETWORK_NAME=lab.foreign_network)
    foreign_xml = virsh("net-dumpxml", "--inactive", lab.foreign_network)
    virsh("net-destroy", lab.foreign_network)
    adopt = {"NETWORK_NAME": lab.foreign_network, "ADOPT_EXISTING": "1"}
    assert "existing" in execute(nat_cmd, "create", **adopt)
    assert "Active:         yes" in virsh("net-info", lab.foreign_network)
    foreign_disk, foreign_iso = lab.storage / "foreign.qcow2", lab.storage / "foreign.iso"
    sh("qemu-img", "create", "-q", "-f", "qcow2", str(foreign_disk), "64M")
    foreign_iso.write_bytes(b"not the stack's")
    refused(disk_cmd, DISK_PATH=str(foreign_disk))
    refused(seed_cmd, ISO_PATH=str(foreign_iso))
    foreign_files = {p: p.read_bytes() for p in (foreign_disk, foreign_iso)}
    execute(domain_cmd, "delete", DOMAIN_NAME=lab.foreign_domain)
    execute(nat_cmd, "delete", **adopt)
    execute(disk_cmd, "delete", DISK_PATH=str(foreign_disk))
    execute(seed_cmd, "delete", ISO_PATH=str(foreign_iso))
    assert lab.foreign_domain in all_domains()
    assert virsh("net-dumpxml", "--inactive", lab.foreign_network) == foreign_xml
    assert {p: p.read_bytes() for p in foreign_files} == foreign_files

    # Persisted host settings: written with persist, removed when persist is turned off.
    prep = next(c for c in commands if c.name == "host-kernel")
    files = {
        "SYSCTL_FILE": str(lab.storage / "sysctl.conf"),
        "MODULES_FILE": str(lab.storage / "m.conf"),
    }
    execute(prep, "create", PERSIST="1", **files)
    assert "net.ipv4.ip_forward = 1" in Path(files["SYSCTL_FILE"]).read_text()
    assert Path(files["MODULES_FILE"]).read_text().splitlines()[-1] == "br_netfilter"
    execute(prep, "create", PERSIST="0", **files)
    assert not any(Path(f).exists() for f in files.values())
    execute(prep, "create", PERSIST="1", **files)
    execute(prep, "delete", **files)
    assert not any(Path(f).exists() for f in files.values())

    # --- delete: nothing of the stack remains ----------------------------------------------
    for c in reversed(commands):
        execute(c, "delete")
    assert [d for d in all_domains() if d.startswith(lab.tag)] == [lab.foreign_domain]
    assert [n for n in all_networks() if n.startswith(lab.tag)] == [lab.foreign_network]
    assert "Active:         yes" in virsh("net-info", lab.foreign_network)
    left = sorted(p.name for p in lab.storage.iterdir())
    assert left == [
        "base.qcow2",
        "foreign-dom.xml",
        "foreign-net.xml",
        "foreign.iso",
        "foreign.qcow2",
    ], left
    assert {p: p.read_bytes() for p in foreign_files} == foreign_files
    for bridge in (f"{lab.tag}n0", f"{lab.tag}m0"):
        assert in_netns("ip", "link", "show", bridge, check=False) == ""
    assert "-s 192.168.150.0/24" not in in_netns("iptables", "-t", "nat", "-S")
    # Deleting twice is harmless.
    for c in reversed(commands):
        execute(c, "delete")
