"""Run the commands a VirtualBox stack declares (as recorded under mocks) against the
VBoxManage stand-in, in dependency order, the way pulumi-command would run them."""

from __future__ import annotations

import getpass
import json
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.harness import Resource, StackRun

FAKE_BIN = Path(__file__).resolve().parent / "bin"
CLOUD_INIT_STATUS = Path(__file__).resolve().parent / "cloud-init-status"
SSHD = "/usr/sbin/sshd"
COMMAND = "command:local:Command"


def ordered_commands(run: StackRun) -> list[Resource]:
    """The stack's commands, each after the commands it depends on."""
    commands = run.of_type(COMMAND)
    by_urn = {c.urn: c for c in commands}
    done: list[Resource] = []
    seen: set[str] = set()

    def visit(res: Resource) -> None:
        if res.urn in seen:
            return
        seen.add(res.urn)
        for dep in res.depends_on:
            if dep in by_urn:
                visit(by_urn[dep])
        done.append(res)

    for res in commands:
        visit(res)
    return done


@dataclass
class FakeVBox:
    """The stand-in's state and call log in ``root``."""

    root: Path
    calls_seen: int = 0
    env: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.env = {
            **os.environ,
            "PATH": f"{FAKE_BIN}:{os.environ['PATH']}",
            "FAKE_VBOX_STATE": str(self.root / "vbox-state.json"),
            "FAKE_VBOX_LOG": str(self.root / "vbox-calls.jsonl"),
            "HOME": str(self.root / "home"),
        }
        (self.root / "home").mkdir(parents=True, exist_ok=True)

    def state(self) -> dict[str, Any]:
        path = self.root / "vbox-state.json"
        return json.loads(path.read_text()) if path.exists() else {}

    def log(self) -> list[dict[str, Any]]:
        path = self.root / "vbox-calls.jsonl"
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines()]

    def new_calls(self) -> list[dict[str, Any]]:
        """Calls made since the last time this was asked."""
        log = self.log()
        fresh = log[self.calls_seen :]
        self.calls_seen = len(log)
        return fresh

    def attempt(
        self, res: Resource, which: str = "create", timeout: float = 180, **env: str
    ) -> subprocess.CompletedProcess[str]:
        """Run one of ``res``'s scripts as the provider would (its interpreter, by default
        ``/bin/sh -c``, and its declared environment, plus ``env``), whatever the outcome."""
        script = res.inputs.get(which)
        assert script, f"{res.urn} has no {which} command"
        interpreter = res.inputs.get("interpreter") or ["/bin/sh", "-c"]
        return subprocess.run(
            [*interpreter, script],
            env={**self.env, **res.inputs.get("environment", {}), **env},
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def run_update(self, res: Resource, previous: str, **env: str) -> str:
        """``res``'s update as pulumi-command runs it: with the previous run's output in
        ``PULUMI_COMMAND_STDOUT``; it must succeed. Its stdout."""
        result = self.attempt(res, "update", PULUMI_COMMAND_STDOUT=previous.strip(), **env)
        assert result.returncode == 0, f"{res.urn} update failed:\n{result.stderr}"
        return result.stdout

    def run(self, res: Resource, which: str = "create", timeout: float = 60) -> str:
        """Run one of ``res``'s scripts (see :meth:`attempt`); it must succeed. Its stdout."""
        result = self.attempt(res, which, timeout)
        assert result.returncode == 0, (
            f"{res.urn} {which} failed ({result.returncode}):\n{result.stdout}{result.stderr}"
        )
        return result.stdout


def mutating(calls: list[dict[str, Any]]) -> list[list[str]]:
    """The calls that changed something (VirtualBox refused none of them)."""
    return [c["argv"] for c in calls if c.get("mutating") and "failed" not in c]


def refused(calls: list[dict[str, Any]]) -> list[tuple[list[str], str]]:
    """The calls VirtualBox refused, with its reason."""
    return [(c["argv"], c["failed"]) for c in calls if "failed" in c]


def problems(calls: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Calls the stand-in rejected as not in VBoxManage's usage."""
    return [c for c in calls if "rejected" in c]


def free_port_block(count: int, start: int = 20000) -> tuple[int, list[socket.socket]]:
    """``count`` consecutive free loopback ports, held open (listening) by the caller."""
    base = start
    while base + count < 65000:
        held: list[socket.socket] = []
        try:
            for port in range(base, base + count):
                sock = socket.socket()
                held.append(sock)
                sock.bind(("127.0.0.1", port))
                sock.listen(8)
            return base, held
        except OSError:
            for sock in held:
                sock.close()
            base += count + 7
    raise RuntimeError("no free block of loopback ports")


@dataclass
class SshGuests:
    """Real OpenSSH servers standing in for guests: the first of ``count`` loopback ports, the
    cloud-init status they answer (write :attr:`mode`: done, error, degraded or "wait N"), and
    the commands run there."""

    port: int
    mode_file: Path
    user: str = field(default_factory=getpass.getuser)

    def set(self, mode: str) -> None:
        self.mode_file.write_text(mode + "\n")

    def calls(self) -> list[str]:
        log = self.mode_file.with_name(self.mode_file.name + ".calls")
        return log.read_text().splitlines() if log.exists() else []


@contextmanager
def ssh_guests(
    count: int, root: Path, authorized_keys: Path, start: int = 24000
) -> Iterator[SshGuests]:
    """``count`` consecutive loopback ports served by one real ``sshd``, letting this user log
    in with the keys in ``authorized_keys`` (read at each login, so the file may come later)
    and running the stand-in for ``cloud-init status`` (``tests/fakes/cloud-init-status``)
    whatever the command asked. Ports are looked for from ``start`` on."""
    assert Path(SSHD).exists(), f"{SSHD} is missing: run scripts/setup/virtualbox-tests.sh"
    root.mkdir(parents=True, exist_ok=True)
    hostkey = root / "ssh_host_ed25519_key"
    if not hostkey.exists():
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(hostkey)], check=True
        )
    if os.geteuid() == 0:
        Path("/run/sshd").mkdir(exist_ok=True)  # sshd's privilege separation directory
    mode = root / "cloud-init.mode"
    mode.write_text("done\n")
    base, held = free_port_block(count, start=start)
    for sock in held:
        sock.close()
    config = root / "sshd_config"
    listen = "".join(f"ListenAddress 127.0.0.1:{p}\n" for p in range(base, base + count))
    config.write_text(
        listen + f"HostKey {hostkey}\nPidFile none\nAuthorizedKeysFile {authorized_keys}\n"
        "StrictModes no\nUsePAM no\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n"
        "PubkeyAuthentication yes\nPermitRootLogin prohibit-password\nLogLevel ERROR\n"
        f"ForceCommand {CLOUD_INIT_STATUS} {mode}\n"
    )
    server = subprocess.Popen(
        [SSHD, "-D", "-e", "-f", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=(root / "sshd.log").open("w"),
    )
    try:
        deadline = time.time() + 20
        for port in range(base, base + count):
            while True:
                assert server.poll() is None, (root / "sshd.log").read_text()
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    assert time.time() < deadline, f"sshd does not listen on {port}"
                    time.sleep(0.1)
        yield SshGuests(base, mode)
    finally:
        server.terminate()
        server.wait(timeout=10)
