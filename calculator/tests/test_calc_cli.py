"""The command line, run as real subprocesses."""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from calc_support import call, unused_port

SRC = Path(__file__).resolve().parents[1] / "src"


def environment(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALC_")}
    env["PYTHONPATH"] = str(SRC)
    env.update(extra)
    return env


class Running:
    """A subprocess whose stderr lines are collected by a thread."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "calculator", *args],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.lines.put(line.rstrip("\n"))

    def wait_for(self, pattern: str, timeout: float = 10) -> re.Match[str]:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            try:
                line = self.lines.get(timeout=0.1)
            except queue.Empty:
                if self.process.poll() is not None and self.lines.empty():
                    break
                continue
            self.seen.append(line)
            if found := re.search(pattern, line):
                return found
        raise AssertionError(f"no line matching {pattern!r} in {self.seen}")

    def drain(self) -> list[str]:
        self.reader.join(5)
        while not self.lines.empty():
            self.seen.append(self.lines.get())
        return self.seen

    def stop(self, signum: int = signal.SIGTERM) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signum)
        return self.process.wait(10)


@contextmanager
def running(args: list[str], env: dict[str, str] | None = None) -> Iterator[Running]:
    proc = Running(args, env or environment())
    try:
        yield proc
    finally:
        if proc.process.poll() is None:
            proc.process.kill()
            proc.process.wait(5)


def ports_of(proc: Running) -> dict[str, int]:
    found = proc.wait_for(r"^calculator listening on http://127\.0\.0\.1:(\d+) \((.*)\)$")
    ports = {"calculator": int(found.group(1))}
    for role, port in re.findall(r"(\w+)=http://127\.0\.0\.1:(\d+)", found.group(2)):
        ports[role] = int(port)
    return ports


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_all_starts_answers_and_stops_cleanly(signum: int) -> None:
    with running(["all", "--base-port", "0"]) as proc:
        ports = ports_of(proc)
        assert set(ports) == {"calculator", "sum", "sub", "mul", "div"}
        assert call(ports["calculator"], "(5+6)*2").text == "result = 22"
        assert call(ports["mul"], "12 3").text == "36"
        assert call(ports["div"], "15 5").text == "3"
        assert proc.stop(signum) == 0
        lines = proc.drain()
    access = [line for line in lines if '"POST /"' in line]
    assert any(" calculator " in line and " 200 " in line for line in access)
    assert any(" mul " in line for line in access)
    assert "stopping" in lines


def test_serve_configured_by_environment_only() -> None:
    port = unused_port()
    env = environment(CALC_ROLE="sum", CALC_PORT=str(port), CALC_HOST="127.0.0.1")
    with running(["serve"], env) as proc:
        proc.wait_for(rf"^sum listening on http://127\.0\.0\.1:{port}$")
        assert call(port, "2 3").text == "5"
        check = subprocess.run(
            [sys.executable, "-m", "calculator", "healthcheck"],
            env=env,
            capture_output=True,
            text=True,
            timeout=20,
        )
        assert check.returncode == 0, check.stderr
        assert proc.stop() == 0
    check = subprocess.run(
        [sys.executable, "-m", "calculator", "healthcheck", "--timeout", "1"],
        env=env,
        capture_output=True,
        text=True,
        timeout=20,
    )
    assert check.returncode == 1
    assert "unhealthy" in check.stderr


def test_front_end_takes_operator_urls_from_environment() -> None:
    with running(["all", "--base-port", "0"]) as operators:
        ports = ports_of(operators)
        port = unused_port()
        env = environment(
            CALC_PORT=str(port),
            CALC_TIMEOUT="2",
            **{f"CALC_{op.upper()}_URL": f"http://127.0.0.1:{ports[op]}" for op in ports},
        )
        with running(["serve", "calculator"], env) as front:
            front.wait_for(rf"^calculator listening on http://127\.0\.0\.1:{port} ")
            assert call(port, "(1+2)*(7-3)/2").text == "result = 6"
            health = call(port, method="GET", path="/healthz", body=None)
            assert health.status == 200
            assert front.stop() == 0
        assert operators.stop() == 0


def test_front_end_flags_override_environment() -> None:
    with running(["all", "--base-port", "0"]) as operators:
        ports = ports_of(operators)
        port = unused_port()
        env = environment(CALC_SUM_URL=f"http://127.0.0.1:{unused_port()}")
        args = ["serve", "calculator", "--port", str(port)]
        args += ["--sum-url", f"http://127.0.0.1:{ports['sum']}"]
        with running(args, env) as front:
            front.wait_for("calculator listening")
            assert call(port, "2+3").text == "result = 5"
            assert front.stop() == 0
        assert operators.stop() == 0


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["serve", "nope"], {}, "invalid choice"),
        (["serve"], {}, "no role given"),
        (["serve", "sum", "--port", "70000"], {}, "port out of range"),
        (["serve", "sum"], {"CALC_TIMEOUT": "soon"}, "CALC_TIMEOUT"),
        (["serve", "sum"], {"CALC_MAX_BODY": "-1"}, "CALC_MAX_BODY"),
        (["serve", "calculator", "--sum-url", "ftp://x"], {}, "http://host:port"),
        (["all", "--base-port", "70000"], {}, "--base-port"),
    ],
)
def test_bad_configuration_exits_2(args: list[str], env: dict[str, str], message: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "calculator", *args],
        env=environment(**env),
        capture_output=True,
        text=True,
        timeout=20,
    )
    assert result.returncode == 2
    assert message in result.stderr


def test_port_in_use_exits_1() -> None:
    with running(["all", "--base-port", "0"]) as proc:
        ports = ports_of(proc)
        result = subprocess.run(
            [sys.executable, "-m", "calculator", "serve", "sum", "--port", str(ports["sum"])],
            env=environment(),
            capture_output=True,
            text=True,
            timeout=20,
        )
        assert result.returncode == 1
        assert "cannot listen" in result.stderr
        assert proc.stop() == 0


def test_help_and_version() -> None:
    for args in (["--help"], ["serve", "--help"], ["all", "--help"], ["--version"]):
        result = subprocess.run(
            [sys.executable, "-m", "calculator", *args],
            env=environment(),
            capture_output=True,
            text=True,
            timeout=20,
        )
        assert result.returncode == 0
    assert "0.1.0" in result.stdout
