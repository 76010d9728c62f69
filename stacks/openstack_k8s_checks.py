"""openstack-k8s once deployed: its checks and its topology.

Checks: every node answers ssh on its floating IP with its name; on the master, kubectl sees
every node Ready, the workers with their labels, and the app's replicas ready; the NodePort
answers on every worker's floating IP.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Mapping, Sequence
from typing import Any

from checks.guest import Reach, named
from checks.model import Check, Equals, Http, Judged, Run, Succeeds
from diagram.model import Link, Node, Topology, ident
from stacks.openstack_k8s import OpenStackK8sConfig
from stacks.shared.kubernetes import control_plane_rules, node_rules
from stacks.shared.openstack_checks import (
    external_network,
    floating_ip,
    private_network,
    router_node,
    rule_text,
    security_edges,
)

READY = (
    '{range .items[*]}{.metadata.name}={.status.conditions[?(@.type=="Ready")].status}{"\\n"}{end}'
)


def kubectl(*args: str) -> str:
    """kubectl on the master, as its login user (the admin kubeconfig in ~/.kube/config)."""
    return shlex.join(["kubectl", *args])


def all_ready(names: Sequence[str]) -> Judged:
    def verdict(text: str) -> tuple[bool, str]:
        states = dict(line.split("=", 1) for line in text.split() if "=" in line)
        ready = sorted(name for name, state in states.items() if state == "True")
        shown = f"Ready: {', '.join(ready) or 'none'}"
        return set(ready) >= set(names), shown

    return Judged(f"Ready: {', '.join(sorted(names))}", verdict)


def labelled(labels: Mapping[str, str]) -> Judged:
    def verdict(text: str) -> tuple[bool, str]:
        try:
            found = json.loads(text or "{}")
        except json.JSONDecodeError:
            return False, text.strip()[:60]
        got = {key: found.get(key) for key in labels}
        return got == dict(labels), ", ".join(f"{k}={v}" for k, v in got.items())

    return Judged(", ".join(f"{k}={v}" for k, v in labels.items()), verdict)


def checks(config: OpenStackK8sConfig, outputs: Mapping[str, Any], reach: Reach) -> list[Check]:
    nodes = [config.nodes.master, *config.nodes.workers]
    master = reach.guest(config.nodes.master.name)
    found = [named(reach.guest(n.name), n.name, "floating IP") for n in nodes]
    found.append(
        Check(
            "every node Ready",
            Run(master, kubectl("get", "nodes", "-o", f"jsonpath={READY}")),
            all_ready([n.name for n in nodes]),
        )
    )
    for worker in config.nodes.workers:
        if worker.labels:
            found.append(
                Check(
                    f"{worker.name} has its labels",
                    Run(
                        master,
                        kubectl("get", "node", worker.name, "-o", "jsonpath={.metadata.labels}"),
                    ),
                    labelled(worker.labels),
                )
            )
    app = config.app
    found.append(
        Check(
            f"{app.name}: {app.replicas} replicas ready",
            Run(
                master,
                kubectl("get", "deployment", app.name, "-o", "jsonpath={.status.readyReplicas}"),
            ),
            Equals(str(app.replicas)),
        )
    )
    for name, url in outputs["nodePortUrls"].items():
        found.append(
            Check(f"NodePort answers on {name} ({url})", Http(str(url)), Succeeds("HTTP 200"))
        )
    return found


def topology(config: OpenStackK8sConfig, outputs: Mapping[str, Any]) -> Topology:
    net, k8s, app = config.network, config.kubernetes, config.app
    public = external_network(config.external_network)
    private = private_network(net)
    router = router_node(
        "k8s", config.router_name, ("external gateway", f"{net.gateway} on {net.name}")
    )
    floating = dict(outputs.get("floatingIps") or {})
    nodes: list[Node] = [router]
    links = [
        Link(router.id, public.id, "nic", "gateway"),
        Link(router.id, private.id, "nic", str(net.gateway)),
    ]
    master_name = config.nodes.master.name
    rules = []
    everyone = node_rules(config.admin_cidr, config.node_port_cidr, k8s.calico_encapsulation)
    control = control_plane_rules(config.admin_cidr, "nodes")
    for node in (config.nodes.master, *config.nodes.workers):
        is_master = node.name == master_name
        lines = [str(node.fixed_ip), "control plane (kubeadm init)" if is_master else "worker"]
        lines += [f"{k}={v}" for k, v in node.labels.items()]
        if not is_master:
            lines.append(f"NodePort {app.node_port} → {app.name} :{app.container_port}")
        vm = Node(ident("vm", node.name), node.name, "vm", tuple(lines), private.id)
        fip, fip_links = floating_ip(
            node.name, floating.get(node.name), config.external_network, vm.id, str(node.fixed_ip)
        )
        nodes += [vm, fip]
        links += fip_links
        for rule in (*everyone, *(control if is_master else ())):
            if rule.remote_cidr is not None:
                rules.append((rule.remote_cidr, vm.id, rule_text(rule)))
    names = {"adminCidr": str(config.admin_cidr), "nodePortCidr": str(config.node_port_cidr)}
    peers, edges = security_edges(rules, names)
    among = ", ".join(
        f"{rule_text(r)} ({r.description})" for r in everyone if r.remote_cidr is None
    )
    inner = ", ".join(f"{rule_text(r)} ({r.description})" for r in control if r.remote_cidr is None)
    return Topology(
        "openstack-k8s",
        "a kubeadm Kubernetes cluster (Calico) on three VMs, with the sample app",
        (public, private),
        (*nodes, *peers),
        (*links, *edges),
        (
            f"Kubernetes {k8s.version}; pods {k8s.pod_cidr} (Calico, {k8s.calico_encapsulation}), "
            f"services {k8s.service_cidr}",
            f"between the nodes: {among}",
            f"to {master_name} from the groups: {inner}",
            f"{app.name}: {app.replicas} replicas, ClusterIP :{app.service_port} → "
            f"{app.container_port}, NodePort {app.node_port}",
        ),
    )
