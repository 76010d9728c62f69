"""openstack-k8s: bad config is rejected before any resource, every problem named at once."""

from __future__ import annotations

from typing import Any

import pytest

from tests.harness import Change, assert_rejected, change, changed, load_stack_file, run_program

SHIPPED = load_stack_file("openstack-k8s")
K = "cloud-labs:"


def k8s(key: str, value: Any) -> Change:
    return change("kubernetes", key, value=value)


CASES: list[tuple[str, list[Change], list[tuple[str, str]]]] = [
    (
        "pod-cidr-overlaps-node-network",
        [k8s("podCidr", "192.168.0.0/16")],
        [("kubernetes.podCidr", "overlaps the node network network.cidr (192.168.50.0/24)")],
    ),
    (
        "pod-cidr-overlaps-service-cidr",
        [k8s("podCidr", "10.96.0.0/16")],
        [("kubernetes.podCidr", "overlaps serviceCidr (10.96.0.0/12)")],
    ),
    (
        "service-cidr-overlaps-node-network",
        [k8s("serviceCidr", "192.168.48.0/20")],
        [("kubernetes.serviceCidr", "overlaps the node network")],
    ),
    (
        "pod-cidr-too-small-for-the-nodes",
        [k8s("podCidr", "172.16.0.0/23")],
        [("kubernetes.podCidr", "each of the 3 nodes gets a /24")],
    ),
    (
        "service-cidr-too-large",
        [k8s("serviceCidr", "10.0.0.0/8")],
        [("kubernetes.serviceCidr", "/12")],
    ),
    (
        "no-workers",
        [change("nodes", "workers", value=[])],
        [("nodes.workers", "at least one worker")],
    ),
    ("version-two-parts", [k8s("version", "1.31")], [("kubernetes.version", "such as '1.31.4'")]),
    ("version-float", [k8s("version", 1.31)], [("kubernetes.version", "such as '1.31.4'")]),
    ("version-with-v", [k8s("version", "v1.31.4")], [("kubernetes.version", "leading 'v'")]),
    ("version-latest", [k8s("version", "latest")], [("kubernetes.version", "1.31.4")]),
    ("version-2", [k8s("version", "2.0.1")], [("kubernetes.version", "1.31.4")]),
    ("version-too-old", [k8s("version", "1.27.3")], [("kubernetes.version", "1.28 or newer")]),
    (
        "repository-of-another-minor",
        [k8s("aptRepository", "https://pkgs.k8s.io/core:/stable:/v1.30/deb/")],
        [("kubernetes.aptRepository", "must serve Kubernetes 1.31")],
    ),
    (
        "calico-unpinned",
        [k8s("calicoManifestUrl", "https://docs.projectcalico.org/manifests/calico.yaml")],
        [("kubernetes.calicoManifestUrl", "must name a Calico release")],
    ),
    (
        "calico-http",
        [k8s("calicoManifestUrl", "http://example.org/v3.29.1/calico.yaml")],
        [("kubernetes.calicoManifestUrl", "https://")],
    ),
    (
        "unknown-encapsulation",
        [k8s("calicoEncapsulation", "gre")],
        [("kubernetes.calicoEncapsulation", "ipip")],
    ),
    (
        "containerd-version-garbage",
        [k8s("containerdVersion", "latest; rm -rf /")],
        [("kubernetes.containerdVersion", "Debian package version")],
    ),
    ("timeout-zero", [k8s("readyTimeoutMinutes", 0)], [("kubernetes.readyTimeoutMinutes", "1")]),
    (
        "master-ip-outside",
        [change("nodes", "master", "fixedIp", value="10.0.0.10")],
        [("nodes.master.fixedIp", "host address in 192.168.50.0/24")],
    ),
    (
        "worker-ip-taken",
        [change("nodes", "workers", 1, "fixedIp", value="192.168.50.10")],
        [("nodes.workers[1].fixedIp", "already given to nodes.master.fixedIp")],
    ),
    (
        "worker-ip-is-gateway",
        [change("nodes", "workers", 0, "fixedIp", value="192.168.50.1")],
        [("nodes.workers[0].fixedIp", "gateway")],
    ),
    (
        "duplicate-node-name",
        [change("nodes", "workers", 1, "name", value="worker1")],
        [("nodes.workers[1].name", "another node has this name")],
    ),
    (
        "uppercase-node-name",
        [change("nodes", "workers", 0, "name", value="Worker1")],
        [("nodes.workers[0].name", "lowercase")],
    ),
    (
        "bad-label-value",
        [change("nodes", "workers", 0, "labels", value={"PoP": "space 1"})],
        [("nodes.workers[0].labels.PoP", "label value")],
    ),
    (
        "bad-label-key",
        [change("nodes", "workers", 0, "labels", value={"-PoP": "space_1"})],
        [("nodes.workers[0].labels.-PoP (the key)", "label key")],
    ),
    (
        "selector-matches-no-worker",
        [change("app", "nodeSelector", value={"PoP": "space_3"})],
        [("app.nodeSelector", "no worker has these labels")],
    ),
    ("node-port-below-range", [change("app", "nodePort", value=8080)], [("app.nodePort", "30000")]),
    ("zero-replicas", [change("app", "replicas", value=0)], [("app.replicas", "1")]),
    ("image-with-space", [change("app", "image", value="my app")], [("app.image", "image")]),
    ("admin-cidr-bad", [change("adminCidr", value="anywhere")], [("adminCidr", "CIDR")]),
    (
        "missing-node-port-cidr",
        [change("nodePortCidr", delete=True)],
        [("nodePortCidr", "missing")],
    ),
    ("unknown-key", [change("app", "port", value=80)], [("app.port", "unknown key")]),
    (
        "combo",
        [
            k8s("podCidr", "192.168.50.0/24"),
            change("nodes", "workers", value=[]),
            k8s("version", "1.31"),
        ],
        [
            ("kubernetes.podCidr", "overlaps the node network"),
            ("nodes.workers", "at least one worker"),
            ("kubernetes.version", "1.31.4"),
        ],
    ),
]


@pytest.mark.parametrize(
    ("mutations", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_rejected_before_any_resource(
    mutations: list[Change], expected: list[tuple[str, str]]
) -> None:
    assert_rejected(changed(SHIPPED, *mutations), "openstack-k8s", expected)


@pytest.mark.parametrize(
    "mutation",
    [
        k8s("version", "1.30.8"),
        k8s("calicoEncapsulation", "vxlan"),
        k8s("aptRepository", "https://pkgs.k8s.io/core:/stable:/v1.31/deb/"),
        change("app", "nodeSelector", value={}),
        change("nodes", "workers", value=[{"name": "edge", "fixedIp": "192.168.50.20"}]),
        change("app", "nodeSelector", value={"PoP": "space_2"}),
    ],
    ids=["older-release", "vxlan", "explicit-repo", "no-selector", "one-worker", "select-space2"],
)
def test_good_variants_are_accepted(mutation: Change) -> None:
    config = changed(SHIPPED, mutation)
    if config[K + "nodes"]["workers"][0]["name"] == "edge":
        config[K + "app"]["nodeSelector"] = {}
    run = run_program(config)
    assert (
        len(run.of_type("openstack:compute/instance:Instance"))
        == len(config[K + "nodes"]["workers"]) + 1
    )
