"""Each lab's checks, from its shipped stack: the exact probes they would run.

Every shipped ``Pulumi.<stack>.yaml`` runs through the real program under the mocks; its
outputs (addresses the mocks made up in documentation ranges for what the cloud allocates)
and its validated config give the checks, whose command lines, URLs and addresses are
asserted here. Nothing is run.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from typing import Any

import pytest

from checks.guest import reach
from checks.model import Check, Connect, Contains, Equals, Http, Judged, Run, Steps, Unreachable
from checks.probes import lab_addresses
from diagram.cli import shipped_stacks
from stacks.shared.catalogue import labs
from stacks.shared.stackfile import load
from stacks.vbox_cluster_checks import spread
from tests.harness import run_stack_file

SSH = (
    "ssh -o BatchMode=yes -o StrictHostKeyChecking=accept-new -o ConnectTimeout=30 "
    "-o ServerAliveInterval=30"
)


def declared(stack: str) -> tuple[Any, dict[str, Any], dict[str, Check]]:
    """The stack's validated config, its outputs under the mocks, its checks by name."""
    loaded = load(stack)
    outputs = run_stack_file(stack).outputs
    machines = reach(loaded.lab, outputs, loaded.raw, token="t0k3n")
    found = loaded.declarations().checks(loaded.config, outputs, machines)
    by_name = {check.name: check for check in found}
    assert len(by_name) == len(found), f"{stack}: two checks share a name"
    return loaded.config, outputs, by_name


def command(check: Check) -> str:
    assert isinstance(check.probe, Run), check
    return check.probe.describe()


def test_every_lab_declares_checks_and_a_topology() -> None:
    for entry in labs():
        assert entry.checks_module is not None
        module = __import__(entry.checks_module, fromlist=["checks", "topology"])
        assert callable(module.checks) and callable(module.topology), entry.checks_module


@pytest.mark.parametrize("stack", shipped_stacks())
def test_probes_are_safe_to_paste_and_only_reach_the_lab(stack: str) -> None:
    _, outputs, checks = declared(stack)
    assert checks, stack
    allowed = lab_addresses(outputs)
    for check in checks.values():
        shlex.split(check.probe.describe())  # one command line, quoted
        probes = check.probe.steps if isinstance(check.probe, Steps) else (check.probe,)
        for probe in probes:
            if isinstance(probe, (Http, Connect)):
                assert probe.host in allowed or probe.host == "127.0.0.1", (check.name, probe)
            if isinstance(probe, Run) and probe.on.argv[0] == "ssh":
                host = probe.on.argv[-1].split("@")[-1]
                assert host in allowed or host == "127.0.0.1", (check.name, probe.on)
    # Checks expecting no answer come last: by then the lab has shown it is up.
    kinds = [isinstance(c.expect, Unreachable) for c in checks.values()]
    assert kinds == sorted(kinds), stack


def test_dev() -> None:
    _, _, checks = declared("dev")
    front = checks["front end computes (5+6)*2 (http://127.0.0.1:50000)"]
    assert front.probe == Http("http://127.0.0.1:50000", "(5+6)*2")
    assert front.expect == Equals("result = 22")
    sum_ = checks["front end → sum at http://cloudlabs-dev-sum:50001 (2 3)"]
    words = shlex.split(command(sum_))
    assert words[:6] == ["docker", "exec", "-i", "cloudlabs-dev-calculator", "sh", "-c"]
    inner = shlex.split(words[6])
    assert inner[:2] == ["python3", "-c"] and inner[3:] == ["http://cloudlabs-dev-sum:50001", "2 3"]
    assert sum_.expect == Equals("5")
    div = checks["front end → div at http://cloudlabs-dev-div:50004 (15 5)"]
    assert div.expect == Equals("3")
    published = checks["cloudlabs-dev-calculator published on 127.0.0.1:50000 only"]
    assert command(published) == "sh -c 'docker port cloudlabs-dev-calculator'"
    assert published.expect == Equals("50000/tcp -> 127.0.0.1:50000")
    hidden = checks["cloudlabs-dev-mul publishes no port on the host"]
    assert command(hidden) == "sh -c 'docker port cloudlabs-dev-mul'"
    assert hidden.expect == Equals("")


def test_docker_basics() -> None:
    _, outputs, checks = declared("docker-basics")
    assert checks["ct2: SSH on 127.0.0.1:2223"].probe == Connect("127.0.0.1", 2223)
    bridge = checks[f"ct1 reaches ct2's SSH at {outputs['ct2Ip']} on the bridge"]
    words = shlex.split(command(bridge))
    assert words[:4] == ["docker", "exec", "-i", "ct1"]
    assert shlex.split(words[6])[-1] == outputs["ct2Ip"]
    assert bridge.expect == Contains("SSH-2.0-")
    snap = checks["cloudlabs/ct2-snapshot:latest is the snapshot"]
    assert command(snap) == (
        "sh -c 'docker inspect --format '\"'\"'{{.Id}}'\"'\"' cloudlabs/ct2-snapshot:latest'"
    )
    assert snap.expect == Equals(outputs["snapshotImageId"])
    assert checks["ct3 runs the snapshot"].expect == Equals(outputs["snapshotImageId"])
    assert command(checks["ct3 has nano (installed in ct2 before the commit)"]).startswith(
        "docker exec -i ct3 sh -c "
    )
    # No key in the shipped file: no login is tried.
    assert not any(name.startswith("sshCommand") for name in checks)


def test_vbox_nat() -> None:
    _, _, checks = declared("vbox-nat")
    first = checks["ssh to lab-vm (forward 127.0.0.1:2222): host name"]
    assert command(first) == f"{SSH} -p 2222 ubuntu@127.0.0.1 hostname"
    assert first.expect == Equals("lab-vm")
    clone = checks["ssh to lab-vm-clone (forward 127.0.0.1:2223): host name"]
    assert command(clone) == f"{SSH} -p 2223 ubuntu@127.0.0.1 hostname"
    route = checks["lab-vm: default route via 10.0.2.2"]
    assert command(route) == f"{SSH} -p 2222 ubuntu@127.0.0.1 'ip -4 route show default'"
    boot = checks["lab-vm-clone: cloud-init finished"]
    assert isinstance(boot.probe, Run) and boot.probe.timeout == 900


def test_vbox_cluster() -> None:
    _, outputs, checks = declared("vbox-cluster")
    assert command(checks["ssh to node02 (forward 127.0.0.1:4023): host name"]) == (
        f"{SSH} -p 4023 ubuntu@127.0.0.1 hostname"
    )
    dns = checks["master resolves node03 (dnsmasq)"]
    assert command(dns) == f"{SSH} -p 3022 ubuntu@127.0.0.1 'host -t A node03 127.0.0.1'"
    assert dns.expect == Contains("has address 192.168.56.4")
    shared = checks["/shared/data/.cloudlabs-check-t0k3n written on node01 is read on node02"]
    assert isinstance(shared.probe, Steps)
    write, read = shared.probe.steps
    assert write.describe() == (
        f"{SSH} -p 4022 ubuntu@127.0.0.1 'echo t0k3n > /shared/data/.cloudlabs-check-t0k3n'"
    )
    assert read.describe() == (
        f"{SSH} -p 4023 ubuntu@127.0.0.1 'cat /shared/data/.cloudlabs-check-t0k3n && "
        "rm -f /shared/data/.cloudlabs-check-t0k3n'"
    )
    balancer = checks["load balancer spreads 12 requests over every node"]
    assert outputs["curl"] == "curl -X POST http://localhost:8080"
    assert command(balancer) == (
        "sh -c 'for i in $(seq 12); do curl -X POST http://localhost:8080; echo; done'"
    )
    assert balancer.expect.shown == (
        "12 answers from 192.168.56.2, 192.168.56.3, 192.168.56.4; count +1 each"
    )


def answer(ip: str, count: int) -> str:
    return f"Server (IP: {ip}) has processed {count} requests!\n"


def test_the_balancer_is_judged_on_every_node_and_the_exact_count() -> None:
    nodes = ["192.168.56.2", "192.168.56.3"]
    exact = spread(nodes, 4, exact=True)
    assert isinstance(exact, Judged)
    good = "".join(answer(nodes[i % 2], 10 + i) for i in range(4))
    assert exact.verdict(good) == (True, "4 answers from 192.168.56.2, 192.168.56.3; counts 10..13")
    one_node = "".join(answer(nodes[0], 10 + i) for i in range(4))
    assert exact.verdict(one_node)[0] is False
    lost = "".join(answer(nodes[i % 2], n) for i, n in enumerate((10, 11, 13, 14)))
    assert exact.verdict(lost)[0] is False
    # Without Redis each node counts on its own: only the spread is judged.
    local = "".join(answer(nodes[i % 2], 1 + i // 2) for i in range(4))
    assert spread(nodes, 4, exact=False).verdict(local)[0] is True
    assert spread(nodes, 4, exact=False).verdict(local[: len(local) // 2])[0] is False


def test_libvirt_host() -> None:
    _, _, checks = declared("libvirt-host")
    assert len([n for n in checks if n.startswith("ssh to ")]) == 5
    name = checks["ssh to kvm1: host name"]
    assert command(name).startswith(f"{SSH} -o StrictHostKeyChecking=no")
    assert command(name).endswith(" ubuntu@10.0.0.5 hostname")
    assert checks["kvm1 has 10.0.0.5 on privatenet"].expect == Contains(" 10.0.0.5/")
    gateway = checks["kvm1 reaches its gateway on default 192.168.122.1"]
    assert command(gateway).endswith(
        " ubuntu@10.0.0.5 'sh -s -- 192.168.122.1' < scripts/checks/reach.sh"
    )
    assert gateway.expect == Contains("echo reply from 192.168.122.1")
    lab_gateway = checks["kvm1 reaches the gateway VM on privatenet 10.0.0.2"]
    assert command(lab_gateway).endswith(
        " ubuntu@10.0.0.5 'sh -s -- 10.0.0.2' < scripts/checks/reach.sh"
    )
    assert "gateway reaches the gateway VM on privatenet 10.0.0.2" not in checks
    assert command(checks["gateway: default route via 192.168.122.1"]).endswith(
        " ubuntu@10.0.0.2 'ip -4 route show default'"
    )


def test_openstack_vm() -> None:
    _, outputs, checks = declared("openstack-vm")
    fip = outputs["floatingIp"]
    assert fip.startswith("203.0.113.")  # the mocks' documentation range
    ping = checks[f"host reaches the floating IP {fip}"]
    assert command(ping) == f"sh -c 'sh -s -- {fip}' < scripts/checks/reach.sh"
    assert command(checks["ssh to server: host name"]) == f"{SSH} ubuntu@{fip} hostname"
    assert checks["ssh to server: host name"].expect == Equals("cloudlabs-vm")
    address = checks["server has 192.168.100.20 on cloudlabs-net"]
    assert command(address) == f"{SSH} ubuntu@{fip} 'ip -o -4 addr show'"
    router = checks["server reaches its router cloudlabs-router 192.168.100.1"]
    assert (
        command(router) == f"{SSH} ubuntu@{fip} 'sh -s -- 192.168.100.1' < scripts/checks/reach.sh"
    )


def calculator_probes(
    stack: str, operators: Mapping[str, str], names: Mapping[str, str]
) -> dict[str, Check]:
    _, outputs, checks = declared(stack)
    fip = outputs["floatingIp"]
    front = checks[f"front end computes (5+6)*2 (http://{fip}:50000)"]
    assert front.probe == Http(f"http://{fip}:50000", "(5+6)*2")
    assert front.expect == Equals("result = 22")
    assert checks["ssh to calculator: host name"].expect == Equals(names["calculator"])
    ports = {"sum": 50001, "sub": 50002, "mul": 50003, "div": 50004}
    samples = {
        "sum": ("2 3", "5"),
        "sub": ("5 3", "2"),
        "mul": ("12 3", "36"),
        "div": ("15 5", "3"),
    }
    for role, address in operators.items():
        assert outputs["operatorIps"][role] == address
        body, result = samples[role]
        call = checks[f"front end → {role} at http://{address}:{ports[role]} ({body})"]
        words = shlex.split(command(call))
        assert words[-2] == f"ubuntu@{fip}", words
        assert shlex.split(words[-1])[3:] == [f"http://{address}:{ports[role]}", body]
        assert call.expect == Equals(result)
        hop = checks[f"ssh to {role} (through the front end): host name"]
        assert command(hop) == f"{SSH} -J ubuntu@{fip} ubuntu@{address} hostname"
        assert hop.expect == Equals(names[role])
        closed = checks[f"{role}'s port {ports[role]} closed on the floating IP"]
        assert closed.probe == Connect(fip, ports[role]) and closed.expect == Unreachable()
    return checks


def test_openstack_calculator() -> None:
    operators = {
        "sum": "192.168.110.11",
        "sub": "192.168.110.12",
        "mul": "192.168.110.13",
        "div": "192.168.110.14",
    }
    names = {
        "calculator": "calc-front",
        "sum": "calc-sum",
        "sub": "calc-sub",
        "mul": "calc-mul",
        "div": "calc-div",
    }
    checks = calculator_probes("openstack-calculator", operators, names)
    assert len(checks) == 2 + 3 * 4


def test_openstack_naas_checks_the_routes_between_the_sub_networks() -> None:
    operators = {
        "sum": "192.168.2.11",
        "sub": "192.168.2.12",
        "mul": "192.168.2.13",
        "div": "192.168.2.14",
    }
    names = {
        "calculator": "naas-front",
        "sum": "naas-sum",
        "sub": "naas-sub",
        "mul": "naas-mul",
        "div": "naas-div",
    }
    checks = calculator_probes("openstack-naas", operators, names)
    _, outputs, _ = declared("openstack-naas")
    fip = outputs["floatingIp"]
    route = checks["calculator: route to 192.168.2.13 via 192.168.1.252"]
    assert command(route) == f"{SSH} ubuntu@{fip} 'ip -4 route get 192.168.2.13'"
    assert route.expect == Contains("via 192.168.1.252 ")
    back = checks["div: default route via 192.168.2.254"]
    assert command(back) == f"{SSH} -J ubuntu@{fip} ubuntu@192.168.2.14 'ip -4 route show default'"


def test_openstack_k8s() -> None:
    _, outputs, checks = declared("openstack-k8s")
    master = outputs["floatingIps"]["master"]
    ready = checks["every node Ready"]
    assert isinstance(ready.probe, Run) and ready.probe.on.argv[-1] == f"ubuntu@{master}"
    assert shlex.split(ready.probe.command)[:4] == ["kubectl", "get", "nodes", "-o"]
    assert isinstance(ready.expect, Judged)
    assert ready.expect.verdict("master=True\nworker1=True\nworker2=True\n")[0]
    assert not ready.expect.verdict("master=True\nworker1=False\nworker2=True\n")[0]
    labels = checks["worker1 has its labels"]
    assert isinstance(labels.expect, Judged)
    assert labels.expect.verdict('{"PoP":"space_1","kubernetes.io/os":"linux"}') == (
        True,
        "PoP=space_1",
    )
    assert not labels.expect.verdict('{"PoP":"space_2"}')[0]
    assert checks["fastapi-app: 3 replicas ready"].expect == Equals("3")
    for worker, url in outputs["nodePortUrls"].items():
        assert url == f"http://{outputs['floatingIps'][worker]}:30080/"
        assert checks[f"NodePort answers on {worker} ({url})"].probe == Http(url)
