"""docker-basics: bad config is rejected before any resource exists, every problem named."""

from __future__ import annotations

import pytest

from tests.harness import ARMORED_KEY, Change, assert_rejected, change, changed, load_stack_file

SHIPPED = load_stack_file("docker-basics")
K = "cloud-labs:"
CT2 = SHIPPED[K + "ct2"]
IMAGES = SHIPPED[K + "images"]

CASES: list[tuple[str, list[Change], list[tuple[str, str]]]] = [
    (
        "ssh-port-out-of-range",
        [change("ct2", value={**CT2, "hostPort": 70000})],
        [("ct2.hostPort", "65535")],
    ),
    (
        "ssh-port-zero",
        [change("ct2", value={**CT2, "hostPort": 0})],
        [("ct2.hostPort", "greater than")],
    ),
    (
        "ssh-address",
        [change("ct2", value={**CT2, "hostIp": "everywhere"})],
        [("ct2.hostIp", "IPv4")],
    ),
    (
        "ssh-key-private",
        [change("ct2", value={**CT2, "sshPublicKey": "-----BEGIN OPENSSH PRIVATE KEY-----"})],
        [("ct2.sshPublicKey", "private key")],
    ),
    (
        "duplicate-container-name",
        [change("ct3", value={"name": "ct1"})],
        [("ct3.name", "already the name of ct1")],
    ),
    (
        "bad-container-name",
        [change("ct1", value={"name": "my ct"})],
        [("ct1.name", "letters, digits")],
    ),
    ("missing-container-name", [change("ct1", value={})], [("ct1.name", "missing")]),
    (
        "snapshot-overwrites-a-recipe",
        [change("snapshot", value={"image": IMAGES["nano"]})],
        [("snapshot.image", "already the image of images.nano")],
    ),
    (
        "implicit-latest-duplicate",
        [change("images", value={**IMAGES, "ssh": "cloudlabs/basics-plain"})],
        [("images.ssh", "already the image of images.plain")],
    ),
    (
        "mirror-not-a-url",
        [change("aptMirror", value="deb.debian.org/debian")],
        [("aptMirror", "http:// or https://")],
    ),
    (
        "mirror-url-in-the-mapping",
        [change("aptMirror", value={"url": "ftp://mirror.example/debian"})],
        [("aptMirror.url", "http:// or https://")],
    ),
    (
        "mirror-key-not-armoured",
        [change("aptMirror", value={"url": "http://192.0.2.1/debian", "key": "ABCDEF0123"})],
        [("aptMirror.key", "armoured OpenPGP public key")],
    ),
    (
        "mirror-key-and-trusted",
        [
            change(
                "aptMirror",
                value={"url": "http://192.0.2.1/debian", "key": ARMORED_KEY, "trusted": True},
            )
        ],
        [("aptMirror.trusted", "either checked with its key or trusted")],
    ),
    (
        "mirror-unknown-key",
        [change("aptMirror", value={"url": "http://192.0.2.1/debian", "suite": "bookworm"})],
        [("aptMirror.suite", "unknown key")],
    ),
    (
        "bad-base-image",
        [change("baseImage", value="Ubuntu:24.04")],
        [("baseImage", "image reference")],
    ),
    (
        "empty-prepare",
        [change("snapshot", value={"prepare": ""})],
        [("snapshot.prepare", "must not be empty")],
    ),
    ("restart-bad", [change("restart", value="never")], [("restart", "unless-stopped")]),
    ("unknown-key", [change("ct4", value={"name": "ct4"})], [("ct4", "unknown key")]),
    (
        "combo",
        [
            change("ct2", value={**CT2, "hostPort": 99999, "name": "ct1"}),
            change("images", value={**IMAGES, "nano": "NANO"}),
        ],
        [
            ("ct2.hostPort", "65535"),
            ("ct2.name", "already the name of ct1"),
            ("images.nano", "image reference"),
        ],
    ),
]


@pytest.mark.parametrize(("changes", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_rejected_before_any_resource(
    changes: list[Change], expected: list[tuple[str, str]]
) -> None:
    assert_rejected(changed(SHIPPED, *changes), "docker-basics", expected, stack="docker-basics")
