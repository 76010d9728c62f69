"""How bench.sh reaches each lab's guests, from the outputs the real stacks export."""

from __future__ import annotations

import io
import shlex
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from bench import lab
from bench.archive import RUNNER_FILES, runner_archive
from stacks.shared.catalogue import labs
from tests.harness import ROOT, load_stack_file, run_stack_file

SHIPPED = sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in ROOT.glob("Pulumi.*.yaml"))


def test_every_lab_declares_how_its_guests_are_reached() -> None:
    assert sorted(lab.LABS) == sorted(item.name for item in labs())


@pytest.mark.parametrize("stack", SHIPPED)
def test_targets_from_each_shipped_stacks_outputs(stack: str) -> None:
    config = load_stack_file(stack)
    outputs = run_stack_file(stack).outputs
    targets = lab.targets(config["cloud-labs:lab"], outputs, config)
    assert targets, f"{stack}: no guest"
    assert len({t.name for t in targets}) == len(targets)
    for target in targets:
        if target.kind == "container":
            assert target.argv[:3] == ("docker", "exec", "-i")
            assert target.argv[-2:] == ("sh", "-c")
        else:
            assert target.kind == "vm"
            assert target.argv[0] == "ssh" and "BatchMode=yes" in target.argv
            assert "@" in target.argv[-1], target.argv
        shlex.join(target.argv)  # every piece is a plain string


def test_vbox_cluster_guests_are_reached_through_the_nat_forwards() -> None:
    outputs = run_stack_file("vbox-cluster").outputs
    targets = {t.name: t for t in lab.targets("vbox-cluster", outputs, {})}
    assert list(targets) == ["master", "node01", "node02", "node03"]
    assert targets["master"].argv[-3:] == ("-p", "3022", "ubuntu@127.0.0.1")
    assert targets["node02"].argv[-3:] == ("-p", "4023", "ubuntu@127.0.0.1")


def test_libvirt_guests_through_a_jump_host() -> None:
    outputs = {"sshCommands": {"kvm1": "ssh -J root@kvm.example.org ubuntu@10.0.0.5"}}
    (target,) = lab.targets("libvirt-host", outputs, {})
    assert target.argv[-3:] == ("-J", "root@kvm.example.org", "ubuntu@10.0.0.5")


def test_openstack_calculator_front_end_and_operators() -> None:
    outputs = {
        "sshCommand": "ssh ubuntu@203.0.113.7",
        "operatorSshCommands": {"sum": "ssh -J ubuntu@203.0.113.7 ubuntu@192.168.1.11"},
    }
    names = [t.name for t in lab.targets("openstack-calculator", outputs, {})]
    assert names == ["calculator", "sum"]


def test_openstack_vm_without_floating_ip_drops_the_comment() -> None:
    outputs = {"sshCommand": "ssh ubuntu@192.168.100.20  # from inside the network"}
    (target,) = lab.targets("openstack-vm", outputs, {})
    assert target.argv[-1] == "ubuntu@192.168.100.20"


def test_docker_basics_containers_by_their_configured_names() -> None:
    config = {"cloud-labs:ct1": {"name": "web"}}
    targets = lab.targets("docker-basics", {}, config)
    assert [(t.name, t.argv[3]) for t in targets] == [
        ("ct1", "web"),
        ("ct2", "ct2"),
        ("ct3", "ct3"),
    ]


def test_missing_output_and_unknown_lab_are_named() -> None:
    with pytest.raises(KeyError, match="no output 'sshCommands'"):
        lab.targets("vbox-nat", {"vmNames": []}, {})
    with pytest.raises(KeyError, match="no benchmark declaration for lab 'nope'"):
        lab.targets("nope", {}, {})
    with pytest.raises(ValueError, match="not an ssh command"):
        lab.ssh_target("x", "telnet host")


def test_runner_archive_holds_only_the_stdlib_runner() -> None:
    archive = runner_archive()
    assert archive == runner_archive()  # same sources, same bytes
    names = zipfile.ZipFile(io.BytesIO(archive)).namelist()
    assert names == sorted(f"bench/{n}" for n in RUNNER_FILES)
    for name in names:
        if name.endswith(".py"):
            source = zipfile.ZipFile(io.BytesIO(archive)).read(name).decode()
            for host_only in ("matplotlib", "yaml", "jsonschema", "components", "bench.report"):
                assert f"import {host_only}" not in source, name
                assert f"from {host_only}" not in source, name


def test_remote_script_runs_the_runner_from_standard_input(tmp_path: Path) -> None:
    """The very command each machine runs, here through ``sh -c`` with the real zip."""
    script = lab.remote_script(quick=True).replace("bench run", "bench sizes")
    script = script.replace(" --out -", "")
    run = subprocess.run(
        ["sh", "-c", script],
        input=runner_archive(),
        capture_output=True,
        check=False,
        cwd=tmp_path,
        env={"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin"},
    )
    assert run.returncode == 0, run.stderr
    assert b'"hpl_n": ' in run.stdout
    assert list(tmp_path.iterdir()) == []


def test_run_lab_with_an_earlier_host_document(tmp_path: Path) -> None:
    import json

    from tests.bench_docs import document

    host = tmp_path / "host-earlier.json"
    host.write_text(json.dumps(document()))
    directory, outcomes = lab.run_lab(
        "stack", "vbox-nat", [], tmp_path / "results", quick=True, host_document=host
    )
    assert outcomes == []
    manifest = json.loads((directory / "run.json").read_text())
    assert manifest["machines"]["host"]["reach"].startswith("earlier document host-earlier.json")
    assert json.loads((directory / "host.json").read_text()) == document()
    assert (directory / "report.md").exists()
    assert directory.parent == tmp_path / "results" / "stack"


def test_remote_script_passes_the_profile_and_blas_kernels() -> None:
    assert lab.remote_script(quick=False).endswith("python3 -m bench run --out -")
    assert lab.remote_script(quick=True, blas_core="Haswell").endswith(
        "python3 -m bench run --out - --quick --blas-core Haswell"
    )
