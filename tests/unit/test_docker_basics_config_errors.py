"""docker-basics: bad config is rejected before any resource exists, every problem named."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.harness import assert_rejected, load_stack_file

SHIPPED = load_stack_file("docker-basics")
K = "cloud-labs:"
CT2 = SHIPPED[K + "ct2"]
IMAGES = SHIPPED[K + "images"]

CASES: list[tuple[str, dict[str, Any], list[tuple[str, str]]]] = [
    ("ssh-port-out-of-range", {"ct2": {**CT2, "hostPort": 70000}}, [("ct2.hostPort", "65535")]),
    ("ssh-port-zero", {"ct2": {**CT2, "hostPort": 0}}, [("ct2.hostPort", "greater than")]),
    ("ssh-address", {"ct2": {**CT2, "hostIp": "everywhere"}}, [("ct2.hostIp", "IPv4")]),
    (
        "ssh-key-private",
        {"ct2": {**CT2, "sshPublicKey": "-----BEGIN OPENSSH PRIVATE KEY-----"}},
        [("ct2.sshPublicKey", "private key")],
    ),
    (
        "duplicate-container-name",
        {"ct3": {"name": "ct1"}},
        [("ct3.name", "already the name of ct1")],
    ),
    ("bad-container-name", {"ct1": {"name": "my ct"}}, [("ct1.name", "letters, digits")]),
    ("missing-container-name", {"ct1": {}}, [("ct1.name", "missing")]),
    (
        "snapshot-overwrites-a-recipe",
        {"snapshot": {"image": IMAGES["nano"]}},
        [("snapshot.image", "already the image of images.nano")],
    ),
    (
        "implicit-latest-duplicate",
        {"images": {**IMAGES, "ssh": "cloudlabs/basics-plain"}},
        [("images.ssh", "already the image of images.plain")],
    ),
    ("bad-base-image", {"baseImage": "Ubuntu:24.04"}, [("baseImage", "image reference")]),
    ("empty-prepare", {"snapshot": {"prepare": ""}}, [("snapshot.prepare", "at least 1")]),
    ("restart-bad", {"restart": "never"}, [("restart", "unless-stopped")]),
    ("unknown-key", {"ct4": {"name": "ct4"}}, [("ct4", "unknown key")]),
    (
        "combo",
        {
            "ct2": {**CT2, "hostPort": 99999, "name": "ct1"},
            "images": {**IMAGES, "nano": "NANO"},
        },
        [
            ("ct2.hostPort", "65535"),
            ("ct2.name", "already the name of ct1"),
            ("images.nano", "image reference"),
        ],
    ),
]


@pytest.mark.parametrize(("changes", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_rejected_before_any_resource(
    changes: dict[str, Any], expected: list[tuple[str, str]]
) -> None:
    config = copy.deepcopy(SHIPPED)
    config.update({K + key: value for key, value in changes.items()})
    assert_rejected(config, "docker-basics", expected, stack="docker-basics")
