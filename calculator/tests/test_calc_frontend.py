"""The front end over real HTTP, with real operators and with failing fake ones."""

from __future__ import annotations

import asyncio
import http.client
import json
import socket
import time

import pytest

from calc_support import Cluster, call, unused_port
from calculator.config import OPERATOR_ROLES, ConfigError
from calculator.httpcore import UpstreamError, UpstreamPool, UpstreamResponse


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("(5+6)*2", "result = 22"),
        ("2+3", "result = 5"),
        ("12*3", "result = 36"),
        ("5-3", "result = 2"),
        ("15/5", "result = 3"),
        ("1/3", "result = 1/3"),
        ("1/3 + 1/6", "result = 1/2"),
        ("1/3*3", "result = 1"),
        ("2*3+4", "result = 10"),
        ("2+3*4", "result = 14"),
        ("10-4-3", "result = 3"),
        ("64/4/2", "result = 8"),
        ("8/(4/2)", "result = 4"),
        ("-5", "result = -5"),
        ("--5", "result = 5"),
        ("-(2+3)", "result = -5"),
        ("2*-3", "result = -6"),
        ("2--3", "result = 5"),
        ("-2*-3", "result = 6"),
        ("+4", "result = 4"),
        ("-0", "result = 0"),
        ("007", "result = 7"),
        ("  ( 1 +\t2 ) \n* 3  ", "result = 9"),
        ("((((7))))", "result = 7"),
        ("99999999999999999999*99999999999999999999", f"result = {99999999999999999999**2}"),
        ("-7/2", "result = -7/2"),
    ],
)
def test_expressions(services: Cluster, expression: str, expected: str) -> None:
    answer = call(services.ports["calculator"], expression)
    assert (answer.status, answer.text) == (200, expected)


def test_json_form(services: Cluster) -> None:
    port = services.ports["calculator"]
    answer = call(port, "(5+6)*2", headers={"Accept": "application/json"})
    assert answer.headers["content-type"] == "application/json"
    assert json.loads(answer.text) == {
        "expression": "(5+6)*2",
        "result": 22,
        "numerator": 22,
        "denominator": 1,
    }
    answer = call(port, "1/3", headers={"Accept": "application/json"})
    assert json.loads(answer.text)["result"] == "1/3"
    body = json.dumps({"expression": "2*(3+4)"})
    answer = call(port, body, headers={"Content-Type": "application/json"})
    assert answer.text == "result = 14"
    answer = call(port, "(1+", headers={"Accept": "application/json"})
    assert answer.status == 400
    assert json.loads(answer.text)["position"] == 4


@pytest.mark.parametrize(
    ("expression", "position", "fragment"),
    [
        ("(1+2", 5, "expected ')'"),
        ("1+", 3, "expected a number"),
        ("1+*2", 3, "expected a number"),
        ("*2", 1, "expected a number"),
        ("1 2", 3, "expected an operator"),
        ("(1+2))", 6, "unbalanced ')'"),
        ("()", 2, "expected a number"),
        ("2^3", 2, "unexpected character '^'"),
        ("1 + x", 5, "unexpected character 'x'"),
        ("3 ÷ 4", 3, "unexpected character '÷'"),
        ("1\u00a0+ 2", 2, "U+00A0"),
        ("1.5", 2, "unexpected character '.'"),
        ("2(3)", 2, "expected an operator"),
    ],
)
def test_malformed_expressions(
    services: Cluster, expression: str, position: int, fragment: str
) -> None:
    answer = call(services.ports["calculator"], expression)
    assert answer.status == 400
    assert answer.text.startswith("error: ")
    assert fragment in answer.text
    assert f"at position {position}" in answer.text


def test_error_shows_where(services: Cluster) -> None:
    answer = call(services.ports["calculator"], "(5+)*2")
    assert answer.text.splitlines()[1:] == ["(5+)*2", "   ^"]


def test_division_by_zero(services: Cluster) -> None:
    answer = call(services.ports["calculator"], "1 + 4/(2-2)")
    assert answer.status == 422
    assert "division by zero" in answer.text
    assert "at position 6" in answer.text


@pytest.mark.parametrize(
    ("body", "status", "fragment"),
    [
        (b"", 400, "empty"),
        (b"  \n ", 400, "empty"),
        (b"\xff(1+2)", 400, "UTF-8"),
        (b"1+" * 40000, 413, "larger than 65536 bytes"),
        (b"(" * 101 + b"1" + b")" * 101, 400, "nesting deeper than 100"),
        (b"-" * 101 + b"(1)", 400, "nesting deeper than 100"),
        (b"1" * 4001, 400, "longer than 4000 digits"),
        (b"1+" * 1001 + b"1", 400, "too many operations"),
        (b"9" * 3000 + b"*" + b"9" * 3000, 422, "longer than 4000 digits"),
    ],
)
def test_rejected_bodies(services: Cluster, body: bytes, status: int, fragment: str) -> None:
    answer = call(services.ports["calculator"], body)
    assert answer.status == status
    assert fragment in answer.text


def test_limits_at_their_edge_are_accepted(services: Cluster) -> None:
    port = services.ports["calculator"]
    assert call(port, "(" * 100 + "1" + ")" * 100).text == "result = 1"
    assert call(port, "1" * 4000).text == "result = " + "1" * 4000
    assert call(port, "1+" * 1000 + "1").text == "result = 1001"


def test_configured_limits(cluster: Cluster) -> None:
    for role in OPERATOR_ROLES:
        cluster.start_operator(role)
    port = cluster.start_front_end(max_depth=3, max_digits=5, max_operations=2, max_body=20)
    assert call(port, "((1))").status == 200
    assert "nesting deeper than 3" in call(port, "((((1))))").text
    assert "longer than 5 digits" in call(port, "123456").text
    assert call(port, "1+1+1").text == "result = 3"
    assert "too many operations" in call(port, "1+1+1+1").text
    assert call(port, "1" * 21).status == 413


def test_connections_are_reused(cluster: Cluster) -> None:
    for role in OPERATOR_ROLES:
        cluster.start_operator(role)
    port = cluster.start_front_end()
    for _ in range(20):
        assert call(port, "(1+2)*3").text == "result = 9"
    sum_server = next(s for s in cluster.servers if s.name == "sum")
    mul_server = next(s for s in cluster.servers if s.name == "mul")
    assert len(sum_server.connections) == 1
    assert len(mul_server.connections) == 1


def test_front_end_keep_alive(services: Cluster) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", services.ports["calculator"], timeout=10)
    for n in range(5):
        answer = call(0, f"{n}*2", connection=conn)
        assert answer.text == f"result = {n * 2}"
    conn.close()


# -- upstream failures ------------------------------------------------------------------------


def _front_end_with(cluster: Cluster, sum_url: str, timeout: float = 0.5) -> int:
    for role in ("sub", "mul", "div"):
        cluster.start_operator(role)
    urls = {op: f"http://127.0.0.1:{cluster.ports.get(op, 0)}" for op in OPERATOR_ROLES}
    urls["sum"] = sum_url
    return cluster.start_front_end(urls, timeout=timeout)


def test_operator_down(cluster: Cluster) -> None:
    port = _front_end_with(cluster, f"http://127.0.0.1:{unused_port()}")
    start = time.monotonic()
    answer = call(port, "(5+6)*2")
    assert answer.status == 502
    assert "sum service unreachable" in answer.text
    assert time.monotonic() - start < 2
    # Expressions that do not need the missing service still work.
    assert call(port, "6*7").text == "result = 42"


def test_every_operation_is_an_operator_call(cluster: Cluster) -> None:
    """With every operator down, only bare numbers (no operation at all) get an answer."""
    urls = {op: f"http://127.0.0.1:{unused_port()}" for op in OPERATOR_ROLES}
    port = cluster.start_front_end(urls, timeout=1)
    assert call(port, "-5").text == "result = -5"  # a negative literal, no operation
    assert call(port, "((42))").text == "result = 42"
    for expression, service in [
        ("1+1", "sum"),
        ("1-1", "sub"),
        ("-(5)", "sub"),  # unary minus of a non-literal is 0 - x, done by sub
        ("--5", "sub"),
        ("2*2", "mul"),
        ("4/2", "div"),
    ]:
        answer = call(port, expression)
        assert answer.status == 502
        assert f"{service} service unreachable" in answer.text


def test_operator_hangs(cluster: Cluster) -> None:
    async def never_answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(1000)
        await asyncio.sleep(30)

    hang = cluster.start_raw(never_answer)
    port = _front_end_with(cluster, f"http://127.0.0.1:{hang}", timeout=0.5)
    start = time.monotonic()
    answer = call(port, "(5+6)*2")
    elapsed = time.monotonic() - start
    assert answer.status == 504
    assert "did not answer within 0.5 s" in answer.text
    assert 0.45 <= elapsed < 2.5


def test_expression_timeout(cluster: Cluster) -> None:
    for role in OPERATOR_ROLES:
        cluster.start_operator(role, delay=0.3)
    port = cluster.start_front_end(expression_timeout=0.5)
    start = time.monotonic()
    answer = call(port, "1+1+1+1+1")
    assert answer.status == 504
    assert "not evaluated within 0.5 s" in answer.text
    assert time.monotonic() - start < 2


@pytest.mark.parametrize(
    "reply",
    [
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
        b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n0.3",
        b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n12",
        b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 4\r\n\r\noops",
        b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n",
        b"SSH-2.0-OpenSSH_9.6\r\n\r\n",
        b"",
        b"\x00\x01\x02garbage with no head end",
    ],
)
def test_operator_answers_garbage(cluster: Cluster, reply: bytes) -> None:
    async def garbage(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(1000)
        writer.write(reply)
        await writer.drain()
        writer.close()

    fake = cluster.start_raw(garbage)
    port = _front_end_with(cluster, f"http://127.0.0.1:{fake}", timeout=2)
    start = time.monotonic()
    answer = call(port, "(5+6)*2")
    assert answer.status == 502, answer.text
    assert "sum service" in answer.text
    assert time.monotonic() - start < 2


def test_bad_operator_url_is_a_config_error(cluster: Cluster) -> None:
    with pytest.raises(ConfigError, match="http://host:port"):
        cluster.start_front_end({"sum": "ftp://x", "sub": "", "mul": "", "div": ""})


# -- concurrency ------------------------------------------------------------------------------


def test_independent_subexpressions_run_concurrently(cluster: Cluster) -> None:
    """With 0.5 s per sum call, (1+2)*(3+4) takes ~0.5 s concurrently, >= 1 s in sequence."""
    cluster.start_operator("sum", delay=0.5)
    for role in ("sub", "mul", "div"):
        cluster.start_operator(role)
    port = cluster.start_front_end()
    start = time.monotonic()
    answer = call(port, "(1+2)*(3+4)")
    elapsed = time.monotonic() - start
    assert answer.text == "result = 21"
    assert 0.5 <= elapsed < 0.9


def test_sum_is_called_twice_at_once(cluster: Cluster) -> None:
    """Both sums of (1+2)*(3+4) reach the sum service before it answers either."""
    arrivals: list[float] = []

    async def sum_service(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        answers: asyncio.Queue[asyncio.Task[bytes]] = asyncio.Queue()

        async def compute(left: int, right: int) -> bytes:
            await asyncio.sleep(0.2)
            body = str(left + right).encode()
            return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)

        async def respond() -> None:
            while True:
                writer.write(await (await answers.get()))
                await writer.drain()

        responder = asyncio.create_task(respond())
        try:
            while True:  # read requests as they come, also pipelined ones
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
                left, right = (await reader.readexactly(length)).split()
                arrivals.append(time.monotonic())
                await answers.put(asyncio.create_task(compute(int(left), int(right))))
        finally:
            responder.cancel()

    fake = cluster.start_raw(sum_service)
    port = _front_end_with(cluster, f"http://127.0.0.1:{fake}", timeout=5)
    start = time.monotonic()
    assert call(port, "(1+2)*(3+4)").text == "result = 21"
    elapsed = time.monotonic() - start
    assert len(arrivals) == 2
    assert arrivals[1] - arrivals[0] < 0.1
    assert elapsed < 0.38


# -- connection handling -------------------------------------------------------------------


def _read_answers(sock: socket.socket, count: int) -> list[bytes]:
    data = b""
    answers: list[bytes] = []
    while len(answers) < count:
        chunk = sock.recv(65536)
        assert chunk, data
        data += chunk
        while (end := data.find(b"\r\n\r\n")) >= 0:
            length = int(data[:end].lower().split(b"content-length:")[1].split(b"\r\n")[0])
            if len(data) < end + 4 + length:
                break
            answers.append(data[end + 4 : end + 4 + length])
            data = data[end + 4 + length :]
    return answers


def _post(body: bytes) -> bytes:
    return b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)


def test_pipelined_expressions_are_answered_in_order(services: Cluster) -> None:
    expressions = [b"(1+2)*(3+4)", b"1/0", b"7", b"(2+", b"100-1", b"2*-3"]
    with socket.create_connection(("127.0.0.1", services.ports["calculator"]), timeout=10) as sock:
        sock.sendall(b"".join(_post(e) for e in expressions))
        answers = _read_answers(sock, len(expressions))
    assert answers[0] == b"result = 21"
    assert answers[1].startswith(b"error: division by zero")
    assert answers[2] == b"result = 7"
    assert answers[3].startswith(b"error: expected a number")
    assert answers[4:] == [b"result = 99", b"result = -6"]


def test_half_closed_client_still_gets_its_answer(services: Cluster) -> None:
    with socket.create_connection(("127.0.0.1", services.ports["calculator"]), timeout=10) as sock:
        sock.sendall(_post(b"(5+6)*2"))
        sock.shutdown(socket.SHUT_WR)
        assert _read_answers(sock, 1) == [b"result = 22"]
        assert sock.recv(100) == b""  # then the server closes


def test_client_leaving_mid_evaluation(cluster: Cluster) -> None:
    for role in OPERATOR_ROLES:
        cluster.start_operator(role, delay=0.2)
    port = cluster.start_front_end()
    for _ in range(5):
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            sock.sendall(_post(b"(1+2)*(3+4)"))
    assert call(port, "(1+2)*(3+4)").text == "result = 21"


def test_oversized_body_refused_before_it_is_sent(services: Cluster) -> None:
    with socket.create_connection(("127.0.0.1", services.ports["calculator"]), timeout=10) as sock:
        sock.sendall(
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10000000\r\n"
            b"Expect: 100-continue\r\n\r\n"
        )
        answer = sock.recv(4096)
    assert answer.startswith(b"HTTP/1.1 413 ")


def test_operator_interim_responses_are_skipped(cluster: Cluster) -> None:
    """1xx answers before the real one are skipped, however many there are."""

    async def chatty(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 100 Continue\r\n\r\n" * 3000)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n11")
        await writer.drain()
        await reader.read(1000)

    fake = cluster.start_raw(chatty)
    port = _front_end_with(cluster, f"http://127.0.0.1:{fake}", timeout=5)
    assert call(port, "(5+6)*2").text == "result = 22"


def test_call_sent_again_keeps_its_deadline_while_waiting(cluster: Cluster) -> None:
    """A call sent again after its connection closed, queued behind newer calls (all
    connections busy), still fails at its own deadline."""
    closing = asyncio.Event()

    async def upstream(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        if not closing.is_set():
            closing.set()
            await asyncio.sleep(0.5)
            return  # the first connection closes without an answer
        await asyncio.sleep(30)  # the next ones never answer

    port = cluster.start_raw(upstream)

    async def scenario() -> tuple[float, int]:
        pool = UpstreamPool("sum", f"http://127.0.0.1:{port}", 0.6, max_connections=1)
        loop = asyncio.get_running_loop()
        done: asyncio.Future[tuple[float, int]] = loop.create_future()
        start = loop.time()

        def first(result: UpstreamResponse | UpstreamError) -> None:
            status = result.status if isinstance(result, UpstreamError) else 200
            done.set_result((loop.time() - start, status))

        pool.request(b"1 2", first)
        await closing.wait()
        await asyncio.sleep(0.4)
        for _ in range(2):  # two newer batches, queued: the one connection is busy
            pool.request(b"3 4", lambda result: None)
            await asyncio.sleep(0.01)
        try:
            return await done
        finally:
            pool.close()

    elapsed, status = cluster.runner.run(scenario())
    assert status == 504
    assert elapsed < 0.85  # 0.6 s; newer calls expire at 1 s


def test_operator_closing_mid_batch(cluster: Cluster) -> None:
    """An operator answering only the first of pipelined calls and then closing: the
    unanswered calls are sent again on a new connection."""
    connections: list[int] = []

    async def one_answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(1)
        head = await reader.readuntil(b"\r\n\r\n")
        length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
        left, right = (await reader.readexactly(length)).split()
        body = str(int(left) + int(right)).encode()
        await asyncio.sleep(0.05)  # let the whole batch arrive
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
        await writer.drain()

    fake = cluster.start_raw(one_answer)
    port = _front_end_with(cluster, f"http://127.0.0.1:{fake}", timeout=5)
    assert call(port, "(1+2)*(3+4)").text == "result = 21"
    assert len(connections) == 2
