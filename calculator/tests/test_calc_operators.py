"""The four operator services over real HTTP."""

from __future__ import annotations

import json
import socket
import time

import pytest

from calc_support import Cluster, call


@pytest.mark.parametrize(
    ("role", "body", "expected"),
    [
        ("mul", "12 3", "36"),
        ("sum", "2 3", "5"),
        ("sub", "5 3", "2"),
        ("div", "15 5", "3"),
        ("div", "1 3", "1/3"),
        ("div", "-4 6", "-2/3"),
        ("div", "4 -6", "-2/3"),
        ("div", "1/3 1/3", "1"),
        ("sum", "1/3 1/6", "1/2"),
        ("sub", "1/2 1/2", "0"),
        ("mul", "2/3 3/4", "1/2"),
        ("sum", "  7\t\n-9  ", "-2"),
        ("sum", "+7 2/4", "15/2"),
        ("mul", "123456789012345678901234567890 1000", "123456789012345678901234567890000"),
        ("sub", "0 -5", "5"),
    ],
)
def test_operator_answers(services: Cluster, role: str, body: str, expected: str) -> None:
    answer = call(services.ports[role], body)
    assert (answer.status, answer.text) == (200, expected)
    assert answer.headers["content-type"].startswith("text/plain")


def test_curl_style_form_content_type_is_accepted(services: Cluster) -> None:
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    assert call(services.ports["mul"], "12 3", headers=headers).text == "36"


def test_json_answer(services: Cluster) -> None:
    answer = call(services.ports["div"], "1 3", headers={"Accept": "application/json"})
    assert answer.status == 200
    assert answer.headers["content-type"] == "application/json"
    assert json.loads(answer.text) == {
        "operation": "div",
        "operands": ["1", "3"],
        "result": "1/3",
        "numerator": 1,
        "denominator": 3,
    }
    answer = call(services.ports["mul"], "12 3", headers={"Accept": "application/json"})
    assert json.loads(answer.text)["result"] == 36


def test_json_request_body(services: Cluster) -> None:
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    answer = call(services.ports["sum"], json.dumps({"operands": [2, "1/2"]}), headers=headers)
    assert (answer.status, json.loads(answer.text)["result"]) == (200, "5/2")
    answer = call(services.ports["sum"], json.dumps({"operands": [1]}), headers=headers)
    assert answer.status == 400
    assert "operands" in json.loads(answer.text)["error"]
    answer = call(services.ports["sum"], "{not json", headers=headers)
    assert answer.status == 400


@pytest.mark.parametrize(
    ("role", "body", "status", "fragment"),
    [
        ("div", "1 0", 422, "division by zero"),
        ("div", "1 1/0", 400, "zero denominator"),
        ("sum", "1", 400, "two numbers"),
        ("sum", "1 2 3", 400, "two numbers"),
        ("sum", "1 x", 400, "not a number"),
        ("sum", "1.5 2", 400, "not a number"),
        ("sum", "1e3 2", 400, "not a number"),
        ("sum", "\u0661 2", 400, "not a number"),  # non-ASCII digits are not numbers here
        ("sum", "1_000 2", 400, "not a number"),
        ("sum", "", 400, "empty"),
        ("sum", "   ", 400, "empty"),
        ("mul", f"{'9' * 4001} 1", 400, "longer than 4000 digits"),
        ("mul", f"{'9' * 3000} {'9' * 3000}", 422, "result longer than 4000 digits"),
    ],
)
def test_operator_rejects(
    services: Cluster, role: str, body: str, status: int, fragment: str
) -> None:
    answer = call(services.ports[role], body)
    assert answer.status == status
    assert answer.text.startswith("error: ")
    assert fragment in answer.text


def test_non_utf8_body(services: Cluster) -> None:
    answer = call(services.ports["sum"], b"\xff\xfe 1")
    assert answer.status == 400
    assert "UTF-8" in answer.text


def test_oversized_body(services: Cluster) -> None:
    answer = call(services.ports["sum"], b"1" * (64 * 1024 + 1))
    assert answer.status == 413
    assert "65536" in answer.text
    # Exactly at the limit the body is read (and rejected for its content only).
    assert call(services.ports["sum"], b" " * (64 * 1024 - 3) + b"1 2").text == "3"


def test_error_as_json(services: Cluster) -> None:
    answer = call(services.ports["div"], "1 0", headers={"Accept": "application/json"})
    assert answer.status == 422
    assert json.loads(answer.text) == {"error": "division by zero", "status": 422}


@pytest.mark.parametrize("role", ["calculator", "sum", "sub", "mul", "div"])
def test_health_paths_and_methods(services: Cluster, role: str) -> None:
    port = services.ports[role]
    health = call(port, method="GET", path="/healthz")
    assert (health.status, health.text) == (200, "ok\n")
    assert health.headers["content-type"].startswith("text/plain")
    assert call(port, method="GET", path="/healthz?probe=1").status == 200
    wrong = call(port, method="GET", path="/")
    assert wrong.status == 405
    assert wrong.headers["allow"] == "POST"
    assert call(port, method="DELETE", path="/").status == 405
    assert call(port, "1", method="POST", path="/healthz").status == 405
    missing = call(port, "1 2", path="/nope")
    assert missing.status == 404
    assert "error" in missing.text


def test_keep_alive_and_pipelining(services: Cluster) -> None:
    port = services.ports["sum"]
    request = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\n1 2"
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(request * 3)
        data = b""
        while data.count(b"\r\n\r\n3") < 3:
            chunk = sock.recv(4096)
            assert chunk
            data += chunk
    assert data.count(b"HTTP/1.1 200 OK") == 3


def test_chunked_body_and_expect_continue(services: Cluster) -> None:
    port = services.ports["mul"]
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(
            b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"2\r\n12\r\n2\r\n 3\r\n0\r\n\r\n"
        )
        assert sock.recv(4096).endswith(b"\r\n\r\n36")
        sock.sendall(
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n"
        )
        assert sock.recv(4096).startswith(b"HTTP/1.1 100 Continue")
        sock.sendall(b"6 7")
        assert sock.recv(4096).endswith(b"\r\n\r\n42")


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        (b"GARBAGE\r\n\r\n", 400),
        (b"POST / HTTP/2.0\r\n\r\n", 505),
        (b"POST / HTTP/1.1\r\nContent-Length: abc\r\n\r\n", 400),
        (b"POST / HTTP/1.1\r\nContent-Length: \xb2\r\n\r\n", 400),  # a latin-1 digit
        (b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n-9;ab\r\n", 400),
        (b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0x3\r\n1 2\r\n0\r\n\r\n", 400),
        (b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n+3\r\n1 2\r\n0\r\n\r\n", 400),
        (b"POST / HTTP/1.1\r\nno colon here\r\n\r\n", 400),
        (b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", 501),
        (b"POST / HTTP/1.1\r\nContent-Length: 999999999\r\n\r\n", 413),
        (b"POST / HTTP/1.1\r\nX: " + b"a" * 20000 + b"\r\n\r\n", 431),
    ],
)
def test_malformed_http(services: Cluster, raw: bytes, status: int) -> None:
    with socket.create_connection(("127.0.0.1", services.ports["sum"]), timeout=5) as sock:
        sock.sendall(raw)
        data = b""
        while chunk := sock.recv(4096):
            data += chunk
    assert data.startswith(f"HTTP/1.1 {status} ".encode())
    assert b"Connection: close" in data


def test_stray_crlf_before_a_pipelined_request(services: Cluster) -> None:
    request = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\n1 2"
    with socket.create_connection(("127.0.0.1", services.ports["sum"]), timeout=5) as sock:
        sock.sendall(request + b"\r\n" + request + b"\r\n\r\n" + request)
        data = b""
        while data.count(b"\r\n\r\n3") < 3:
            chunk = sock.recv(4096)
            assert chunk, data
            data += chunk
    assert data.count(b"HTTP/1.1 200 OK") == 3


def test_chunked_body_arriving_in_pieces(services: Cluster) -> None:
    body = b"".join(b"1\r\n%s\r\n" % bytes([c]) for c in b"123 4") + b"0\r\nX-T: 1\r\n\r\n"
    with socket.create_connection(("127.0.0.1", services.ports["mul"]), timeout=5) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
        for index in range(0, len(body), 3):
            sock.sendall(body[index : index + 3])
            time.sleep(0.005)
        assert sock.recv(4096).endswith(b"\r\n\r\n492")


def test_refused_body_is_not_swallowed_forever(cluster: Cluster) -> None:
    """After an early 413 the rest of the body is read and dropped, for read-timeout at
    most in all, however slowly it comes."""
    port = cluster.start_operator("sum", read_timeout=0.5, max_body=10)
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n1")
        assert sock.recv(4096).startswith(b"HTTP/1.1 413 ")
        start = time.monotonic()
        with pytest.raises(OSError):
            while time.monotonic() - start < 3:
                sock.sendall(b"1")  # fails once the server has closed the connection
                time.sleep(0.1)
    assert time.monotonic() - start < 1.5


def test_stalled_request_is_dropped(cluster: Cluster) -> None:
    port = cluster.start_operator("sum", read_timeout=0.3)
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\n1 ")
        data = b""
        while chunk := sock.recv(4096):
            data += chunk
    assert data.startswith(b"HTTP/1.1 408 ")


def test_delay_option(cluster: Cluster) -> None:
    port = cluster.start_operator("sum", delay=0.2)
    start = time.monotonic()
    assert call(port, "1 2").text == "3"
    assert time.monotonic() - start >= 0.2


def test_idle_connection_is_closed(cluster: Cluster) -> None:
    port = cluster.start_operator("sum", idle_timeout=0.3)
    for request in (b"", b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\n1 2"):
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            sock.sendall(request)
            start = time.monotonic()
            data = b""
            while chunk := sock.recv(4096):
                data += chunk
        assert data.endswith(b"\r\n\r\n3") if request else data == b""
        assert 0.25 < time.monotonic() - start < 1.5
