"""The platform-neutral renderers and the counter's Redis protocol, called directly."""

from __future__ import annotations

import io
import ipaddress

import pytest
import yaml

from apps.counter.counter import RedisError, encode_command, read_reply
from components.renderers.cloudinit import Seed
from components.renderers.dnsmasq import DhcpHost, DnsmasqConfig, render_dnsmasq
from components.renderers.hosts import render_hosts
from components.renderers.nfs import render_auto_master, render_direct_map, render_exports
from components.renderers.nginx import LoadBalancer, Upstream, render_load_balancer
from components.renderers.redis import render_redis_overrides
from components.renderers.systemd import Service, render_service
from components.virtualbox import PortForward, mac_address
from components.virtualbox.guests import guest_seed
from components.virtualbox.host import host_only_kind, host_report
from components.virtualbox.machine import colon_mac, console_log
from components.virtualbox.seed import seed_path

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAINKN3symUEbaKaD/iPDeWDev+HgCQcEgKufGH8Cz9EJp x@y"
NET = ipaddress.IPv4Network("192.168.56.0/24")


def test_dnsmasq_fixed_leases_and_names() -> None:
    text = render_dnsmasq(
        DnsmasqConfig(
            network=NET,
            server_address=ipaddress.IPv4Address("192.168.56.1"),
            dhcp_start=ipaddress.IPv4Address("192.168.56.2"),
            dhcp_end=ipaddress.IPv4Address("192.168.56.9"),
            server_name="master",
            hosts=[DhcpHost("node01", "08:00:27:AA:00:01", ipaddress.IPv4Address("192.168.56.2"))],
        )
    )
    lines = text.splitlines()
    assert "dhcp-range=192.168.56.2,192.168.56.9,255.255.255.0,12h" in lines
    assert "dhcp-host=08:00:27:aa:00:01,node01,192.168.56.2" in lines
    assert "host-record=master,192.168.56.1" in lines
    assert "listen-address=127.0.0.1,192.168.56.1" in lines
    assert "dhcp-option=option:router" in lines
    assert "no-hosts" in lines


def test_load_balancer_lists_every_upstream_and_retries() -> None:
    text = render_load_balancer(
        LoadBalancer([Upstream("192.168.56.2", 5001), Upstream("192.168.56.3", 5001)])
    )
    assert text.count("server 192.168.56.") == 2
    assert "listen 80;" in text and "proxy_pass http://backend;" in text
    assert "proxy_next_upstream error timeout http_502 http_503 non_idempotent;" in text
    assert "proxy_set_header X-Request-Id $request_id;" in text
    with pytest.raises(ValueError, match="at least one"):
        render_load_balancer(LoadBalancer([]))


def test_nfs_and_autofs_lines() -> None:
    assert render_exports("/shared/", NET) == (
        "/shared 192.168.56.0/24(rw,sync,no_root_squash,no_subtree_check)\n"
    )
    assert render_auto_master("/etc/auto.cloudlabs") == "/- /etc/auto.cloudlabs --timeout=300\n"
    assert render_direct_map("/shared", "192.168.56.1", "/shared") == (
        "/shared -fstype=nfs,rw,hard 192.168.56.1:/shared\n"
    )
    with pytest.raises(ValueError):
        render_exports("shared with space", NET)
    with pytest.raises(ValueError):
        render_exports("/shared", NET, ["rw", "bad option"])


def test_systemd_unit_quotes_environment() -> None:
    text = render_service(Service("c", "/usr/bin/python3 /opt/c.py", {"B": "2", "A": "x y"}))
    assert 'Environment="A=x y"\nEnvironment="B=2"' in text
    assert "ExecStart=/usr/bin/python3 /opt/c.py" in text and "[Install]" in text
    with pytest.raises(ValueError):
        render_service(Service("c", "python3"))
    with pytest.raises(ValueError):
        render_service(Service("c", "/bin/true", {"A": 'quote"'}))


def test_hosts_file() -> None:
    text = render_hosts([("192.168.56.1", "master"), ("192.168.56.2", "node01")], "node01")
    assert text.splitlines()[:4] == [
        "127.0.0.1 localhost",
        "127.0.1.1 node01",
        "192.168.56.1 master",
        "192.168.56.2 node01",
    ]


def test_redis_overrides() -> None:
    assert render_redis_overrides(["192.168.56.2", "127.0.0.1"]).splitlines()[1:3] == [
        "bind 192.168.56.2 127.0.0.1",
        "port 6379",
    ]


def test_macs_forwards_and_seed_names() -> None:
    mac = mac_address("master/nic2")
    assert mac.startswith("080027") and len(mac) == 12 and mac == mac_address("master/nic2")
    assert mac != mac_address("master/nic1")
    assert colon_mac("080027AABBCC") == "08:00:27:aa:bb:cc"
    assert PortForward("ssh", 2222, 22).rule == "ssh,tcp,127.0.0.1,2222,,22"
    a = seed_path("~/s/", "vm", Seed("#cloud-config\n", "m"))
    b = seed_path("~/s", "vm", Seed("#cloud-config\nx: 1\n", "m"))
    assert a.startswith("~/s/vm-seed-") and a.endswith(".iso") and a != b


def test_a_changed_seed_is_a_new_cloud_init_instance() -> None:
    # cloud-init applies a seed's per-instance settings only under a new instance id.
    first = guest_seed("vm", "#cloud-config\n", "network: {version: 2}\n")
    again = guest_seed("vm", "#cloud-config\n", "network: {version: 2}\n")
    users = guest_seed("vm", "#cloud-config\nusers: []\n", "network: {version: 2}\n")
    network = guest_seed("vm", "#cloud-config\n", None)
    ids = [yaml.safe_load(s.meta_data)["instance-id"] for s in (first, again, users, network)]
    assert ids[0] == ids[1], "the same seed is the same instance"
    assert len(set(ids[1:])) == 3, ids
    assert all(i.startswith("cloudlabs-vm-") for i in ids)
    assert yaml.safe_load(first.meta_data)["local-hostname"] == "vm"
    assert first.digest != users.digest, "a new instance id is a new ISO"


def test_host_report_and_host_only_kind() -> None:
    line = "virtualbox=7.1.4 os=Darwin hostonly=hostonlynet"
    assert host_report(line) == {"virtualbox": "7.1.4", "os": "Darwin", "hostonly": "hostonlynet"}
    assert host_only_kind(line) == "hostonlynet"
    assert host_only_kind("virtualbox=7.1.4 os=Linux hostonly=hostonly") == "hostonly"
    assert host_only_kind(None) == host_only_kind("garbage") == "hostonly"
    assert console_log("~/w/vms/", "vm1") == "~/w/vms/vm1/console.log"


def test_redis_protocol() -> None:
    assert encode_command("INCR", "counter") == b"*2\r\n$4\r\nINCR\r\n$7\r\ncounter\r\n"
    assert read_reply(io.BytesIO(b":42\r\n")) == 42
    assert read_reply(io.BytesIO(b"$2\r\nhi\r\n")) == "hi"
    assert read_reply(io.BytesIO(b"$-1\r\n")) is None
    assert read_reply(io.BytesIO(b"*2\r\n+OK\r\n:1\r\n")) == ["OK", 1]
    with pytest.raises(RedisError, match="WRONGTYPE"):
        read_reply(io.BytesIO(b"-WRONGTYPE bad\r\n"))
    with pytest.raises(RedisError, match="closed"):
        read_reply(io.BytesIO(b""))
