"""The VBoxManage stand-in accepts the documented usage only."""

from __future__ import annotations

import pytest

from tests.fakes.vboxmanage import GRAMMAR, MANUAL, Usage, parse


def test_every_subcommand_names_its_manual_section() -> None:
    for command, spec in GRAMMAR.items():
        assert spec.section == f"{MANUAL}#vboxmanage-{command}", command


@pytest.mark.parametrize(
    "argv",
    [
        ["createvm", "--name", "vm", "--ostype", "Ubuntu_64", "--register"],
        ["modifyvm", "vm", "--memory=2048", "--nic2", "intnet", "--intnet2", "CloudBasicNet"],
        ["modifyvm", "vm", "--nat-pf1", "ssh,tcp,127.0.0.1,2222,,22"],
        ["modifyvm", "vm", "--nat-pf1", "delete", "ssh"],
        ["modifyvm", "vm", "--uart1", "0x3F8", "4", "--uart-mode1", "disconnected"],
        ["modifyvm", "vm", "--mac-address2", "080027AABBCC", "--host-only-adapter2", "vboxnet0"],
        ["controlvm", "vm", "natpf1", "delete", "ssh"],
        ["controlvm", "vm", "acpipowerbutton"],
        ["clonemedium", "disk", "a.vmdk", "b.vdi", "--format", "VDI"],
        ["clonemedium", "a.vdi", "b.vdi"],
        ["closemedium", "dvd", "seed.iso"],
        [
            "storageattach",
            "vm",
            "--storagectl",
            "SATA",
            "--port",
            "1",
            "--device",
            "0",
            "--type",
            "dvddrive",
            "--medium",
            "seed.iso",
        ],
    ],
)
def test_documented_calls_are_accepted(argv: list[str]) -> None:
    parse(argv)


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["clonevdi", "a", "b"], "unknown subcommand"),
        (["createvm", "--ostype", "Ubuntu_64"], "missing"),
        (["modifyvm", "vm", "--memory", "lots"], "--memory"),
        (["modifyvm", "vm", "--nic9", "nat"], "unknown option"),
        (["modifyvm", "vm", "--nic1", "wifi"], "--nic1"),
        (["modifyvm", "vm", "--nat-pf1", "ssh,tcp,2222,22"], "--nat-pf1"),
        # VirtualBox 7's manual documents the hyphenated names only.
        (["modifyvm", "vm", "--natpf1", "ssh,tcp,127.0.0.1,2222,,22"], "unknown option"),
        (["modifyvm", "vm", "--macaddress1", "080027AABBCC"], "unknown option"),
        (["startvm", "vm", "--type", "invisible"], "--type"),
        (["controlvm", "vm", "shutdown"], "unknown action"),
        (["storagectl", "vm", "--add", "sata"], "missing"),
        (["unregistervm"], "missing argument"),
    ],
)
def test_undocumented_calls_are_rejected(argv: list[str], words: str) -> None:
    with pytest.raises(Usage, match=words):
        parse(argv)
