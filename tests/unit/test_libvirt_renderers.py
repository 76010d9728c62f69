"""The libvirt-host renderers, called directly and checked by the real tools."""

from __future__ import annotations

import shlex
import subprocess

import pytest
import yaml

from components.libvirt.cloudinit import (
    GuestNic,
    render_meta_data,
    render_network_config,
    render_user_data,
)
from components.libvirt.commands import script_command, script_text
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
from tests.validators import assert_cloud_config_valid, require

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAINKN3symUEbaKaD/iPDeWDev+HgCQcEgKufGH8Cz9EJp me@x"

# cloud-init's own network-config parser and netplan renderer (the code a guest runs).
CLOUD_INIT_NETPLAN = """
import json, sys, yaml
from cloudinit.net.network_state import parse_net_config_data
from cloudinit.net.netplan import Renderer
state = parse_net_config_data(yaml.safe_load(sys.stdin.read()))
print(Renderer({"netplan_path": "/dev/null"})._render_content(state))
"""


def cloud_init_netplan(network_config: str) -> dict:
    require("cloud-init")
    result = subprocess.run(
        ["/usr/bin/python3", "-c", CLOUD_INIT_NETPLAN],
        input=network_config,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)


def test_network_config_is_understood_by_cloud_init() -> None:
    text = render_network_config(
        [
            GuestNic("default", "52:54:00:00:01:02"),
            GuestNic("privatenet", "52:54:00:00:00:02", "10.0.0.2/24"),
        ]
    )
    netplan = cloud_init_netplan(text)["network"]["ethernets"]
    assert netplan["default"]["match"] == {"macaddress": "52:54:00:00:01:02"}
    assert netplan["default"]["dhcp4"] is True
    assert netplan["privatenet"]["addresses"] == ["10.0.0.2/24"]
    assert "gateway4" not in netplan["privatenet"] and "routes" not in netplan["privatenet"]


def test_user_data_is_valid_cloud_config() -> None:
    text = render_user_data("gateway", "ubuntu", KEY)
    assert_cloud_config_valid(text)
    doc = yaml.safe_load(text)
    assert doc["users"][0]["ssh_authorized_keys"] == [KEY]
    assert doc["ssh_pwauth"] is False


def test_meta_data_instance_id_follows_the_content() -> None:
    a = yaml.safe_load(render_meta_data("kvm1", "x"))
    b = yaml.safe_load(render_meta_data("kvm1", "y"))
    assert a["local-hostname"] == "kvm1"
    assert a["instance-id"] != b["instance-id"]
    assert a == yaml.safe_load(render_meta_data("kvm1", "x"))


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


def test_script_command_quotes_values() -> None:
    nasty = 'a\'b $(touch /tmp/never) "c"\nline2'
    cmd = script_command("domain.sh", "delete", {"DOMAIN_NAME": nasty, "OWNER": "o"})
    words = shlex.split(cmd)
    assert words[0] == "env" and f"DOMAIN_NAME={nasty}" in words
    assert script_text("domain.sh") in words
    sudo = script_command("disk.sh", "create", sudo=True, keep=["B", "A"])
    assert shlex.split(sudo)[:3] == ["sudo", "-n", "--preserve-env=A,B"]
