"""The VirtualBox scripts, run exactly as the stacks declare them (commands and environment
taken from the resources recorded under mocks), against the VBoxManage stand-in
(``tests/fakes/vboxmanage.py``, as strict as VirtualBox 7.1's sources show): the call sequence
of a create, a re-run that changes nothing, in-place updates, and a delete that leaves nothing
behind; then what a real VirtualBox host does to them: a guest that shuts down slowly (running,
then stopping), the session lock held after a power-off, saved and aborted states, a guest whose
cloud-init failed, versions that cannot be driven, macOS's host-only networks, translated
output, Windows line ends, paths VirtualBox prints normalised. The guests' SSH side is a real
OpenSSH server answering ``cloud-init status`` as cloud-init does; seed ISOs are built by the
real genisoimage and read back with isoinfo."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from components.virtualbox import mac_address
from components.virtualbox.host import host_only_kind
from tests.fakes.vbox_runner import (
    FakeVBox,
    SshGuests,
    free_port_block,
    mutating,
    ordered_commands,
    problems,
    refused,
    ssh_guests,
)
from tests.harness import ROOT, StackRun, load_stack_file, run_program
from tests.validators import require

pytestmark = pytest.mark.integration

K = "cloud-labs:"
SCRIPTS = ROOT / "scripts" / "virtualbox"
USER = os.environ.get("USER") or "root"


def nat_config(port: int, user: str = USER, work: str = "~/vbox") -> dict[str, Any]:
    config = load_stack_file("vbox-nat")
    config[K + "workDir"] = work
    config[K + "sshUser"] = user
    config[K + "image"] = {"path": "~/images/cloud.vmdk"}
    config[K + "vm"] = {**config[K + "vm"], "sshPort": port}
    config[K + "clone"] = {**config[K + "clone"], "sshPort": port + 1}
    return config


def image(fake: FakeVBox) -> Path:
    """A stand-in cloud image of Ubuntu's noble VMDK's virtual size, 10 GiB."""
    path = fake.root / "home" / "images" / "cloud.vmdk"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"virtual-size-mb: 10240\n" + b"\0" * (1 << 20))
    return path


def by_name(run: StackRun, name: str) -> Any:
    return next(r for r in run.of_type("command:local:Command") if r.name == name)


def create_all(fake: FakeVBox, run: StackRun) -> dict[str, list[list[str]]]:
    """Run every create in order; the mutating calls of each command."""
    fake.new_calls()
    out: dict[str, list[list[str]]] = {}
    for res in ordered_commands(run):
        fake.run(res, timeout=180)
        calls = fake.new_calls()
        assert not problems(calls), f"{res.urn}: rejected calls {problems(calls)}"
        out[res.name] = mutating(calls)
    return out


def delete_all(fake: FakeVBox, run: StackRun) -> dict[str, list[list[str]]]:
    fake.new_calls()
    out: dict[str, list[list[str]]] = {}
    for res in reversed(ordered_commands(run)):
        if res.inputs.get("delete"):
            fake.run(res, "delete", timeout=180)
            calls = fake.new_calls()
            assert not problems(calls), f"{res.urn}: rejected calls {problems(calls)}"
            out[res.name] = mutating(calls)
    return out


def vbox(fake: FakeVBox, *argv: str) -> str:
    done = subprocess.run(
        ["VBoxManage", *argv], env=fake.env, capture_output=True, text=True, check=True
    )
    return done.stdout


def info(fake: FakeVBox, vm: str) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in vbox(fake, "showvminfo", vm, "--machinereadable")
             .splitlines() if "=" in line)  # fmt: skip
    return {k.strip('"'): v.strip('"') for k, v in pairs}


def set_state(fake: FakeVBox, vm: str, state: str) -> None:
    """Put a VM in a state the scripts cannot bring it to (saved, crashed...)."""
    path = fake.root / "vbox-state.json"
    data = json.loads(path.read_text())
    data["vms"][vm]["state"] = state
    path.write_text(json.dumps(data))


def until_unlocked(fake: FakeVBox, vm: str) -> None:
    """Wait out the session lock VirtualBox holds for a few seconds after a VM powered off."""
    time.sleep(max(0.0, fake.state()["vms"][vm]["locked_until"] - time.time()) + 0.1)


NatLab = tuple[FakeVBox, StackRun, SshGuests]


@dataclass(frozen=True)
class NatTemplate:
    """vbox-nat brought up once on the stand-in: its files as they were right after, to be put
    back for each test, and its guests answering over SSH."""

    root: Path
    saved: Path
    run: StackRun
    guests: SshGuests


@pytest.fixture(scope="module")
def nat_template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatTemplate]:
    require("genisoimage")
    top = tmp_path_factory.mktemp("nat-lab")
    fake = FakeVBox(top / "root")
    image(fake)
    with ssh_guests(2, top / "sshd", fake.root / "home" / "vbox" / "ready-key.pub") as guests:
        run = run_program(nat_config(guests.port), stack="vbox-nat")
        create_all(fake, run)
        shutil.copytree(fake.root, top / "saved", symlinks=True)
        yield NatTemplate(fake.root, top / "saved", run, guests)


@pytest.fixture
def nat_lab(nat_template: NatTemplate) -> NatLab:
    """vbox-nat brought up on the stand-in, its guests answering over SSH: the lab of
    :func:`nat_template`, its files (VirtualBox's state, call log, disks, seeds, boot logs,
    keys) put back as they were right after it came up, its guests answering "done" again."""
    t = nat_template
    shutil.rmtree(t.root)
    shutil.copytree(t.saved, t.root, symlinks=True)
    t.guests.set("done")
    t.guests.mode_file.with_name(t.guests.mode_file.name + ".calls").unlink(missing_ok=True)
    fake = FakeVBox(t.root)
    fake.new_calls()
    return fake, t.run, t.guests


def test_vbox_nat_create_rerun_update_delete(tmp_path: Path) -> None:
    require("genisoimage")
    fake = FakeVBox(tmp_path)
    img = str(image(fake))
    home = fake.root / "home"
    work = home / "vbox"
    with ssh_guests(2, tmp_path / "sshd", work / "ready-key.pub") as guests:
        port = guests.port
        run = run_program(nat_config(port), stack="vbox-nat")
        created = create_all(fake, run)

        assert created["vbox-host-check"] == [] and created["ready-key-file"] == []
        disk1, disk2 = str(work / "disks/lab-vm.vdi"), str(work / "disks/lab-vm-clone.vdi")
        # The image is as large as the 10 GB asked: nothing to grow.
        assert created["vm-disk-medium"] == [
            ["clonemedium", "disk", img, disk1, "--format", "VDI"],
            ["closemedium", "disk", img],
        ]
        assert created["clone-disk-medium"] == [
            ["clonemedium", "disk", disk1, disk2, "--format", "VDI"]
        ]
        assert created["vm-seed-iso"] == [] and created["vm-ssh"] == []
        seed = by_name(run, "vm-seed-iso").inputs["environment"]["SEED_PATH"]
        seed_file = seed.replace("~", str(home), 1)
        mac = mac_address("lab-vm/nic1")
        console = str(work / "vms" / "lab-vm" / "console.log")
        assert created["vm-vm"] == [
            ["createvm", "--name", "lab-vm", "--ostype", "Ubuntu_64", "--basefolder",
             str(work / "vms"), "--register"],
            ["modifyvm", "lab-vm", "--memory", "1024", "--ioapic", "on", "--boot1", "disk",
             "--uart1", "0x3F8", "4", "--uart-mode1", "file", console, "--mac-address1", mac],
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
        # Each guest was asked, over SSH with the ready key, whether cloud-init had finished.
        assert guests.calls() == ["cloud-init status --wait --long"] * 2
        assert "cloud-init: done" in fake.run(by_name(run, "vm-ssh"))

        state = fake.state()
        vm, clone = state["vms"]["lab-vm"], state["vms"]["lab-vm-clone"]
        assert vm["state"] == clone["state"] == "running"
        assert vm["forwards"] == {"ssh": f"ssh,tcp,127.0.0.1,{port},,22"}
        assert clone["forwards"] == {"ssh": f"ssh,tcp,127.0.0.1,{port + 1},,22"}
        assert vm["attachments"]["SATA-0-0"]["medium"] == disk1
        assert clone["attachments"]["SATA-0-0"]["medium"] == disk2
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

        # Memory changes in place (update), the VM is not replaced: an ACPI shutdown (the guest
        # reads running, then stopping), the change (once the session lock is free), a start.
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
    with ssh_guests(1, tmp_path / "sshd2", work / "ready-key.pub", start=port + 100) as other:
        moved = nat_config(port)
        moved[K + "vm"] = {**moved[K + "vm"], "memoryMb": 2048, "sshPort": other.port}
        fake.run(by_name(run_program(moved, stack="vbox-nat"), "vm-vm"), "update")
        assert mutating(fake.new_calls()) == [
            ["controlvm", "lab-vm", "natpf1", "delete", "ssh"],
            ["controlvm", "lab-vm", "natpf1", f"ssh,tcp,127.0.0.1,{other.port},,22"],
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
    config[K + "sshUser"] = USER
    config[K + "image"] = {"path": "~/images/cloud.vmdk"}
    config[K + "master"] = {**config[K + "master"], "sshPort": base, "httpPort": base + 1}
    config[K + "nodes"] = {**config[K + "nodes"], "count": count, "sshPortBase": base + 2}
    return config


@pytest.mark.parametrize("count", [2])
def test_vbox_cluster_create_rerun_delete(tmp_path: Path, count: int) -> None:
    require("genisoimage")
    fake = FakeVBox(tmp_path)
    image(fake)
    key = fake.root / "home" / "cluster" / "ready-key.pub"
    with ssh_guests(count + 2, tmp_path / "sshd", key) as guests:
        base = guests.port
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
            "base.vdi": 10240,
            "template.vdi": 25600,
            "master.vdi": 25600,
            **{f"{n}.vdi": 10240 for n in nodes},
        }
        # Nodes are started after master is ready.
        order = [r.name for r in ordered_commands(run)]
        assert all(order.index("master-ssh") < order.index(f"{n}-vm") for n in nodes)
        assert len(guests.calls()) == 1 + count

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


# --- 1. the serial port -------------------------------------------------------------------


def test_the_serial_console_is_written_to_a_file_in_the_vm_folder(nat_lab: NatLab) -> None:
    fake, run, _ = nat_lab
    vm = by_name(run, "vm-vm")
    console = fake.root / "home" / "vbox" / "vms" / "lab-vm" / "console.log"
    assert info(fake, "lab-vm")["uartmode1"] == f"file,{console}"
    assert "Booting Ubuntu (64-bit)" in console.read_text(), "the guest's boot log"
    # The mode is part of what create compares: a disconnected port is converged.
    stop = fake.attempt(vm, "update", VM_START="no")
    assert stop.returncode == 0, stop.stderr
    until_unlocked(fake, "lab-vm")
    vbox(fake, "modifyvm", "lab-vm", "--uart-mode1", "disconnected")
    fake.new_calls()
    fake.run(vm, "update")
    calls = mutating(fake.new_calls())
    assert ["modifyvm", "lab-vm", "--uart1", "0x3F8", "4", "--uart-mode1", "file",
            str(console)] in calls, calls  # fmt: skip
    assert info(fake, "lab-vm")["uartmode1"] == f"file,{console}"


# --- 2. the session lock after a power-off --------------------------------------------------


def test_changes_after_a_power_off_wait_for_the_session_lock(nat_lab: NatLab) -> None:
    # A guest that ignores the power button: powered off after the stop timeout, and the
    # session lock is still held when the change comes.
    fake, run, _ = nat_lab
    fake.env |= {"FAKE_VBOX_ACPI_SECONDS": "never"}
    vm = by_name(run, "vm-vm")
    fake.new_calls()
    done = fake.attempt(vm, "update", VM_MEMORY_MB="2048", VM_STOP_TIMEOUT="2")
    assert done.returncode == 0, done.stderr
    calls = fake.new_calls()
    assert mutating(calls) == [
        ["controlvm", "lab-vm", "acpipowerbutton"],
        ["controlvm", "lab-vm", "poweroff"],
        ["modifyvm", "lab-vm", "--memory", "2048"],
        ["startvm", "lab-vm", "--type", "headless"],
    ], refused(calls)
    locked = [argv for argv, why in refused(calls) if "already locked" in why]
    assert ["modifyvm", "lab-vm", "--memory", "2048"] in locked, refused(calls)
    assert "is locked by a session, trying again" in done.stderr
    # Deleting right after the power-off meets the lock too.
    fake.new_calls()
    gone = fake.attempt(vm, "delete")
    assert gone.returncode == 0, gone.stderr
    calls = fake.new_calls()
    assert any("already locked" in why for _, why in refused(calls)), refused(calls)
    assert "lab-vm" not in fake.state()["vms"]


def test_lock_errors_are_retried_a_bounded_number_of_times(nat_lab: NatLab) -> None:
    fake, run, _ = nat_lab
    fake.env |= {"FAKE_VBOX_UNLOCK_SECONDS": "600"}
    vbox(fake, "controlvm", "lab-vm", "poweroff")
    start = time.monotonic()
    done = fake.attempt(by_name(run, "vm-vm"), "update", VM_MEMORY_MB="2048")
    assert done.returncode != 0 and "already locked for a session" in done.stderr
    tries = [argv for argv, _ in refused(fake.new_calls()) if argv[0] == "modifyvm"]
    assert len(tries) == 5, tries
    assert time.monotonic() - start < 60


# --- 3. states ------------------------------------------------------------------------------


def test_an_acpi_shutdown_is_waited_for_through_stopping(nat_lab: NatLab) -> None:
    fake, run, _ = nat_lab
    vm = by_name(run, "vm-vm")
    fake.new_calls()
    result = fake.attempt(vm, "update", VM_START="no")
    assert result.returncode == 0, result.stderr
    calls = fake.new_calls()
    states = [c for c in calls if c["argv"][0] == "showvminfo"]
    assert mutating(calls) == [["controlvm", "lab-vm", "acpipowerbutton"]], refused(calls)
    assert refused(calls) == [], "no power-off while the guest is stopping"
    assert fake.state()["vms"]["lab-vm"]["state"] == "poweroff"
    assert result.stdout.strip() == "lab-vm poweroff" and states
    assert fake.attempt(vm, "update", VM_START="no").returncode == 0
    assert mutating(fake.new_calls()) == [], "already off: nothing to do"


def test_a_failed_power_off_that_ends_powered_off_is_success(nat_lab: NatLab) -> None:
    # The guest ignores the button; at the stop timeout the power-off races its own
    # shutdown: VBoxManage reports the power-off failed, the VM is off all the same.
    fake, run, _ = nat_lab
    fake.env |= {"FAKE_VBOX_ACPI_SECONDS": "never", "FAKE_VBOX_POWEROFF_FAILS": "1"}
    fake.new_calls()
    done = fake.attempt(by_name(run, "vm-vm"), "update", VM_START="no", VM_STOP_TIMEOUT="2")
    assert done.returncode == 0, done.stderr
    assert any(argv[1:] == ["lab-vm", "poweroff"] for argv, _ in refused(fake.new_calls()))
    assert done.stdout.strip() == "lab-vm poweroff"


@pytest.mark.parametrize("saved", ["saved", "aborted-saved"])
def test_a_saved_state_is_discarded_before_settings_change(nat_lab: NatLab, saved: str) -> None:
    fake, run, _ = nat_lab
    vm = by_name(run, "vm-vm")
    vbox(fake, "controlvm", "lab-vm", "poweroff")
    until_unlocked(fake, "lab-vm")
    set_state(fake, "lab-vm", saved)
    fake.new_calls()
    done = fake.attempt(vm, "update", VM_MEMORY_MB="2048")
    assert done.returncode == 0, done.stderr
    assert mutating(fake.new_calls()) == [
        ["discardstate", "lab-vm"],
        ["modifyvm", "lab-vm", "--memory", "2048"],
        ["startvm", "lab-vm", "--type", "headless"],
    ]
    # delete too discards a saved state
    set_state(fake, "lab-vm-clone", saved)
    gone = fake.attempt(by_name(run, "clone-vm"), "delete")
    assert gone.returncode == 0, gone.stderr
    assert "lab-vm-clone" not in fake.state()["vms"]


@pytest.mark.parametrize("state", ["gurumeditation", "stopping"])
def test_delete_powers_off_a_stuck_or_stopping_vm(nat_lab: NatLab, state: str) -> None:
    fake, run, _ = nat_lab
    if state == "stopping":
        vbox(fake, "controlvm", "lab-vm", "acpipowerbutton")
        time.sleep(2.5)
        assert info(fake, "lab-vm")["VMState"] == "stopping"
    else:
        set_state(fake, "lab-vm", state)
    gone = fake.attempt(by_name(run, "vm-vm"), "delete")
    assert gone.returncode == 0, gone.stderr
    assert "lab-vm" not in fake.state()["vms"]


# --- 4. ready means cloud-init has finished ------------------------------------------------


def test_a_guest_whose_cloud_init_failed_is_not_ready(nat_lab: NatLab) -> None:
    fake, run, guests = nat_lab
    guests.set("error")
    wait = by_name(run, "vm-ssh")
    done = fake.attempt(wait, "create")
    assert done.returncode == 1, done
    # cloud-init's own account of what failed, then the end of the guest's boot log.
    assert "status: error" in done.stderr
    assert "Temporary failure resolving 'archive.ubuntu.com'" in done.stderr
    assert "last lines of the boot log" in done.stderr
    assert "Booting Ubuntu (64-bit)" in done.stderr


def test_ready_waits_for_cloud_init_and_for_the_login(nat_lab: NatLab) -> None:
    fake, run, guests = nat_lab
    wait = by_name(run, "vm-ssh")
    key = fake.root / "home" / "vbox" / "ready-key.pub"
    saved = key.read_text()
    # cloud-init has not installed the key yet: the login is refused, then works.
    key.unlink()
    guests.set("wait 3")

    def key_later() -> None:
        time.sleep(4)
        key.write_text(saved)

    later = threading.Thread(target=key_later)
    start = time.monotonic()
    later.start()
    done = fake.attempt(wait, "create")
    later.join()
    assert done.returncode == 0, done.stderr
    assert time.monotonic() - start >= 7
    assert "cloud-init: done" in done.stdout
    guests.set("degraded")
    warned = fake.attempt(wait, "create")
    assert warned.returncode == 0, warned.stderr
    assert "recoverable errors" in warned.stderr and "Skipping module ntp" in warned.stderr


def test_ready_gives_up_with_the_boot_log(nat_lab: NatLab) -> None:
    fake, run, guests = nat_lab
    guests.set("wait 30")
    done = fake.attempt(by_name(run, "vm-ssh"), "create", WAIT_TIMEOUT="5")
    assert done.returncode == 1
    assert "had not finished within 5s" in done.stderr and "Booting" in done.stderr


def test_ssh_wait_reports_a_timeout_quietly(tmp_path: Path) -> None:
    script = SCRIPTS / "ssh-wait.sh"
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


# --- 5. versions ----------------------------------------------------------------------------


def host_check(fake: FakeVBox, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(SCRIPTS / "host.sh"), "create"],
        env={**fake.env, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("version", "words"),
    [
        ("6.1.50r161033", "too old: the scripts use VBoxManage 7's option names"),
        ("7.0.0r153978", "prints no Forwarding(N) lines once a VM has more than one NAT rule"),
        ("WARNING: The vboxdrv kernel module is not loaded.", "VirtualBox is not ready"),
        ("", "could not read the VirtualBox version"),
    ],
)
def test_versions_the_scripts_cannot_drive_are_refused(
    tmp_path: Path, version: str, words: str
) -> None:
    done = host_check(FakeVBox(tmp_path), FAKE_VBOX_VERSION=version)
    assert done.returncode == 1 and words in done.stderr, done


@pytest.mark.parametrize(
    ("version", "number"),
    [("7.0.2r154219", "7.0.2"), ("7.1.4_Ubuntur165100", "7.1.4"), ("8.0.0r170000", "8.0.0")],
)
def test_versions_the_scripts_can_drive(tmp_path: Path, version: str, number: str) -> None:
    done = host_check(FakeVBox(tmp_path), FAKE_VBOX_VERSION=version)
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"virtualbox={number} os=Linux hostonly=hostonly\n"
    assert ("newer than the 7.x" in done.stderr) == number.startswith("8")


def test_a_refused_version_stops_the_stack_before_anything_is_made(tmp_path: Path) -> None:
    fake = FakeVBox(tmp_path)
    image(fake)
    fake.env["FAKE_VBOX_VERSION"] = "7.0.0r153978"
    run = run_program(nat_config(22000), stack="vbox-nat")
    first = ordered_commands(run)[0]
    assert first.name == "vbox-host-check"
    assert fake.attempt(first, "create").returncode == 1
    assert mutating(fake.new_calls()) == []


# --- 6. host-only networks on macOS ---------------------------------------------------------


def macos(fake: FakeVBox) -> None:
    """The stand-in and ``uname`` as on a macOS host."""
    stub = fake.root / "macos-bin"
    stub.mkdir(exist_ok=True)
    (stub / "uname").write_text("#!/bin/sh\necho Darwin\n")
    (stub / "uname").chmod(0o755)
    fake.env |= {"FAKE_VBOX_HOST_OS": "Darwin", "PATH": f"{stub}:{fake.env['PATH']}"}


def add_host_only(fake: FakeVBox, kind: str, name: str) -> None:
    path = fake.root / "vbox-state.json"
    data = json.loads(path.read_text()) if path.exists() else {}
    data.setdefault(kind, []).append(name)
    path.write_text(json.dumps(data))


def cluster_vm(fake: FakeVBox) -> Any:
    config = cluster_config(23000, 1)
    config[K + "network"] = {**config[K + "network"], "mode": "hostonly",
                             "hostOnlyAdapter": "HostNet"}  # fmt: skip
    run = run_program(config, stack="vbox-cluster")
    for name in ("vbox-host-check", "base-disk-medium", "master-disk-medium", "master-seed-iso"):
        fake.run(by_name(run, name))
    return by_name(run, "master-vm")


def test_macos_with_virtualbox_7_uses_host_only_networks(tmp_path: Path) -> None:
    fake = FakeVBox(tmp_path)
    image(fake)
    macos(fake)
    report = host_check(fake)
    assert report.returncode == 0, report.stderr
    assert host_only_kind(report.stdout) == "hostonlynet"
    add_host_only(fake, "hostonlynets", "HostNet")
    vm = cluster_vm(fake)
    fake.new_calls()
    done = fake.attempt(vm, "create", VM_NIC2="hostonlynet", VM_START="no")
    assert done.returncode == 0, done.stderr
    settings = mutating(fake.new_calls())[1]
    assert settings[settings.index("--nic2") :][:4] == [
        "--nic2", "hostonlynet", "--host-only-net2", "HostNet"]  # fmt: skip
    got = info(fake, "master")
    assert (got["nic2"], got["hostonly-network2"]) == ("hostonlynetwork", "HostNet")
    assert fake.attempt(vm, "create", VM_NIC2="hostonlynet", VM_START="no").returncode == 0
    assert mutating(fake.new_calls()) == [], "converged"


def test_other_hosts_use_host_only_interfaces(tmp_path: Path) -> None:
    fake = FakeVBox(tmp_path)
    image(fake)
    assert host_only_kind(host_check(fake).stdout) == "hostonly"
    add_host_only(fake, "hostonlyifs", "HostNet")
    vm = cluster_vm(fake)
    done = fake.attempt(vm, "create", VM_NIC2="hostonly", VM_START="no")
    assert done.returncode == 0, done.stderr
    assert info(fake, "master")["hostonlyadapter2"] == "HostNet"
    # No host-only networks here: VirtualBox for Linux is built without them.
    other = fake.attempt(vm, "create", VM_NIC2="hostonlynet", VM_START="no")
    assert other.returncode != 0


# --- 7. media, boot order, parsed text, paths ---------------------------------------------


def test_the_vm_boots_from_its_disk(nat_lab: NatLab) -> None:
    fake, _, _ = nat_lab
    assert info(fake, "lab-vm")["boot1"] == "disk"


def test_a_new_seed_is_attached_while_the_vm_is_off(nat_lab: NatLab) -> None:
    fake, run, _ = nat_lab
    vm = by_name(run, "vm-vm")
    home = str(fake.root / "home")
    old = info(fake, "lab-vm")["SATA-1-0"]
    new = Path(old).with_name("lab-vm-seed-000000000000.iso")
    new.write_bytes(b"a new seed")
    fake.new_calls()
    done = fake.attempt(vm, "update", VM_SEED=str(new).replace(home, "~", 1))
    assert done.returncode == 0, done.stderr
    assert mutating(fake.new_calls()) == [
        ["controlvm", "lab-vm", "acpipowerbutton"],
        ["storageattach", "lab-vm", "--storagectl", "SATA", "--port", "1", "--device", "0",
         "--type", "dvddrive", "--medium", str(new)],
        ["startvm", "lab-vm", "--type", "headless"],
    ]  # fmt: skip


def test_a_vm_without_a_dvd_drive_gets_its_seed_while_off(tmp_path: Path) -> None:
    require("genisoimage")
    fake = FakeVBox(tmp_path)
    image(fake)
    key = fake.root / "home" / "vbox" / "ready-key.pub"
    with ssh_guests(2, tmp_path / "sshd", key) as guests:
        run = run_program(nat_config(guests.port), stack="vbox-nat")
        vm = by_name(run, "vm-vm")
        for res in ordered_commands(run):
            if res is vm:
                break
            fake.run(res)
        assert fake.attempt(vm, "create", VM_SEED="").returncode == 0
        assert info(fake, "lab-vm")["SATA-1-0"] == "none"
        fake.new_calls()
        done = fake.attempt(vm, "update")
        assert done.returncode == 0, done.stderr
        calls = mutating(fake.new_calls())
        assert calls[0] == ["controlvm", "lab-vm", "acpipowerbutton"], calls
        assert calls[-1] == ["startvm", "lab-vm", "--type", "headless"], calls


def test_text_is_read_in_english_whatever_the_locale(tmp_path: Path) -> None:
    fake = FakeVBox(tmp_path)
    image(fake)
    fake.env |= {"LANG": "ru_RU.UTF-8"}
    disk = by_name(run_program(nat_config(22000), stack="vbox-nat"), "vm-disk-medium")
    done = fake.attempt(disk, "create", DISK_SIZE_MB="20480")
    assert done.returncode == 0, done.stderr
    path = str(fake.root / "home" / "vbox" / "disks" / "lab-vm.vdi")
    assert done.stdout == f"{path}\n", "stdout is what the stack reads: the path alone"
    assert ["modifymedium", "disk", path, "--resize", "20480"] in mutating(fake.new_calls())


def test_a_disk_smaller_than_its_image_is_refused_with_its_size(tmp_path: Path) -> None:
    fake = FakeVBox(tmp_path)
    image(fake)
    disk = by_name(run_program(nat_config(22000), stack="vbox-nat"), "vm-disk-medium")
    done = fake.attempt(disk, "create", DISK_SIZE_MB="8192")
    assert done.returncode == 1
    assert "holds 10240 MB" in done.stderr and "8192 MB asked" in done.stderr, done.stderr


@pytest.mark.parametrize(
    ("work", "env"),
    [
        # VirtualBox prints locations absolute and normalised (no . parts; a '..' the config
        # refuses).
        ("~/vbox/./nat/./lab", {}),
        # VBoxManage.exe ends its lines with CR LF.
        ("~/vbox", {"FAKE_VBOX_HOST_OS": "Windows"}),
    ],
)
def test_a_rerun_changes_nothing(tmp_path: Path, work: str, env: dict[str, str]) -> None:
    fake = FakeVBox(tmp_path)
    fake.env |= env
    image(fake)
    require("genisoimage")
    key = fake.root / "home" / work.removeprefix("~/") / "ready-key.pub"
    with ssh_guests(2, tmp_path / "sshd", key) as guests:
        run = run_program(nat_config(guests.port, work=work), stack="vbox-nat")
        create_all(fake, run)
        again = create_all(fake, run)
        assert all(calls == [] for calls in again.values()), again
        assert fake.state()["vms"]["lab-vm"]["state"] == "running"
