"""``benchmark.enabled``: one config block on every lab with guests; each VM's user-data carries
the suite (the runner zip, the ``cloudlabs-bench`` command, the packages of
``bench/packages.txt``) when it is set and nothing of it when not, and ``cloud-init schema``
accepts the document; each Docker lab's containers run its image with the suite's layer (the
stage ``layer`` of ``docker/bench/Dockerfile``) on top."""

from __future__ import annotations

import base64
import importlib
import io
import zipfile
from typing import Any

import pytest
import yaml

from bench.archive import ARCHIVE_PATH, COMMAND_PATH, RUNNER_FILES, guest_packages
from stacks.shared.benchmark import BenchmarkConfig
from tests import harness
from tests.harness import StackRun, change, changed, load_stack_file, run_program
from tests.validators import assert_cloud_config_valid

VM_LABS = {
    "vbox-nat": 2,
    "vbox-cluster": 5,
    "libvirt-host": 5,
    "openstack-vm": 1,
    "openstack-calculator": 5,
    "openstack-naas": 5,
    "openstack-k8s": 3,
}
"""Every lab with VMs, and how many guests its shipped stack file boots."""
DOCKER_LABS = {
    "dev": {"dev-calculator": "calculator/Dockerfile"},
    "docker-basics": {
        "basics-plain": "docker/plain/Dockerfile",
        "basics-ssh": "docker/ssh/Dockerfile",
    },
}
"""Every Docker lab, and the images its containers run (by component name) with their
Dockerfiles: the ones that get the layer."""


def user_data(run: StackRun) -> dict[str, str]:
    """Every guest's user-data: the NoCloud seeds' (VirtualBox, libvirt) and Nova's."""
    found: dict[str, str] = {}
    for resource in run.resources:
        env = resource.inputs.get("environment") or {}
        for key in ("SEED_USER_DATA", "USER_DATA"):
            if key in env:
                found[resource.name] = env[key]
        if resource.type == "openstack:compute/instance:Instance":
            value = resource.inputs.get("userData")
            if value is not None:
                found[resource.name] = str(harness.revealed(value)[0])
    return found


def enabled(stack: str, value: bool) -> dict[str, Any]:
    return changed(load_stack_file(stack), change("benchmark", "enabled", value=value))


PACKAGES_ONLY = {"openstack-calculator", "openstack-naas"}
"""The labs whose guests get the suite's packages alone: the calculator's archive leaves no
room for the runner's under Nova's limit (``scripts/bench.sh`` sends it at run time)."""


def assert_suite(text: str, name: str, runner: bool = True) -> None:
    doc = yaml.safe_load(text)
    packages = [p if isinstance(p, str) else p[0] for p in doc["packages"]]
    assert set(guest_packages()) <= set(packages), name
    assert len(packages) == len(set(packages)), packages
    files = {f["path"]: f for f in doc["write_files"]}
    if not runner:
        assert ARCHIVE_PATH not in files and COMMAND_PATH not in files, name
        return
    archive = base64.b64decode(files[ARCHIVE_PATH]["content"])
    names = zipfile.ZipFile(io.BytesIO(archive)).namelist()
    assert sorted(names) == sorted(f"bench/{n}" for n in RUNNER_FILES), name
    assert files[ARCHIVE_PATH]["encoding"] == "b64"
    assert files[COMMAND_PATH]["permissions"] == "0755"
    assert ARCHIVE_PATH in files[COMMAND_PATH]["content"]


@pytest.mark.parametrize("stack", sorted(VM_LABS))
def test_every_guest_gets_the_suite_when_enabled(stack: str) -> None:
    documents = user_data(run_program(enabled(stack, True), stack=stack))
    assert len(documents) == VM_LABS[stack] or stack == "vbox-cluster", sorted(documents)
    assert len(documents) >= VM_LABS[stack]
    for name, text in documents.items():
        assert_suite(text, name, runner=stack not in PACKAGES_ONLY)
    assert_cloud_config_valid(next(iter(documents.values())), f"{stack} user-data")


@pytest.mark.parametrize("stack", sorted(VM_LABS))
def test_no_guest_gets_it_when_disabled(stack: str) -> None:
    for value in (load_stack_file(stack), enabled(stack, False)):
        for name, text in user_data(run_program(value, stack=stack)).items():
            assert ARCHIVE_PATH not in text and COMMAND_PATH not in text, name
            assert "hpcc" not in text, name


def test_openstack_vm_has_no_user_data_without_the_suite() -> None:
    assert user_data(run_program(load_stack_file("openstack-vm"), stack="openstack-vm")) == {}


@pytest.mark.parametrize("stack", sorted(VM_LABS | DOCKER_LABS))
def test_a_wrong_value_is_named_with_the_others(stack: str) -> None:
    config = changed(
        load_stack_file(stack),
        change("benchmark", "enabled", value="often"),
        change("benchmark", "extra", value=1),
    )
    harness.assert_rejected(config, stack, [("benchmark.enabled", "bool"), ("benchmark.extra", "")])


@pytest.mark.parametrize("stack", sorted(VM_LABS | DOCKER_LABS))
def test_one_config_type_for_every_lab(stack: str) -> None:
    module = importlib.import_module(f"stacks.{stack.replace('-', '_')}")
    config = module.LAB.config
    assert config.model_fields["benchmark"].annotation is BenchmarkConfig
