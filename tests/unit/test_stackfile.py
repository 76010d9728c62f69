"""A stack's config read from its file (check.sh, diagram.sh): the program's model and errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from stacks.libvirt_host import LibvirtHostConfig
from stacks.shared.errors import ConfigError, LabSelectionError
from stacks.shared.stackfile import SECRET, load
from tests.harness import ROOT, load_stack_file


def write(tmp_path: Path, config: dict[str, object]) -> Path:
    path = tmp_path / "Pulumi.s.yaml"
    path.write_text(yaml.safe_dump({"config": config}))
    return path


def test_a_shipped_stack_is_its_lab_s_validated_model() -> None:
    stack = load("libvirt-host")
    assert stack.lab == "libvirt-host" and stack.path == ROOT / "Pulumi.libvirt-host.yaml"
    assert isinstance(stack.config, LibvirtHostConfig)
    assert [vm.name for vm in stack.config.vms] == [
        "gateway",
        "storage",
        "controller",
        "kvm1",
        "kvm2",
    ]
    assert stack.declarations().__name__ == "stacks.libvirt_host_checks"


def test_a_secure_value_reads_as_a_placeholder(tmp_path: Path) -> None:
    config = load_stack_file("libvirt-host")
    config["cloud-labs:connection"] = {
        "host": "kvm.example.org",
        "hostKey": config["cloud-labs:sshPublicKey"],
        "privateKey": {"secure": "v1:AAAABBBB"},
    }
    stack = load("s", write(tmp_path, config))
    assert stack.config.connection is not None
    assert stack.config.connection.private_key is not None
    assert stack.config.connection.private_key.reveal() == SECRET


def test_the_program_s_errors(tmp_path: Path) -> None:
    config = load_stack_file("dev")
    config["cloud-labs:publish"] = {"hostPort": 70000}
    config["cloud-labs:nosuchkey"] = 1
    with pytest.raises(ConfigError) as caught:
        load("s", write(tmp_path, config))
    assert {p.location for p in caught.value.problems} == {"publish.hostPort", "nosuchkey"}
    with pytest.raises(LabSelectionError, match="unknown lab 'nope'"):
        load("s", write(tmp_path, {"cloud-labs:lab": "nope"}))
    with pytest.raises(FileNotFoundError, match="no config file"):
        load("nothing-here")
