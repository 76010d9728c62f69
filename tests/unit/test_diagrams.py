"""The topology diagrams: up to date in docs/diagrams/, complete, and drawn as declared.

Completeness is judged against what the program declares, not against the declarations
themselves: every shipped stack runs through the real program under the mocks, and every
network, subnet, router, VM, container, interface address, route, published port and forward
found in the recorded resources must be named by the stack's diagram, and every
security-group rule from an address range drawn as an edge from that range.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from diagram import dot
from diagram.cli import SHIPPED_DIR, shipped_dot, shipped_stacks, topology_of
from diagram.model import Link, Network, Node, Topology, ident
from diagram.render import PINNED_GRAPHVIZ, draw
from stacks.shared.stackfile import load
from tests.harness import ROOT, StackRun, run_stack_file
from tests.validators import require

STACKS = shipped_stacks()
DIAGRAMS = ROOT / SHIPPED_DIR
REGENERATE = "regenerate them: scripts/diagram.sh --shipped"


# --- up to date ------------------------------------------------------------------------------


@pytest.mark.parametrize("stack", STACKS)
def test_the_committed_dot_is_the_shipped_config_s(stack: str) -> None:
    committed = DIAGRAMS / f"{stack}.dot"
    assert committed.is_file(), f"no {committed.relative_to(ROOT)}: {REGENERATE}"
    assert committed.read_text(encoding="utf-8") == shipped_dot(stack), (
        f"docs/diagrams/{stack}.dot is out of date with Pulumi.{stack}.yaml: {REGENERATE}"
    )


def test_graphviz_is_the_pinned_one() -> None:
    require("dot")
    version = subprocess.run(["dot", "-V"], capture_output=True, text=True, check=True).stderr
    assert f"graphviz version {PINNED_GRAPHVIZ} " in version, (
        f"{version.strip()}: the committed SVGs are drawn by Debian bookworm's graphviz "
        f"({PINNED_GRAPHVIZ}); run scripts/setup/checks.sh"
    )


@pytest.mark.parametrize("stack", STACKS)
def test_the_committed_svg_is_what_dot_draws(stack: str) -> None:
    require("dot")
    committed = DIAGRAMS / f"{stack}.svg"
    assert committed.is_file(), f"no {committed.relative_to(ROOT)}: {REGENERATE}"
    assert committed.read_bytes() == draw(shipped_dot(stack), "svg"), (
        f"docs/diagrams/{stack}.svg is out of date: {REGENERATE}"
    )
    assert (DIAGRAMS / f"{stack}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_no_diagram_is_left_of_a_stack_that_is_gone() -> None:
    names = {p.name.split(".", 1)[0] for p in DIAGRAMS.iterdir()}
    assert names == set(STACKS)
    assert {p.suffix for p in DIAGRAMS.iterdir()} == {".dot", ".svg", ".png"}


def test_the_readme_shows_every_diagram() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for stack in STACKS:
        assert f"(docs/diagrams/{stack}.svg)" in readme, stack


# --- complete ----------------------------------------------------------------------------------


def _address(value: str) -> str:
    return value.split("/", 1)[0]


def declared_texts(run: StackRun) -> set[str]:
    """Names and addresses of what the program declared (independent of the diagrams)."""
    found: set[str] = set()
    for res in run.resources:
        kind, inputs = res.type, res.inputs
        env = inputs.get("environment") or {}
        if kind in ("docker:index/network:Network", "openstack:networking/network:Network"):
            found.add(inputs["name"])
        elif kind == "docker:index/container:Container":
            found.add(inputs["name"])
            found.update(f"{p['ip']}:{int(p['external'])}" for p in inputs.get("ports") or [])
        elif kind == "openstack:networking/subnet:Subnet":
            found.update((inputs["cidr"], inputs["gatewayIp"]))
            for pool in inputs.get("allocationPools") or []:
                found.update((pool["start"], pool["end"]))
        elif kind in ("openstack:networking/router:Router", "openstack:compute/instance:Instance"):
            found.add(inputs["name"])
        elif kind == "openstack:networking/port:Port":
            found.update(
                ip["ipAddress"] for ip in inputs.get("fixedIps") or [] if ip.get("ipAddress")
            )
        elif kind in (
            "openstack:networking/subnetRoute:SubnetRoute",
            "openstack:networking/routerRoute:RouterRoute",
        ):
            found.update((inputs["destinationCidr"], inputs["nextHop"]))
        elif kind == "openstack:networking/floatingIp:FloatingIp":
            found.add(inputs["pool"])
        elif kind == "command:local:Command":
            for key in ("NETWORK_NAME", "DOMAIN_NAME", "VM_NAME"):
                if env.get(key):
                    found.add(env[key])
            if env.get("VM_NIC2") in ("intnet", "hostonly"):
                found.add(env["VM_NIC2_NETWORK"])
            for forward in filter(None, (env.get("VM_FORWARDS") or "").splitlines()):
                _, _, host, port, _, _ = forward.split(",")
                found.add(f"{host}:{port}")
            xml = env.get("NETWORK_XML") or ""
            found.update(re.findall(r'<ip address="([\d.]+)"', xml))
            found.update(re.findall(r'<bridge name="([^"]+)"', xml))
            found.update(
                _address(a) for a in re.findall(r"- ([\d.]+/\d+)", env.get("NETWORK_CONFIG") or "")
            )
    return found


def output_addresses(outputs: dict[str, Any]) -> set[str]:
    """Addresses the stack reports that come from its config (vbox-cluster's lab addresses)."""
    return set((outputs.get("labAddresses") or {}).values())


@pytest.mark.parametrize("stack", STACKS)
def test_each_diagram_names_every_network_router_vm_and_address(stack: str) -> None:
    run = run_stack_file(stack)
    text = shipped_dot(stack)
    expected = declared_texts(run) | output_addresses(run.outputs)
    assert expected, stack
    missing = sorted(t for t in expected if t not in text)
    assert not missing, f"{stack}: the diagram does not name {missing}"


def _rule(inputs: dict[str, Any]) -> str:
    protocol = str(inputs["protocol"])
    if protocol.isdigit():
        return f"proto {protocol}"
    if inputs.get("portRangeMin") is None:
        return protocol
    low, high = int(inputs["portRangeMin"]), int(inputs["portRangeMax"])
    return f"{protocol} {low}" if low == high else f"{protocol} {low}-{high}"


@pytest.mark.parametrize("stack", [s for s in STACKS if s.startswith("openstack-")])
def test_each_security_group_rule_is_drawn(stack: str) -> None:
    run = run_stack_file(stack)
    topology = topology_of(load(stack), run.outputs)
    edges = [link for link in topology.links if link.kind == "allow"]
    shown = " ".join(topology.texts())
    for rule in run.of_type("openstack:networking/secGroupRule:SecGroupRule"):
        what = _rule(rule.inputs)
        cidr = rule.inputs.get("remoteIpPrefix")
        if cidr:
            peer = ident("peer", cidr)
            assert any(e.a == peer and what in e.label for e in edges), (rule.urn, what, cidr)
        else:
            # From a group: an edge between members, or the notes say it.
            number = what.split(" ")[-1]
            assert any(number in e.label for e in edges) or number in shown, (rule.urn, what)


def test_deployed_addresses_replace_the_placeholders() -> None:
    run = run_stack_file("openstack-naas")
    before = dot.render(topology_of(load("openstack-naas")))
    after = dot.render(topology_of(load("openstack-naas"), run.outputs))
    fip = run.outputs["floatingIp"]
    assert "allocated from public at up" in before and fip not in before
    assert fip in after and "allocated from public at up" not in after
    basics = run_stack_file("docker-basics")
    drawn = dot.render(topology_of(load("docker-basics"), basics.outputs))
    assert all(basics.outputs[f"ct{i}Ip"] in drawn for i in (1, 2, 3))


def test_openstack_naas_draws_the_readme_s_reading_of_the_figure() -> None:
    """Each router of the README's table has, in the diagram, the addresses of its row."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| (access|public|inter) \(`routers\.\w+`\) \| ([^|]+) \|", readme, re.M)
    assert [role for role, _ in rows] == ["access", "public", "inter"], rows
    config = load("openstack-naas").config
    topology = topology_of(load("openstack-naas"))
    nodes = {n.id: n for n in topology.nodes}
    for role, interfaces in rows:
        router = nodes[ident("router", role)]
        assert router.title == getattr(config.routers, role).name
        addresses = re.findall(r"192\.168\.\d+\.\d+", interfaces.split(";")[0])
        assert addresses, interfaces
        lines = " ".join(router.lines)
        for address in addresses:
            assert address in lines, (role, address, router.lines)
            nic = [
                e
                for e in topology.links
                if e.a == router.id and e.kind == "nic" and e.label == address
            ]
            assert nic, f"{role}: no interface edge labelled {address}"
    assert len([n for n in topology.nodes if n.kind == "router"]) == 3


# --- the model and the renderer ---------------------------------------------------------------


def small() -> Topology:
    return Topology(
        "t",
        'a "quoted" <title>',
        (
            Network("net-a", "a", "network", ("10.0.0.0/24",)),
            Network("ext", "public", "ext", external=True),
        ),
        (
            Node("vm-1", "vm & one", "vm", ("10.0.0.5",), "net-a"),
            Node("router-r", "r", "router", ("10.0.0.1",)),
        ),
        (Link("router-r", "net-a", "nic", "10.0.0.1"), Link("router-r", "ext", "nic", "gateway")),
    )


def test_dot_text_is_escaped_and_the_external_network_drawn_above() -> None:
    text = dot.render(small())
    assert "a &quot;quoted&quot; &lt;title&gt;" in text and "vm &amp; one" in text
    assert '"ext" -> "router-r"' in text and '"router-r" -> "net-a"' in text
    assert '"net-a" -> "vm-1" [style="invis"]' in text
    legend = text[text.index('"legend"') :]
    assert "virtual machine" in legend and "router" in legend and "container" not in legend
    assert "security group" not in legend


def test_an_uplink_puts_the_network_above_the_node() -> None:
    topology = small()
    up = Topology(topology.stack, topology.title, topology.networks, topology.nodes,
                  (Link("router-r", "net-a", "nic", "10.0.0.1", uplink=True),))  # fmt: skip
    assert '"net-a" -> "router-r"' in dot.render(up)


def test_a_topology_refuses_unknown_or_repeated_ids() -> None:
    net = Network("n", "n", "k")
    with pytest.raises(ValueError, match="ids used twice"):
        Topology("t", "t", (net,), (Node("n", "x", "vm"),))
    with pytest.raises(ValueError, match="unknown network"):
        Topology("t", "t", (net,), (Node("x", "x", "vm", network="m"),))
    with pytest.raises(ValueError, match="unknown node"):
        Topology("t", "t", (net,), (Node("x", "x", "vm"),), (Link("x", "y", "calls"),))
    with pytest.raises(ValueError, match="no nic link needed"):
        Topology("t", "t", (net,), (Node("x", "x", "vm", network="n"),), (Link("x", "n", "nic"),))


def test_the_shipped_command_writes_every_stack(tmp_path: Path) -> None:
    from diagram.cli import main

    assert main(["--shipped", "--out", str(tmp_path)]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in DIAGRAMS.iterdir())
    assert (tmp_path / "dev.dot").read_text() == (DIAGRAMS / "dev.dot").read_text()
