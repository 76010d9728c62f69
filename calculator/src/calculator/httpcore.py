"""A small HTTP/1.1 implementation on asyncio protocols (callbacks, no streams).

Server: keep-alive; pipelined requests are handled concurrently and answered in order, the
answers ready together going out in one write; Content-Length and chunked bodies,
``Expect: 100-continue``; limits on head, framing and body sizes; read and idle timeouts; a
``Connection`` per client that tells handlers when the client has left; an access log line
per request (written in batches). Client: a pool of keep-alive connections per
upstream, batching the calls of one event-loop turn into one pipelined write, with a deadline
on every call. Only what the calculator services need; not a general-purpose web server.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import socket
import sys
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import partial
from typing import TextIO
from urllib.parse import urlsplit

MAX_HEAD = 16 * 1024  # request or response head; also chunked framing, and trailers
MAX_HEADERS = 100
MAX_CHUNK_LINE = 1024
MAX_RESPONSE = 1024 * 1024
DRAIN_LIMIT = 8 * 1024 * 1024
# Sent to a client that has half-closed, to find out whether it is still there (see
# Connection.check); clients skip interim answers they did not ask for (RFC 9110, 15.2).
PROBE = b"HTTP/1.1 100 Continue\r\n\r\n"

REASONS = {
    100: "Continue",
    200: "OK",
    400: "Bad Request",
    404: "Not Found",
    405: "Method Not Allowed",
    408: "Request Timeout",
    411: "Length Required",
    413: "Content Too Large",
    415: "Unsupported Media Type",
    422: "Unprocessable Content",
    431: "Request Header Fields Too Large",
    500: "Internal Server Error",
    501: "Not Implemented",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
    505: "HTTP Version Not Supported",
}


class ProtocolError(Exception):
    """Malformed HTTP; ``status`` is the answer to give."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class Connection:
    """The client connection a request arrived on, as handlers see it.

    ``eof``: the client sends nothing more; it half-closed its side, or closed its socket
    (TCP does not tell which). ``gone``: the connection is closed, nothing can be answered
    any more. A handler may set ``on_eof`` and ``on_gone``, each called once when that
    happens, and ``check()`` a client at EOF: the connection is closed if the client has
    left (then ``on_gone`` follows), and kept when it only half-closed.
    """

    __slots__ = ("_check", "eof", "gone", "on_eof", "on_gone")

    def __init__(self, check: Callable[[], None]) -> None:
        self._check = check
        self.eof = False
        self.gone = False
        self.on_eof: Callable[[], None] | None = None
        self.on_gone: Callable[[], None] | None = None

    def check(self) -> None:
        if self.eof and not self.gone:
            self._check()

    def _ended(self) -> None:
        if not self.eof:
            self.eof = True
            if self.on_eof is not None:
                self.on_eof()

    def _lost(self) -> None:
        if not self.gone:
            self.gone = self.eof = True
            callback, self.on_eof, self.on_gone = self.on_gone, None, None
            if callback is not None:
                callback()


@dataclass(slots=True)
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    peer: str
    connection: Connection | None = None

    def header(self, name: str, default: str = "") -> str:
        return self.headers.get(name, default)

    def wants_json(self) -> bool:
        return "application/json" in self.headers.get("accept", "").lower()


@dataclass(slots=True)
class Response:
    status: int
    body: bytes
    content_type: str = "text/plain; charset=utf-8"
    headers: list[tuple[str, str]] = field(default_factory=list)


class Pending:
    """A response to come later, delivered by a plain callback (no task, no future)."""

    __slots__ = ("callback", "response")

    def __init__(self) -> None:
        self.callback: Callable[[Response], None] | None = None
        self.response: Response | None = None

    def set(self, response: Response) -> None:
        if self.response is not None:
            return
        self.response = response
        if self.callback is not None:
            self.callback(response)

    def then(self, callback: Callable[[Response], None]) -> None:
        if self.response is not None:
            callback(self.response)
        else:
            self.callback = callback


Handler = Callable[[Request], "Response | Pending | Awaitable[Response]"]


def text_response(status: int, text: str, headers: list[tuple[str, str]] | None = None) -> Response:
    return Response(status, text.encode(), headers=headers or [])


def _parse_head(head: bytes) -> tuple[str, str, str, dict[str, str]]:
    try:
        text = head.decode("latin-1")
    except UnicodeDecodeError as exc:  # pragma: no cover - latin-1 decodes everything
        raise ProtocolError(400, "undecodable request head") from exc
    lines = text.split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[0].isalpha() or not parts[1]:
        raise ProtocolError(400, "malformed request line")
    method, target, version = parts
    if version not in ("HTTP/1.1", "HTTP/1.0"):
        if version.startswith("HTTP/"):
            raise ProtocolError(505, f"unsupported version {version[:16]}")
        raise ProtocolError(400, "malformed request line")
    if len(lines) - 1 > MAX_HEADERS:
        raise ProtocolError(431, f"more than {MAX_HEADERS} header fields")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if not sep or not name or name != name.strip():
            raise ProtocolError(400, "malformed header field")
        key = name.lower()
        value = value.strip()
        if key in headers:
            if key in ("content-length", "transfer-encoding", "host"):
                raise ProtocolError(400, f"repeated {name} header")
            headers[key] += ", " + value
        else:
            headers[key] = value
    return method, target, version, headers


_CHUNK_SIZE = re.compile(rb"[0-9A-Fa-f]{1,8}")


class _ChunkedBody:
    """Incremental decoder of a chunked body that begins at offset ``pos`` of a buffer
    which only grows until the body is complete: every call goes on from where the last
    one stopped, so a body arriving in many small pieces is not decoded again each time.
    Besides the data (at most ``limit`` bytes), the framing (chunk-size lines, extensions,
    line ends) and the trailer section are bounded by MAX_HEAD each."""

    __slots__ = ("body", "framing", "pos", "trailer")

    def __init__(self, start: int) -> None:
        self.body = bytearray()
        self.framing = 0  # bytes of chunk-size lines and line ends so far
        self.pos = start  # the next chunk-size (or trailer) line
        self.trailer = -1  # where the trailer section began, -1 before it

    def parse(self, buf: bytearray, limit: int) -> tuple[bytes, int] | None:
        """``(body, end of the body in buf)``, or None while incomplete."""
        while self.trailer < 0:
            pos = self.pos
            eol = buf.find(b"\r\n", pos, pos + MAX_CHUNK_LINE + 2)
            if eol < 0:
                if len(buf) - pos > MAX_CHUNK_LINE:
                    raise ProtocolError(400, f"chunk-size line longer than {MAX_CHUNK_LINE} bytes")
                return None
            framing = self.framing + eol + 4 - pos  # the line, its CRLF, the data's CRLF
            if framing > MAX_HEAD:
                raise ProtocolError(413, f"chunked framing larger than {MAX_HEAD} bytes")
            size_text = bytes(buf[pos:eol]).split(b";", 1)[0].strip()
            if _CHUNK_SIZE.fullmatch(size_text) is None:
                raise ProtocolError(400, "malformed chunk size")
            size = int(size_text, 16)
            if len(self.body) + size > limit:
                raise ProtocolError(413, f"body larger than {limit} bytes")
            start = eol + 2
            if size == 0:
                self.pos = self.trailer = start
                break
            end = start + size
            if len(buf) < end + 2:
                return None
            if buf[end : end + 2] != b"\r\n":
                raise ProtocolError(400, "malformed chunk")
            self.body += buf[start:end]
            self.framing = framing
            self.pos = end + 2
        # Trailer section: lines until an empty one, MAX_HEAD bytes at most.
        while True:
            pos = self.pos
            eol = buf.find(b"\r\n", pos, self.trailer + MAX_HEAD + 2)
            if eol < 0:
                if len(buf) - self.trailer > MAX_HEAD:
                    raise ProtocolError(431, f"trailer section larger than {MAX_HEAD} bytes")
                return None
            if eol == pos:
                return bytes(self.body), eol + 2
            self.pos = eol + 2


class _Clock:
    """Cached wall-clock text for log lines (formatting once per second)."""

    def __init__(self) -> None:
        self.second = -1
        self.text = ""

    def now(self) -> str:
        now = time.time()
        second = int(now)
        if second != self.second:
            self.second = second
            self.text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        return f"{self.text}.{int((now - second) * 1000):03d}Z"


_CLOCK = _Clock()


@dataclass(slots=True)
class ServerLimits:
    max_body: int = 64 * 1024
    read_timeout: float = 10.0
    idle_timeout: float = 60.0


class HTTPServer:
    """Runs ``handler`` for every request on ``host:port``."""

    def __init__(
        self,
        name: str,
        handler: Handler,
        limits: ServerLimits | None = None,
        log: TextIO | bool | None = True,
    ) -> None:
        """``log``: a stream for the access log, True for stderr, None/False for none."""
        self.name = name
        self.handler = handler
        self.limits = limits or ServerLimits()
        self.log_stream: TextIO | None = sys.stderr if log is True else (log or None)
        self.connections: set[_ServerProtocol] = set()
        self.server: asyncio.Server | None = None
        self.log_lines: list[str] = []
        self.log_timer: asyncio.TimerHandle | None = None

    async def start(self, host: str, port: int) -> int:
        loop = asyncio.get_running_loop()
        self.server = await loop.create_server(
            lambda: _ServerProtocol(self), host, port, reuse_address=True, backlog=1024
        )
        sockets = self.server.sockets
        return int(sockets[0].getsockname()[1]) if sockets else port

    @property
    def port(self) -> int:
        assert self.server is not None
        return int(self.server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
        for conn in list(self.connections):
            conn.shutdown()
        if self.server is not None:
            await self.server.wait_closed()
        self.flush_log()

    def log(self, peer: str, method: str, path: str, status: int, size: int, start: float) -> None:
        """Queue one access-log line; lines are written in batches (at most 50 ms later)."""
        if self.log_stream is None:
            return
        elapsed = (time.perf_counter() - start) * 1000
        self.log_lines.append(
            f'{_CLOCK.now()} {self.name} {peer} "{method} {path[:200]}" '
            f"{status} {size}B {elapsed:.2f}ms\n"
        )
        if len(self.log_lines) >= 256:
            self.flush_log()
        elif self.log_timer is None:
            self.log_timer = asyncio.get_running_loop().call_later(0.05, self.flush_log)

    def flush_log(self) -> None:
        if self.log_timer is not None:
            self.log_timer.cancel()
            self.log_timer = None
        lines, self.log_lines = self.log_lines, []
        if lines and self.log_stream is not None:
            with contextlib.suppress(OSError, ValueError):
                self.log_stream.write("".join(lines))
                self.log_stream.flush()


class _Slot:
    """A request received on a connection, waiting for its turn to be answered."""

    __slots__ = ("drain", "interim", "keep_alive", "request", "response", "t0", "task")

    def __init__(self, request: Request, keep_alive: bool, t0: float, interim: bool) -> None:
        self.request = request
        self.keep_alive = keep_alive
        self.t0 = t0
        self.interim = interim  # an HTTP/1.1 request: interim (1xx) answers may precede
        self.response: Response | None = None
        self.task: asyncio.Future[Response] | None = None
        self.drain = False


# A request in the buffer takes at most max_body plus this: its head, chunked framing and
# trailer section (MAX_HEAD each), and line ends. Reading pauses beyond it.
_FRAMING = 4 * MAX_HEAD


class _ServerProtocol(asyncio.Protocol):
    """One client connection: requests are parsed as they arrive and handled at once (also
    when pipelined), and answered in order; answers ready together go out in one write."""

    def __init__(self, server: HTTPServer) -> None:
        self.server = server
        self.limits = server.limits
        self.buf = bytearray()
        self.transport: asyncio.Transport | None = None
        self.peer = "-"
        self.slots: deque[_Slot] = deque()
        self.closed = False
        self.eof = False
        self.no_more = False  # after "Connection: close" or an unreadable request
        self.write_paused = False
        self.read_paused = False
        self.continue_sent = False
        self.processing = False
        self.again = False
        self.out: list[bytes] = []
        self.discarding = -1  # bytes still to swallow after an early error, -1 when off
        self.discard_until = 0.0  # ... and until when (read-timeout in all, however slow)
        self.chunked: _ChunkedBody | None = None  # the chunked body being received
        self.request_start: float | None = None
        self.last_activity = time.monotonic()
        self.timer: asyncio.TimerHandle | None = None
        self.connection = Connection(self._check_client)
        self.probe_timer: asyncio.Handle | None = None
        self.probe_delay = 0.0

    # -- connection lifecycle -------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        peer = transport.get_extra_info("peername")
        if isinstance(peer, tuple) and len(peer) >= 2:
            self.peer = f"{peer[0]}:{peer[1]}"
        self.server.connections.add(self)
        self._arm_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.server.connections.discard(self)
        if self.timer is not None:
            self.timer.cancel()
        if self.probe_timer is not None:
            self.probe_timer.cancel()
        for slot in self.slots:
            if slot.task is not None:
                slot.task.cancel()
        self.slots.clear()
        self.connection._lost()

    def shutdown(self) -> None:
        self._close()

    def _close(self, abort: bool = False) -> None:
        if not self.closed:
            self.closed = True
            if self.transport is not None:
                if abort:
                    self.transport.abort()
                else:
                    self.transport.close()
            if abort:
                self.connection._lost()  # at once: connection_lost comes a turn later

    # -- is a client at EOF still there? -----------------------------------------------------
    def _check_client(self) -> None:
        """After EOF, with answers still to come: a client that closed its socket answers
        anything sent to it with a TCP reset, one that only half-closed reads it. So an
        interim ``100 Continue`` is sent (HTTP/1.1 only) and the socket's error state is
        then polled (at once, then at growing intervals) while answers are pending; the
        connection is dropped once the reset has come. HTTP/1.0 allows no interim answer
        (the next answer is that of slots[0]): such a connection is dropped at once."""
        if self.closed or not self.slots or self.probe_timer is not None:
            return
        if not self.slots[0].interim:
            self._close(abort=True)
            return
        self.out.append(PROBE)
        if not self.processing:
            self._flush()
        self.probe_delay = 0.0
        self.probe_timer = asyncio.get_running_loop().call_soon(self._poll_client)

    def _poll_client(self) -> None:
        self.probe_timer = None
        if self.closed or self.transport is None:
            return
        sock = self.transport.get_extra_info("socket")
        try:
            error = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) if sock else 0
        except OSError as exc:
            error = exc.errno or -1
        if error:
            self._close(abort=True)  # the client has left: its answers have nowhere to go
        elif self.slots:
            self.probe_delay = min(1.0, max(0.01, 2 * self.probe_delay))
            loop = asyncio.get_running_loop()
            self.probe_timer = loop.call_later(self.probe_delay, self._poll_client)

    def _arm_timer(self) -> None:
        if self.closed:
            return
        loop = asyncio.get_running_loop()
        step = max(0.05, min(self.limits.read_timeout, self.limits.idle_timeout) / 4)
        self.timer = loop.call_later(step, self._check_timeouts)

    def _check_timeouts(self) -> None:
        if self.closed:
            return
        now = time.monotonic()
        if self.discarding >= 0:
            if now > self.discard_until:
                self._close()
                return
        elif not self.slots:
            if self.request_start is not None:
                if now - self.request_start > self.limits.read_timeout:
                    self._reject(408, "request not received in time")
                    self._process()
                    return
            elif now - self.last_activity > self.limits.idle_timeout:
                self._close()
                return
        self._arm_timer()

    # -- flow control ------------------------------------------------------------------------
    def pause_writing(self) -> None:
        self.write_paused = True

    def resume_writing(self) -> None:
        self.write_paused = False
        self._process()

    def data_received(self, data: bytes) -> None:
        self.last_activity = time.monotonic()
        if self.discarding >= 0:
            self.discarding -= len(data)
            if self.discarding < 0:
                self._close()
            return
        self.buf += data
        self._process()
        if (
            len(self.buf) > self.limits.max_body + _FRAMING
            and not self.read_paused
            and not self.closed
            and self.transport is not None
        ):
            self.transport.pause_reading()  # until the answers catch up
            self.read_paused = True

    def eof_received(self) -> bool:
        self.eof = True
        if self.discarding >= 0:
            self.closed = True
            return False
        self._process()
        if not self.closed:
            self.connection._ended()
        return not self.closed  # keep the transport open while answers are pending

    # -- request handling --------------------------------------------------------------------
    def _process(self) -> None:
        """Handle the complete requests in the buffer and send the answers that are ready."""
        if self.processing:
            self.again = True
            return
        self.processing = True
        try:
            while True:
                self.again = False
                self._parse_requests()
                while self.slots and self.slots[0].response is not None and not self.closed:
                    self._send(self.slots.popleft())
                if not self.again:
                    break
        finally:
            self.processing = False
        if self.out:
            self._flush()
        if self.closed:
            return
        if self.eof and not self.slots and self.discarding < 0 and (self.no_more or not self.buf):
            self._close()
        elif self.read_paused and len(self.buf) <= self.limits.max_body + _FRAMING:
            self.read_paused = False
            if self.transport is not None:
                self.transport.resume_reading()

    def _flush(self) -> None:
        out, self.out = self.out, []
        if self.transport is not None and not self.closed:
            self.transport.write(b"".join(out) if len(out) > 1 else out[0])

    def _parse_requests(self) -> None:
        buf = self.buf
        while not (self.closed or self.no_more or self.write_paused) and len(self.slots) < 64:
            if buf.startswith(b"\r\n"):
                del buf[:2]  # a stray CRLF before a request is ignored (RFC 9112, 2.2)
                continue
            if not buf:
                self.request_start = None
                return
            if self.request_start is None:
                self.request_start = time.monotonic()
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                if len(buf) > MAX_HEAD:
                    self._reject(431, f"request head larger than {MAX_HEAD} bytes")
                elif self.eof:
                    self._reject(400, "incomplete request")
                return
            if end > MAX_HEAD:
                self._reject(431, f"request head larger than {MAX_HEAD} bytes")
                return
            try:
                method, target, version, headers = _parse_head(bytes(buf[:end]))
            except ProtocolError as exc:
                self._reject(exc.status, exc.message)
                return
            try:
                parsed = self._body(buf, end + 4, headers)
            except ProtocolError as exc:
                self._reject(exc.status, exc.message, method, target, drain=True)
                return
            if parsed is None:
                if self.eof:
                    self._reject(400, "incomplete request body", method, target)
                elif (
                    not self.continue_sent
                    and not self.slots
                    and headers.get("expect", "").lower() == "100-continue"
                ):
                    self.out.append(b"HTTP/1.1 100 Continue\r\n\r\n")
                    self.continue_sent = True
                return
            body, consumed = parsed
            del buf[:consumed]
            self.chunked = None
            self.continue_sent = False
            self.request_start = None
            connection = headers.get("connection", "").lower()
            if version == "HTTP/1.1":
                keep_alive = "close" not in connection
            else:
                keep_alive = "keep-alive" in connection
            if not keep_alive:
                self.no_more = True
            request = Request(
                method, target.split("?", 1)[0], headers, body, self.peer, self.connection
            )
            slot = _Slot(request, keep_alive, time.perf_counter(), version == "HTTP/1.1")
            self.slots.append(slot)
            try:
                result = self.server.handler(request)
            except Exception as exc:  # a bug must not take the connection down silently
                result = text_response(500, f"internal error: {type(exc).__name__}\n")
            if isinstance(result, Response):
                slot.response = result
            elif isinstance(result, Pending):
                if result.response is not None:
                    slot.response = result.response
                else:
                    result.then(partial(self._fill, slot))
            else:
                task = asyncio.ensure_future(result)
                slot.task = task
                task.add_done_callback(partial(self._task_done, slot))

    def _body(
        self, buf: bytearray, start: int, headers: dict[str, str]
    ) -> tuple[bytes, int] | None:
        limit = self.limits.max_body
        encoding = headers.get("transfer-encoding")
        if encoding is not None:
            if encoding.lower() != "chunked":
                raise ProtocolError(501, f"unsupported transfer encoding {encoding[:32]}")
            if "content-length" in headers:
                raise ProtocolError(400, "both Content-Length and Transfer-Encoding")
            if self.chunked is None:
                self.chunked = _ChunkedBody(start)
            return self.chunked.parse(buf, limit)
        length_text = headers.get("content-length")
        if length_text is None:
            return b"", start
        if not (length_text.isascii() and length_text.isdigit()) or len(length_text) > 18:
            raise ProtocolError(400, "invalid Content-Length")
        length = int(length_text)
        if length > limit:
            raise ProtocolError(413, f"request body larger than {limit} bytes")
        if len(buf) < start + length:
            return None
        return bytes(buf[start : start + length]), start + length

    def _fill(self, slot: _Slot, response: Response) -> None:
        slot.response = response
        slot.task = None
        if not self.closed:
            self._process()

    def _task_done(self, slot: _Slot, task: asyncio.Future[Response]) -> None:
        if task.cancelled():
            response = text_response(503, "request cancelled\n")
            slot.keep_alive = False
        elif (exc := task.exception()) is not None:
            response = text_response(500, f"internal error: {type(exc).__name__}\n")
        else:
            response = task.result()
        self._fill(slot, response)

    def _reject(
        self,
        status: int,
        message: str,
        method: str = "-",
        target: str = "-",
        *,
        drain: bool = False,
    ) -> None:
        """Answer (in turn) a request that could not be read; then stop reading requests."""
        request = Request(method, target.split("?", 1)[0], {}, b"", self.peer, self.connection)
        slot = _Slot(request, False, time.perf_counter(), False)
        slot.response = text_response(status, f"error: {message}\n")
        slot.drain = drain
        self.slots.append(slot)
        self.no_more = True
        self.buf.clear()
        self.chunked = None
        self.request_start = None

    def _send(self, slot: _Slot) -> None:
        if self.transport is None:
            return
        response = slot.response
        assert response is not None
        request = slot.request
        status = response.status
        body = response.body
        head = (
            f"HTTP/1.1 {status} {REASONS.get(status, 'Unknown')}\r\n"
            f"Content-Type: {response.content_type}\r\n"
            f"Content-Length: {len(body)}\r\n"
        )
        for name, value in response.headers:
            head += f"{name}: {value}\r\n"
        if not slot.keep_alive:
            head += "Connection: close\r\n"
        self.out.append(head.encode("latin-1") + b"\r\n" + body)
        self.server.log(self.peer, request.method, request.path, status, len(body), slot.t0)
        self.last_activity = time.monotonic()
        if slot.keep_alive:
            return
        self._flush()
        if slot.drain and not self.eof and self.transport.can_write_eof():
            # Keep swallowing the unread body for a while, so that the client sees the
            # answer instead of a connection reset.
            self.transport.write_eof()
            self.discarding = DRAIN_LIMIT
            self.discard_until = time.monotonic() + self.limits.read_timeout
            self.buf.clear()
            for other in self.slots:
                if other.task is not None:
                    other.task.cancel()
            self.slots.clear()
        else:
            self._close()


# -- client ---------------------------------------------------------------------------------


class UpstreamError(Exception):
    """Failure talking to an upstream: status 502 (unreachable, garbage) or 504 (timeout)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(slots=True)
class UpstreamResponse:
    status: int
    body: bytes
    keep_alive: bool


UpstreamCallback = Callable[["UpstreamResponse | UpstreamError"], None]
MAX_BATCH = 32


class _Call:
    __slots__ = ("callback", "data", "deadline", "retried")

    def __init__(self, data: bytes, deadline: float, callback: UpstreamCallback) -> None:
        self.data = data
        self.deadline = deadline
        self.callback = callback
        self.retried = False


class _ClientProtocol(asyncio.Protocol):
    """One keep-alive connection of an UpstreamPool, carrying one batch of calls at a time
    (sent together, pipelined, answered in order)."""

    def __init__(self, pool: UpstreamPool) -> None:
        self.pool = pool
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.calls: deque[_Call] = deque()
        self.chunked: _ChunkedBody | None = None  # the chunked answer being received
        self.reused = False
        self.closed = False
        self.eof = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.eof = True
        if self.calls:
            self._try_complete()
        if self.calls:
            # Closed before every answer came: the calls are sent again on another
            # connection (once; operators are pure functions, so this is safe).
            self.pool.retry(self, self._take_all(), "closed the connection")
        self.pool.lost(self)

    def eof_received(self) -> bool:
        self.eof = True
        if self.calls:
            self._try_complete()
        return False

    def data_received(self, data: bytes) -> None:
        self.buf += data
        if self.calls:
            self._try_complete()
        elif len(self.buf) > MAX_HEAD:
            self.close()  # unsolicited data on an idle connection

    def start(self, batch: list[_Call]) -> None:
        assert self.transport is not None
        self.calls.extend(batch)
        self.buf.clear()
        self.chunked = None
        self.eof = False
        data = batch[0].data if len(batch) == 1 else b"".join(call.data for call in batch)
        self.transport.write(data)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            if self.transport is not None:
                self.transport.close()

    def _take_all(self) -> list[_Call]:
        calls = list(self.calls)
        self.calls.clear()
        return calls

    def expire(self, now: float) -> None:
        if self.calls and self.calls[0].deadline <= now:
            calls = self._take_all()
            self.close()
            self.pool.fail(self, calls, self.pool.timed_out())

    def _try_complete(self) -> None:
        pool = self.pool
        while self.calls:
            try:
                parsed = self._parse()
            except ProtocolError as exc:
                calls = self._take_all()
                self.close()
                error = UpstreamError(
                    502, f"{pool.name} service at {pool.url} sent an invalid answer: {exc.message}"
                )
                pool.fail(self, calls, error)
                return
            if parsed is None:
                return
            call = self.calls.popleft()
            if not parsed.keep_alive:
                self.close()
                if self.calls:
                    pool.retry(self, self._take_all(), "closed the connection")
            pool.answered(self, call, parsed)

    def _parse(self) -> UpstreamResponse | None:
        buf = self.buf
        while True:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                if len(buf) > MAX_HEAD:
                    raise ProtocolError(502, f"response head larger than {MAX_HEAD} bytes")
                if self.eof and buf:
                    raise ProtocolError(502, "malformed response head")
                return None
            head = bytes(buf[:end]).lower()
            if head[:9] not in (b"http/1.1 ", b"http/1.0 ") or not head[9:12].isdigit():
                raise ProtocolError(502, "not an HTTP response")
            status = int(head[9:12])
            if not 100 <= status < 200:
                break
            del buf[: end + 4]  # interim response: skip it
        lines = head.split(b"\r\n")
        if len(lines) > MAX_HEADERS:
            raise ProtocolError(502, f"more than {MAX_HEADERS} response header fields")
        length_text = encoding = None
        keep_alive = head[5:8] == b"1.1"
        for line in lines[1:]:
            name, sep, value = line.partition(b":")
            if not sep:
                raise ProtocolError(502, "malformed response header")
            if name == b"content-length":
                length_text = value.strip()
            elif name == b"connection":
                keep_alive = keep_alive and b"close" not in value
            elif name == b"transfer-encoding":
                encoding = value.strip()
        start = end + 4
        if encoding is not None:
            if encoding != b"chunked":
                raise ProtocolError(502, "unsupported response transfer encoding")
            if self.chunked is None:
                self.chunked = _ChunkedBody(start)
            chunked = self.chunked.parse(buf, MAX_RESPONSE)
            if chunked is None:
                if self.eof:
                    raise ProtocolError(502, "truncated response")
                return None
            self.chunked = None
            body, consumed = chunked
        elif length_text is not None:
            if not length_text.isdigit() or len(length_text) > 18:
                raise ProtocolError(502, "invalid response Content-Length")
            length = int(length_text)
            if length > MAX_RESPONSE:
                raise ProtocolError(502, f"response larger than {MAX_RESPONSE} bytes")
            if len(buf) < start + length:
                if self.eof:
                    raise ProtocolError(502, "truncated response")
                return None
            body, consumed = bytes(buf[start : start + length]), start + length
        else:
            if len(buf) - start > MAX_RESPONSE:
                raise ProtocolError(502, f"response larger than {MAX_RESPONSE} bytes")
            if not self.eof:
                return None
            body, consumed = bytes(buf[start:]), len(buf)
            keep_alive = False
        del buf[:consumed]
        return UpstreamResponse(status, body, keep_alive)


class UpstreamPool:
    """Keep-alive connections to one upstream ``http://host:port/path`` URL.

    ``request`` queues a POST and later calls its callback exactly once, with the response
    or an UpstreamError (502: unreachable, closed, garbage; 504: past the deadline). The
    calls queued during one turn of the event loop leave together as one batch: pipelined
    on one idle (or new) connection, in one write, so that the upstream receives them at
    once and can answer them at once; batches of different turns use different
    connections. Every call has a deadline, ``timeout`` seconds from its start, connecting
    and queueing included; one periodic timer per pool checks the deadlines.
    """

    def __init__(self, name: str, url: str, timeout: float, max_connections: int = 64) -> None:
        parts = urlsplit(url)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"{name}: expected an http://host:port URL, got {url!r}")
        try:
            port = parts.port or 80
        except ValueError as exc:
            raise ValueError(f"{name}: invalid port in {url!r}") from exc
        self.name = name
        self.url = url
        self.host = parts.hostname
        self.port = port
        self.timeout = timeout
        self.max_connections = max_connections
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        netloc = parts.netloc.rsplit("@", 1)[-1]
        self.prefix = (
            f"POST {path} HTTP/1.1\r\nHost: {netloc}\r\nContent-Type: text/plain\r\n"
            "Content-Length: "
        ).encode("latin-1")
        self.loop = asyncio.get_running_loop()
        self.batch: list[_Call] = []
        self.idle: list[_ClientProtocol] = []
        self.in_flight: set[_ClientProtocol] = set()
        self.waiting: deque[list[_Call]] = deque()
        self.connections = 0  # open or opening
        self.sweeper: asyncio.TimerHandle | None = None
        self.tick = max(0.005, min(0.05, timeout / 20))
        self.closed = False

    def timed_out(self) -> UpstreamError:
        return UpstreamError(
            504, f"{self.name} service at {self.url} did not answer within {self.timeout:g} s"
        )

    def request(self, body: bytes, callback: UpstreamCallback) -> None:
        data = b"%s%d\r\n\r\n%s" % (self.prefix, len(body), body)
        self.batch.append(_Call(data, self.loop.time() + self.timeout, callback))
        if len(self.batch) == 1:
            self.loop.call_soon(self._send_batch)

    def _send_batch(self) -> None:
        calls, self.batch = self.batch, []
        for index in range(0, len(calls), MAX_BATCH):
            self._dispatch(calls[index : index + MAX_BATCH])

    def _dispatch(self, batch: list[_Call]) -> None:
        if self.closed:
            self.fail(None, batch, UpstreamError(503, f"{self.name} client closed"))
            return
        idle = self.idle
        while idle:
            conn = idle.pop()
            if not conn.closed:
                conn.reused = True
                self._start(conn, batch)
                return
        if self.connections < self.max_connections:
            self.connections += 1
            self.loop.create_task(self._open(batch))
        else:
            self.waiting.append(batch)
            self._arm()

    def _start(self, conn: _ClientProtocol, batch: list[_Call]) -> None:
        self.in_flight.add(conn)
        self._arm()
        conn.start(batch)

    def _arm(self) -> None:
        if self.sweeper is None:
            self.sweeper = self.loop.call_at(self.loop.time() + self.tick, self._sweep)

    def _sweep(self) -> None:
        self.sweeper = None
        now = self.loop.time()
        for conn in list(self.in_flight):
            conn.expire(now)
        # Every waiting batch is checked: one sent again waits behind newer ones.
        expired = [batch for batch in self.waiting if batch[0].deadline <= now]
        if expired:
            self.waiting = deque(batch for batch in self.waiting if batch[0].deadline > now)
            for batch in expired:
                self.fail(None, batch, self.timed_out())
        if self.in_flight or self.waiting:
            self._arm()

    async def _open(self, batch: list[_Call]) -> None:
        try:
            async with asyncio.timeout_at(batch[0].deadline):
                _, conn = await self.loop.create_connection(
                    lambda: _ClientProtocol(self), self.host, self.port
                )
        except TimeoutError:
            self.connections -= 1
            self.fail(None, batch, self.timed_out())
        except OSError as exc:
            self.connections -= 1
            reason = exc.strerror or type(exc).__name__
            error = UpstreamError(502, f"{self.name} service unreachable at {self.url}: {reason}")
            self.fail(None, batch, error)
        else:
            if self.closed:
                conn.close()
                self.fail(None, batch, UpstreamError(503, f"{self.name} client closed"))
            else:
                self._start(conn, batch)

    def answered(self, conn: _ClientProtocol, call: _Call, response: UpstreamResponse) -> None:
        """A connection received the answer to ``call``."""
        if not conn.calls:
            self.in_flight.discard(conn)
            if conn.buf:
                conn.close()  # unexpected extra bytes: do not reuse
            elif not conn.closed and not self.closed:
                if self.waiting:
                    conn.reused = True
                    self._start(conn, self.waiting.popleft())
                else:
                    self.idle.append(conn)
        self._deliver(call, response)

    def retry(self, conn: _ClientProtocol, calls: list[_Call], reason: str) -> None:
        """Send again (once, before their deadline) calls a connection did not answer."""
        self.in_flight.discard(conn)
        now = self.loop.time()
        again: list[_Call] = []
        for call in calls:
            if not call.retried and call.deadline > now:
                call.retried = True
                again.append(call)
            else:
                self._deliver(
                    call, UpstreamError(502, f"{self.name} service at {self.url} {reason}")
                )
        if again:
            self._dispatch(again)

    def fail(self, conn: _ClientProtocol | None, calls: list[_Call], error: UpstreamError) -> None:
        if conn is not None:
            self.in_flight.discard(conn)
        for call in calls:
            self._deliver(call, error)

    def lost(self, conn: _ClientProtocol) -> None:
        """A connection was closed."""
        self.connections -= 1
        self.in_flight.discard(conn)
        if self.waiting and not self.closed and self.connections < self.max_connections:
            self.connections += 1
            self.loop.create_task(self._open(self.waiting.popleft()))

    def _deliver(self, call: _Call, result: UpstreamResponse | UpstreamError) -> None:
        try:
            call.callback(result)
        except Exception as exc:  # a bug in a callback must not break the connection
            print(f"{self.name}: error in upstream callback: {exc!r}", file=sys.stderr)

    def close(self) -> None:
        self.closed = True
        for conn in self.idle:
            conn.close()
        self.idle.clear()
        if self.sweeper is not None:
            self.sweeper.cancel()
            self.sweeper = None
