"""The load-balancer experiment of the cluster lab, for real, on loopback.

The nginx and Redis configuration are the ones the shipped ``vbox-cluster`` stack puts into
master's and node01's cloud-init user-data, with the lab addresses remapped to loopback ports;
three instances of the counter app run behind nginx, with and without a real redis-server.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from apps.counter.counter import Redis
from tests import post_load
from tests.check_run import run_check_sh
from tests.fakes.vbox_runner import free_port_block
from tests.harness import ROOT, load_stack_file, run_stack_file
from tests.validators import require

pytestmark = pytest.mark.integration

COUNTER = ROOT / "apps" / "counter" / "counter.py"
UNIT = "/etc/systemd/system/counter.service"


def guest_files(hostname: str) -> dict[str, str]:
    run = run_stack_file("vbox-cluster")
    seed = next(r for r in run.resources if r.name == f"{hostname}-seed-iso")
    doc = yaml.safe_load(seed.inputs["environment"]["SEED_USER_DATA"])
    return {f["path"]: f["content"] for f in doc["write_files"]}


def wait_port(
    port: int, proc: subprocess.Popen[Any], timeout: float = 20, host: str = "127.0.0.1"
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"{proc.args} exited with {proc.returncode}"
        try:
            socket.create_connection((host, port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


class Lab:
    """nginx + counters (+ redis) on loopback; every process is stopped at the end."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.procs: list[subprocess.Popen[Any]] = []
        base, held = free_port_block(6)
        for sock in held:
            sock.close()
        self.lb_port, self.redis_port = base, base + 1
        self.app_ports = [base + 2, base + 3, base + 4]
        self.app_hosts = ["127.0.0.1"] * 3
        """Where each instance listens (and the address its answers name)."""
        self.counters: list[subprocess.Popen[Any]] = []

    def spawn(self, args: list[str], env: dict[str, str] | None = None) -> subprocess.Popen[Any]:
        log = open(self.tmp / f"proc-{len(self.procs)}.log", "w")  # noqa: SIM115
        proc = subprocess.Popen(
            args, env={**os.environ, **(env or {})}, stdout=log, stderr=subprocess.STDOUT
        )
        self.procs.append(proc)
        return proc

    def start_redis(self) -> None:
        rendered = guest_files("node01")["/etc/redis/cloudlabs.conf"]
        conf = re.sub(r"(?m)^bind .*$", "bind 127.0.0.1", rendered)
        conf = re.sub(r"(?m)^port .*$", f"port {self.redis_port}", conf)
        assert conf != rendered
        path = self.tmp / "redis.conf"
        path.write_text(conf + f'save ""\nappendonly no\ndir {self.tmp}\n')
        wait_port(self.redis_port, self.spawn([require("redis-server"), str(path)]))

    def start_counters(self, redis: bool) -> None:
        self.stop(self.counters)
        self.counters = []
        for host, port in zip(self.app_hosts, self.app_ports, strict=True):
            env = {"COUNTER_HOST": host, "COUNTER_PORT": str(port)}
            if redis:
                env |= {
                    "COUNTER_REDIS_HOST": "127.0.0.1",
                    "COUNTER_REDIS_PORT": str(self.redis_port),
                }
            proc = self.spawn([sys.executable, str(COUNTER)], env)
            wait_port(port, proc, host=host)
            self.counters.append(proc)

    def start_nginx(self) -> None:
        rendered = guest_files("master")["/etc/nginx/conf.d/load-balancer.conf"]
        servers = re.findall(r"server (192\.168\.56\.\d+):5001", rendered)
        assert servers == ["192.168.56.2", "192.168.56.3", "192.168.56.4"], rendered
        conf = rendered
        for address, host, port in zip(servers, self.app_hosts, self.app_ports, strict=True):
            conf = conf.replace(f"server {address}:5001", f"server {host}:{port}")
        conf = conf.replace("listen 80;", f"listen 127.0.0.1:{self.lb_port};")
        assert "192.168.56" not in conf and f"listen 127.0.0.1:{self.lb_port};" in conf
        (self.tmp / "lb.conf").write_text(conf)
        t = self.tmp
        (t / "nginx.conf").write_text(
            f"worker_processes 1;\npid {t}/nginx.pid;\nerror_log {t}/error.log;\n"
            "events { worker_connections 8192; }\n"
            f"http {{\n access_log off;\n client_body_temp_path {t}/body;\n"
            f" proxy_temp_path {t}/proxy;\n fastcgi_temp_path {t}/fcgi;\n"
            f" uwsgi_temp_path {t}/uwsgi;\n scgi_temp_path {t}/scgi;\n"
            f" include {t}/lb.conf;\n}}\n"
        )
        nginx = require("nginx")
        check = subprocess.run(
            [nginx, "-t", "-p", str(t), "-c", str(t / "nginx.conf")],
            capture_output=True,
            text=True,
        )
        assert check.returncode == 0, check.stderr
        proc = self.spawn([nginx, "-p", str(t), "-c", str(t / "nginx.conf"), "-g", "daemon off;"])
        wait_port(self.lb_port, proc)

    @staticmethod
    def stop(procs: list[subprocess.Popen[Any]]) -> None:
        for proc in procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)

    def close(self) -> None:
        self.stop(list(reversed(self.procs)))

    def count(self, port: int) -> int:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            sock.sendall(b"GET /count HTTP/1.0\r\n\r\n")
            data = b""
            while chunk := sock.recv(4096):
                data += chunk
        return int(data.split(b"\r\n\r\n", 1)[1])


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[Lab]:
    lab = Lab(tmp_path)
    try:
        yield lab
    finally:
        lab.close()


def posts(
    port: int, total: int, concurrency: int, kill: subprocess.Popen[Any] | None = None
) -> list[tuple[int, str]]:
    """``total`` POSTs to the balancer on loopback; with ``kill``, that instance dies abruptly
    once a quarter of the requests are answered."""
    at_quarter = (lambda: kill.send_signal(signal.SIGKILL)) if kill is not None else None
    return post_load.posts("127.0.0.1", port, total, concurrency, at_quarter=at_quarter)


COUNT_RE = re.compile(r"has processed (\d+) requests")


def test_without_redis_each_instance_counts_only_its_own_requests(lab: Lab) -> None:
    lab.start_counters(redis=False)
    lab.start_nginx()
    answers = posts(lab.lb_port, 300, 30)
    assert {status for status, _ in answers} == {200}
    per_instance = [lab.count(port) for port in lab.app_ports]
    assert sum(per_instance) == 300
    assert all(0 < n < 300 for n in per_instance), per_instance  # round robin over all three
    reported = [int(COUNT_RE.search(body).group(1)) for _, body in answers]  # type: ignore[union-attr]
    assert max(reported) < 300, "no instance saw every request"
    assert len(reported) > len(set(reported)), "the same count is reported by several instances"


def test_with_redis_2000_concurrent_posts_count_exactly_2000(lab: Lab) -> None:
    lab.start_redis()
    lab.start_counters(redis=True)
    lab.start_nginx()
    answers = posts(lab.lb_port, 2000, 500)
    assert [s for s, _ in answers if s != 200] == []
    reported = sorted(int(COUNT_RE.search(b).group(1)) for _, b in answers)  # type: ignore[union-attr]
    assert reported == list(range(1, 2001)), "each request got its own count"
    assert [lab.count(port) for port in lab.app_ports] == [2000, 2000, 2000]
    assert Redis("127.0.0.1", lab.redis_port).command("GET", "counter") == "2000"


def test_with_redis_killing_an_instance_mid_run_loses_no_request(lab: Lab) -> None:
    lab.start_redis()
    lab.start_counters(redis=True)
    lab.start_nginx()
    victim = lab.counters[1]
    answers = posts(lab.lb_port, 2000, 500, kill=victim)
    assert victim.poll() is not None, "the instance was stopped during the run"
    assert [s for s, _ in answers if s != 200] == [], "nginx retried on the other instances"
    assert Redis("127.0.0.1", lab.redis_port).command("GET", "counter") == "2000"
    survivors = [p for i, p in enumerate(lab.app_ports) if i != 1]
    assert [lab.count(port) for port in survivors] == [2000, 2000]
    reported = sorted(int(COUNT_RE.search(b).group(1)) for _, b in answers)  # type: ignore[union-attr]
    assert reported == list(range(1, 2001)), "a retried request answered another's count"


def test_with_redis_stopping_an_instance_mid_run_cuts_no_answer(lab: Lab) -> None:
    """``systemctl stop`` (SIGTERM) during the run: the instance finishes what it started, so
    every answer carries its own count; nginx retries the rest on the other instances."""
    lab.start_redis()
    lab.start_counters(redis=True)
    lab.start_nginx()
    victim = lab.counters[1]
    at_quarter = lambda: victim.send_signal(signal.SIGTERM)  # noqa: E731
    answers = post_load.posts("127.0.0.1", lab.lb_port, 2000, 100, at_quarter=at_quarter)
    assert victim.wait(timeout=30) == 0, "the instance stopped cleanly"
    assert [s for s, _ in answers if s != 200] == []
    found = [COUNT_RE.search(b) for _, b in answers]
    assert all(found), [b for (_, b), m in zip(answers, found, strict=True) if not m][:3]
    assert sorted(int(m.group(1)) for m in found if m) == list(range(1, 2001))
    assert Redis("127.0.0.1", lab.redis_port).command("GET", "counter") == "2000"


def post_with_id(port: int, request_id: str) -> str:
    """POST / straight to one instance with ``X-Request-Id`` (as nginx forwards it): the body."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(
            b"POST / HTTP/1.0\r\nContent-Length: 0\r\nX-Request-Id: "
            + request_id.encode()
            + b"\r\n\r\n"
        )
        data = b""
        while chunk := sock.recv(4096):
            data += chunk
    return data.split(b"\r\n\r\n", 1)[1].decode()


def test_a_retried_request_answers_its_own_count_on_any_instance(lab: Lab) -> None:
    """nginx retries a request that timed out on a slow node on the next one, with the same
    id: the retry counts nothing and answers the count the request got, not the current one."""
    lab.start_redis()
    lab.start_counters(redis=True)
    first, second = lab.app_ports[0], lab.app_ports[1]
    answered = COUNT_RE.search(post_with_id(first, "req-a"))
    assert answered is not None and answered.group(1) == "1"
    assert COUNT_RE.search(post_with_id(second, "req-b")).group(1) == "2"  # type: ignore[union-attr]
    retried = COUNT_RE.search(post_with_id(second, "req-a"))
    assert retried is not None and retried.group(1) == "1", "the retry got the current count"
    assert [lab.count(port) for port in lab.app_ports] == [2, 2, 2]


def test_the_cluster_s_balancer_check_on_the_real_balancer(lab: Lab, tmp_path: Path) -> None:
    """scripts/check.sh's load-balancer check, as vbox-cluster declares it, against nginx,
    three counters and Redis on loopback: the shipped config with the lab network moved to
    127.0.0.0/24 (nodes 127.0.0.2-4, each counter naming itself by its address), the `curl`
    output pointed at the balancer."""
    lab.app_hosts = ["127.0.0.2", "127.0.0.3", "127.0.0.4"]
    lab.start_redis()
    lab.start_counters(redis=True)
    lab.start_nginx()
    config = load_stack_file("vbox-cluster")
    config["cloud-labs:network"] = {
        **config["cloud-labs:network"],
        "cidr": "127.0.0.0/24",
        "masterIp": "127.0.0.1",
        "dhcpRange": {"start": "127.0.0.2", "end": "127.0.0.199"},
    }
    outputs = dict(run_stack_file("vbox-cluster").outputs)
    outputs["curl"] = f"curl -sS -X POST http://127.0.0.1:{lab.lb_port}"
    only = ["--only", "load balancer", "--wait", "0"]
    checked = run_check_sh("vbox-cluster", config, outputs, tmp_path, *only)
    assert checked.status == 0, checked.summary()
    (result,) = checked.report["checks"]
    assert result["name"] == "load balancer spreads 12 requests over every node"
    assert result["observed"].startswith("12 answers from 127.0.0.2, 127.0.0.3, 127.0.0.4; counts")
    # One instance down: nginx answers every request from the other two; the check says so.
    lab.counters[2].terminate()
    lab.counters[2].wait(timeout=10)
    down = run_check_sh("vbox-cluster", config, outputs, tmp_path, *only)
    assert down.status == 1, down.summary()
    assert "12 answers from 127.0.0.2, 127.0.0.3;" in down.report["checks"][0]["observed"]


NODE_SCRIPT = r"""
set -euo pipefail
mount --bind "$HOSTS" /etc/hosts
hostname node01
ip link set lo up
ip addr add "$ADDRESS/24" dev lo
"$PYTHON" "$COUNTER" &
trap 'kill $!' EXIT
"$PYTHON" -c '
import os, socket, time
for _ in range(200):
    try:
        sock = socket.create_connection((os.environ["ADDRESS"], int(os.environ["COUNTER_PORT"])), 1)
        break
    except OSError:
        time.sleep(0.05)
sock.sendall(b"POST / HTTP/1.0\r\nContent-Length: 0\r\n\r\n")
data = b""
while chunk := sock.recv(4096):
    data += chunk
print(data.split(b"\r\n\r\n", 1)[1].decode(), end="")
'
"""


def test_a_node_names_itself_by_its_lab_address(tmp_path: Path) -> None:
    """node01 as its user-data sets it up (its /etc/hosts, host name, the unit's listen address
    and port), in network, mount and host-name namespaces of its own."""
    files = guest_files("node01")
    hosts = tmp_path / "hosts"
    hosts.write_text(files["/etc/hosts"])
    unit = dict(
        re.findall(r'^Environment="(COUNTER_(?:HOST|PORT))=(.*)"$', files[UNIT], re.MULTILINE)
    )
    assert unit["COUNTER_HOST"] == "0.0.0.0", unit
    result = subprocess.run(
        [require("unshare"), "--net", "--mount", "--uts", "bash", "-c", NODE_SCRIPT],
        env={
            **os.environ,
            **unit,
            "HOSTS": str(hosts),
            "ADDRESS": "192.168.56.2",
            "PYTHON": sys.executable,
            "COUNTER": str(COUNTER),
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "Server (IP: 192.168.56.2) has processed 1 requests!\n"
