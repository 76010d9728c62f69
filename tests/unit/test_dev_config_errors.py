"""dev: bad config is rejected before any resource exists, every problem named at once."""

from __future__ import annotations

import pytest

from tests.harness import Change, assert_rejected, change, changed, load_stack_file, run_program

SHIPPED = load_stack_file("dev")
K = "cloud-labs:"
PORTS = SHIPPED[K + "ports"]

# (case id, config changes, [(field path as reported, words expected in the message)])
CASES: list[tuple[str, list[Change], list[tuple[str, str]]]] = [
    (
        "port-out-of-range",
        [change("ports", value={**PORTS, "sum": 70000})],
        [("ports.sum", "between 1 and 65535")],
    ),
    (
        "port-zero",
        [change("ports", value={**PORTS, "div": 0})],
        [("ports.div", "between 1 and 65535")],
    ),
    (
        "port-duplicated",
        [change("ports", value={**PORTS, "sub": 50001})],
        [("ports.sub", "port 50001 is already the port of sum")],
    ),
    (
        "port-duplicates-a-default",
        [change("ports", value={"mul": 50000})],
        [("ports.mul", "already the port of calculator")],
    ),
    (
        "unknown-role",
        [change("ports", value={**PORTS, "pow": 50005})],
        [("ports.pow", "unknown role; expected one of calculator, sum, sub, mul, div")],
    ),
    (
        "port-not-a-number",
        [change("ports", value={**PORTS, "sum": "high"})],
        [("ports.sum", "integer")],
    ),
    (
        "published-port-out-of-range",
        [change("publish", value={"hostIp": "127.0.0.1", "hostPort": 65536})],
        [("publish.hostPort", "65535")],
    ),
    (
        "published-address-bad",
        [change("publish", value={"hostIp": "localhost", "hostPort": 50000})],
        [("publish.hostIp", "IPv4 address")],
    ),
    (
        "base-image-bad",
        [change("baseImage", value="Python 3.12")],
        [("baseImage", "image reference")],
    ),
    ("image-uppercase", [change("image", value="CloudLabs/calc:dev")], [("image", "lowercase")]),
    (
        "network-bad",
        [change("network", value="-net")],
        [("network", "starting with a letter or digit")],
    ),
    (
        "prefix-bad",
        [change("containerPrefix", value="dev lab")],
        [("containerPrefix", "letters, digits")],
    ),
    ("user-root", [change("user", value="0:0")], [("user", "must not run as root")]),
    ("user-root-by-name", [change("user", value="root")], [("user", "must not run as root")]),
    (
        "user-root-zero-padded",
        [change("user", value="00:10001")],
        [("user", "must not run as root")],
    ),
    ("restart-bad", [change("restart", value="sometimes")], [("restart", "unless-stopped")]),
    ("read-only-not-bool", [change("readOnly", value="maybe")], [("readOnly", "boolean")]),
    ("timeout-negative", [change("operatorTimeout", value=-1)], [("operatorTimeout", "(0, 300]")]),
    (
        "healthcheck-interval",
        [change("healthcheck", value={"interval": "10"})],
        [("healthcheck.interval", "duration")],
    ),
    (
        "healthcheck-retries",
        [change("healthcheck", value={"retries": 0})],
        [("healthcheck.retries", "greater than or equal to 1")],
    ),
    (
        "builder-unknown",
        [change("build", value={"builderVersion": "kaniko"})],
        [("build.builderVersion", "BuilderBuildKit")],
    ),
    (
        "builder-classic",
        [change("build", value={"builderVersion": "BuilderV1"})],
        [("build.builderVersion", "leaves an intermediate container")],
    ),
    (
        "platform-malformed",
        [change("build", value={"platform": "amd64"})],
        [("build.platform", "expected a platform such as linux/amd64")],
    ),
    ("unknown-key", [change("hostPort", value=50000)], [("hostPort", "unknown key")]),
    (
        "combo",
        [
            change("ports", value={**PORTS, "sub": 50001, "pow": 1, "div": 99999}),
            change("user", value="root"),
            change("publish", value={"hostPort": 0}),
        ],
        [
            ("ports.sub", "already the port of sum"),
            ("ports.pow", "unknown role"),
            ("ports.div", "65535"),
            ("user", "root"),
            ("publish.hostPort", "greater than or equal to 1"),
        ],
    ),
]


@pytest.mark.parametrize(("changes", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_rejected_before_any_resource(
    changes: list[Change], expected: list[tuple[str, str]]
) -> None:
    assert_rejected(changed(SHIPPED, *changes), "dev", expected, stack="dev")


def test_the_shipped_config_is_valid() -> None:
    assert len(run_program(SHIPPED, stack="dev").resources) > 5
