"""Benchmark of the calculator services on this machine (loopback only, bounded).

Starts the five services as subprocesses on free 127.0.0.1 ports and prints:

1. single-hop throughput: the ``mul`` operator alone, N concurrent keep-alive clients;
2. front-end throughput for ``(5+6)*2`` (two operator calls per request), same clients;
3. latency of a balanced 15-operation expression (depth 4) against a single operation,
   one request at a time;
4. abandonment: ``--abusers`` clients each send a 999-operation expression and hang up at
   once, while one client keeps asking ``(5+6)*2``: how long the operators go on receiving
   the abandoned work after the last hang-up, and the latency of the unrelated requests.

Throughput runs alternate (operator, front end) for ``--rounds`` rounds and the best round of
each is reported, which filters out noise from other work on the machine; the CPU time each
process spent per request is shown too. Latency samples of the two expressions alternate.

Usage: python bench.py [--clients 32] [--seconds 2] [--rounds 5] [--latency-requests 300]
                       [--abusers 300] [--only throughput|latency|abandonment]
Every load loop stops after ``--seconds`` or ``--max-requests``, whichever comes first; the
abandonment run stops once no abandoned call has come for two seconds and no service has
been busy for one, after 60 s at most. ``CALC_*`` variables apply to the services started.
"""

from __future__ import annotations

import argparse
import asyncio
import calendar
import os
import platform
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROLES = ("calculator", "sum", "sub", "mul", "div")
SINGLE = "6*7"
SINGLE_RESULT = "result = 42"
FRONT = "(5+6)*2"
BALANCED = "(((1+2)*(3+4))+((5-6)*(7+8)))*(((9+10)-(11*12))+((13+14)/(15+16)))"
BALANCED_RESULT = "result = -20856/31"
# 500 independent products, then a chain of 499 sums: 999 calls to the two operators that
# (5+6)*2 needs as well.
ABUSIVE = "+".join(["(9*1)"] * 500)
ABUSIVE_CALLS = 999
LOGGED = ("sum", "mul")  # whose access logs are read


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start(role: str, port: int, urls: dict[str, str]) -> subprocess.Popen[bytes]:
    """One service (settings from ``CALC_*`` variables apply); the access log of LOGGED
    services is read."""
    env = dict(os.environ, PYTHONPATH=str(HERE / "src"), CALC_ACCESS_LOG="1")
    for name, url in urls.items():
        env[f"CALC_{name.upper()}_URL"] = url
    command = [sys.executable, "-m", "calculator", "serve", role, "--port", str(port)]
    stderr = subprocess.PIPE if role in LOGGED else subprocess.DEVNULL
    return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=stderr)


class AccessLog:
    """Wall-clock times of the requests a service logged (read from its stderr by a thread)."""

    def __init__(self, process: subprocess.Popen[bytes]) -> None:
        assert process.stderr is not None
        self.stream = process.stderr
        self.times: list[float] = []
        self.lock = threading.Lock()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.stream:
            # 2025-01-01T12:00:00.123Z sum 127.0.0.1:53836 "POST /" 200 11B 1.94ms
            stamp = line[:24].decode("ascii", "replace")
            try:
                fields = [int(stamp[a:b]) for a, b in ((0, 4), (5, 7), (8, 10), (11, 13))]
                fields += [int(stamp[14:16]), int(stamp[17:19])]
                millis = int(stamp[20:23])
            except ValueError:
                continue  # not an access-log line
            seconds = calendar.timegm((*fields, 0, 0, 0))
            with self.lock:
                self.times.append(seconds + millis / 1000)

    def snapshot(self) -> list[float]:
        with self.lock:
            return list(self.times)


def wait_ready(port: int, deadline: float = 10.0) -> None:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"service on port {port} did not start")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (0 where /proc is not available)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def own_cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system


def request_bytes(port: int, body: str) -> bytes:
    data = body.encode()
    head = f"POST / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: {len(data)}\r\n\r\n"
    return head.encode() + data


class Client(asyncio.Protocol):
    """One keep-alive connection sending the same request again and again."""

    def __init__(self, payload: bytes, expected: bytes, stop_at: float, budget: list[int]):
        self.payload = payload
        self.expected = expected
        self.stop_at = stop_at
        self.budget = budget
        self.buf = bytearray()
        self.done: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self.count = 0
        self.errors = 0
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.send()

    def send(self) -> None:
        assert self.transport is not None
        if time.monotonic() >= self.stop_at or self.budget[0] <= 0:
            self.transport.close()
            if not self.done.done():
                self.done.set_result(self.count)
            return
        self.budget[0] -= 1
        self.transport.write(self.payload)

    def data_received(self, data: bytes) -> None:
        self.buf += data
        end = self.buf.find(b"\r\n\r\n")
        if end < 0:
            return
        head = bytes(self.buf[:end]).lower()
        index = head.find(b"content-length:")
        length = int(head[index + 15 :].split(b"\r\n", 1)[0]) if index >= 0 else 0
        if len(self.buf) < end + 4 + length:
            return
        body = bytes(self.buf[end + 4 : end + 4 + length])
        del self.buf[: end + 4 + length]
        if not head.startswith(b"http/1.1 200") or body != self.expected:
            self.errors += 1
        self.count += 1
        self.send()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.done.done():
            self.done.set_result(self.count)


async def load(
    port: int, body: str, expected: str, clients: int, seconds: float, max_requests: int
) -> tuple[int, float, int]:
    """(requests answered, elapsed seconds, errors) for ``clients`` keep-alive connections."""
    loop = asyncio.get_running_loop()
    payload = request_bytes(port, body)
    budget = [max_requests]
    start = time.perf_counter()
    stop_at = time.monotonic() + seconds
    protocols = []
    for _ in range(clients):
        _, protocol = await loop.create_connection(
            lambda: Client(payload, expected.encode(), stop_at, budget), "127.0.0.1", port
        )
        protocols.append(protocol)
    await asyncio.gather(*(p.done for p in protocols))
    elapsed = time.perf_counter() - start
    return sum(p.count for p in protocols), elapsed, sum(p.errors for p in protocols)


class Result:
    def __init__(self, name: str) -> None:
        self.name = name
        self.rates: list[float] = []
        self.cpu: list[dict[str, float]] = []
        self.errors = 0


def throughput_round(
    result: Result,
    port: int,
    body: str,
    expected: str,
    args: argparse.Namespace,
    processes: dict[str, subprocess.Popen[bytes]],
) -> None:
    before = {role: cpu_seconds(proc.pid) for role, proc in processes.items()}
    before["client"] = own_cpu_seconds()
    count, elapsed, errors = asyncio.run(
        load(port, body, expected, args.clients, args.seconds, args.max_requests)
    )
    after = {role: cpu_seconds(proc.pid) for role, proc in processes.items()}
    after["client"] = own_cpu_seconds()
    result.rates.append(count / elapsed)
    result.errors += errors
    result.cpu.append({role: (after[role] - before[role]) / max(count, 1) * 1e6 for role in after})


def latency(port: int, count: int) -> tuple[list[float], list[float]]:
    """Alternating one-at-a-time requests: (single-operation samples, balanced samples)."""
    samples: dict[str, list[float]] = {SINGLE: [], BALANCED: []}
    expected = {SINGLE: SINGLE_RESULT, BALANCED: BALANCED_RESULT}
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for index in range(2 * (count + 20)):
            body = SINGLE if index % 2 == 0 else BALANCED
            payload = request_bytes(port, body)
            t0 = time.perf_counter()
            sock.sendall(payload)
            data = b""
            while b"\r\n\r\n" not in data:
                data += sock.recv(65536)
            head, _, answer = data.partition(b"\r\n\r\n")
            length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
            while len(answer) < length:
                answer += sock.recv(65536)
            elapsed = time.perf_counter() - t0
            if answer.decode() != expected[body]:
                raise RuntimeError(f"unexpected answer {answer!r} for {body}")
            if index >= 40:  # warm-up excluded
                samples[body].append(elapsed)
    return samples[SINGLE], samples[BALANCED]


def throughput(
    args: argparse.Namespace, ports: dict[str, int], processes: dict[str, subprocess.Popen[bytes]]
) -> bool:
    """Measurements 1 and 2; whether the target was met (and no answer was wrong)."""
    print(
        f"load: {args.clients} keep-alive connections, {args.rounds} rounds of "
        f"{args.seconds:g} s per measurement, best round reported"
    )
    single_hop = Result("single-hop mul operator")
    front_end = Result(f"front end {FRONT!r}")
    for _ in range(args.rounds):
        throughput_round(single_hop, ports["mul"], "6 7", "42", args, processes)
        throughput_round(front_end, ports["calculator"], FRONT, "result = 22", args, processes)
    for result in (single_hop, front_end):
        best = max(range(len(result.rates)), key=result.rates.__getitem__)
        cpu = ", ".join(
            f"{role} {value:.0f}" for role, value in result.cpu[best].items() if value >= 1
        )
        rounds = " ".join(f"{rate:.0f}" for rate in result.rates)
        print(
            f"{result.name:26}: {result.rates[best]:7.0f} req/s best "
            f"(rounds: {rounds}; errors: {result.errors})"
        )
        print(f"{'':26}  CPU us per request: {cpu}")
    op_rate, fe_rate = max(single_hop.rates), max(front_end.rates)
    print(f"front end / single hop    : {fe_rate / op_rate:.2f} (target >= 0.33)")
    op_cpu = min(sum(cpu.values()) for cpu in single_hop.cpu)
    fe_cpu = min(sum(cpu.values()) for cpu in front_end.cpu)
    print(
        f"same, per CPU second      : {op_cpu / fe_cpu:.2f} "
        f"(all processes, client included: {op_cpu:.0f} vs {fe_cpu:.0f} us per request)"
    )
    return fe_rate >= op_rate / 3 and not single_hop.errors + front_end.errors


def latency_ratio(port: int, count: int) -> bool:
    """Measurement 3; whether the target was met."""
    single, balanced = latency(port, count)
    s_med, b_med = statistics.median(single), statistics.median(balanced)
    s_p90 = statistics.quantiles(single, n=10)[-1]
    b_p90 = statistics.quantiles(balanced, n=10)[-1]
    print(f"latency, 1 operation      : median {s_med * 1e3:.3f} ms, p90 {s_p90 * 1e3:.3f} ms")
    print(f"latency, 15 ops (depth 4) : median {b_med * 1e3:.3f} ms, p90 {b_p90 * 1e3:.3f} ms")
    print(f"15 ops / 1 op             : {b_med / s_med:.2f} (target <= 5)")
    return b_med <= 5 * s_med


def exchange(sock: socket.socket, payload: bytes) -> tuple[int, bytes]:
    """Send one request on a keep-alive socket; (status, body) of its answer."""
    sock.sendall(payload)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("connection closed")
        data += chunk
    head, _, answer = data.partition(b"\r\n\r\n")
    length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
    while len(answer) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("connection closed")
        answer += chunk
    return int(head[9:12]), answer


class Prober:
    """A thread asking ``(5+6)*2`` one request at a time: (start, seconds, ok) samples."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.samples: list[tuple[float, float, bool]] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        payload = request_bytes(self.port, FRONT)
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=60)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            while not self.stop.is_set():
                t0 = time.perf_counter()
                started = time.time()
                try:
                    status, body = exchange(sock, payload)
                except OSError:
                    sock.close()
                    sock = socket.create_connection(("127.0.0.1", self.port), timeout=60)
                    status, body = 0, b""
                ok = status == 200 and body == b"result = 22"
                self.samples.append((started, time.perf_counter() - t0, ok))
                time.sleep(0.005)
        finally:
            sock.close()


def describe(samples: list[float]) -> str:
    if not samples:
        return "no samples"
    ordered = sorted(samples)
    p90 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.9))]
    return (
        f"median {statistics.median(ordered) * 1e3:.1f} ms, p90 {p90 * 1e3:.1f} ms, "
        f"max {ordered[-1] * 1e3:.1f} ms"
    )


def abandonment(
    port: int, logs: list[AccessLog], processes: dict[str, subprocess.Popen[bytes]], abusers: int
) -> None:
    """``abusers`` clients send ABUSIVE and close at once, while a Prober keeps asking.

    Abandoned work is told from the prober's by counting: the LOGGED operators' access-log
    lines, less two per answered prober request, in 100 ms bins (so within a few calls)."""
    print(
        f"abandonment: {abusers} clients each send a {ABUSIVE_CALLS}-operation expression "
        f"({len(ABUSIVE)} bytes, sum and mul calls) and hang up; one client meanwhile asks "
        f"{FRONT!r}, one request at a time"
    )
    prober = Prober(port)
    time.sleep(1.0)  # undisturbed samples first
    storm = time.time()
    cpu_before = {role: cpu_seconds(proc.pid) for role, proc in processes.items()}
    payload = request_bytes(port, ABUSIVE)
    for _ in range(abusers):
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(payload)
    hung_up = time.time()
    # Until no abandoned call for two seconds and no service busier than 20% of a CPU for
    # one (the prober alone takes a few percent); 60 s at most.
    cpu_seen = [(storm, cpu_before)]
    while time.time() - hung_up < 60:
        time.sleep(0.5)
        now = time.time()
        cpu_seen.append((now, {role: cpu_seconds(proc.pid) for role, proc in processes.items()}))
        then, old = next((t, c) for t, c in reversed(cpu_seen) if now - t >= 1.0 or t == storm)
        idle = all(cpu_seen[-1][1][role] - old[role] < 0.2 * (now - then) for role in old)
        busy = [
            i for i, count in excess_calls(logs, prober.samples[:], storm).items() if count >= 10
        ]
        if idle and now - (storm + 0.1 * (max(busy, default=0) + 1)) > 2.0:
            break
    prober.stop.set()
    prober.thread.join(70)
    cpu = {role: cpu_seconds(proc.pid) - cpu_before[role] for role, proc in processes.items()}
    time.sleep(0.2)  # the last access-log lines
    bins = excess_calls(logs, prober.samples, storm)
    busy = [index for index, count in bins.items() if count >= 10]
    until = max(0.0, storm + 0.1 * (max(busy) + 1) - hung_up) if busy else 0.0
    before = [s for start, s, _ in prober.samples if start < storm]
    during = [s for start, s, _ in prober.samples if storm <= start <= hung_up + until + 1]
    failed = sum(1 for start, _, ok in prober.samples if start >= storm and not ok)
    print(f"  hang-ups took {(hung_up - storm) * 1e3:.0f} ms")
    print(
        f"  abandoned calls the operators answered: {max(0, sum(bins.values()))} "
        f"of {abusers * ABUSIVE_CALLS}, the last ones {until:.1f} s after the last hang-up"
    )
    print(
        "  CPU seconds from the first hang-up to the end (prober included): "
        + ", ".join(f"{role} {value:.2f}" for role, value in cpu.items())
    )
    print(f"  {FRONT} before: {describe(before)}")
    print(f"  {FRONT} during: {describe(during)} ({len(during)} requests, {failed} failed)")


def excess_calls(
    logs: list[AccessLog], samples: list[tuple[float, float, bool]], since: float
) -> dict[int, int]:
    """Per 100 ms bin from ``since``: logged calls less two per prober request answered
    (a request and its calls may fall in neighbouring bins: the sum is exact, bins are not)."""
    bins: dict[int, int] = {}
    for log in logs:
        for when in log.snapshot():
            if when >= since:
                bins[int((when - since) * 10)] = bins.get(int((when - since) * 10), 0) + 1
    for start, seconds, ok in samples:
        if ok and start + seconds >= since:
            index = int((start + seconds - since) * 10)
            bins[index] = bins.get(index, 0) - 2
    return dict(sorted(bins.items()))


def machine() -> str:
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"nproc={os.cpu_count()}, CPU={model}, "
        f"Python {platform.python_version()} ({platform.python_implementation()}), "
        f"{platform.system()} {platform.release()}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=2.0, help="per run (at most 30)")
    parser.add_argument("--rounds", type=int, default=5, help="at most 10")
    parser.add_argument("--max-requests", type=int, default=300_000, help="per run")
    parser.add_argument("--latency-requests", type=int, default=300)
    parser.add_argument("--abusers", type=int, default=300, help="at most 2000")
    parser.add_argument(
        "--only", choices=("throughput", "latency", "abandonment"), help="run one measurement"
    )
    args = parser.parse_args()
    args.seconds = min(args.seconds, 30.0)
    args.rounds = max(1, min(args.rounds, 10))
    args.abusers = max(1, min(args.abusers, 2000))

    ports = {role: free_port() for role in ROLES}
    urls = {role: f"http://127.0.0.1:{ports[role]}" for role in ROLES[1:]}
    processes = {role: start(role, ports[role], urls) for role in ROLES}
    logs = [AccessLog(processes[role]) for role in LOGGED]  # from the start: a full pipe blocks
    try:
        for port in ports.values():
            wait_ready(port)
        print(f"machine: {machine()}")
        ok = True
        if args.only in (None, "throughput"):
            ok = throughput(args, ports, processes) and ok
        if args.only in (None, "latency"):
            ok = latency_ratio(ports["calculator"], args.latency_requests) and ok
        if args.only in (None, "abandonment"):
            abandonment(ports["calculator"], logs, processes, args.abusers)
        if args.only != "abandonment":
            print("targets:", "met" if ok else "MISSED")
        return 0
    finally:
        for process in processes.values():
            process.terminate()
        for process in processes.values():
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()


if __name__ == "__main__":
    sys.exit(main())
