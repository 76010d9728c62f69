"""Real guests for the tests: the cloud image, the package mirror, and VMs booted from them.

Everything runs inside the network namespace ``cloudlabs-libvirt``, where libvirtd and QEMU
(software emulation) live (``scripts/setup/libvirt.sh``); guests there reach no other network.
The set-up builds what the guests need:

- the cloud image (``scripts/setup/guest-image.sh``): Debian bookworm with cloud-init (NoCloud
  and ConfigDrive), default user ``ubuntu``; :func:`cloud_image` gives its path;
- the package mirror (``scripts/setup/guest-mirror.sh``), served in the namespace on every
  address: a guest reaches it at its gateway; :func:`mirror` describes it, and
  :meth:`Mirror.apt_mirror` is the cloud-config part that points a guest at it.

A missing piece fails the test (with the command that sets it up), never skips it.

Booting, waiting and looking inside::

    key = SshKey.create(tmp_path)
    with Lab("gtabc123", storage) as lab:
        net = lab.network("gtabc123-net", "gtabc123n0", "192.168.160.1/24",
                          dhcp=("192.168.160.100", "192.168.160.199"),
                          hosts=[("52:54:00:10:00:01", "192.168.160.10", "probe")])
        seed = nocloud_seed(storage / "probe.iso", user_data=..., meta_data=...)
        guest = lab.guest("gtabc123-probe", seed=seed, nics=[(net, "52:54:00:10:00:01")],
                          address="192.168.160.10", key=key)
        boot([guest])                      # SSH, then `cloud-init status --wait`: done
        guest.ssh("hostname").stdout

Domains a stack defines itself are watched with :meth:`Guest.of_domain` (its serial console
is copied from its pty from then on). :func:`boot` waits for every guest in parallel, with a
deadline for SSH and one for cloud-init; on failure the assertion message holds each failed
guest's serial console and ``cloud-init status --long``. Each guest's time to SSH and to ready
is recorded in :data:`TIMINGS` and printed at the end of the test run.
"""

from __future__ import annotations

import json
import os
import re
import select
import shlex
import shutil
import subprocess
import tempfile
import termios
import threading
import time
import tty
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from components.libvirt.xml_render import (
    DiskSpec,
    DomainSpec,
    NetworkSpec,
    NicSpec,
    render_domain,
    render_network,
)
from components.renderers.cloudinit import AptMirror
from tests.harness import ROOT, Resource
from tests.validators import require

NETNS = "cloudlabs-libvirt"
URI = "qemu:///system"
OWNER = "cloud-labs/guest-tests"
"""Ownership mark of the domains and networks :class:`Lab` defines."""
SETUP = {
    "libvirt": "bash scripts/setup/libvirt.sh",
    "image": "bash scripts/setup/guest-image.sh",
    "mirror": "bash scripts/setup/guest-mirror.sh",
}
MIRROR_FACTS = Path(
    os.environ.get("CLOUDLABS_GUEST_MIRROR_DIR", "/var/lib/cloudlabs/guest-mirror"), "mirror.env"
)
SSH_OPTIONS = (
    "-o",
    "BatchMode=yes",
    "-o",
    "StrictHostKeyChecking=no",
    "-o",
    "UserKnownHostsFile=/dev/null",
    "-o",
    "LogLevel=ERROR",
    "-o",
    "ConnectTimeout=5",
)
CONSOLE_TAIL = 150
"""Lines of a failed guest's serial console shown in the assertion message."""

TIMINGS: list[str] = []
"""One line per booted guest (time to SSH, to ready), printed after the test run."""


# --- commands ------------------------------------------------------------------------------


def run(
    args: Sequence[str],
    *,
    check: bool = True,
    timeout: float = 180,
    env: Mapping[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``args`` (no stdin); with ``check``, a non-zero exit fails the test with its output."""
    result = subprocess.run(
        list(args),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        check=False,
    )
    if check:
        assert result.returncode == 0, f"{shlex.join(args)}: {result.stdout}{result.stderr}"
    return result


def sh(*args: str, check: bool = True, env: Mapping[str, str] | None = None) -> str:
    """The stdout of ``args`` (which must succeed, with ``check``)."""
    return run(args, check=check, env=env).stdout


def in_netns(*args: str, check: bool = True) -> str:
    """The stdout of ``args`` run inside the namespace."""
    return sh("ip", "netns", "exec", NETNS, *args, check=check)


def virsh(*args: str, check: bool = True) -> str:
    return sh("virsh", "-q", "-c", URI, *args, check=check)


def attempt(
    command: Resource, action: str, *, timeout: float = 300, **changes: str
) -> subprocess.CompletedProcess[str]:
    """Run a stack's ``command:local:Command`` (its ``create`` or ``delete``) in the namespace
    as the provider would (its interpreter, by default ``/bin/sh -c``) with its environment,
    ``changes`` replacing some of its variables."""
    env = {**os.environ, **command.inputs["environment"], **changes}
    interpreter = command.inputs.get("interpreter") or ["/bin/sh", "-c"]
    return run(
        ["ip", "netns", "exec", NETNS, *interpreter, command.inputs[action]],
        check=False,
        timeout=timeout,
        env=env,
    )


def execute(command: Resource, action: str, *, timeout: float = 300, **changes: str) -> str:
    """:func:`attempt`, which must succeed; its stdout."""
    result = attempt(command, action, timeout=timeout, **changes)
    assert result.returncode == 0, f"{command} {action}: {result.stdout}{result.stderr}"
    return result.stdout


# --- what the guests need ------------------------------------------------------------------


def require_libvirtd() -> None:
    """libvirtd answers, and runs inside the namespace."""
    for tool in ("virsh", "ip", "xmllint", "virt-xml-validate", "isoinfo"):
        require(tool)
    hint = f"run: {SETUP['libvirt']}"
    namespaces = sh("ip", "netns", "list")
    assert NETNS in namespaces.split(), f"no network namespace {NETNS}: {hint}"
    version = run(["virsh", "-c", URI, "version"], check=False)
    assert version.returncode == 0, f"libvirtd does not answer: {version.stderr} ({hint})"
    pid = Path("/run/libvirtd.pid").read_text().strip()
    assert os.stat(f"/proc/{pid}/ns/net").st_ino == os.stat(f"/run/netns/{NETNS}").st_ino, (
        f"libvirtd runs outside {NETNS}"
    )
    for family in ("-4", "-6"):
        route = in_netns("ip", family, "route", "show", "default")
        assert route == "", f"{NETNS} has a route out ({route.strip()}): guests must reach nothing"


def require_qemu() -> None:
    """QEMU and qemu-img are installed, and the namespace's libvirtd offers software emulation."""
    for tool in ("qemu-system-x86_64", "qemu-img", "genisoimage", "ssh", "ssh-keygen"):
        require(tool)
    caps = virsh("capabilities")
    assert "<domain type='qemu'" in caps, f"libvirtd offers no QEMU guests: {SETUP['libvirt']}"


def cloud_image() -> Path:
    """The cloud image of this checkout's recipe (built by ``scripts/setup/guest-image.sh``)."""
    path = Path(sh("bash", str(ROOT / "scripts/setup/guest-image.sh"), "--path").splitlines()[-1])
    assert path.is_file(), f"no cloud image {path}: run {SETUP['image']}"
    info = json.loads(sh("qemu-img", "info", "-U", "--output=json", str(path)))
    assert info["format"] == "qcow2", f"{path} is not a qcow2 image"
    return path


@dataclass(frozen=True)
class Mirror:
    """The guests' package mirror (``scripts/setup/guest-mirror.sh``)."""

    port: int
    path: str
    suite: str
    key: Path
    """The signing key (binary keyring, for ``signed-by=``)."""
    key_asc: Path
    """The same key, armoured (for cloud-init's ``apt`` key fields)."""
    host_url: str
    """The mirror for Docker builds on this machine (empty when there is no docker0)."""
    log: Path
    """The servers' request log."""

    def url(self, gateway: str) -> str:
        """The mirror's URL for a guest whose gateway is ``gateway``."""
        return f"http://{gateway}:{self.port}{self.path}"

    def apt_mirror(self, gateway: str) -> AptMirror:
        """The cloud-config part that takes every Debian suite from the mirror, its key trusted."""
        return AptMirror(self.url(gateway), key=self.key_asc.read_text(), security=True)


def mirror() -> Mirror:
    """The package mirror, which must be served in the namespace."""
    hint = f"run: {SETUP['mirror']}"
    assert MIRROR_FACTS.is_file(), f"no package mirror ({MIRROR_FACTS} missing): {hint}"
    facts: dict[str, str] = {}
    for line in MIRROR_FACTS.read_text().splitlines():
        name, sep, value = line.partition("=")
        if sep and not name.startswith("#"):
            facts[name] = value
    found = Mirror(
        port=int(facts["MIRROR_PORT"]),
        path=facts["MIRROR_PATH"],
        suite=facts["MIRROR_SUITE"],
        key=Path(facts["MIRROR_KEY"]),
        key_asc=Path(facts["MIRROR_KEY_ASC"]),
        host_url=facts["MIRROR_HOST_URL"],
        log=Path(facts["MIRROR_LOG"]),
    )
    release = f"{found.url('127.0.0.1')}/dists/{found.suite}/InRelease"
    fetched = run(
        ["ip", "netns", "exec", NETNS, "curl", "-fsS", "--max-time", "10", release], check=False
    )
    assert fetched.returncode == 0, (
        f"the mirror does not answer in {NETNS}: {fetched.stderr} ({hint})"
    )
    return found


# --- seeds ---------------------------------------------------------------------------------


def _iso(path: Path, volume: str, files: Mapping[str, str]) -> Path:
    with tempfile.TemporaryDirectory() as tmp:
        for name, content in files.items():
            target = Path(tmp, name)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(content)
        sh(
            "genisoimage", "-quiet", "-output", str(path), "-volid", volume,
            "-joliet", "-rock", tmp,
        )  # fmt: skip
    return path


def nocloud_seed(
    path: Path, *, user_data: str, meta_data: str, network_config: str | None = None
) -> Path:
    """A NoCloud seed ISO (volume ``cidata``), as the stacks build it."""
    files = {"user-data": user_data, "meta-data": meta_data}
    if network_config is not None:
        files["network-config"] = network_config
    return _iso(path, "cidata", files)


def config_drive(
    path: Path,
    *,
    meta_data: Mapping[str, Any],
    user_data: str | None = None,
    network_data: Mapping[str, Any] | None = None,
) -> Path:
    """An OpenStack config drive (ISO, volume ``config-2``): ``openstack/latest/...``."""
    files = {"openstack/latest/meta_data.json": json.dumps(meta_data)}
    if user_data is not None:
        files["openstack/latest/user_data"] = user_data
    if network_data is not None:
        files["openstack/latest/network_data.json"] = json.dumps(network_data)
    return _iso(path, "config-2", files)


# --- guests --------------------------------------------------------------------------------


@dataclass(frozen=True)
class SshKey:
    path: Path
    """The private key."""
    public: str
    """The public key, one line."""

    @classmethod
    def create(cls, directory: Path, name: str = "id_ed25519") -> SshKey:
        path = directory / name
        sh("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "cloudlabs-test", "-f", str(path))
        return cls(path, Path(f"{path}.pub").read_text().strip())


class Console:
    """A guest's serial console, kept in a file: written by libvirt (``<log file>``) or copied
    here from the domain's pty as it is written (:meth:`follow`)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @classmethod
    def follow(cls, domain: str, path: Path) -> Console:
        """Copy the running ``domain``'s serial pty to ``path`` from now on."""
        live = ET.fromstring(virsh("dumpxml", domain))
        source = live.find("devices/serial/source")
        assert source is not None and source.get("path"), f"{domain} has no serial pty"
        console = cls(path)
        fd = os.open(source.get("path", ""), os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        tty.setraw(fd, termios.TCSANOW)  # no echo back into the guest
        console._thread = threading.Thread(target=console._copy, args=(fd,), daemon=True)
        console._thread.start()
        return console

    def _copy(self, fd: int) -> None:
        with self.path.open("ab") as out:
            try:
                while not self._stop.is_set():
                    ready, _, _ = select.select([fd], [], [], 0.5)
                    if ready:
                        data = os.read(fd, 65536)
                        if not data:
                            break
                        out.write(data)
                        out.flush()
            except OSError:  # the domain is gone
                pass
            finally:
                os.close(fd)

    def text(self) -> str:
        try:
            return self.path.read_bytes().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def tail(self, lines: int = CONSOLE_TAIL) -> str:
        return "\n".join(self.text().splitlines()[-lines:])

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)


@dataclass
class Guest:
    """A booting VM reached over SSH from inside the namespace."""

    name: str
    """The domain's name."""
    address: str
    """Where SSH reaches it (inside the namespace)."""
    key: SshKey
    console: Console
    user: str = "ubuntu"
    started: float = field(default_factory=time.monotonic)
    """When the domain was started (``time.monotonic()``)."""
    ssh_after: float | None = None
    """Seconds from start to the first successful SSH login."""
    ready_after: float | None = None
    """Seconds from start to cloud-init's ``done``."""

    @classmethod
    def of_domain(cls, domain: str, address: str, key: SshKey, log_dir: Path, **kw: Any) -> Guest:
        """A running domain (defined by a stack), its console followed from now on."""
        return cls(
            domain, address, key, Console.follow(domain, log_dir / f"{domain}.console"), **kw
        )

    def ssh_command(self, command: str) -> list[str]:
        """The command line running ``command`` on the guest (in the namespace)."""
        return [
            "ip", "netns", "exec", NETNS, "ssh", "-i", str(self.key.path), *SSH_OPTIONS,
            f"{self.user}@{self.address}", command,
        ]  # fmt: skip

    def ssh(self, command: str, *, check: bool = True, timeout: float = 120) -> Any:
        """Run ``command`` (a shell line) on the guest."""
        result = run(self.ssh_command(command), check=False, timeout=timeout)
        if check:
            assert result.returncode == 0, (
                f"{self.name}: {command}: exit {result.returncode}: {result.stdout}{result.stderr}"
            )
        return result

    def wait_ssh(self, deadline: float) -> None:
        """Poll until SSH logs in, until ``deadline`` (monotonic)."""
        self._until(deadline, "true", "no SSH login at " + self.address)
        self.ssh_after = time.monotonic() - self.started

    def wait_ready(self, deadline: float) -> None:
        """Wait until cloud-init has finished (``cloud-init status --wait``): it must be done.

        sshd may restart meanwhile (cloud-init's ``ssh_pwauth`` does): a dropped or refused
        connection is retried until ``deadline``.
        """
        self._until(deadline, "cloud-init status --wait >/dev/null", "cloud-init not finished")
        status = self._until(deadline, "cloud-init status --long", "no cloud-init status").stdout
        assert "status: done" in status, f"{self.name}: cloud-init did not finish well:\n{status}"
        self.ready_after = time.monotonic() - self.started

    def _until(self, deadline: float, command: str, failure: str) -> Any:
        """Run ``command`` until SSH carries it (any exit but ssh's own 255), by ``deadline``."""
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"{self.name}: {failure} in time")
            try:
                result = self.ssh(command, check=False, timeout=max(remaining, 5))
                if result.returncode != 255:
                    return result
            except subprocess.TimeoutExpired:
                pass
            time.sleep(2)

    def diagnostics(self) -> str:
        """The serial console's last lines and cloud-init's status, for a failure message."""
        parts = [f"--- {self.name}: serial console ({self.console.path}), last lines ---"]
        parts.append(self.console.tail())
        try:
            status = self.ssh("cloud-init status --long", check=False, timeout=30)
            parts.append(f"--- {self.name}: cloud-init status --long ---")
            parts.append((status.stdout + status.stderr).strip() or "(no answer)")
        except subprocess.TimeoutExpired:
            parts.append(f"--- {self.name}: cloud-init status --long: no answer ---")
        state = virsh("domstate", self.name, check=False).strip() or "(no such domain)"
        parts.append(f"--- {self.name}: domain state: {state} ---")
        return "\n".join(parts)

    def timing(self) -> str:
        def show(value: float | None) -> str:
            return f"{value:.0f}s" if value is not None else "-"

        return (
            f"{self.name}: SSH after {show(self.ssh_after)}, ready after {show(self.ready_after)}"
        )


def journal(guest: Guest, unit: str) -> str:
    """The unit's status and journal on ``guest``, for a failure message."""
    try:
        seen = guest.ssh(
            f"systemctl status --no-pager {shlex.quote(unit)}; "
            f"sudo journalctl --no-pager -n 60 -u {shlex.quote(unit)}",
            check=False,
            timeout=60,
        )
        return f"--- {guest.name}: {unit} ---\n{seen.stdout}{seen.stderr}"
    except subprocess.TimeoutExpired:
        return f"--- {guest.name}: {unit}: no answer over SSH ---"


def wait_for(what: str, probe: Any, deadline: float, detail: Any) -> Any:
    """Call ``probe`` until it returns something true, by ``deadline`` seconds from now."""
    until = time.monotonic() + deadline
    while True:
        seen = probe()
        if seen:
            return seen
        if time.monotonic() > until:
            raise AssertionError(f"{what}: not within {deadline:g} s\n{detail()}")
        time.sleep(2)


def boot(guests: Sequence[Guest], *, ssh_timeout: float = 1200, ready_timeout: float = 600) -> None:
    """Wait, for every guest in parallel, for SSH then for cloud-init to be done.

    Deadlines count from each guest's start. They are generous: on an idle 2-core machine five
    guests in parallel answer SSH within about 5 minutes, but other work on the machine can
    slow emulated guests threefold. A guest that misses one fails the test with its serial
    console and cloud-init's status; every guest's times are recorded in TIMINGS.
    """

    def one(guest: Guest) -> str | None:
        try:
            guest.wait_ssh(guest.started + ssh_timeout)
            guest.wait_ready(guest.started + ssh_timeout + ready_timeout)
            return None
        except AssertionError as error:
            return f"{error}\n{guest.diagnostics()}"

    with ThreadPoolExecutor(max_workers=max(len(guests), 1)) as pool:
        failures = [f for f in pool.map(one, guests) if f is not None]
    for guest in guests:
        TIMINGS.append(guest.timing())
        print(guest.timing())
    assert not failures, "\n\n".join(failures)


# --- scratch networks and domains ----------------------------------------------------------


class Lab:
    """Networks and domains defined for a test in the namespace's libvirtd, from the cloud
    image; everything is removed on exit (domains, networks, disks, seeds, consoles stay in
    ``storage`` until the caller removes it)."""

    def __init__(self, tag: str, storage: Path, image: Path | None = None) -> None:
        self.tag = tag
        self.storage = storage
        self.image = image or cloud_image()
        self.networks: list[str] = []
        self.devices: list[str] = []
        """Bridges made in the namespace (:meth:`bridge`)."""
        self.guests: list[Guest] = []

    def __enter__(self) -> Lab:
        self.storage.mkdir(parents=True, exist_ok=True)
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()

    def network(
        self,
        name: str,
        bridge: str,
        address: str,
        *,
        nat: bool = False,
        dhcp: tuple[str, str] | None = None,
        hosts: Sequence[tuple[str, str, str]] = (),
        dns_hosts: Sequence[tuple[str, str]] = (),
    ) -> str:
        """Define and start a network, NAT or isolated, the namespace's ``address`` on it
        (``192.168.160.1/24``: the guests' gateway, where the mirror answers).

        ``hosts`` are DHCP reservations (mac, ip, hostname); ``dns_hosts`` (ip, name) are
        names the network's own DNS server (libvirt's dnsmasq, at ``address``) answers: an
        upstream resolver for the guests, with names outside any lab. Returns its name.
        """
        spec = NetworkSpec(
            name=name,
            mode="nat" if nat else "isolated",
            bridge=bridge,
            address=address,
            dhcp_range=dhcp,
            dhcp_hosts=tuple(hosts),
        )
        root = ET.fromstring(render_network(spec, OWNER))
        if dns_hosts:
            dns = ET.Element("dns")
            for ip, host in dns_hosts:
                ET.SubElement(ET.SubElement(dns, "host", {"ip": ip}), "hostname").text = host
            root.insert(list(root).index(root.find("ip")), dns)  # type: ignore[arg-type]
        self._define_network(name, ET.tostring(root, encoding="unicode"))
        return name

    def bridge(self, name: str, device: str, address: str | None = None) -> str:
        """A bridge ``device`` in the namespace, holding ``address`` when given (a router's
        side of a subnet; without one, a network the namespace is not on, like a VirtualBox
        internal network), plugged into libvirt as the bridge-mode network ``name``: no DHCP,
        DNS or firewall rules of libvirt's. Returns the network's name."""
        in_netns("ip", "link", "add", device, "type", "bridge")
        self.devices.append(device)
        if address is not None:
            in_netns("ip", "addr", "add", address, "dev", device)
        in_netns("ip", "link", "set", device, "up")
        spec = NetworkSpec(name=name, mode="bridge", bridge=device)
        self._define_network(name, render_network(spec, OWNER))
        return name

    def _define_network(self, name: str, xml: str) -> None:
        path = self.storage / f"{name}.net.xml"
        path.write_text(xml)
        virsh("net-define", str(path))
        self.networks.append(name)
        virsh("net-start", name)

    def guest(
        self,
        name: str,
        *,
        seed: Path,
        nics: Sequence[tuple[str, str]],
        address: str,
        key: SshKey,
        memory_mib: int = 768,
        vcpus: int = 1,
        disk_gib: int = 4,
        user: str = "ubuntu",
    ) -> Guest:
        """Define and start a domain on ``nics`` ((network, mac) in order) booting an overlay of
        the image with ``seed`` as its CD-ROM; its console is logged from the first byte."""
        disk = self.storage / f"{name}.qcow2"
        sh(
            "qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", str(self.image),
            str(disk), f"{disk_gib}G",
        )  # fmt: skip
        spec = DomainSpec(
            name=name,
            domain_type="qemu",
            memory_mib=memory_mib,
            vcpus=vcpus,
            disks=[DiskSpec(str(disk), "qcow2", "disk"), DiskSpec(str(seed), "raw", "cdrom")],
            nics=[NicSpec(network, mac) for network, mac in nics],
        )
        root = ET.fromstring(render_domain(spec, OWNER))
        console_log = self.storage / f"{name}.console"
        serial = root.find("devices/serial")
        assert serial is not None
        ET.SubElement(serial, "log", {"file": str(console_log), "append": "off"})
        path = self.storage / f"{name}.xml"
        path.write_text(ET.tostring(root, encoding="unicode"))
        virsh("define", str(path))
        guest = Guest(name, address, key, Console(console_log), user=user)
        self.guests.append(guest)
        virsh("start", name)
        guest.started = time.monotonic()
        return guest

    def close(self) -> None:
        for guest in self.guests:
            guest.console.close()
            virsh("destroy", guest.name, check=False)
            virsh("undefine", guest.name, check=False)
        for name in self.networks:
            virsh("net-destroy", name, check=False)
            virsh("net-undefine", name, check=False)
        for device in self.devices:
            in_netns("ip", "link", "del", device, check=False)
        self.guests, self.networks, self.devices = [], [], []


STORAGE = Path("/var/lib/libvirt/images")
"""Where the libvirt tests keep a run's disks, seeds and consoles: ``STORAGE / <tag>``."""
TEST_TAG = re.compile(r"(?:cl|cs|gb|gc|gi|gk|gn|gs|gv)[0-9a-f]{6}")
"""The tag a libvirt test run gives everything it defines (``cl``: the lifecycle test, ``gi``:
the image test, ``gv``: libvirt-host's guests, ``cs``/``gs``: the snapshot tests, on empty
disks and on a booted guest, ``gk``: the calculator labs' guests, ``gb``: the benchmark
suite on one of libvirt-host's guests, ``gc``/``gn``: vbox-cluster's and vbox-nat's guests;
then six hex digits): the
domains, networks and pools are named ``<tag>-...``, the bridges ``<tag>..``, the storage
``STORAGE / <tag>``."""


def new_tag(prefix: str) -> str:
    """A fresh tag for a test run (``prefix`` as in :data:`TEST_TAG`)."""
    tag = prefix + uuid.uuid4().hex[:6]
    assert TEST_TAG.fullmatch(tag), f"{tag} is not a libvirt test tag"
    return tag


def _bridges() -> list[str]:
    links = json.loads(in_netns("ip", "-json", "link", "show", "type", "bridge") or "[]")
    return [link["ifname"] for link in links]


def remove_tagged(tag: str, storage: Path | None = None, bridges: Sequence[str] = ()) -> None:
    """Remove every domain, network and pool whose name starts with ``tag``, every bridge in
    the namespace whose name does, ``bridges``, and ``storage`` (``STORAGE / tag``): the last
    resort of a test that defined them (through a stack or not)."""
    for name in virsh("list", "--all", "--name").split():
        if name.startswith(tag):
            virsh("destroy", name, check=False)
            virsh("undefine", name, check=False)
    for name in virsh("net-list", "--all", "--name").split():
        if name.startswith(tag):
            virsh("net-destroy", name, check=False)
            virsh("net-undefine", name, check=False)
    for name in virsh("pool-list", "--all", "--name").split():
        if name.startswith(tag):
            virsh("pool-destroy", name, check=False)
            virsh("pool-undefine", name, check=False)
    for bridge in [*bridges, *(b for b in _bridges() if b.startswith(tag))]:
        in_netns("ip", "link", "del", bridge, check=False)
    shutil.rmtree(storage or STORAGE / tag, ignore_errors=True)


def remove_leftovers() -> list[str]:
    """Remove what an interrupted earlier run of the libvirt tests left in the namespace (its
    domains, networks, pools, bridges and storage, found by :data:`TEST_TAG`); the tags removed.

    A run killed before its clean-up leaves running networks behind, whose bridges hold their
    addresses: the next run's network on the same subnet then fails to start ("Network is
    already in use by interface ..."). Every libvirt test's fixture calls this first; they run
    under the libvirt lock, so nothing else of the tests' own is running then.
    """
    names = [
        *virsh("list", "--all", "--name").split(),
        *virsh("net-list", "--all", "--name").split(),
        *virsh("pool-list", "--all", "--name").split(),
        *_bridges(),
        *(p.name for p in (STORAGE.iterdir() if STORAGE.is_dir() else ()) if p.is_dir()),
    ]
    tags = sorted({m.group(0) for n in names if (m := TEST_TAG.match(n))})
    for tag in tags:
        remove_tagged(tag)
    if tags:
        print(f"removed what earlier runs left in {NETNS}: {', '.join(tags)}")
    return tags


def guest_links(guest: Guest) -> Iterator[dict[str, Any]]:
    """The guest's network interfaces as ``ip -json addr`` reports them."""
    yield from json.loads(guest.ssh("ip -json addr show").stdout)


def nic(guest: Guest, mac: str) -> dict[str, Any]:
    """The guest's interface with ``mac`` (whatever the guest named it)."""
    found = [link for link in guest_links(guest) if link.get("address") == mac]
    assert len(found) == 1, f"{guest.name}: no single NIC with MAC {mac}"
    return found[0]


def ipv4(link: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The interface's IPv4 addresses, as ``ip -json addr`` reports them."""
    return [a for a in link.get("addr_info", []) if a.get("family") == "inet"]
