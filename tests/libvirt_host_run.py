"""libvirt-host for real in the namespace ``cloudlabs-libvirt``: the shipped stack with the cloud
image as ``baseImage``, software emulation (``domainType: qemu``), small VMs
(``allowUndersized``) and networks of a test's own (named by its tag); its commands created in
dependency order, each domain watched once it runs, then deleted, leaving nothing::

    with lab_run("gv", keys_dir, "guests", vms, NAT, MGMT) as lab:
        guests = create(lab, logs)
        boot(list(guests.values()))
        ...
        delete(lab)
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.guests import (
    STORAGE,
    Guest,
    Mirror,
    SshKey,
    cloud_image,
    execute,
    in_netns,
    mirror,
    new_tag,
    remove_leftovers,
    remove_tagged,
    require_libvirtd,
    require_qemu,
    virsh,
)
from tests.harness import Resource, StackRun, load_stack_file, run_program

COMMAND = "command:local:Command"
K = "cloud-labs:"


def nat_dhcp(nat: ipaddress.IPv4Network) -> tuple[str, str]:
    """The NAT network's DHCP range: ``.100`` to ``.199``."""
    return str(nat[100]), str(nat[199])


def lab_config(
    shipped: Mapping[str, Any],
    tag: str,
    storage: Path,
    image: Path,
    key: SshKey,
    nat: ipaddress.IPv4Network,
    mgmt: ipaddress.IPv4Network,
    vms: Sequence[Mapping[str, Any]],
    **keys: Any,
) -> dict[str, Any]:
    """The ``shipped`` config with the test's image, key, storage, networks (``tag``-named,
    the namespace at ``.1`` of each) and ``vms``; ``keys`` (config keys without the
    ``cloud-labs:`` prefix) set last."""
    start, end = nat_dhcp(nat)
    return {
        **shipped,
        K + "domainType": "qemu",
        K + "storageDir": str(storage),
        K + "baseImage": str(image),
        K + "sshPublicKey": key.public,
        K + "allowUndersized": True,
        K + "natNetwork": {
            "name": f"{tag}-nat",
            "bridge": f"{tag}n0",
            "cidr": str(nat),
            "address": str(nat[1]),
            "dhcpStart": start,
            "dhcpEnd": end,
            "adoptExisting": False,
        },
        K + "managementNetwork": {
            "name": f"{tag}-mgmt",
            "bridge": f"{tag}m0",
            "cidr": str(mgmt),
            "address": str(mgmt[1]),
        },
        K + "vms": list(vms),
        **{K + name: value for name, value in keys.items()},
    }


@dataclass
class LabRun:
    """The stack of one test run, run under mocks; its commands not run yet."""

    tag: str
    storage: Path
    """``STORAGE / tag``: the disks, seeds, consoles."""
    image: Path
    image_stamp: tuple[int, int]
    """The cloud image's size and mtime before the run (it must not change)."""
    key: SshKey
    mirror: Mirror
    config: dict[str, Any]
    run: StackRun
    commands: list[Resource]

    @property
    def vms(self) -> list[dict[str, Any]]:
        return list(self.config[K + "vms"])


@contextmanager
def lab_run(
    prefix: str,
    keys_dir: Path,
    stack: str,
    vms: Callable[[str, Mapping[str, Any]], Sequence[Mapping[str, Any]]],
    nat: ipaddress.IPv4Network,
    mgmt: ipaddress.IPv4Network,
    apt_mirror: bool = False,
    **keys: Any,
) -> Iterator[LabRun]:
    """The shipped libvirt-host with a fresh tag of ``prefix``, ``vms(tag, shipped config)``,
    the networks and ``keys`` (see :func:`lab_config`), run under mocks as ``stack``; with
    ``apt_mirror``, the package mirror (at the NAT network's gateway) as ``aptMirror``. What an
    earlier run left is removed first; everything of this tag afterwards."""
    require_libvirtd()
    require_qemu()
    image = cloud_image()
    served = mirror()
    remove_leftovers()
    tag = new_tag(prefix)
    storage = STORAGE / tag
    key = SshKey.create(keys_dir)
    try:
        storage.mkdir(parents=True)
        shipped = load_stack_file("libvirt-host")
        if apt_mirror:
            keys["aptMirror"] = {"url": served.url(str(nat[1])), "key": served.key_asc.read_text()}
        config = lab_config(shipped, tag, storage, image, key, nat, mgmt, vms(tag, shipped), **keys)
        program = run_program(config, stack=stack)
        st = image.stat()
        yield LabRun(
            tag=tag,
            storage=storage,
            image=image,
            image_stamp=(st.st_size, st.st_mtime_ns),
            key=key,
            mirror=served,
            config=config,
            run=program,
            commands=program.in_dependency_order(COMMAND),
        )
    finally:
        remove_tagged(tag, storage)


def create(lab: LabRun, logs: Path) -> dict[str, Guest]:
    """Run every command's ``create`` in order; each VM's domain is watched (its console
    followed into ``logs``) from the moment its command started it. Every VM must start."""
    by_name = {vm["name"]: vm for vm in lab.vms}
    guests: dict[str, Guest] = {}
    for command in lab.commands:
        execute(command, "create")
        domain = command.inputs["environment"].get("DOMAIN_NAME")
        if command.name.endswith("-domain") and domain in by_name:
            guests[domain] = Guest.of_domain(domain, by_name[domain]["ip"], lab.key, logs)
    assert sorted(guests) == sorted(by_name), "a VM of the stack was not started"
    return guests


def delete(lab: LabRun) -> None:
    """Run every command's ``delete`` in reverse order: no domain, network or bridge of the
    stack is left, nothing in its storage but the consoles, and the cloud image unchanged."""
    tag = lab.tag
    for command in reversed(lab.commands):
        execute(command, "delete")
    assert [d for d in virsh("list", "--all", "--name").split() if d.startswith(tag)] == []
    assert [n for n in virsh("net-list", "--all", "--name").split() if n.startswith(tag)] == []
    left = sorted(p.name for p in lab.storage.iterdir())
    assert left == ["consoles"], left
    for bridge in (f"{tag}n0", f"{tag}m0"):
        assert in_netns("ip", "link", "show", bridge, check=False) == ""
    st = lab.image.stat()
    assert (st.st_size, st.st_mtime_ns) == lab.image_stamp, "the cloud image was changed"
