"""The checks runner and report, and the probes run for real on loopback.

The runner retries a failing check until its wait is over (a fake clock here); a check that
expects no answer gets one attempt; a request to an address that is not the lab's is never
sent. The probes themselves (a command, HTTP, TCP, the guest-side reach script) run against
servers this test starts on 127.0.0.1.
"""

from __future__ import annotations

import http.server
import json
import shlex
import socket
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.lab import Target, local_host
from checks import cli, report
from checks.guest import REACH_SCRIPT, reaches
from checks.model import (
    Check,
    Connect,
    Contains,
    Equals,
    Http,
    Judged,
    Observation,
    Probe,
    Run,
    Steps,
    Succeeds,
    Unreachable,
)
from checks.probes import environment, execute, guarded, lab_addresses
from checks.runner import run_check, run_checks
from tests.harness import ROOT

HOST = local_host()


class Clock:
    """A clock that moves only when the runner sleeps (or a probe takes time)."""

    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def answers(*seen: Observation) -> tuple[list[Probe], object]:
    """An executor giving ``seen`` in turn (the last one again), and the probes it got."""
    probes: list[Probe] = []

    def execute(probe: Probe) -> Observation:
        probes.append(probe)
        return seen[min(len(probes), len(seen)) - 1]

    return probes, execute


# --- runner --------------------------------------------------------------------------------


def test_a_failing_check_is_retried_until_it_passes() -> None:
    clock = Clock()
    probes, execute = answers(
        Observation(False, "", "exit 255: ssh: connect to host 127.0.0.1 port 3022: refused"),
        Observation(False, "", "exit 255: still booting"),
        Observation(True, "master\n"),
    )
    check = Check("master answers", Run(HOST, "hostname"), Equals("master"))
    outcome = run_check(check, execute, wait=60, interval=5, clock=clock, sleep=clock.sleep)  # type: ignore[arg-type]
    assert outcome.passed and outcome.attempts == 3 and outcome.observed == "master"
    assert clock.slept == [5, 5] and outcome.seconds == 10
    assert len(probes) == 3


def test_a_check_that_keeps_failing_stops_at_the_wait_and_says_why() -> None:
    clock = Clock()
    _, execute = answers(Observation(False, "", "exit 1: cat: /shared/x: No such file"))
    check = Check("shared file", Run(HOST, "cat /shared/x"), Contains("token"))
    outcome = run_check(check, execute, wait=12, interval=5, clock=clock, sleep=clock.sleep)  # type: ignore[arg-type]
    assert not outcome.passed and outcome.attempts == 3
    assert outcome.observed == "exit 1: cat: /shared/x: No such file"
    assert "[exit 1: cat: /shared/x: No such file]" in outcome.output


@pytest.mark.parametrize(
    "expect", [Unreachable(), Equals("x")], ids=["expects no answer", "retry=False"]
)
def test_checks_that_must_not_wait_get_one_attempt(expect: Equals | Unreachable) -> None:
    clock = Clock()
    probes, execute = answers(Observation(True, "SSH-2.0-OpenSSH_9.2\r\n", "connected"))
    retry = isinstance(expect, Unreachable)
    check = Check("closed", Connect("127.0.0.1", 9), expect, retry=retry)
    outcome = run_check(check, execute, wait=300, interval=5, clock=clock, sleep=clock.sleep)  # type: ignore[arg-type]
    assert not outcome.passed and len(probes) == 1 and clock.slept == []
    if retry:
        assert outcome.observed == "answered: SSH-2.0-OpenSSH_9.2"


def test_expectations_judge_what_came_back() -> None:
    ok = Observation(True, "line one\nresult = 22\n", "HTTP 200")
    failed = Observation(False, "", "HTTP 500: division by zero")
    assert Equals("line one\nresult = 22").judge(ok) == (True, "line one")
    assert Equals("result = 22").judge(ok) == (False, "line one")
    assert Contains("result = 22").judge(ok) == (True, "result = 22")
    assert Contains("result = 23").judge(ok)[0] is False
    assert Succeeds("HTTP 200").judge(ok) == (True, "HTTP 200")
    assert Succeeds("HTTP 200").judge(failed) == (False, "HTTP 500: division by zero")
    assert Unreachable().judge(Observation(False, "", "refused")) == (True, "refused")
    assert Equals("").judge(Observation(True, "\n")) == (True, "(nothing)")
    judged = Judged("two lines", lambda text: (len(text.splitlines()) == 2, "saw it"))
    assert judged.judge(ok) == (True, "saw it") and judged.judge(failed)[0] is False


def test_a_request_outside_the_lab_is_never_sent() -> None:
    outputs = {"url": "http://203.0.113.7:50000", "sshCommand": "ssh ubuntu@203.0.113.7"}
    assert lab_addresses(outputs) == {"203.0.113.7"}
    probes, execute = answers(Observation(True, "result = 22"))
    run = guarded(execute, lab_addresses(outputs))  # type: ignore[arg-type]
    assert run(Http("http://198.51.100.9:50000", "1+1")).detail == (
        "not sent: 198.51.100.9 is not an address of the lab"
    )
    assert run(Connect("198.51.100.9", 22)).ok is False
    assert probes == []
    assert run(Http("http://203.0.113.7:50000", "1+1")).ok
    assert run(Connect("127.0.0.1", 2223)).ok  # loopback is this machine's own
    assert len(probes) == 2


def test_the_table_and_the_json_report() -> None:
    _, execute = answers(Observation(True, "result = 22\n", "HTTP 200"))
    checks = [
        Check(
            "front end computes (5+6)*2",
            Http("http://127.0.0.1:50000", "(5+6)*2"),
            Equals("result = 22"),
        ),
        Check(
            "front end computes again",
            Http("http://127.0.0.1:50000", "(5+6)*2"),
            Equals("result = 23"),
        ),
    ]
    clock = Clock()
    outcomes = run_checks(checks, execute, wait=0, clock=clock, sleep=clock.sleep)  # type: ignore[arg-type]
    lines = report.table(outcomes).splitlines()
    assert lines[0].split() == ["check", "expected", "observed", "result", "time"]
    assert lines[2].split("  ")[0] == "front end computes (5+6)*2"
    assert "result = 22" in lines[2] and lines[2].split()[-3:] == ["pass", "0.0", "s"]
    assert "FAIL" in lines[3]
    assert lines[-1] == "2 checks: 1 passed, 1 failed (0.0 s)"
    doc = report.document("dev", "dev", outcomes)
    assert doc["passed"] is False
    first = doc["checks"][0]
    assert (
        first["probe"] == "curl -sS --noproxy '*' -m 10 -d '(5+6)*2' -X POST http://127.0.0.1:50000"
    )
    assert (first["expected"], first["observed"], first["passed"]) == (
        "result = 22",
        "result = 22",
        True,
    )
    json.dumps(doc)


def test_long_texts_are_cut_in_the_table_not_in_the_json() -> None:
    long = "x" * 200
    _, execute = answers(Observation(True, long))
    outcomes = run_checks([Check(long, Run(HOST, "true"), Equals(long))], execute, wait=0)  # type: ignore[arg-type]
    row = report.table(outcomes).splitlines()[2]
    assert len(row) < 160 and "…" in row
    assert report.document("s", "l", outcomes)["checks"][0]["name"] == long


# --- probes for real, on loopback ---------------------------------------------------------


def test_a_command_its_output_its_failure_and_its_timeout() -> None:
    assert execute(Run(HOST, "echo hello")) == Observation(True, "hello\n", "")
    failed = execute(Run(HOST, "echo oops >&2; exit 3"))
    assert not failed.ok and failed.detail == "exit 3: oops"
    slow = execute(Run(HOST, "sleep 5", timeout=0.5))
    assert not slow.ok and slow.detail == "no answer within 0.5 s"


def test_steps_stop_at_the_first_failure(tmp_path: Path) -> None:
    path = shlex.quote(str(tmp_path / "f"))
    ok = execute(Steps((Run(HOST, f"echo t0k > {path}"), Run(HOST, f"cat {path} && rm {path}"))))
    assert ok == Observation(True, "t0k\n", "")
    again = execute(Steps((Run(HOST, f"cat {path}"), Run(HOST, "echo never"))))
    assert not again.ok and again.detail.startswith("step 1 (host): exit 1: cat:")


def test_commands_get_no_proxy_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("http_proxy", "http://proxy.invalid:3128")
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.invalid:3128")
    assert "http_proxy" not in environment() and "HTTPS_PROXY" not in environment()
    seen = execute(Run(HOST, 'echo "${http_proxy-unset} ${HTTPS_PROXY-unset}"'))
    assert seen.text == "unset unset\n"


@pytest.fixture
def calculator_like() -> Iterator[str]:
    """An HTTP server on loopback answering POST like the front end, 500 on ``/fail``."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            status = 500 if self.path == "/fail" else 200
            text = b"division by zero\n" if status == 500 else b"result = " + body + b"\n"
            self.send_response(status)
            self.send_header("Content-Length", str(len(text)))
            self.end_headers()
            self.wfile.write(text)

        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", "3")
            self.end_headers()
            self.wfile.write(b"ok\n")

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_http_post_get_and_errors(calculator_like: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("http_proxy", "http://proxy.invalid:3128")  # must not be used
    assert execute(Http(calculator_like, "22")) == Observation(True, "result = 22\n", "HTTP 200")
    assert execute(Http(calculator_like + "/")) == Observation(True, "ok\n", "HTTP 200")
    failed = execute(Http(calculator_like + "/fail", "1/0"))
    assert not failed.ok and failed.detail == "HTTP 500: division by zero"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_connect_reads_the_banner_or_sees_the_port_closed() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        port = server.getsockname()[1]

        def greet() -> None:
            conn, _ = server.accept()
            conn.sendall(b"SSH-2.0-OpenSSH_9.2p1 Debian\r\n")
            conn.close()

        threading.Thread(target=greet, daemon=True).start()
        seen = execute(Connect("127.0.0.1", port))
    assert seen.ok and seen.text.startswith("SSH-2.0-OpenSSH_9.2p1")
    closed = execute(Connect("127.0.0.1", free_port(), timeout=2))
    assert closed == Observation(False, "", "refused")
    assert Unreachable().judge(closed) == (True, "refused")


def test_the_reach_script_gets_an_echo_reply_on_loopback() -> None:
    """Without ping (not installed here), the script's python3 raw socket answers (as root)."""
    check = reaches(HOST, "127.0.0.1", "loopback")
    assert check.probe.describe() == "sh -c 'sh -s -- 127.0.0.1' < scripts/checks/reach.sh"
    seen = execute(check.probe)
    assert check.expect.judge(seen)[0], seen
    # The same script by hand, as the report prints it:
    by_hand = subprocess.run(
        ["sh", "-c", check.probe.describe()], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert by_hand.stdout.startswith("echo reply from 127.0.0.1"), by_hand.stderr
    assert (ROOT / "scripts" / REACH_SCRIPT).is_file()


# --- the command line ----------------------------------------------------------------------


DEV_OUTPUTS = {
    "url": "http://127.0.0.1:50000",
    "curlCommand": 'curl -d "(5+6)*2" -X POST http://127.0.0.1:50000',
    "network": "cloudlabs-dev",
    "containers": {r: f"cloudlabs-dev-{r}" for r in ("calculator", "sum", "sub", "mul", "div")},
}


def test_list_prints_every_probe_and_runs_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    outputs = tmp_path / "outputs.json"
    outputs.write_text(json.dumps(DEV_OUTPUTS))
    monkeypatch.setattr(cli, "execute", lambda probe: pytest.fail(f"ran {probe}"))
    assert cli.main(["dev", "--outputs", str(outputs), "--list"]) == 0
    text = capsys.readouterr().out
    assert "front end computes (5+6)*2 (http://127.0.0.1:50000)" in text
    assert "probe:   sh -c 'docker port cloudlabs-dev-sum'" in text


def test_exit_status_and_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    outputs = tmp_path / "outputs.json"
    outputs.write_text(json.dumps(DEV_OUTPUTS))

    def fake(probe: Probe) -> Observation:
        if isinstance(probe, Http):
            return Observation(True, "result = 22\n", "HTTP 200")
        assert isinstance(probe, Run)
        if "docker port cloudlabs-dev-calculator" in probe.command:
            return Observation(True, "50000/tcp -> 127.0.0.1:50000\n")
        if "docker port" in probe.command:
            return Observation(True, "")
        body = shlex.split(probe.command)[-1]
        return Observation(True, {"2 3": "5\n", "5 3": "2\n", "12 3": "36\n", "15 5": "3\n"}[body])

    monkeypatch.setattr(cli, "execute", fake)
    assert cli.main(["dev", "--outputs", str(outputs), "--json", "--wait", "0"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["passed"] and len(doc["checks"]) == 10
    monkeypatch.setattr(
        cli, "execute", lambda probe: Observation(False, "", "exit 1: no such container")
    )
    assert cli.main(["dev", "--outputs", str(outputs), "--wait", "0"]) == 1
    out = capsys.readouterr().out
    assert out.splitlines()[-1] == "10 checks: 0 passed, 10 failed (0.0 s)"


def test_a_wrong_config_or_missing_output_stops_with_status_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "Pulumi.x.yaml"
    config.write_text("config:\n  cloud-labs:lab: dev\n  cloud-labs:publish:\n    hostPort: 0\n")
    outputs = tmp_path / "outputs.json"
    outputs.write_text(json.dumps(DEV_OUTPUTS))
    assert cli.main(["x", "--config", str(config), "--outputs", str(outputs)]) == 2
    assert "publish.hostPort" in capsys.readouterr().err
    outputs.write_text(json.dumps({"url": "http://127.0.0.1:50000"}))
    assert cli.main(["dev", "--outputs", str(outputs), "--list"]) == 2
    assert "containers" in capsys.readouterr().err


def test_identity_and_ssh_options_reach_every_ssh() -> None:
    from checks.guest import reach

    outputs = {"sshCommands": {"lab-vm": "ssh -p 2222 ubuntu@127.0.0.1"}}
    machines = reach("vbox-nat", outputs, {}, ssh_options=["-i", "/k", "-o", "LogLevel=ERROR"])
    target = machines.guest("lab-vm")
    assert target.argv[:5] == ("ssh", "-i", "/k", "-o", "LogLevel=ERROR")
    assert target.argv[-3:] == ("-p", "2222", "ubuntu@127.0.0.1")
    assert machines.ssh("x", "ssh ubuntu@127.0.0.1").argv[:3] == ("ssh", "-i", "/k")
    with pytest.raises(KeyError, match="reached: lab-vm"):
        machines.guest("lab-vm-clone")
    assert machines.host == Target("host", "host", ("sh", "-c"))
