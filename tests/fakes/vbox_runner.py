"""Run the commands a VirtualBox stack declares (as recorded under mocks) against the
VBoxManage stand-in, in dependency order, the way pulumi-command would run them."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.harness import Resource, StackRun

FAKE_BIN = Path(__file__).resolve().parent / "bin"
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
        self, res: Resource, which: str = "create", timeout: float = 60, **env: str
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

    def run(self, res: Resource, which: str = "create", timeout: float = 60) -> str:
        """Run one of ``res``'s scripts (see :meth:`attempt`); it must succeed. Its stdout."""
        result = self.attempt(res, which, timeout)
        assert result.returncode == 0, (
            f"{res.urn} {which} failed ({result.returncode}):\n{result.stdout}{result.stderr}"
        )
        return result.stdout


def mutating(calls: list[dict[str, Any]]) -> list[list[str]]:
    return [c["argv"] for c in calls if c.get("mutating")]


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


@contextmanager
def ssh_banners(count: int) -> Iterator[int]:
    """``count`` consecutive loopback ports answering like an SSH server; yields the first."""
    base, socks = free_port_block(count)
    stop = threading.Event()

    def serve(sock: socket.socket) -> None:
        sock.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with conn:
                conn.sendall(b"SSH-2.0-OpenSSH_9.6 test\r\n")

    threads = [threading.Thread(target=serve, args=(s,), daemon=True) for s in socks]
    for t in threads:
        t.start()
    try:
        yield base
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=2)
        for s in socks:
            s.close()
