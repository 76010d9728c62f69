"""dev: bad config is rejected before any resource exists, every problem named at once."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.harness import assert_rejected, load_stack_file, run_program

SHIPPED = load_stack_file("dev")
K = "cloud-labs:"
PORTS = SHIPPED[K + "ports"]

# (case id, config changes, [(field path as reported, words expected in the message)])
CASES: list[tuple[str, dict[str, Any], list[tuple[str, str]]]] = [
    (
        "port-out-of-range",
        {"ports": {**PORTS, "sum": 70000}},
        [("ports.sum", "between 1 and 65535")],
    ),
    ("port-zero", {"ports": {**PORTS, "div": 0}}, [("ports.div", "between 1 and 65535")]),
    (
        "port-duplicated",
        {"ports": {**PORTS, "sub": 50001}},
        [("ports.sub", "port 50001 is already the port of sum")],
    ),
    (
        "port-duplicates-a-default",
        {"ports": {"mul": 50000}},
        [("ports.mul", "already the port of calculator")],
    ),
    (
        "unknown-role",
        {"ports": {**PORTS, "pow": 50005}},
        [("ports.pow", "unknown role; expected one of calculator, sum, sub, mul, div")],
    ),
    ("port-not-a-number", {"ports": {**PORTS, "sum": "high"}}, [("ports.sum", "integer")]),
    (
        "published-port-out-of-range",
        {"publish": {"hostIp": "127.0.0.1", "hostPort": 65536}},
        [("publish.hostPort", "65535")],
    ),
    (
        "published-address-bad",
        {"publish": {"hostIp": "localhost", "hostPort": 50000}},
        [("publish.hostIp", "IPv4 address")],
    ),
    ("base-image-bad", {"baseImage": "Python 3.12"}, [("baseImage", "image reference")]),
    ("image-uppercase", {"image": "CloudLabs/calc:dev"}, [("image", "lowercase")]),
    ("network-bad", {"network": "-net"}, [("network", "starting with a letter or digit")]),
    ("prefix-bad", {"containerPrefix": "dev lab"}, [("containerPrefix", "letters, digits")]),
    ("user-root", {"user": "0:0"}, [("user", "must not run as root")]),
    ("user-root-by-name", {"user": "root"}, [("user", "must not run as root")]),
    ("user-root-zero-padded", {"user": "00:10001"}, [("user", "must not run as root")]),
    ("restart-bad", {"restart": "sometimes"}, [("restart", "unless-stopped")]),
    ("read-only-not-bool", {"readOnly": "maybe"}, [("readOnly", "boolean")]),
    ("timeout-negative", {"operatorTimeout": -1}, [("operatorTimeout", "(0, 300]")]),
    (
        "healthcheck-interval",
        {"healthcheck": {"interval": "10"}},
        [("healthcheck.interval", "duration")],
    ),
    ("healthcheck-retries", {"healthcheck": {"retries": 0}}, [("healthcheck.retries", "at least")]),
    (
        "builder-unknown",
        {"build": {"builderVersion": "kaniko"}},
        [("build.builderVersion", "BuilderV1")],
    ),
    ("unknown-key", {"hostPort": 50000}, [("hostPort", "unknown key")]),
    (
        "combo",
        {
            "ports": {**PORTS, "sub": 50001, "pow": 1, "div": 99999},
            "user": "root",
            "publish": {"hostPort": 0},
        },
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
    changes: dict[str, Any], expected: list[tuple[str, str]]
) -> None:
    config = copy.deepcopy(SHIPPED)
    config.update({K + key: value for key, value in changes.items()})
    assert_rejected(config, "dev", expected, stack="dev")


def test_the_shipped_config_is_valid() -> None:
    assert len(run_program(copy.deepcopy(SHIPPED), stack="dev").resources) > 5
