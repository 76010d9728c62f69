"""The cloud image and the package mirror, proven by two booted guests.

Both boot in parallel on a NAT network of their own in the namespace's libvirtd:

- one from a NoCloud seed (the project's user-data and netplan renderers): its NIC is matched
  by MAC and renamed, it gets its reserved address by DHCP, grows its root file system to the
  disk, makes only ed25519 and ecdsa host keys, and installs nginx from the package mirror at
  its gateway (signed: its key comes with the user-data) — apt's sources point nowhere else;
- one from an OpenStack config drive: the default user ``ubuntu`` with the drive's public key,
  its static address from ``network_data.json``.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import pytest

from components.renderers.cloudinit import (
    Hostname,
    Login,
    Nic,
    Packages,
    render_meta_data,
    render_network_config,
    render_user_data,
)
from tests.guests import (
    STORAGE,
    Guest,
    Lab,
    Mirror,
    SshKey,
    boot,
    config_drive,
    guest_links,
    in_netns,
    mirror,
    new_tag,
    nocloud_seed,
    remove_leftovers,
    remove_tagged,
    require_libvirtd,
    require_qemu,
)

pytestmark = [pytest.mark.integration, pytest.mark.guest]

GATEWAY = "192.168.152.1"
NOCLOUD = ("52:54:00:52:00:10", "192.168.152.10")
DRIVE = ("52:54:00:52:00:21", "192.168.152.21")
DISK_GIB = 4
INSTANCE = str(uuid.uuid4())


@pytest.fixture(scope="module")
def booted(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Mirror, Guest, Guest]]:
    require_libvirtd()
    require_qemu()
    served = mirror()
    remove_leftovers()
    tag = new_tag("gi")
    storage = STORAGE / tag
    key = SshKey.create(tmp_path_factory.mktemp("ssh"))
    try:
        with Lab(tag, storage) as lab:
            net = lab.network(
                f"{tag}-net",
                f"{tag}n0",
                f"{GATEWAY}/24",
                nat=True,
                dhcp=("192.168.152.100", "192.168.152.199"),
                hosts=[(NOCLOUD[0], NOCLOUD[1], f"{tag}-nocloud")],
            )
            name = f"{tag}-nocloud"
            user_data = render_user_data(
                Hostname(name),
                Login("ubuntu", [key.public]),
                served.apt_mirror(GATEWAY),
                Packages(["nginx"]),
            )
            seed = nocloud_seed(
                storage / f"{name}.iso",
                user_data=user_data,
                meta_data=render_meta_data(f"{name}-1", name),
                network_config=render_network_config(
                    [Nic("lan", NOCLOUD[0], dhcp4=True, extra={"set-name": "lan0"})], netplan=True
                ),
            )
            first = lab.guest(
                name,
                seed=seed,
                nics=[(net, NOCLOUD[0])],
                address=NOCLOUD[1],
                key=key,
                disk_gib=DISK_GIB,
            )
            name = f"{tag}-drive"
            drive = config_drive(
                storage / f"{name}.iso",
                meta_data={
                    "uuid": INSTANCE,
                    "name": name,
                    "hostname": name,
                    "public_keys": {"test": key.public},
                },
                network_data={
                    "links": [{"id": "nic0", "type": "phy", "ethernet_mac_address": DRIVE[0]}],
                    "networks": [
                        {
                            "id": "lab",
                            "link": "nic0",
                            "type": "ipv4",
                            "ip_address": DRIVE[1],
                            "netmask": "255.255.255.0",
                            "routes": [
                                {"network": "0.0.0.0", "netmask": "0.0.0.0", "gateway": GATEWAY}
                            ],
                        }
                    ],
                    "services": [],
                },
            )
            second = lab.guest(name, seed=drive, nics=[(net, DRIVE[0])], address=DRIVE[1], key=key)
            boot([first, second])
            yield served, first, second
    finally:
        remove_tagged(tag, storage)


def test_nocloud_guest_installs_from_the_mirror(booted: tuple[Mirror, Guest, Guest]) -> None:
    served, guest, _ = booted
    assert guest.ssh("hostname").stdout.strip() == guest.name
    assert "DataSourceNoCloud" in guest.ssh("cloud-init status --long").stdout

    # network-config v2: the NIC found by its MAC, renamed, its reserved address by DHCP.
    links = {link["ifname"]: link for link in guest_links(guest)}
    assert links["lan0"]["address"] == NOCLOUD[0], links.keys()
    addresses = [a["local"] for a in links["lan0"]["addr_info"] if a["family"] == "inet"]
    assert addresses == [NOCLOUD[1]]

    # Grown to the disk on first boot; its own host keys, only the quick kinds.
    size = int(guest.ssh("df --output=size -B1 / | tail -n 1").stdout)
    assert size > (DISK_GIB - 0.5) * 2**30, size
    keys = guest.ssh("ls /etc/ssh/ | grep '^ssh_host_.*_key$'").stdout.split()
    assert keys == ["ssh_host_ecdsa_key", "ssh_host_ed25519_key"], keys
    guest.ssh("sudo -n true")
    guest.ssh("python3 -c 'import sys; assert sys.version_info >= (3, 11)'")
    # The TSC stays the clock however busy the host was (the emulated HPET is slow).
    clock = "/sys/devices/system/clocksource/clocksource0/current_clocksource"
    assert guest.ssh(f"cat {clock}").stdout.strip() == "tsc"

    # nginx from the mirror, signed by its key; apt knows no other source.
    guest.ssh("systemctl is-active nginx")
    page = in_netns("curl", "-fsS", "--max-time", "10", f"http://{NOCLOUD[1]}/")
    assert "Welcome to nginx" in page
    sources = guest.ssh("cat /etc/apt/sources.list $(find /etc/apt/sources.list.d -type f)")
    lines = [ln for ln in sources.stdout.splitlines() if ln.startswith("deb")]
    assert lines and all(served.url(GATEWAY) in ln for ln in lines), lines
    assert "trusted=yes" not in sources.stdout
    policy = guest.ssh("apt-cache policy nginx").stdout
    assert f"{served.url(GATEWAY)} bookworm/main" in policy, policy
    log = served.log.read_text()
    assert f"{NOCLOUD[1]} - - " in log and "GET /debian/pool/main/nginx" in log

    # The serial console carries the kernel's and systemd's messages.
    console = guest.console.text()
    assert "Linux version" in console and "cloud-init" in console


def test_config_drive_guest(booted: tuple[Mirror, Guest, Guest]) -> None:
    _, _, guest = booted
    assert guest.ssh("hostname").stdout.strip() == guest.name
    status = guest.ssh("cloud-init status --long").stdout
    assert "DataSourceConfigDrive" in status, status
    by_mac = {link["address"]: link for link in guest_links(guest)}
    addresses = [a for a in by_mac[DRIVE[0]]["addr_info"] if a["family"] == "inet"]
    assert [(a["local"], a["prefixlen"]) for a in addresses] == [(DRIVE[1], 24)]
    assert addresses[0].get("dynamic") is not True, "a static address was expected"
    guest.ssh("sudo -n true")
    groups = guest.ssh("id -nG").stdout.split()
    assert "sudo" in groups, groups
    meta = json.loads(guest.ssh("cloud-init query --all").stdout)
    assert meta["v1"]["instance_id"] == INSTANCE, meta["v1"]
