"""policy/__main__.py boots as the CLI starts it: the SDK's analyzer server on a loopback port,
answering the engine's calls (GetAnalyzerInfo, Analyze) over gRPC with the pack's rules."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import grpc
import pytest
from google.protobuf import empty_pb2, struct_pb2
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc

from cloudlabs_policy import build_policies
from cloudlabs_policy.stack_config import StackConfig
from tests.harness import ROOT


@pytest.fixture(scope="module")
def analyzer() -> Iterator[analyzer_pb2_grpc.AnalyzerStub]:
    pack = subprocess.Popen(
        [sys.executable, "__main__.py"],
        cwd=ROOT / "policy",
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert pack.stdout is not None
        port = pack.stdout.readline().strip()
        assert port.isdigit(), pack.stderr.read() if pack.stderr else port
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            grpc.channel_ready_future(channel).result(timeout=30)
            yield analyzer_pb2_grpc.AnalyzerStub(channel)
    finally:
        pack.kill()
        pack.wait(timeout=30)


def test_the_pack_describes_its_rules_and_levels(
    analyzer: analyzer_pb2_grpc.AnalyzerStub,
) -> None:
    info = analyzer.GetAnalyzerInfo(empty_pb2.Empty(), timeout=30)
    assert info.name == "cloud-labs-safety"
    expected = sorted(p.name for p in build_policies(StackConfig))
    assert sorted(p.name for p in info.policies) == expected
    assert {p.enforcementLevel for p in info.policies} == {analyzer_pb2.MANDATORY}


def test_a_root_service_container_is_reported_over_the_wire(
    analyzer: analyzer_pb2_grpc.AnalyzerStub,
) -> None:
    props = struct_pb2.Struct()
    props.update(
        {"labels": [{"label": "org.cloudlabs.role", "value": "web"}], "user": "0", "readOnly": True}
    )
    urn = "urn:pulumi:wire::cloud-labs::docker:index/container:Container::web"
    response = analyzer.Analyze(
        analyzer_pb2.AnalyzeRequest(
            urn=urn,
            type="docker:index/container:Container",
            name="web",
            properties=props,
            options=analyzer_pb2.AnalyzerResourceOptions(),
        ),
        timeout=30,
    )
    found = [(d.policyName, d.enforcementLevel) for d in response.diagnostics]
    assert found == [("service-containers-non-root-read-only", analyzer_pb2.MANDATORY)]
    assert "it runs as root" in response.diagnostics[0].message
