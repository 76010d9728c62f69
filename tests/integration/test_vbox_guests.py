"""The VirtualBox labs with real guests: each VM boots the seed ISO its stack makes.

``vbox-cluster`` and ``vbox-nat`` run under the mocks with the test's SSH key, a work
directory of the test's, small sizes and (vbox-cluster) two nodes and the package mirror of
``scripts/setup/guest-mirror.sh`` as ``aptMirror``: documented config keys only. Then the
stack's own commands run for real, in the namespace ``cloudlabs-libvirt``:
``ready-key-file`` (``scripts/virtualbox/ready-key.sh``) makes the ready key, whose public half
the stack's seeds authorise (the mocks are told what it printed, as the engine would be), and
each ``<role>-seed-iso`` (``scripts/virtualbox/seed.sh``) writes its NoCloud ISO. VirtualBox
itself is what stands in: every VM the stack starts (its ``<role>-vm`` command, ``VM_START``)
becomes a QEMU guest of the cloud image with the VM's memory and vCPUs, adapter 1 on a NAT
network 10.0.2.0/24 whose gateway and DNS server is 10.0.2.2 (VirtualBox NAT's gateway; its
DNS proxy is 10.0.2.3, which the guests never name: they take it by DHCP), adapter 2 (when
the VM has one) on a bridge standing in for the internal network, each NIC with the MAC
address the stack gives VirtualBox and the guest's network-config matches. The NAT adapters of
VirtualBox are one network per VM, each VM at 10.0.2.15; here they share one network, each VM
at its own address. The VM's port forwards (``VM_FORWARDS``) are socat listeners on the
namespace's 127.0.0.1. The stack's ready wait (``<role>-ssh``, ``scripts/virtualbox/ssh-wait.sh``)
then runs through the forwards with the ready key, and the lab's declared checks
(``scripts/check.sh``) pass on the booted guests.

vbox-cluster: master's dnsmasq gives each node its address and name by MAC, and forwards names
outside the lab to its upstream (the NAT network's DNS, which answers one name of its own);
``/shared`` is exported by master and mounted by autofs on the nodes; nginx on master spreads
2,000 concurrent POSTs over the nodes' counter, whose count in Redis on node01 is exact, also
when one node's app is stopped during the run. vbox-nat: the VM and the VM on the clone of its
disk each come up as themselves with the user's key, as distinct cloud-init instances.

VBoxManage's own behaviour (the VMs' settings, clonemedium, the NAT engine) is checked against
VirtualBox's documented interface by ``test_vbox_scripts.py``, not here.
"""

from __future__ import annotations

import ipaddress
import json
import re
import shlex
import subprocess
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from components.virtualbox.machine import colon_mac
from tests import guests
from tests.check_run import CheckRun, run_check_sh
from tests.guests import (
    NETNS,
    Guest,
    Lab,
    SshKey,
    boot,
    execute,
    in_netns,
    ipv4,
    journal,
    nic,
    run,
)
from tests.harness import ROOT, Resource, StackRun, load_stack_file, run_program
from tests.validators import require

pytestmark = [pytest.mark.integration, pytest.mark.guest]

K = "cloud-labs:"
COMMAND = "command:local:Command"
NAT = ipaddress.IPv4Interface("10.0.2.2/24")
"""VirtualBox NAT's network and gateway (the namespace's address on the NAT network)."""
FIRST_GUEST = 15
"""VirtualBox NAT gives its guest 10.0.2.15; here the guests take 10.0.2.15, .16, ..."""
UPSTREAM = ("gateway.upstream.test", str(NAT.ip))
"""A name only the NAT network's DNS server knows (outside every lab), and its address."""
DISK_GB = 4
CONCURRENCY = 20
"""POSTs in flight at once: each node is one emulated vCPU running a Python app, and nginx
gives up on a node after 10 s."""
TOTAL = 2000


def shipped(stack: str, key: SshKey, work: Path, **changes: Any) -> dict[str, Any]:
    """The shipped stack with the test's key and work directory, ``changes`` (keys without the
    project prefix, merged into mappings) on top."""
    config = load_stack_file(stack)
    config[K + "sshPublicKey"] = key.public
    config[K + "workDir"] = str(work)
    for name, value in changes.items():
        old = config.get(K + name)
        config[K + name] = {**old, **value} if isinstance(old, dict) else value
    return config


@dataclass
class Vm:
    """A VM the stack starts, as its ``<role>-vm`` command tells VirtualBox."""

    role: str
    name: str
    nic1_mac: str
    nic2_mac: str
    """Empty: no adapter 2."""
    nic2_network: str
    memory_mib: int
    cpus: int
    seed: Path
    forwards: list[tuple[int, int]]
    """(host port on 127.0.0.1, guest port)."""
    nat_address: str = ""
    guest: Guest | None = None

    @classmethod
    def of(cls, command: Resource) -> Vm:
        env = command.inputs["environment"]
        forwards = []
        for rule in env["VM_FORWARDS"].splitlines():
            _, proto, host_ip, host_port, _, guest_port = rule.split(",")
            assert (proto, host_ip) == ("tcp", "127.0.0.1"), rule
            forwards.append((int(host_port), int(guest_port)))
        return cls(
            role=command.name.removesuffix("-vm"),
            name=env["VM_NAME"],
            nic1_mac=colon_mac(env["VM_NIC1_MAC"]),
            nic2_mac=colon_mac(env["VM_NIC2_MAC"]) if env["VM_NIC2"] != "none" else "",
            nic2_network=env["VM_NIC2_NETWORK"],
            memory_mib=int(env["VM_MEMORY_MB"]),
            cpus=int(env["VM_CPUS"]),
            seed=Path(env["VM_SEED"]),
            forwards=forwards,
        )

    @property
    def on(self) -> Guest:
        assert self.guest is not None, f"{self.name} was not booted"
        return self.guest


@dataclass
class Booted:
    stack: str
    tag: str
    key: SshKey
    config: dict[str, Any]
    program: StackRun
    storage: Path
    vms: dict[str, Vm] = field(default_factory=dict)
    """By VM name."""

    def command(self, name: str) -> Resource:
        return self.program.one(COMMAND, name)

    def guest(self, name: str) -> Guest:
        return self.vms[name].on

    def check_sh(self, directory: Path, *extra: str) -> CheckRun:
        """``scripts/check.sh`` in the namespace on the stack's outputs, with the test's key;
        new guests, new host keys: none is checked or kept."""
        directory.mkdir(exist_ok=True)
        args = (
            "--identity", str(self.key.path), "--ssh-option", "BatchMode=yes",
            "--ssh-option", "StrictHostKeyChecking=no",
            "--ssh-option", "UserKnownHostsFile=/dev/null",
            "--ssh-option", "ConnectTimeout=10",
        )  # fmt: skip
        netns = ("ip", "netns", "exec", NETNS)
        return run_check_sh(
            self.stack, self.config, self.program.outputs, directory, *args, *extra, prefix=netns
        )


def forward(listen: int, address: str, port: int, storage: Path) -> subprocess.Popen[bytes]:
    """A port forward as a VirtualBox NAT adapter makes one: 127.0.0.1:``listen`` in the
    namespace to ``address``:``port``."""
    log = (storage / f"forward-{listen}.log").open("wb")
    args = [
        "ip", "netns", "exec", NETNS, "socat",
        f"TCP-LISTEN:{listen},bind=127.0.0.1,reuseaddr,fork", f"TCP:{address}:{port}",
    ]  # fmt: skip
    return subprocess.Popen(
        args,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
    )


@contextmanager
def booted_lab(stack: str, prefix: str, **changes: Any) -> Iterator[Booted]:
    """The stack under the mocks, its ready key and seed ISOs made by its own commands, and
    every VM it starts booted (see the module's docstring); everything removed afterwards."""
    guests.require_libvirtd()
    guests.require_qemu()
    require("socat")
    served = guests.mirror()
    guests.remove_leftovers()
    in_netns("ip", "link", "set", "lo", "up")  # where the forwards listen
    tag = guests.new_tag(prefix)
    storage = guests.STORAGE / tag
    forwards: list[subprocess.Popen[bytes]] = []
    try:
        storage.mkdir(parents=True)
        key = SshKey.create(storage)
        if "aptMirror" in changes:
            changes["aptMirror"] = {
                "url": served.url(str(NAT.ip)),
                "key": served.key_asc.read_text(),
            }
        # The image VirtualBox would import: the cloud image, its own virtual size.
        image = guests.cloud_image()
        size = json.loads(run(["qemu-img", "info", "-U", "--output=json", str(image)]).stdout)
        changes["image"] = {"path": str(image), "virtualSizeMb": size["virtual-size"] >> 20}
        config = shipped(stack, key, storage / "work", **changes)
        first = run_program(config, stack="guests")
        # The engine runs the ready key's command first and gives the seeds what it printed.
        printed = execute(first.one(COMMAND, "ready-key-file"), "create").strip()
        assert printed.startswith("ssh-ed25519 ") and printed.endswith(" cloudlabs-ready")
        program = run_program(
            config, stack="guests", run=StackRun(command_stdout={"ready-key-file": printed})
        )
        booted = Booted(stack, tag, key, config, program, storage)
        for command in program.of_type(COMMAND):
            if command.name.endswith("-seed-iso"):
                made = execute(command, "create").strip().splitlines()[-1]
                assert Path(made).is_file(), f"{command.name} made no ISO: {made}"
        started = [
            Vm.of(c)
            for c in program.of_type(COMMAND)
            if c.name.endswith("-vm") and c.inputs["environment"]["VM_START"] == "yes"
        ]
        with Lab(tag, storage, image) as lab:
            nat_hosts = []
            for i, vm in enumerate(started):
                vm.nat_address = str(NAT.network[FIRST_GUEST + i])
                nat_hosts.append((vm.nic1_mac, vm.nat_address, vm.name))
            nat = lab.network(
                f"{tag}-nat",
                f"{tag}n0",
                str(NAT),
                nat=True,
                dhcp=(str(NAT.network[FIRST_GUEST]), str(NAT.network[99])),
                hosts=nat_hosts,
                dns_hosts=[(UPSTREAM[1], UPSTREAM[0])],
            )
            names = sorted({vm.nic2_network for vm in started if vm.nic2_mac})
            internal = {n: lab.bridge(f"{tag}-lab{i}", f"{tag}l{i}") for i, n in enumerate(names)}
            for vm in started:
                assert vm.seed.is_file(), f"{vm.name}: no seed ISO {vm.seed}"
                nics = [(nat, vm.nic1_mac)]
                if vm.nic2_mac:
                    nics.append((internal[vm.nic2_network], vm.nic2_mac))
                vm.guest = lab.guest(
                    f"{tag}-{vm.name}",
                    seed=vm.seed,
                    nics=nics,
                    address=vm.nat_address,
                    key=key,
                    memory_mib=vm.memory_mib,
                    vcpus=vm.cpus,
                    disk_gib=DISK_GB,
                )
                for listen, port in vm.forwards:
                    forwards.append(forward(listen, vm.nat_address, port, storage))
                booted.vms[vm.name] = vm
            boot([vm.on for vm in started])
            yield booted
    finally:
        for proc in forwards:
            proc.terminate()
            proc.wait(timeout=30)
        guests.remove_tagged(tag, storage)


def addresses(link: Mapping[str, Any]) -> list[tuple[str, bool]]:
    """The link's IPv4 addresses (with prefix) and whether each came by DHCP (``dynamic``)."""
    return [(f"{a['local']}/{a['prefixlen']}", bool(a.get("dynamic"))) for a in ipv4(link)]


def ready_waits(booted: Booted) -> None:
    """The stack's own ready wait for each VM (``<role>-ssh``): through the forward, with the
    ready key the stack made, it sees cloud-init done."""
    for vm in booted.vms.values():
        said = execute(booted.command(f"{vm.role}-ssh"), "create", timeout=300)
        assert "cloud-init: done" in said, f"{vm.role}-ssh: {said}"


# --- vbox-cluster --------------------------------------------------------------------------

NODES = 2


class TestCluster:
    @pytest.fixture(scope="class")
    @classmethod
    def cluster(cls) -> Iterator[Booted]:
        with booted_lab(
            "vbox-cluster",
            "gc",
            aptMirror=True,
            template={"diskGb": DISK_GB},
            master={"memoryMb": 768, "diskGb": DISK_GB},
            nodes={"count": NODES, "memoryMb": 640, "diskGb": DISK_GB},
        ) as booted:
            assert sorted(booted.vms) == ["master", "node01", "node02"], sorted(booted.vms)
            yield booted

    def test_master_serves_addresses_and_names_by_mac(self, cluster: Booted) -> None:
        lab = cluster.program.outputs["labAddresses"]
        network = cluster.config[K + "network"]
        prefix = network["cidr"].split("/")[1]
        master = cluster.vms["master"]
        lab_link = nic(master.on, master.nic2_mac)
        assert addresses(lab_link) == [(f"{network['masterIp']}/{prefix}", False)], lab_link
        assert addresses(nic(master.on, master.nic1_mac)) == [(f"{master.nat_address}/24", True)]
        leases = master.on.ssh("cat /var/lib/misc/dnsmasq.leases").stdout
        for name in ("node01", "node02"):
            vm = cluster.vms[name]
            assert vm.on.ssh("hostname").stdout.strip() == name
            got = addresses(nic(vm.on, vm.nic2_mac))
            assert got == [(f"{lab[name]}/{prefix}", True)], f"{name}: {got}\n{leases}"
            assert f" {vm.nic2_mac} {lab[name]} {name} " in leases, leases
            # The way out is the NAT adapter: master's dnsmasq pushes no router.
            routes = vm.on.ssh("ip -4 route show default").stdout
            assert routes.split()[:3] == ["default", "via", str(NAT.ip)], routes
            assert routes.count("default") == 1, routes

    def test_names_answer_from_a_node(self, cluster: Booted) -> None:
        lab = cluster.program.outputs["labAddresses"]
        node = cluster.guest("node02")
        master_ip = lab["master"]
        for name in ("node02", "master", "node01"):
            # As a student types it (the node's resolver), and from master's dnsmasq itself.
            for server in ("", master_ip):
                asked = f"host {name} {server}".strip()
                said = node.ssh(asked, check=False, timeout=60)
                assert said.returncode == 0 and f"{name} has address {lab[name]}" in said.stdout, (
                    f"{asked}: exit {said.returncode}: {said.stdout}{said.stderr}\n"
                    + journal(cluster.guest("master"), "dnsmasq")
                )
        # A name outside the lab: master's dnsmasq forwards it to its upstream.
        asked = f"host -t A {UPSTREAM[0]} {master_ip}"
        said = node.ssh(asked, check=False, timeout=60)
        assert f"{UPSTREAM[0]} has address {UPSTREAM[1]}" in said.stdout, (
            f"{asked}: {said.stdout}{said.stderr}"
        )

    def test_shared_is_exported_and_mounted_by_autofs(self, cluster: Booted) -> None:
        master_ip = cluster.program.outputs["labAddresses"]["master"]
        exports = cluster.guest("master").ssh("sudo exportfs -v").stdout
        assert "/shared" in exports, exports
        one, two = cluster.guest("node01"), cluster.guest("node02")
        token = f"written on node01 ({cluster.tag})"
        one.ssh(f"echo {shlex.quote(token)} > /shared/data/from-node01 && ls -d /shared/home")
        assert two.ssh("cat /shared/data/from-node01").stdout.strip() == token
        mounted = json.loads(two.ssh("findmnt --json /shared").stdout)["filesystems"]
        nfs = [m for m in mounted if m["fstype"].startswith("nfs")]
        assert [m["source"] for m in nfs] == [f"{master_ip}:/shared"], mounted
        assert "autofs" in {m["fstype"] for m in mounted}, mounted

    def count(self, cluster: Booted) -> int:
        return int(cluster.guest("node01").ssh("curl -fsS http://127.0.0.1:5001/count").stdout)

    def load(self, cluster: Booted, during: list[str] | None = None) -> list[tuple[int, str]]:
        """TOTAL POSTs through master's forwarded port 80, from the namespace."""
        http = dict(cluster.vms["master"].forwards)
        port = next(host for host, guest in http.items() if guest == 80)
        args = [
            "ip", "netns", "exec", NETNS, "python3", str(ROOT / "tests" / "post_load.py"),
            "127.0.0.1", str(port), str(TOTAL), str(CONCURRENCY),
        ]  # fmt: skip
        if during is not None:
            args.append(json.dumps(during))
        done = run(args, timeout=600)
        said = json.loads(done.stdout)
        if during is not None:
            ran = said["during"]
            assert ran is not None and ran["exit"] == 0, f"{shlex.join(during)}: {ran}"
        return [(int(s), b) for s, b in said["answers"]]

    def assert_exact(self, cluster: Booted, answers: list[tuple[int, str]], before: int) -> None:
        bad = [a for a in answers if a[0] != 200]
        nginx = journal(cluster.guest("master"), "nginx")
        assert not bad, f"{len(bad)} failed, first {bad[:3]}\n{nginx}"
        found = [re.search(r"IP: ([\d.]+)\) has processed (\d+) requests", b) for _, b in answers]
        assert all(found), [b for (_, b), m in zip(answers, found, strict=True) if not m][:3]
        counts = sorted(int(m.group(2)) for m in found if m)
        assert counts == list(range(before + 1, before + TOTAL + 1)), (
            f"counts {counts[0]}..{counts[-1]}, {len(set(counts))} distinct of {TOTAL}"
        )
        assert self.count(cluster) == before + TOTAL

    def test_balancer_counts_2000_concurrent_posts_exactly(self, cluster: Booted) -> None:
        before = self.count(cluster)
        answers = self.load(cluster)
        self.assert_exact(cluster, answers, before)
        lab = cluster.program.outputs["labAddresses"]
        served = {m.group(1) for _, b in answers if (m := re.search(r"IP: ([\d.]+)\)", b))}
        assert served == {lab["node01"], lab["node02"]}, served

    def test_count_stays_exact_when_a_node_s_app_stops(self, cluster: Booted) -> None:
        node = cluster.guest("node02")
        before = self.count(cluster)
        stop = node.ssh_command("sudo systemctl stop counter.service")
        try:
            answers = self.load(cluster, during=stop)
            state = node.ssh("systemctl show -p ActiveState counter.service").stdout.strip()
            assert state == "ActiveState=inactive", f"node02's app was not stopped: {state}"
            self.assert_exact(cluster, answers, before)
            # node02 answered until it stopped, node01 after: the two share the count.
            lab = cluster.program.outputs["labAddresses"]
            served = [m.group(1) for _, b in answers if (m := re.search(r"IP: ([\d.]+)\)", b))]
            assert 0 < served.count(lab["node02"]) < TOTAL * 3 // 4, served.count(lab["node02"])
        finally:
            node.ssh("sudo systemctl start counter.service")

    def test_ready_waits_and_declared_checks_pass(self, cluster: Booted, tmp_path: Path) -> None:
        ready_waits(cluster)
        checked = cluster.check_sh(tmp_path, "--wait", "120")
        assert checked.status == 0, checked.summary()
        names = [c["name"] for c in checked.report["checks"]]
        # ssh per VM, master resolves each node, the shared file, the balancer.
        assert len(names) == (1 + NODES) + NODES + 2, names


# --- vbox-nat ------------------------------------------------------------------------------


class TestNat:
    @pytest.fixture(scope="class")
    @classmethod
    def nat(cls) -> Iterator[Booted]:
        with booted_lab(
            "vbox-nat",
            "gn",
            vm={"memoryMb": 512, "diskGb": DISK_GB},
            clone={"memoryMb": 512},
        ) as booted:
            assert sorted(booted.vms) == ["lab-vm", "lab-vm-clone"], sorted(booted.vms)
            yield booted

    def test_vm_and_clone_come_up_as_themselves(self, nat: Booted) -> None:
        ids = {}
        for name, vm in nat.vms.items():
            on = vm.on
            assert on.ssh("hostname").stdout.strip() == name
            keys = on.ssh("cat ~/.ssh/authorized_keys").stdout
            assert nat.key.public in keys, keys
            ids[name] = on.ssh("cat /var/lib/cloud/data/instance-id").stdout.strip()
            meta = run(["isoinfo", "-R", "-i", str(vm.seed), "-x", "/meta-data"]).stdout
            assert f"instance-id: {ids[name]}" in meta, (ids[name], meta)
        assert len(set(ids.values())) == 2, ids

    def test_ready_waits_and_declared_checks_pass(self, nat: Booted, tmp_path: Path) -> None:
        ready_waits(nat)
        checked = nat.check_sh(tmp_path, "--wait", "60")
        assert checked.status == 0, checked.summary()
        # Per VM: ssh through the forward, cloud-init done, the default route.
        assert len(checked.report["checks"]) == 6, checked.summary()
