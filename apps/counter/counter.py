#!/usr/bin/env python3
"""A request counter over HTTP: every POST to ``/`` adds one and answers the new count.

Standard library only, so it runs on a fresh Ubuntu guest with its ``python3``.

Without Redis the count lives in this process: behind a load balancer, each instance counts only
the requests it received. With ``COUNTER_REDIS_HOST`` set, the count is one Redis key shared by
every instance, incremented atomically. A request carrying ``X-Request-Id`` (set by the load
balancer) is counted once even when the balancer retries it on another instance.

Environment:
  COUNTER_HOST        address to listen on (default 0.0.0.0)
  COUNTER_PORT        port to listen on (default 5001)
  COUNTER_REDIS_HOST  Redis server; unset = count in this process
  COUNTER_REDIS_PORT  Redis port (default 6379)
  COUNTER_KEY         Redis key of the count (default counter)

Endpoints: ``POST /`` counts; ``GET /count`` reads the count; ``GET /health`` answers ``ok``.
"""

from __future__ import annotations

import os
import signal
import socket
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# Count a request id once: its first arrival increments the count and keeps the new value under
# the id; a retry of the same id (the balancer gave up on a slow node and asked another) answers
# that same value, so the answers stay one distinct number per request.
_COUNT_ONCE = (
    "local seen = redis.call('GET', KEYS[2]) "
    "if seen then return tonumber(seen) end "
    "local value = redis.call('INCR', KEYS[1]) "
    "redis.call('SET', KEYS[2], value, 'EX', 3600) "
    "return value"
)


class RedisError(Exception):
    """Redis answered an error, or the connection failed."""


def encode_command(*parts: str | int) -> bytes:
    """A command in the Redis serialization protocol (an array of bulk strings)."""
    out = [b"*%d\r\n" % len(parts)]
    for part in parts:
        data = str(part).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(out)


def read_reply(stream: object) -> object:
    """One RESP2 reply read from a binary file object (``socket.makefile('rb')``)."""
    readline = stream.readline  # type: ignore[attr-defined]
    line: bytes = readline()
    if not line.endswith(b"\r\n"):
        raise RedisError("connection closed by the server")
    kind, rest = line[:1], line[1:-2]
    if kind == b"+":
        return rest.decode()
    if kind == b"-":
        raise RedisError(rest.decode())
    if kind == b":":
        return int(rest)
    if kind == b"$":
        size = int(rest)
        if size < 0:
            return None
        data: bytes = stream.read(size + 2)  # type: ignore[attr-defined]
        return data[:-2].decode()
    if kind == b"*":
        count = int(rest)
        return None if count < 0 else [read_reply(stream) for _ in range(count)]
    raise RedisError(f"unexpected reply {line!r}")


class Redis:
    """A minimal Redis client: one connection, reopened after a failure."""

    def __init__(self, host: str, port: int = 6379, timeout: float = 3.0) -> None:
        self.address = (host, port)
        self.timeout = timeout
        self._sock: socket.socket | None = None
        self._file: object = None

    def command(self, *parts: str | int) -> object:
        for attempt in (1, 2):
            try:
                if self._sock is None:
                    self._sock = socket.create_connection(self.address, timeout=self.timeout)
                    self._file = self._sock.makefile("rb")
                self._sock.sendall(encode_command(*parts))
                return read_reply(self._file)
            except (OSError, RedisError) as exc:
                self.close()
                if isinstance(exc, RedisError) and not str(exc).startswith("connection"):
                    raise
                if attempt == 2:
                    raise RedisError(f"redis {self.address[0]}:{self.address[1]}: {exc}") from exc
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
        self._sock = None
        self._file = None


class LocalCount:
    """The per-process count (the naive version: each instance counts on its own)."""

    def __init__(self) -> None:
        self._value = 0
        self._lock = threading.Lock()

    def add(self, request_id: str | None) -> int:
        with self._lock:
            self._value += 1
            return self._value

    def read(self) -> int:
        with self._lock:
            return self._value


class RedisCount:
    """The shared count: one Redis key, incremented atomically, each request id once."""

    def __init__(self, host: str, port: int, key: str) -> None:
        self.host, self.port, self.key = host, port, key
        self._local = threading.local()

    def _client(self) -> Redis:
        client = getattr(self._local, "client", None)
        if client is None:
            client = self._local.client = Redis(self.host, self.port)
        return client

    def add(self, request_id: str | None) -> int:
        if not request_id:
            return int(self._client().command("INCR", self.key))  # type: ignore[call-overload]
        seen = f"{self.key}:request:{request_id}"
        reply = self._client().command("EVAL", _COUNT_ONCE, 2, self.key, seen)
        return int(reply)  # type: ignore[call-overload]

    def read(self) -> int:
        value = self._client().command("GET", self.key)
        return int(value) if value is not None else 0  # type: ignore[call-overload]


def make_handler(
    count: LocalCount | RedisCount, label: str | None = None
) -> type[BaseHTTPRequestHandler]:
    """The request handler; answers name the server by ``label``, or (None) by the address the
    request came in on: on a node listening on every address that is its lab address, where
    its host name would resolve to the loopback line of /etc/hosts (127.0.1.1)."""

    class Handler(BaseHTTPRequestHandler):
        server_version = "counter/1"
        protocol_version = "HTTP/1.1"

        def _answer(self, status: int, text: str) -> None:
            body = text.encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(min(length, 65536))
            try:
                value = count.add(self.headers.get("X-Request-Id"))
            except RedisError as exc:
                self._answer(503, f"counter store unavailable: {exc}\n")
                return
            ip = label or self.connection.getsockname()[0]
            self._answer(200, f"Server (IP: {ip}) has processed {value} requests!\n")

        def do_GET(self) -> None:
            if self.path == "/health":
                self._answer(200, "ok\n")
            elif self.path == "/count":
                try:
                    self._answer(200, f"{count.read()}\n")
                except RedisError as exc:
                    self._answer(503, f"counter store unavailable: {exc}\n")
            else:
                self._answer(404, "POST / to count, GET /count to read\n")

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


class Server(ThreadingHTTPServer):
    # Stopped (SIGTERM, `systemctl stop`), the server lets the requests in progress finish:
    # server_close() joins their threads. An answer cut off after its count was taken would
    # reach the client as a 200 without its count, which the balancer cannot retry.
    daemon_threads = False
    block_on_close = True
    request_queue_size = 1024


def main() -> None:
    host = os.environ.get("COUNTER_HOST", "0.0.0.0")
    port = int(os.environ.get("COUNTER_PORT", "5001"))
    redis_host = os.environ.get("COUNTER_REDIS_HOST", "")
    count: LocalCount | RedisCount
    if redis_host:
        redis_port = int(os.environ.get("COUNTER_REDIS_PORT", "6379"))
        count = RedisCount(redis_host, redis_port, os.environ.get("COUNTER_KEY", "counter"))
    else:
        count = LocalCount()
    label = host if host not in ("0.0.0.0", "") else None
    server = Server((host, port), make_handler(count, label))
    mode = f"redis {redis_host}" if redis_host else "in-process"
    print(f"counter listening on {host}:{port} ({mode} count)", file=sys.stderr, flush=True)

    def stop(signum: int, frame: object) -> None:
        # serve_forever() runs in this thread: it is shut down from another one. Connections
        # still queued are reset when the socket closes, before any answer: the balancer
        # retries them on another node.
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
