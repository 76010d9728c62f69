"""Hostile and careless clients: every input is bounded by a limit that the answer names,
clients that hang up leave no work behind, and one client's load does not starve others.

Bounds asserted here (documented in the README, "Fairness and abandoned work"): with 100
clients that each send a 999-operation expression and hang up, the operators receive less
than a tenth of that work and none of it later than 3 s after the last hang-up, and a
concurrent ``(5+6)*2`` is answered within 3 s every time. Measured figures (a few hundred
milliseconds) come from ``loadtest.py``; these bounds leave room for a loaded machine.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import socket
import threading
import time
from collections.abc import Awaitable, Callable

import pytest

from calc_support import Cluster, call
from calculator.config import OPERATOR_ROLES, ROLES, build_config
from calculator.httpcore import HTTPServer, Request, Response
from calculator.services import MAX_JSON_DEPTH, limits_of, operator_handler

JSON = {"Content-Type": "application/json"}
# 500 independent products, then a chain of 499 sums: 999 calls to the operators that
# (5+6)*2 needs too, none of them "5 6" or "11 2" (all values are multiples of 9).
ABUSIVE = "+".join(["(9*1)"] * 500)
PROBE_CALLS = (b"5 6", b"11 2")


def nested(depth: int) -> str:
    """A JSON list nested ``depth`` levels deep."""
    return "[" * depth + "]" * depth


def _post(body: bytes, version: bytes = b"HTTP/1.1") -> bytes:
    return b"POST / %s\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s" % (version, len(body), body)


def _read_all(sock: socket.socket) -> bytes:
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except ConnectionResetError:
        pass
    return data


def balanced(leaves: int, op: str = "-") -> str:
    """A balanced expression of ``leaves`` numbers (``leaves - 1`` operations)."""
    if leaves == 1:
        return "9"
    half = leaves // 2
    return f"({balanced(half, op)}{op}{balanced(leaves - half, op)})"


# -- deep and oversized input ---------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_deep_json_is_refused_on_every_service(services: Cluster, role: str) -> None:
    port = services.ports[role]
    for body in (nested(30_000), '{"operands": ' + nested(30_000) + "}"):
        answer = call(port, body, headers=JSON)
        assert answer.status == 400, answer.text
        assert f"nested deeper than {MAX_JSON_DEPTH} levels" in answer.text
    answer = call(port, nested(MAX_JSON_DEPTH + 1), headers={**JSON, "Accept": "application/json"})
    assert answer.status == 400
    assert f"nested deeper than {MAX_JSON_DEPTH}" in json.loads(answer.text)["error"]


@pytest.mark.parametrize("role", ROLES)
def test_json_nested_up_to_the_limit_is_accepted(services: Cluster, role: str) -> None:
    field, value, expected = (
        ("expression", '"1+2"', "result = 3")
        if role == "calculator"
        else ("operands", '[6, "3"]', {"sum": "9", "sub": "3", "mul": "18", "div": "2"}[role])
    )
    # The object is one level, the extra member the other 31; brackets in strings do not count.
    body = f'{{"{field}": {value}, "x": {nested(MAX_JSON_DEPTH - 1)}, "y": "{"[" * 99}"}}'
    answer = call(services.ports[role], body, headers=JSON)
    assert (answer.status, answer.text) == (200, expected)


def test_deepest_expressions_allowed_need_no_deep_stack(cluster: Cluster) -> None:
    for role in OPERATOR_ROLES:
        cluster.start_operator(role)
    port = cluster.start_front_end(max_depth=500)  # nesting is capped at 200 levels
    assert call(port, "(" * 200 + "1" + ")" * 200).text == "result = 1"
    assert call(port, "-(" * 100 + "1" + ")" * 100).text == "result = 1"
    answer = call(port, "(" * 201 + "1" + ")" * 201)
    assert answer.status == 400
    assert "nesting deeper than 200 levels" in answer.text


def _raw(port: int, data: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(data)
        return _read_all(sock)


CHUNKED = b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"


@pytest.mark.parametrize(
    ("raw", "status", "message"),
    [
        (b"POST / HTTP/1.1\r\nX: " + b"a" * 20000 + b"\r\n\r\n", 431, "larger than 16384 bytes"),
        (b"POST / HTTP/1.1\r\n" + b"X: 1\r\n" * 101 + b"\r\n", 431, "more than 100 header"),
        (CHUNKED + b"1;" + b"x" * 2000 + b"\r\n", 400, "longer than 1024 bytes"),
        (CHUNKED + (b"1;" + b"x" * 1000 + b"\r\n1\r\n") * 17, 413, "framing larger than 16384"),
        (CHUNKED + b"1\r\n1\r\n" * 4000 + b"0\r\n\r\n", 413, "framing larger than 16384"),
        (CHUNKED + b"3\r\n1 2\r\n0\r\n" + b"X: 1\r\n" * 3000, 431, "trailer section larger"),
        (CHUNKED + b"3\r\n1 2\r\n0\r\n" + b"X: 1\r\n" * 3000 + b"\r\n", 431, "trailer section"),
        (CHUNKED + b"10001\r\n", 413, "larger than 65536 bytes"),
    ],
)
def test_every_part_of_a_request_is_bounded(
    services: Cluster, raw: bytes, status: int, message: str
) -> None:
    data = _raw(services.ports["sum"], raw)
    assert data.startswith(f"HTTP/1.1 {status} ".encode()), data[:200]
    assert message.encode() in data


def test_chunked_body_with_framing_under_the_limit(services: Cluster) -> None:
    body = b"12 3"
    chunks = b"".join(b"1;ext=%d\r\n%s\r\n" % (i, bytes([c])) for i, c in enumerate(body))
    head = CHUNKED.replace(b"Host: x\r\n", b"Host: x\r\nConnection: close\r\n")
    data = _raw(services.ports["mul"], head + chunks + b"0\r\nX-T: 1\r\n\r\n")
    assert data.startswith(b"HTTP/1.1 200 ")
    assert data.endswith(b"\r\n\r\n36")


def _fake_sum(cluster: Cluster, reply: Callable[[asyncio.StreamWriter], Awaitable[None]]) -> int:
    async def fake(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        await reply(writer)
        await reader.read(1000)

    fake_port = cluster.start_raw(fake)
    for role in ("sub", "mul", "div"):
        cluster.start_operator(role)
    urls = {op: f"http://127.0.0.1:{cluster.ports.get(op, 0)}" for op in OPERATOR_ROLES}
    urls["sum"] = f"http://127.0.0.1:{fake_port}"
    return cluster.start_front_end(urls, timeout=5)


def test_operator_answer_with_endless_chunked_framing(cluster: Cluster) -> None:
    async def reply(writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        writer.write(b"1\r\n1\r\n" * 5000 + b"0\r\n\r\n")
        await writer.drain()

    answer = call(_fake_sum(cluster, reply), "1+2")
    assert answer.status == 502
    assert "chunked framing larger than 16384 bytes" in answer.text


def test_operator_answer_chunked_in_small_pieces(cluster: Cluster) -> None:
    async def reply(writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        for piece in (b"1\r", b"\n1\r\n", b"1\r\n", b"2\r", b"\n0\r\n", b"\r\n"):
            await writer.drain()
            await asyncio.sleep(0.01)
            writer.write(piece)
        await writer.drain()

    assert call(_fake_sum(cluster, reply), "(1+2)*3").text == "result = 36"


# -- clients that hang up -------------------------------------------------------------------


class Prober:
    """A thread asking ``(5+6)*2`` on one keep-alive connection, one request at a time."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.samples: list[tuple[float, float, int, str]] = []  # start, seconds, status, text
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        while not self.stop.is_set():
            start = time.monotonic()
            answer = call(0, "(5+6)*2", connection=conn)
            self.samples.append((start, time.monotonic() - start, answer.status, answer.text))
            time.sleep(0.01)
        conn.close()

    def finish(self) -> list[tuple[float, float, int, str]]:
        self.stop.set()
        self.thread.join(40)
        assert not self.thread.is_alive()
        return self.samples


Arrivals = list[tuple[float, bytes]]


def _wait_for(condition: Callable[[], bool], limit: float = 10) -> None:
    end = time.monotonic() + limit
    while not condition():
        assert time.monotonic() < end, "condition not met in time"
        time.sleep(0.01)


def _abusive(arrivals: Arrivals) -> list[float]:
    """When the operators received calls that are not those of (5+6)*2."""
    return [when for when, body in list(arrivals) if body not in PROBE_CALLS]


def _recorded(cluster: Cluster, arrivals: Arrivals, delay: float = 0, **front: object) -> int:
    """Real services, ``sum`` and ``mul`` recording the calls they receive in ``arrivals``
    (answers delayed by ``delay``); the front end's port."""
    for role in OPERATOR_ROLES:
        cluster.start_operator(role, arrivals if role in ("sum", "mul") else None, delay=delay)
    return cluster.start_front_end(None, **front)


def _wait_quiet(arrivals: Arrivals, since: float, quiet: float = 1.0, limit: float = 30) -> None:
    """Until no abusive call for ``quiet`` seconds (``limit`` seconds at most)."""
    while time.monotonic() - since < limit:
        time.sleep(0.1)
        if time.monotonic() - max([since, *_abusive(arrivals)[-1:]]) > quiet:
            return


def test_clients_that_hang_up_leave_no_work_and_others_stay_fast(cluster: Cluster) -> None:
    clients = 100
    arrivals: Arrivals = []  # calls that sum and mul receive
    port = _recorded(cluster, arrivals)
    prober = Prober(port)
    time.sleep(0.2)
    storm = time.monotonic()
    request = _post(ABUSIVE.encode())
    for _ in range(clients):
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(request)
    hung_up = time.monotonic()
    _wait_quiet(arrivals, hung_up)
    samples = prober.finish()

    abandoned = _abusive(arrivals)
    assert len(abandoned) < clients * 999 / 10, len(abandoned)
    assert max(abandoned, default=hung_up) - hung_up < 3.0
    during = [sample for sample in samples if sample[0] >= storm]
    assert during
    assert all(status == 200 and text == "result = 22" for _, _, status, text in during)
    slowest = max(seconds for _, seconds, _, _ in during)
    assert slowest < 3.0, slowest


def test_client_hanging_up_mid_evaluation_stops_its_calls(cluster: Cluster) -> None:
    """Its expression under way (slow operators), the client closes its socket: at most
    one more round of its share of calls goes out, then nothing."""
    arrivals: Arrivals = []
    port = _recorded(cluster, arrivals, delay=0.05)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(_post(ABUSIVE.encode()))
        _wait_for(lambda: len(arrivals) >= 32)  # under way: a first round of calls
    closed = time.monotonic()
    sent = len(arrivals)
    _wait_quiet(arrivals, closed, quiet=0.5)
    assert len(arrivals) - sent <= 2 * 32
    assert max(when for when, _ in arrivals) - closed < 1.0
    assert len(arrivals) < 999 / 2
    assert call(port, "(5+6)*2").text == "result = 22"


def test_half_closed_client_with_a_large_expression_still_gets_its_answer(
    cluster: Cluster,
) -> None:
    """More work than a connection's share of calls left at EOF (slow operators): the
    client is checked with an interim 100 answer; one that only half-closed reads it, then
    its answer."""
    for role in OPERATOR_ROLES:
        cluster.start_operator(role, delay=0.05)
    port = cluster.start_front_end()
    expression = balanced(100, "+")
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(_post(expression.encode()))
        sock.shutdown(socket.SHUT_WR)
        data = _read_all(sock)
    assert data.startswith(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n")
    assert data.endswith(b"\r\n\r\nresult = 900")


def test_half_closed_http10_client_with_a_large_expression_is_dropped(cluster: Cluster) -> None:
    """HTTP/1.0 allows no interim answer to check the client with: it is taken as gone."""
    arrivals: Arrivals = []
    port = _recorded(cluster, arrivals, delay=0.2)  # no second round before the EOF is read
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(_post(ABUSIVE.encode(), b"HTTP/1.0"))
        sock.shutdown(socket.SHUT_WR)
        assert _read_all(sock) == b""
    _wait_quiet(arrivals, time.monotonic(), quiet=0.5)
    assert len(arrivals) <= 32  # what was in flight: the connection's share
    assert call(port, "(5+6)*2").text == "result = 22"


def test_small_work_of_a_half_closed_http10_client_is_answered(services: Cluster) -> None:
    with socket.create_connection(("127.0.0.1", services.ports["calculator"]), timeout=10) as sock:
        sock.sendall(_post(b"(1+2)*(3+4)", b"HTTP/1.0"))
        sock.shutdown(socket.SHUT_WR)
        data = _read_all(sock)
    assert data.startswith(b"HTTP/1.1 200 OK\r\n")
    assert data.endswith(b"\r\n\r\nresult = 21")


# -- fairness ---------------------------------------------------------------------------------


def _counting_operator(cluster: Cluster, role: str, peaks: list[int], delay: float) -> None:
    """A real operator (answers delayed) that records how many calls it holds at once."""
    config = build_config(role, {"port": 0, "delay": delay}, environ={})
    real = operator_handler(config)
    holding = [0]

    async def counted(request: Request) -> Response:
        holding[0] += 1
        peaks.append(holding[0])
        try:
            answer = real(request)
            assert isinstance(answer, Awaitable)
            return await answer
        finally:
            holding[0] -= 1

    async def start() -> int:
        server = HTTPServer(role, counted, limits_of(config), log=None)
        port = await server.start("127.0.0.1", 0)
        cluster.servers.append(server)
        return port

    cluster.ports[role] = cluster.runner.run(start())


def test_operator_calls_in_flight_are_bounded_per_connection_and_in_all(cluster: Cluster) -> None:
    peaks: list[int] = []
    _counting_operator(cluster, "sub", peaks, delay=0.05)
    for role in ("sum", "mul", "div"):
        cluster.start_operator(role)
    port = cluster.start_front_end(max_calls=20, max_calls_per_connection=8)
    expression = balanced(64)  # 63 subtractions, 32 of them at once when unbounded
    assert call(port, expression).text == "result = 0"
    assert max(peaks) == 8
    peaks.clear()
    socks = [socket.create_connection(("127.0.0.1", port), timeout=30) for _ in range(4)]
    for sock in socks:  # four connections, their requests sent together
        sock.sendall(_post(expression.encode()).replace(b"Host: x", b"Connection: close"))
    answers = [_read_all(sock) for sock in socks]
    for sock in socks:
        sock.close()
    assert all(answer.endswith(b"\r\n\r\nresult = 0") for answer in answers)
    assert 8 < max(peaks) <= 20


def test_busy_clients_do_not_starve_another(cluster: Cluster) -> None:
    """Ten clients keep the front end busy with large expressions (and wait for their
    answers). A concurrent (5+6)*2 waits for its turn only, not for their queues (500 calls
    each at once): between its first call and its second, the operators receive only the
    calls that were in flight and about one per busy client; and it is answered within
    3 s every time."""
    arrivals: Arrivals = []
    port = _recorded(cluster, arrivals, max_calls=64)
    results: list[int] = []

    def busy() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        for _ in range(2):
            results.append(call(0, ABUSIVE, connection=conn).status)
        conn.close()

    threads = [threading.Thread(target=busy) for _ in range(10)]
    prober = Prober(port)
    time.sleep(0.2)
    storm = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    samples = prober.finish()
    assert results == [200] * 20
    during = [sample for sample in samples if sample[0] >= storm]
    assert all(status == 200 for _, _, status, _ in during)
    assert max(seconds for _, seconds, _, _ in during) < 3.0
    bodies = [body for _, body in arrivals]
    overtaken = [
        sum(
            1
            for body in bodies[index + 1 : bodies.index(b"11 2", index)]
            if body not in PROBE_CALLS
        )
        for index, body in enumerate(bodies)
        if body == b"5 6"
    ]
    assert max(overtaken) < 500, max(overtaken)  # unfair: thousands (5000 muls queued)


def test_admission_limits_come_from_the_environment() -> None:
    environ = {"CALC_MAX_CALLS": "7", "CALC_MAX_CALLS_PER_CONNECTION": "3"}
    config = build_config("calculator", {}, environ=environ)
    assert (config.max_calls, config.max_calls_per_connection) == (7, 3)
    defaults = build_config("calculator", {}, environ={})
    assert (defaults.max_calls, defaults.max_calls_per_connection) == (256, 32)
