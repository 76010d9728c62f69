"""The VirtualBox scripts, run exactly as the stacks declare them (commands and environment
taken from the resources recorded under mocks), against the VBoxManage stand-in: the call
sequence of a create, a re-run that changes nothing, in-place updates, and a delete that leaves
nothing behind. Seed ISOs are built by the real genisoimage and read back with isoinfo."""

from __future__ import annotations

import contextlib
import subprocess
import threading
from pathlib import Path
from typing import Any

import pytest

from components.virtualbox import mac_address
from tests.fakes.vbox_runner import (
    FakeVBox,
    free_port_block,
    mutating,
    ordered_commands,
    problems,
    ssh_banners,
)
from tests.harness import StackRun, load_stack_file, run_program
from tests.validators import require

pytestmark = pytest.mark.integration

K = "cloud-labs:"


def nat_config(port: int) -> dict[str, Any]:
    config = load_stack_file("vbox-nat")
    config[K + "workDir"] = "~/vbox"
    config[K + "image"] = {"path": "~/images/cloud.vmdk"}
    config[K + "vm"] = {**config[K + "vm"], "sshPort": port}
    config[K + "clone"] = {**config[K + "clone"], "sshPort": port + 1}
    return config


def image(fake: FakeVBox) -> Path:
    path = fake.root / "home" / "images" / "cloud.vmdk"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\0" * (3 << 20))
    return path


def by_name(run: StackRun, name: str) -> Any:
    return next(r for r in run.of_type("command:local:Command") if r.name == name)


def create_all(fake: FakeVBox, run: StackRun) -> dict[str, list[list[str]]]:
    """Run every create in order; the mutating calls of each command."""
    fake.new_calls()
    out: dict[str, list[list[str]]] = {}
    for res in ordered_commands(run):
        fake.run(res)
        calls = fake.new_calls()
        assert not problems(calls), f"{res.urn}: rejected calls {problems(calls)}"
        out[res.name] = mutating(calls)
    return out


def delete_all(fake: FakeVBox, run: StackRun) -> dict[str, list[list[str]]]:
    fake.new_calls()
    out: dict[str, list[list[str]]] = {}
    for res in reversed(ordered_commands(run)):
        if res.inputs.get("delete"):
            fake.run(res, "delete")
            calls = fake.new_calls()
            assert not problems(calls), f"{res.urn}: rejected calls {problems(calls)}"
            out[res.name] = mutating(calls)
    return out


def test_vbox_nat_create_rerun_update_delete(tmp_path: Path) -> None:
    require("genisoimage")
    fake = FakeVBox(tmp_path)
    img = str(image(fake))
    home = fake.root / "home"
    work = home / "vbox"
    with ssh_banners(2) as port:
        run = run_program(nat_config(port), stack="vbox-nat")
        created = create_all(fake, run)

        disk1, disk2 = str(work / "disks/lab-vm.vdi"), str(work / "disks/lab-vm-clone.vdi")
        assert created["vm-disk-medium"] == [
            ["clonemedium", "disk", img, disk1, "--format", "VDI"],
            ["closemedium", "disk", img],
            ["modifymedium", "disk", disk1, "--resize", "10240"],
        ]
        assert created["clone-disk-medium"] == [
            ["clonemedium", "disk", disk1, disk2, "--format", "VDI"]
        ]
        assert created["vm-seed-iso"] == [] and created["vm-ssh"] == []
        seed = by_name(run, "vm-seed-iso").inputs["environment"]["SEED_PATH"]
        seed_file = seed.replace("~", str(home), 1)
        mac = mac_address("lab-vm/nic1")
        assert created["vm-vm"] == [
            ["createvm", "--name", "lab-vm", "--ostype", "Ubuntu_64", "--basefolder",
             str(work / "vms"), "--register"],
            ["modifyvm", "lab-vm", "--memory", "1024", "--ioapic", "on", "--uart1", "0x3F8",
             "4", "--uart-mode1", "disconnected", "--mac-address1", mac],
            ["storagectl", "lab-vm", "--name", "SATA", "--add", "sata", "--controller",
             "IntelAhci", "--portcount", "2"],
            ["storageattach", "lab-vm", "--storagectl", "SATA", "--port", "0", "--device", "0",
             "--type", "hdd", "--medium", disk1],
            ["storageattach", "lab-vm", "--storagectl", "SATA", "--port", "1", "--device", "0",
             "--type", "dvddrive", "--medium", seed_file],
            ["modifyvm", "lab-vm", "--nat-pf1", f"ssh,tcp,127.0.0.1,{port},,22"],
            ["startvm", "lab-vm", "--type", "headless"],
        ]  # fmt: skip
        # The clone is taken before the first VM boots.
        names = [r.name for r in ordered_commands(run)]
        assert names.index("clone-disk-medium") < names.index("vm-vm")

        state = fake.state()
        vm, clone = state["vms"]["lab-vm"], state["vms"]["lab-vm-clone"]
        assert vm["state"] == clone["state"] == "running"
        assert vm["forwards"] == {"ssh": f"ssh,tcp,127.0.0.1,{port},,22"}
        assert clone["forwards"] == {"ssh": f"ssh,tcp,127.0.0.1,{port + 1},,22"}
        assert vm["attachments"]["SATA-0-0"] == disk1 and clone["attachments"]["SATA-0-0"] == disk2
        assert (vm["cpus"], vm["memory"]) == (1, 1024)
        assert list(vm["nics"]) == ["1"] and vm["nics"]["1"]["type"] == "nat"
        assert img not in state["hdds"], "the cloud image stays unregistered"

        # The seed is a real NoCloud ISO holding what the stack rendered.
        label = subprocess.run(
            ["isoinfo", "-d", "-i", seed_file], capture_output=True, text=True, check=True
        )
        assert "Volume id: cidata" in label.stdout
        env = by_name(run, "vm-seed-iso").inputs["environment"]
        for name, key in (("user-data", "SEED_USER_DATA"), ("meta-data", "SEED_META_DATA"),
                          ("network-config", "SEED_NETWORK_CONFIG")):  # fmt: skip
            text = subprocess.run(
                ["isoinfo", "-J", "-x", f"/{name}", "-i", seed_file],
                capture_output=True, text=True, check=True,
            ).stdout  # fmt: skip
            assert text == env[key], name

        # up again, nothing changed: only read-only calls.
        again = create_all(fake, run)
        assert all(calls == [] for calls in again.values()), again

        # Memory and the forward change in place (update), the VM is not replaced.
        changed = nat_config(port)
        changed[K + "vm"] = {**changed[K + "vm"], "memoryMb": 2048}
        updated = run_program(changed, stack="vbox-nat")
        new_vm = by_name(updated, "vm-vm")
        assert new_vm.inputs["triggers"] == by_name(run, "vm-vm").inputs["triggers"]
        fake.new_calls()
        fake.run(new_vm, "update")
        assert mutating(fake.new_calls()) == [
            ["controlvm", "lab-vm", "acpipowerbutton"],
            ["modifyvm", "lab-vm", "--memory", "2048"],
            ["startvm", "lab-vm", "--type", "headless"],
        ]
    with ssh_banners(1) as other:
        moved = nat_config(port)
        moved[K + "vm"] = {**moved[K + "vm"], "memoryMb": 2048, "sshPort": other}
        fake.run(by_name(run_program(moved, stack="vbox-nat"), "vm-vm"), "update")
        assert mutating(fake.new_calls()) == [
            ["controlvm", "lab-vm", "natpf1", "delete", "ssh"],
            ["controlvm", "lab-vm", "natpf1", f"ssh,tcp,127.0.0.1,{other},,22"],
        ]

    deleted = delete_all(fake, run)
    assert deleted["vm-vm"] == [
        ["controlvm", "lab-vm", "poweroff"],
        ["storageattach", "lab-vm", "--storagectl", "SATA", "--port", "0", "--device", "0",
         "--medium", "none"],
        ["storageattach", "lab-vm", "--storagectl", "SATA", "--port", "1", "--device", "0",
         "--medium", "none"],
        ["unregistervm", "lab-vm", "--delete"],
    ]  # fmt: skip
    assert deleted["vm-seed-iso"] == [["closemedium", "dvd", seed_file]]
    assert deleted["vm-disk-medium"] == [["closemedium", "disk", disk1, "--delete"]]
    assert names.index("clone-disk-medium") > names.index("vm-disk-medium")
    state = fake.state()
    assert state["vms"] == {} and state["hdds"] == {} and state["dvds"] == {}
    leftovers = [p for p in work.rglob("*") if p.is_file()]
    assert leftovers == [], leftovers
    assert Path(img).exists(), "the user's cloud image is never deleted"
    # Deleting again finds nothing to do.
    assert all(calls == [] for calls in delete_all(fake, run).values())


def cluster_config(base: int, count: int) -> dict[str, Any]:
    config = load_stack_file("vbox-cluster")
    config[K + "workDir"] = "~/cluster"
    config[K + "image"] = {"path": "~/images/cloud.vmdk"}
    config[K + "master"] = {**config[K + "master"], "sshPort": base, "httpPort": base + 1}
    config[K + "nodes"] = {**config[K + "nodes"], "count": count, "sshPortBase": base + 2}
    return config


@pytest.mark.parametrize("count", [2])
def test_vbox_cluster_create_rerun_delete(tmp_path: Path, count: int) -> None:
    require("genisoimage")
    fake = FakeVBox(tmp_path)
    image(fake)
    with ssh_banners(count + 2) as base:
        run = run_program(cluster_config(base, count), stack="vbox-cluster")
        created = create_all(fake, run)
        nodes = [f"node{i:02d}" for i in range(1, count + 1)]
        state = fake.state()
        assert sorted(state["vms"]) == sorted(["template", "master", *nodes])
        assert state["vms"]["template"]["state"] == "poweroff"
        for name in ["master", *nodes]:
            vm = state["vms"][name]
            assert vm["state"] == "running", name
            assert vm["nics"]["2"] == {
                "type": "intnet",
                "intnet": "CloudBasicNet",
                "mac": mac_address(f"{name}/nic2"),
            }, name
            settings = created[f"{name}-vm"][1]
            assert settings[:2] == ["modifyvm", name] and "--nic2" in settings, settings
        master = state["vms"]["master"]
        assert master["memory"] == 2048
        assert master["forwards"] == {
            "ssh": f"ssh,tcp,127.0.0.1,{base},,22",
            "http": f"http,tcp,127.0.0.1,{base + 1},,80",
        }
        for i, name in enumerate(nodes):
            assert state["vms"][name]["forwards"] == {
                "ssh": f"ssh,tcp,127.0.0.1,{base + 2 + i},,22"
            }
            assert state["vms"][name]["memory"] == 1024
        sizes = {Path(p).name: m["size"] for p, m in state["hdds"].items()}
        assert sizes == {
            "base.vdi": 3,
            "template.vdi": 25600,
            "master.vdi": 25600,
            **{f"{n}.vdi": 10240 for n in nodes},
        }
        # Nodes are started after master.
        order = [r.name for r in ordered_commands(run)]
        assert all(order.index("master-ssh") < order.index(f"{n}-vm") for n in nodes)

        again = create_all(fake, run)
        assert all(calls == [] for calls in again.values()), again

    delete_all(fake, run)
    state = fake.state()
    assert state["vms"] == {} and state["hdds"] == {} and state["dvds"] == {}
    assert [p for p in (fake.root / "home" / "cluster").rglob("*") if p.is_file()] == []


def test_a_vm_of_the_same_name_made_elsewhere_is_never_taken_over(tmp_path: Path) -> None:
    fake = FakeVBox(tmp_path)
    theirs = str(tmp_path / "home" / "VirtualBox VMs")
    subprocess.run(
        ["VBoxManage", "createvm", "--name", "lab-vm", "--basefolder", theirs, "--register"],
        env=fake.env,
        check=True,
        capture_output=True,
    )
    before = fake.state()["vms"]["lab-vm"]
    vm = by_name(run_program(nat_config(22000), stack="vbox-nat"), "vm-vm")
    fake.new_calls()
    created = fake.attempt(vm, "create")
    assert created.returncode != 0 and "already exists" in created.stderr, created.stderr
    deleted = fake.attempt(vm, "delete")
    assert deleted.returncode == 0, deleted.stderr
    assert "left as it is" in deleted.stderr
    assert mutating(fake.new_calls()) == []
    assert fake.state()["vms"]["lab-vm"] == before


def test_a_failing_vboxmanage_is_not_read_as_nothing_to_delete(tmp_path: Path) -> None:
    fake = FakeVBox(tmp_path)
    broken = tmp_path / "broken-vboxmanage"
    broken.write_text("#!/bin/sh\necho 'VBoxManage: error: VBoxSVC is not running' >&2\nexit 1\n")
    broken.chmod(0o755)
    run = run_program(nat_config(22000), stack="vbox-nat")
    disk = fake.root / "home" / "vbox" / "disks" / "lab-vm.vdi"
    disk.parent.mkdir(parents=True)
    disk.write_bytes(b"disk")
    for name in ("vm-vm", "vm-disk-medium", "vm-seed-iso"):
        result = fake.attempt(by_name(run, name), "delete", VBOXMANAGE=str(broken))
        assert result.returncode != 0, f"{name}: {result.stderr}"
    assert disk.exists(), "the disk file stays while VirtualBox may still hold it"


def test_start_no_powers_a_running_vm_off(tmp_path: Path) -> None:
    require("genisoimage")
    fake = FakeVBox(tmp_path)
    image(fake)
    with ssh_banners(2) as port:
        run = run_program(nat_config(port), stack="vbox-nat")
        create_all(fake, run)
    vm = by_name(run, "vm-vm")
    result = fake.attempt(vm, "update", VM_START="no")
    assert result.returncode == 0, result.stderr
    assert mutating(fake.new_calls()) == [["controlvm", "lab-vm", "acpipowerbutton"]]
    assert fake.state()["vms"]["lab-vm"]["state"] == "poweroff"
    assert fake.attempt(vm, "update", VM_START="no").returncode == 0
    assert mutating(fake.new_calls()) == [], "already off: nothing to do"


def test_ssh_wait_reports_a_timeout_quietly(tmp_path: Path) -> None:
    script = Path(__file__).resolve().parents[2] / "scripts" / "virtualbox" / "ssh-wait.sh"
    # A port that accepts and closes at once, as VirtualBox's NAT forward does while the guest
    # boots, then a port nothing listens on.
    base, held = free_port_block(2)
    held[1].close()
    stop = threading.Event()

    def accept_and_close() -> None:
        held[0].settimeout(0.2)
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                held[0].accept()[0].close()

    server = threading.Thread(target=accept_and_close, daemon=True)
    server.start()
    try:
        for port in (base, base + 1):
            result = subprocess.run(
                ["bash", str(script)],
                env={"PATH": "/usr/bin:/bin", "SSH_PORT": str(port), "WAIT_TIMEOUT": "3"},
                capture_output=True,
                text=True,
                timeout=30,
            )
            assert result.returncode == 1, result
            assert result.stderr == (
                f"ssh-wait: no SSH server answered on 127.0.0.1:{port} within 3s\n"
            ), result.stderr
    finally:
        stop.set()
        server.join(timeout=2)
        held[0].close()
