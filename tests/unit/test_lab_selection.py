"""The `lab` config key selects the builder; unknown, missing and unbuilt labs say so."""

from __future__ import annotations

import pytest

from stacks.shared.catalogue import labs
from stacks.shared.errors import CloudLabsError, LabNotAvailableError, LabSelectionError
from tests.harness import StackRun, load_stack_file, run_program

LABS_MD = [
    "dev",
    "docker-basics",
    "vbox-nat",
    "vbox-cluster",
    "libvirt-host",
    "openstack-vm",
    "openstack-calculator",
    "openstack-naas",
    "openstack-k8s",
]


def test_catalogue_lists_every_lab_of_the_specification() -> None:
    assert [lab.name for lab in labs()] == LABS_MD


def test_unknown_lab_lists_the_known_ones() -> None:
    recorded = StackRun()
    with pytest.raises(LabSelectionError) as caught:
        run_program({"lab": "openstack-vn"}, run=recorded)
    message = str(caught.value)
    assert "unknown lab 'openstack-vn'" in message
    for name in LABS_MD:
        assert name in message
    assert recorded.resources == []


def test_missing_lab_is_an_error_listing_the_known_ones() -> None:
    with pytest.raises(LabSelectionError) as caught:
        run_program({})
    assert "no lab selected" in str(caught.value)
    assert "openstack-vm" in str(caught.value)


def test_lab_is_read_from_config_not_from_the_stack_name() -> None:
    run = run_program(load_stack_file("openstack-vm"), stack="openstack-vm-alice")
    assert run.of_type("openstack:compute/instance:Instance")


def test_errors_print_without_traceback_in_pulumi() -> None:
    import pulumi

    assert issubclass(CloudLabsError, pulumi.RunError)


def test_unbuilt_lab_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    from stacks.shared import catalogue

    planned = catalogue.Entry(
        "future-lab", "Somewhere", "a lab whose builder is not written yet", None
    )
    monkeypatch.setattr(catalogue, "LABS", (*catalogue.LABS, planned))
    with pytest.raises(LabNotAvailableError) as caught:
        run_program({"lab": "future-lab"})
    assert "lab 'future-lab' (Somewhere: a lab whose builder is not written yet)" in str(
        caught.value
    )
    assert "not built yet" in str(caught.value)
    assert "openstack-vm" in str(caught.value)  # what is available instead


def test_every_shipped_stack_file_selects_a_known_lab(root) -> None:
    names = {lab.name for lab in labs()}
    for path in sorted(root.glob("Pulumi.*.yaml")):
        config = load_stack_file(path.name[len("Pulumi.") : -len(".yaml")])
        assert config.get("cloud-labs:lab") in names, path.name


def test_the_mocks_refuse_two_resources_of_one_type_and_name() -> None:
    import pulumi

    from tests.harness import DuplicateResourceError, run_function

    def program() -> None:
        pulumi.ComponentResource("cloudlabs:test:Thing", "twin")
        pulumi.ComponentResource("cloudlabs:test:Thing", "twin")

    with pytest.raises(Exception) as caught:
        run_function(program)
    assert "are named 'twin'" in str(caught.value) or isinstance(
        caught.value, DuplicateResourceError
    )


def test_listing_the_labs_imports_none_of_them() -> None:
    import subprocess
    import sys

    from tests.harness import ROOT

    program = (
        "import sys; import stacks; from stacks.shared.catalogue import labs, select\n"
        "assert len(labs()) == 9\n"
        "for name in ('openstack-vn', ''):\n"
        "    try: select(name)\n"
        "    except Exception: pass\n"
        "ours = ('pulumi_', 'stacks.', 'components')\n"
        "print(sorted(m for m in sys.modules if m.startswith(ours)))\n"
        "select('dev').load()\n"
        "print(sorted(m for m in sys.modules if m.startswith('pulumi_')))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    assert result.returncode == 0, result.stderr
    before, after = result.stdout.splitlines()
    assert "pulumi_" not in before and "stacks.dev" not in before, before
    # The dev lab pulls in the SDKs it uses, and no OpenStack.
    assert "pulumi_docker" in after and "pulumi_openstack" not in after, after
