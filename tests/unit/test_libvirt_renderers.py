"""The libvirt-host renderers, called directly and checked by the real tools."""

from __future__ import annotations

import shlex
import subprocess
from pathlib import Path

import pytest

from components.hostexec import script_command, script_text
from components.libvirt.inventory import InventoryHost, render_inventory, ssh_command
from components.libvirt.xml_render import (
    DiskSpec,
    DomainSpec,
    NetworkSpec,
    NicSpec,
    definition_digest,
    render_domain,
    render_network,
)
from tests.unit.test_libvirt_host import validate_xml


@pytest.mark.parametrize("mode", ["nat", "isolated", "bridge"])
def test_network_xml_is_valid(mode: str) -> None:
    spec = NetworkSpec(
        name="n",
        mode=mode,  # type: ignore[arg-type]
        bridge="br9",
        address=None if mode == "bridge" else "10.9.0.1/24",
        dhcp_range=("10.9.0.10", "10.9.0.20") if mode == "nat" else None,
        dhcp_hosts=[("52:54:00:00:00:09", "10.9.0.9", "h")] if mode == "nat" else (),
    )
    validate_xml(render_network(spec, "cloud-labs/t"), "network")


def test_domain_xml_is_valid_and_the_digest_tracks_the_definition() -> None:
    spec = DomainSpec(
        name="d",
        domain_type="kvm",
        memory_mib=1024,
        vcpus=2,
        disks=[DiskSpec("/x/d.qcow2", "qcow2", "disk"), DiskSpec("/x/s.iso", "raw", "cdrom")],
        nics=[NicSpec("default", "52:54:00:00:00:01")],
    )
    xml = render_domain(spec, "cloud-labs/t")
    validate_xml(xml, "domain")
    assert definition_digest(xml) == definition_digest(render_domain(spec, "cloud-labs/t"))
    other = DomainSpec(**{**spec.__dict__, "memory_mib": 2048})
    assert definition_digest(render_domain(other, "cloud-labs/t")) != definition_digest(xml)


def test_inventory_groups_and_jump_host() -> None:
    hosts = [InventoryHost("a", "compute", "10.0.0.5"), InventoryHost("g", "gateway", "10.0.0.2")]
    text = render_inventory(hosts, "ubuntu", "root@kvm")
    assert text.startswith("[compute]\na ansible_host=10.0.0.5\n\n[gateway]\n")
    args = next(ln for ln in text.splitlines() if ln.startswith("ansible_ssh_common_args="))
    assert shlex.split(args.split("=", 1)[1])[0].split()[-2:] == ["-J", "root@kvm"]
    assert ssh_command("ubuntu", "10.0.0.2", None).endswith(" ubuntu@10.0.0.2")


def test_script_command_quotes_values(tmp_path: Path) -> None:
    nasty = f'a\'b $(touch {tmp_path}/never) "c"\nline2 `touch {tmp_path}/never`'
    cmd = script_command(
        "libvirt/domain.sh", "delete", exports={"DOMAIN_NAME": nasty, "OWNER": "o"}
    )
    words = shlex.split(cmd)
    assert words[:2] == ["bash", "-c"] and words[3:] == ["scripts/libvirt/domain.sh", "delete"]
    assert words[2].endswith(script_text("libvirt/domain.sh"))
    # What bash sees is the value itself, never run.
    shown = subprocess.run(
        ["bash", "-c", words[2].split("set -euo pipefail")[0] + 'printf %s "$DOMAIN_NAME"'],
        capture_output=True,
        text=True,
    )
    assert shown.stdout == nasty and not (tmp_path / "never").exists()
    sudo = script_command("libvirt/disk.sh", "create", sudo=True, keep=["B", "A"])
    assert shlex.split(sudo)[:3] == ["sudo", "-n", "--preserve-env=A,B"]
    with pytest.raises(ValueError, match="unknown action"):
        script_command("libvirt/disk.sh", "update")
