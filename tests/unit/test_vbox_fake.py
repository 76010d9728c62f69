"""The VBoxManage stand-in: VBoxManage 7's syntax, and refusing what VirtualBox refuses where the
scripts depend on it (locks, media, states, timing), as its sources show."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest

from tests.fakes.vbox_runner import FAKE_BIN
from tests.fakes.vboxmanage import GRAMMAR, MANUAL, OS_TYPES, Lint, Usage, parse

# machineStateToName (VBoxManageInfo.cpp): the short names showvminfo --machinereadable prints.
STATE_NAMES = {
    "poweroff", "saved", "teleported", "aborted", "aborted-saved", "running", "paused",
    "gurumeditation", "teleporting", "livesnapshotting", "starting", "stopping", "saving",
    "restoring", "teleportingpausedvm", "teleportingin", "deletingsnapshotlive",
    "deletingsnapshotlivepaused", "onlinesnapshotting", "restoringsnapshot", "deletingsnapshot",
    "settingup", "snapshotting",
}  # fmt: skip


def test_every_subcommand_names_its_manual_section_and_source() -> None:
    for command, spec in GRAMMAR.items():
        assert spec.section == f"{MANUAL}#vboxmanage-{command}", command
        assert spec.source.startswith("VBoxManage") and spec.source.endswith(".cpp"), command


@pytest.mark.parametrize(
    "argv",
    [
        ["--version"],
        ["createvm", "--name", "vm", "--ostype", "Ubuntu_64", "--register"],
        ["modifyvm", "vm", "--memory=2048", "--nic2", "intnet", "--intnet2", "CloudBasicNet"],
        ["modifyvm", "vm", "--nat-pf1", "ssh,tcp,127.0.0.1,2222,,22"],
        ["modifyvm", "vm", "--nat-pf1", "delete", "ssh"],
        ["modifyvm", "vm", "--uart1", "0x3F8", "4", "--uart-mode1", "file", "/v/console.log"],
        ["modifyvm", "vm", "--uart-mode1", "disconnected", "--boot1", "disk"],
        ["modifyvm", "vm", "--mac-address2", "080027AABBCC", "--host-only-adapter2", "vboxnet0"],
        ["controlvm", "vm", "natpf1", "delete", "ssh"],
        ["controlvm", "vm", "acpipowerbutton"],
        # controlvm shutdown exists in 7.x (VBoxManageControlVM.cpp, VBOX_WITH_GUEST_CONTROL).
        ["controlvm", "vm", "shutdown"],
        ["controlvm", "vm", "shutdown", "--force"],
        ["discardstate", "vm"],
        ["clonemedium", "disk", "a.vmdk", "b.vdi", "--format", "VDI"],
        ["clonemedium", "a.vdi", "b.vdi"],
        ["closemedium", "dvd", "seed.iso"],
        ["list", "hostinfo"],
        ["storageattach", "vm", "--storagectl", "SATA", "--port", "1", "--device", "0",
         "--type", "dvddrive", "--medium", "seed.iso"],
    ],
)  # fmt: skip
def test_documented_calls_are_accepted(argv: list[str]) -> None:
    parse(argv)


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["clonevdi", "a", "b"], "unknown subcommand"),
        (["createvm", "--ostype", "Ubuntu_64"], "missing"),
        (["modifyvm", "vm", "--memory", "lots"], "--memory"),
        (["modifyvm", "vm", "--nic9", "nat"], "unknown option"),
        (["modifyvm", "vm", "--nat-pf1", "ssh,tcp,2222,22"], "--nat-pf1"),
        (["modifyvm", "vm", "--uart-mode1", "file"], "Missing or invalid argument"),
        (["startvm", "vm", "--type", "invisible"], "--type"),
        (["controlvm", "vm", "halt"], "unknown action"),
        (["storagectl", "vm", "--add", "sata"], "missing"),
        (["unregistervm"], "missing argument"),
        # Host-only networks exist on macOS builds only (#ifdef VBOX_WITH_VMNET).
        (["modifyvm", "vm", "--host-only-net2", "HostNet"], "unknown option"),
        (["list", "hostonlynets"], "got \\['hostonlynets'\\]"),
    ],
)
def test_syntax_errors_are_rejected(argv: list[str], words: str) -> None:
    with pytest.raises(Usage, match=words):
        parse(argv)


@pytest.mark.parametrize(
    "argv",
    [
        ["modifyvm", "vm", "--natpf1", "ssh,tcp,127.0.0.1,2222,,22"],
        ["modifyvm", "vm", "--macaddress1", "080027AABBCC"],
        ["modifyvm", "vm", "--uartmode1", "disconnected"],
    ],
)
def test_older_option_spellings_fail_the_lint(argv: list[str]) -> None:
    # VBoxManage 7 accepts them (OPT2 in VBoxManageModifyVM.cpp); the project keeps to the
    # names the manual documents.
    with pytest.raises(Lint, match="older spelling"):
        parse(argv)


# --- behaviour, through the stand-in's executable ------------------------------------------


class Box:
    """The stand-in with its own state, called as VBoxManage."""

    def __init__(self, root: Path, **env: str) -> None:
        self.root = root
        self.env = {
            **os.environ,
            "PATH": f"{FAKE_BIN}:{os.environ['PATH']}",
            "FAKE_VBOX_STATE": str(root / "state.json"),
            "FAKE_VBOX_LOG": str(root / "calls.jsonl"),
            "HOME": str(root),
            # Each call of the stand-in takes its own time (a Python start): seconds, not less.
            "FAKE_VBOX_ACPI_SECONDS": "2",
            "FAKE_VBOX_STOPPING_SECONDS": "3",
            "FAKE_VBOX_UNLOCK_SECONDS": "3",
            **env,
        }

    def __call__(self, *argv: str, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["VBoxManage", *argv],
            env={**self.env, **env},
            capture_output=True,
            text=True,
            timeout=30,
        )

    def ok(self, *argv: str) -> str:
        done = self(*argv)
        assert done.returncode == 0, done.stderr
        return done.stdout

    def info(self, vm: str = "vm") -> dict[str, str]:
        out = self.ok("showvminfo", vm, "--machinereadable")
        pairs = (line.split("=", 1) for line in out.splitlines() if "=" in line)
        return {k.strip('"'): v.strip('"') for k, v in pairs}

    def set_state(self, vm: str, state: str) -> None:
        path = self.root / "state.json"
        data = json.loads(path.read_text())
        data["vms"][vm]["state"] = state
        path.write_text(json.dumps(data))


@pytest.fixture
def box(tmp_path: Path) -> Box:
    """A VM "vm" with a SATA controller and a disk, powered off."""
    return vm_box(tmp_path)


def vm_box(tmp_path: Path, **env: str) -> Box:
    b = Box(tmp_path, **env)
    disk = tmp_path / "disk.vdi"
    disk.write_bytes(b"\0" * 1024)
    b.ok("createvm", "--name", "vm", "--ostype", "Ubuntu_64", "--basefolder",
         str(tmp_path / "vms"), "--register")  # fmt: skip
    b.ok("storagectl", "vm", "--name", "SATA", "--add", "sata", "--portcount", "2")
    b.ok("storageattach", "vm", "--storagectl", "SATA", "--port", "0", "--type", "hdd",
         "--medium", str(disk))  # fmt: skip
    return b


def failed(done: subprocess.CompletedProcess[str], status: int, words: str) -> None:
    assert done.returncode == status, (done.returncode, done.stdout, done.stderr)
    assert words in done.stderr, done.stderr


def test_showvminfo_keys_as_vboxmanageinfo_prints_them(box: Box) -> None:
    info = box.info()
    assert info["ostype"] == "Ubuntu (64-bit)", "the OS type's description, not its id"
    assert info["VMState"] == "poweroff"
    assert info["SATA-0-0"] == str(box.root / "disk.vdi")
    assert info["SATA-1-0"] == "none", "an empty port"
    assert (info["boot1"], info["boot2"], info["boot3"]) == ("floppy", "dvd", "disk")
    assert (info["nic1"], info["natnet1"], info["nic2"]) == ("nat", "nat", "none")
    assert info["uart1"] == "off" and "uartmode1" not in info
    box.ok("modifyvm", "vm", "--uart1", "0x3F8", "4", "--uart-mode1", "file", "/v/console.log")
    info = box.info()
    assert (info["uart1"], info["uartmode1"]) == ("0x03f8,4", "file,/v/console.log")
    box.ok("storageattach", "vm", "--storagectl", "SATA", "--port", "1", "--type", "dvddrive",
           "--medium", "emptydrive")  # fmt: skip
    assert box.info()["SATA-1-0"] == "emptydrive"


def test_os_types_come_from_virtualboxs_list(box: Box) -> None:
    assert OS_TYPES["Ubuntu24_LTS_64"] == "Ubuntu 24.04 LTS (Noble Numbat) (64-bit)"
    failed(box("createvm", "--name", "x", "--ostype", "Ubuntu64", "--register"), 1,
           "Unknown or invalid guest OS type given.")  # fmt: skip
    box.ok("createvm", "--name", "y", "--ostype", "ubuntu_64", "--register")  # any case
    assert box.info("y")["ostype"] == "Ubuntu (64-bit)"


def test_settings_of_a_running_vm_need_its_lock(box: Box) -> None:
    box.ok("startvm", "vm", "--type", "headless")
    assert box.info()["VMState"] == "running"
    failed(box("modifyvm", "vm", "--memory", "2048"), 1,
           "The machine 'vm' is already locked for a session (or being unlocked)")  # fmt: skip
    failed(box("modifyvm", "vm", "--nat-pf1", "ssh,tcp,,2222,,22"), 1, "already locked")
    failed(box("storagectl", "vm", "--name", "IDE", "--add", "ide"), 1, "already locked")
    # NAT rules change live through controlvm.
    box.ok("controlvm", "vm", "natpf1", "ssh,tcp,127.0.0.1,2222,,22")


def test_a_running_vm_only_swaps_the_medium_of_a_drive_it_has(box: Box) -> None:
    iso = box.root / "seed.iso"
    iso.write_bytes(b"iso")
    attach = ("storageattach", "vm", "--storagectl", "SATA", "--port", "1", "--type",
              "dvddrive", "--medium")  # fmt: skip
    box.ok("startvm", "vm", "--type", "headless")
    failed(box(*attach, str(iso)), 1, "No drive attached to device slot 0 on port 1")
    box.ok("controlvm", "vm", "poweroff")
    time.sleep(3)
    box.ok(*attach, "emptydrive")
    box.ok("startvm", "vm", "--type", "headless")
    box.ok(*attach, str(iso))
    assert box.info()["SATA-1-0"] == str(iso)


def test_detaching_an_empty_slot_fails(box: Box) -> None:
    done = box("storageattach", "vm", "--storagectl", "SATA", "--port", "1", "--medium", "none")
    failed(done, 1, "No storage device attached to device slot 0 on port 1 of controller 'SATA'")


def test_storageattach_needs_a_port(box: Box) -> None:
    failed(box("storageattach", "vm", "--storagectl", "SATA", "--type", "hdd", "--medium",
               str(box.root / "disk.vdi")), 2, "Port not specified")  # fmt: skip


def test_the_acpi_power_button_takes_time_and_passes_through_stopping(tmp_path: Path) -> None:
    box = vm_box(tmp_path, FAKE_VBOX_ACPI_SECONDS="4", FAKE_VBOX_STOPPING_SECONDS="4")
    box.ok("startvm", "vm", "--type", "headless")
    box.ok("controlvm", "vm", "acpipowerbutton")
    seen = []
    deadline = time.time() + 10
    while time.time() < deadline and (not seen or seen[-1] != "poweroff"):
        state = box.info()["VMState"]
        if not seen or seen[-1] != state:
            seen.append(state)
        time.sleep(0.05)
    assert seen == ["running", "stopping", "poweroff"], seen
    # A power-off while the guest is stopping is refused: the VM is being powered down.
    start_once_unlocked(box)
    box.ok("controlvm", "vm", "acpipowerbutton")
    time.sleep(4.5)
    assert box.info()["VMState"] == "stopping"
    failed(box("controlvm", "vm", "poweroff"), 1, "Invalid machine state: stopping")


def start_once_unlocked(box: Box) -> None:
    """startvm, tried until the lock window after a power-off has passed."""
    deadline = time.time() + 5
    while box("startvm", "vm", "--type", "headless").returncode != 0:
        assert time.time() < deadline, "the VM stayed locked"
        time.sleep(0.1)


def test_a_guest_without_acpi_ignores_the_button(tmp_path: Path) -> None:
    b = Box(tmp_path, FAKE_VBOX_ACPI_SECONDS="never")
    disk = tmp_path / "d.vdi"
    disk.write_bytes(b"d")
    b.ok("createvm", "--name", "vm", "--register")
    b.ok("storagectl", "vm", "--name", "SATA", "--add", "sata")
    b.ok("storageattach", "vm", "--storagectl", "SATA", "--port", "0", "--type", "hdd",
         "--medium", str(disk))  # fmt: skip
    b.ok("startvm", "vm")
    b.ok("controlvm", "vm", "acpipowerbutton")
    time.sleep(3)
    assert b.info()["VMState"] == "running"


def test_the_lock_stays_a_while_after_a_power_off(tmp_path: Path) -> None:
    box = vm_box(tmp_path, FAKE_VBOX_UNLOCK_SECONDS="10")
    box.ok("startvm", "vm", "--type", "headless")
    box.ok("controlvm", "vm", "poweroff")
    off = time.monotonic()
    assert box.info()["VMState"] == "poweroff"
    # The VM reads poweroff while its session is still being unlocked.
    failed(box("modifyvm", "vm", "--memory", "512"), 1, "already locked for a session")
    failed(box("storageattach", "vm", "--storagectl", "SATA", "--port", "1", "--type",
               "dvddrive", "--medium", "emptydrive"), 1, "already locked")  # fmt: skip
    failed(box("unregistervm", "vm"), 1, "while it is locked")
    while box("modifyvm", "vm", "--memory", "512").returncode != 0:
        assert time.monotonic() - off < 30, "the lock never went"
        time.sleep(0.5)
    assert time.monotonic() - off >= 9


def test_saved_states_are_discarded_not_changed(box: Box) -> None:
    box.set_state("vm", "saved")
    info = box.info()
    assert info["VMState"] == "saved" and "VMStateFile" in info
    failed(box("modifyvm", "vm", "--memory", "512"), 1, "not mutable")
    box.ok("discardstate", "vm")
    assert box.info()["VMState"] == "poweroff"
    box.set_state("vm", "aborted-saved")
    box.ok("discardstate", "vm")
    assert box.info()["VMState"] == "aborted"
    failed(box("discardstate", "vm"), 1, "not in the Saved or Aborted-Saved state")


def test_every_state_it_prints_is_a_virtualbox_state_name(box: Box) -> None:
    states = set()
    for step in (("startvm", "vm"), ("controlvm", "vm", "acpipowerbutton")):
        box.ok(*step)
        for _ in range(8):
            states.add(box.info()["VMState"])
    assert states <= STATE_NAMES and "stuck" not in states, states


def test_controlvm_shutdown_needs_guest_additions(box: Box) -> None:
    box.ok("startvm", "vm")
    failed(box("controlvm", "vm", "shutdown"), 1, "Guest Additions")
    box.ok("controlvm", "vm", "poweroff")
    time.sleep(3)
    failed(box("controlvm", "vm", "poweroff"), 1, "Machine 'vm' is not currently running.")


def test_host_only_networks_on_macos_hosts(box: Box) -> None:
    failed(box("modifyvm", "vm", "--nic2", "hostonlynet"), 1, "Invalid type 'hostonlynet'")
    mac = {"FAKE_VBOX_HOST_OS": "Darwin"}
    done = box("modifyvm", "vm", "--nic2", "hostonlynet", "--host-only-net2", "HostNet", **mac)
    assert done.returncode == 0, done.stderr
    out = box("showvminfo", "vm", "--machinereadable", **mac).stdout
    assert 'nic2="hostonlynetwork"' in out and 'hostonly-network2="HostNet"' in out
    assert box("list", "hostonlynets", **mac).returncode == 0
    assert box("list", "hostonlynets").returncode == 2


def test_windows_line_ends_and_translated_text(box: Box) -> None:
    raw = subprocess.run(
        ["VBoxManage", "showvminfo", "vm", "--machinereadable"],
        env={**box.env, "FAKE_VBOX_HOST_OS": "Windows"},
        capture_output=True,
        check=True,
    ).stdout
    assert raw.endswith(b"=0\r\n") and b'\r\nVMState="poweroff"\r\n' in raw
    hdds = box("list", "hdds", LANG="ru_RU.UTF-8").stdout
    assert "Location:" not in hdds and "Capacity:" not in hdds, "VBoxManage translates its text"
    assert "Location:" in box("list", "hdds", LANG="ru_RU.UTF-8", LC_ALL="C").stdout
    # Machine-readable keys are never translated.
    assert 'VMState="poweroff"' in box("showvminfo", "vm", "--machinereadable", LANG="ru_RU").stdout


def test_the_first_7_0_release_prints_no_forwarding_with_two_rules(box: Box) -> None:
    box.ok("modifyvm", "vm", "--nat-pf1", "a,tcp,,2201,,22", "--nat-pf1", "b,tcp,,2202,,22")
    assert box.info()["Forwarding(1)"] == "b,tcp,,2202,,22"
    old = box("showvminfo", "vm", "--machinereadable", FAKE_VBOX_VERSION="7.0.0r153978").stdout
    assert "Forwarding(" not in old
    assert box("--version", FAKE_VBOX_VERSION="7.0.0r153978").stdout == "7.0.0r153978\n"


def test_the_calls_of_the_lint_are_marked_in_the_log(box: Box) -> None:
    failed(box("modifyvm", "vm", "--natpf1", "ssh,tcp,,2222,,22"), 2, "older spelling")
    last = json.loads((box.root / "calls.jsonl").read_text().splitlines()[-1])
    assert last["lint"] is True and "rejected" in last
