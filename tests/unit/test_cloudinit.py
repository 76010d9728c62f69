"""The one cloud-init builder, called directly, its documents read back by cloud-init itself."""

from __future__ import annotations

import subprocess

import pytest
import yaml

from components.renderers.cloudinit import (
    AptMirror,
    Commands,
    File,
    Files,
    Hostname,
    Login,
    Nic,
    Packages,
    Seed,
    binary_file,
    content_instance_id,
    render_meta_data,
    render_network_config,
    render_user_data,
)
from components.renderers.yamltext import yaml_documents, yaml_text
from tests.validators import assert_cloud_config_valid, require

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAINKN3symUEbaKaD/iPDeWDev+HgCQcEgKufGH8Cz9EJp me@x"

# cloud-init's own network-config reading (it drops a top-level ``network:`` key), parser and
# netplan renderer: the code a guest runs.
CLOUD_INIT_NETPLAN = """
import sys, yaml
from cloudinit.net.network_state import parse_net_config_data
from cloudinit.net.netplan import Renderer
from cloudinit.stages import Init
config = Init._remove_top_level_network_key(None, yaml.safe_load(sys.stdin.read()))
state = parse_net_config_data(config)
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


def test_parts_are_written_in_the_order_given_and_pass_the_schema() -> None:
    text = render_user_data(
        Hostname("node01", manage_etc_hosts=False),
        Login("ubuntu", [KEY], disable_root=True),
        Files([File("/etc/x.conf", "a\nb\n")]),
        Packages(["nginx", "python3=3.11.2-1"]),
        Commands(["true", ["systemctl", "daemon-reload"]]),
    )
    assert_cloud_config_valid(text)
    doc = yaml.safe_load(text)
    assert list(doc) == [
        "hostname",
        "preserve_hostname",
        "manage_etc_hosts",
        "users",
        "ssh_pwauth",
        "disable_root",
        "write_files",
        "package_update",
        "packages",
        "runcmd",
    ]
    assert doc["packages"] == ["nginx", ["python3", "3.11.2-1"]]
    assert doc["runcmd"] == ["true", ["systemctl", "daemon-reload"]]
    user = doc["users"][0]
    assert user["sudo"] == "ALL=(ALL) NOPASSWD:ALL" and user["lock_passwd"] is True
    assert user["ssh_authorized_keys"] == [KEY] and doc["ssh_pwauth"] is False
    # A file reads like itself in the document.
    assert "content: |\n" in text and doc["write_files"][0]["content"] == "a\nb\n"


def test_empty_parts_write_nothing_and_a_key_is_given_once() -> None:
    assert render_user_data(None, Files([]), Packages([]), Commands([])) == "#cloud-config\n{}\n"
    with pytest.raises(ValueError, match="'hostname' is given by two parts"):
        render_user_data(Hostname("a"), Hostname("b"))
    with pytest.raises(ValueError, match="SSH public key"):
        render_user_data(Login("u", []))


def test_apt_mirror_and_binary_files() -> None:
    text = render_user_data(
        AptMirror("http://deb.debian.org/debian"),
        Files([binary_file("/opt/x.zip", b"\x00\xffzip", "0600")]),
    )
    assert_cloud_config_valid(text)
    doc = yaml.safe_load(text)
    assert doc["apt"] == {
        "primary": [{"arches": ["default"], "uri": "http://deb.debian.org/debian"}]
    }
    assert doc["write_files"] == [
        {
            "path": "/opt/x.zip",
            "encoding": "b64",
            "content": "AP96aXA=",
            "owner": "root:root",
            "permissions": "0600",
        }
    ]
    assert list(doc["write_files"][0]) == ["path", "encoding", "content", "owner", "permissions"]
    entry = File("/a", "x").entry(("path", "content", "permissions", "owner"))
    assert list(entry) == ["path", "content", "permissions", "owner"]


def test_apt_mirror_with_its_key_for_every_suite() -> None:
    key = "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nmQ\n-----END PGP PUBLIC KEY BLOCK-----\n"
    text = render_user_data(AptMirror("http://10.0.0.1:8090/debian", key=key, security=True))
    assert_cloud_config_valid(text)
    entry = {"arches": ["default"], "uri": "http://10.0.0.1:8090/debian"}
    assert yaml.safe_load(text)["apt"] == {"primary": [{**entry, "key": key}], "security": [entry]}


def test_host_keys_can_be_left_to_cloud_init() -> None:
    assert yaml.safe_load(render_user_data(Hostname("h", preserve_hostname=None))) == {
        "hostname": "h"
    }


def test_network_config_both_forms_are_understood_by_cloud_init() -> None:
    nics = [
        Nic("default", "52:54:00:00:01:02", dhcp4=True),
        Nic("privatenet", "52:54:00:00:00:02", addresses=["10.0.0.2/24"]),
    ]
    for netplan in (False, True):
        text = render_network_config(nics, netplan=netplan)
        assert text.startswith("network:\n") == netplan
        parsed = cloud_init_netplan(text)["network"]["ethernets"]
        assert parsed["default"]["match"] == {"macaddress": "52:54:00:00:01:02"}
        assert parsed["default"]["dhcp4"] is True
        assert parsed["privatenet"]["addresses"] == ["10.0.0.2/24"]
        assert "routes" not in parsed["privatenet"]


def test_nic_options() -> None:
    doc = yaml.safe_load(
        render_network_config(
            [
                Nic("nat", "08:00:27:AA:BB:CC", dhcp4=True, use_dhcp_dns=False),
                Nic(
                    "lab",
                    "08:00:27:00:00:01",
                    dhcp4=True,
                    use_dhcp_routes=False,
                    dhcp_identifier="mac",
                    nameservers=["192.168.56.1"],
                ),
            ]
        )
    )
    eth = doc["ethernets"]
    assert eth["nat"] == {
        "match": {"macaddress": "08:00:27:aa:bb:cc"},
        "dhcp4": True,
        "dhcp4-overrides": {"use-dns": False},
    }
    assert eth["lab"]["dhcp4-overrides"] == {"use-routes": False}
    assert eth["lab"]["dhcp-identifier"] == "mac"
    assert eth["lab"]["nameservers"] == {"addresses": ["192.168.56.1"]}
    with pytest.raises(ValueError, match="used twice"):
        render_network_config([Nic("a", "08:00:27:00:00:01"), Nic("a", "08:00:27:00:00:02")])


def test_meta_data_and_instance_ids() -> None:
    assert yaml.safe_load(render_meta_data("i-1", "kvm1")) == {
        "instance-id": "i-1",
        "local-hostname": "kvm1",
    }
    a, b = content_instance_id("kvm1", "x"), content_instance_id("kvm1", "y")
    assert a.startswith("kvm1-") and a != b and a == content_instance_id("kvm1", "x")


def test_seed_digest_follows_every_document() -> None:
    seeds = [Seed("u", "m"), Seed("u", "m", "n"), Seed("u", "m2"), Seed("u2", "m")]
    assert len({s.digest for s in seeds}) == len(seeds)
    assert Seed("u", "m").digest == Seed("u", "m", None).digest == Seed("u", "m", "").digest


def test_one_yaml_writer_keeps_order_and_blocks() -> None:
    assert yaml_text({"b": 1, "a": "x\ny\n"}) == "b: 1\na: |\n  x\n  y\n"
    assert yaml_text({"k": "word " * 150}).count("\n") == 1, "no folding below 1000 characters"
    assert yaml_documents([{"a": 1}, {"b": 2}]) == "a: 1\n---\nb: 2\n"
