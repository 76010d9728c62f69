"""Helpers for the calculator tests: in-process services on free loopback ports, run in a
background event loop, and a small HTTP client."""

from __future__ import annotations

import asyncio
import http.client
import socket
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, TypeVar

from calculator.config import OPERATOR_ROLES, build_config
from calculator.httpcore import HTTPServer, Pending, Request, Response
from calculator.services import FrontEnd, limits_of, operator_handler

T = TypeVar("T")
RawHandler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Coroutine[Any, Any, None]]


class LoopThread:
    """An asyncio loop running in a daemon thread; tests submit coroutines to it."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coroutine: Coroutine[Any, Any, T], timeout: float = 20) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


@dataclass
class Cluster:
    """Servers started by a test; ``ports`` by role name."""

    runner: LoopThread
    ports: dict[str, int] = field(default_factory=dict)
    servers: list[HTTPServer] = field(default_factory=list)
    front_ends: list[FrontEnd] = field(default_factory=list)

    def start_operator(
        self, role: str, arrivals: list[tuple[float, bytes]] | None = None, **overrides: object
    ) -> int:
        """A real operator; with ``arrivals``, the time.monotonic() and body of every request
        it receives are appended there."""
        config = build_config(role, {"port": 0, **overrides}, environ={})
        handler = operator_handler(config)
        if arrivals is not None:
            real, seen = handler, arrivals

            def handler(request: Request) -> Response | Pending | Awaitable[Response]:
                seen.append((time.monotonic(), request.body))
                return real(request)

        async def start() -> int:
            server = HTTPServer(role, handler, limits_of(config), log=None)
            port = await server.start("127.0.0.1", 0)
            self.servers.append(server)
            return port

        port = self.runner.run(start())
        self.ports[role] = port
        return port

    def start_front_end(self, urls: dict[str, str] | None = None, **overrides: object) -> int:
        if urls is None:
            urls = {op: f"http://127.0.0.1:{self.ports[op]}" for op in OPERATOR_ROLES}
        flags: dict[str, object | None] = {"port": 0, **overrides}
        flags.update({f"{op}_url": url for op, url in urls.items()})
        config = build_config("calculator", flags, environ={})

        async def start() -> int:
            front_end = FrontEnd(config)
            server = HTTPServer("calculator", front_end.handler, limits_of(config), log=None)
            port = await server.start("127.0.0.1", 0)
            self.servers.append(server)
            self.front_ends.append(front_end)
            return port

        port = self.runner.run(start())
        self.ports["calculator"] = port
        return port

    def start_raw(self, handler: RawHandler) -> int:
        """A hand-written fake upstream (asyncio streams server)."""

        async def tracked(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            task = asyncio.current_task()
            assert task is not None
            self._tasks.add(task)
            try:
                await handler(reader, writer)
            except (OSError, asyncio.IncompleteReadError, asyncio.CancelledError):
                pass
            finally:
                self._tasks.discard(task)
                writer.close()

        async def start() -> asyncio.Server:
            return await asyncio.start_server(tracked, "127.0.0.1", 0)

        server = self.runner.run(start())
        self._raw.append(server)
        return int(server.sockets[0].getsockname()[1])

    def __post_init__(self) -> None:
        self._raw: list[asyncio.Server] = []
        self._tasks: set[asyncio.Task[Any]] = set()

    def close(self) -> None:
        async def stop() -> None:
            for server in self.servers:
                await server.stop()
            for front_end in self.front_ends:
                front_end.close()
            for raw in self._raw:
                raw.close()
            for task in list(self._tasks):
                task.cancel()
            await asyncio.sleep(0)

        self.runner.run(stop())


@dataclass
class Answer:
    status: int
    text: str
    headers: dict[str, str]


def call(
    port: int,
    body: bytes | str | None = None,
    *,
    method: str = "POST",
    path: str = "/",
    headers: dict[str, str] | None = None,
    timeout: float = 20,
    connection: http.client.HTTPConnection | None = None,
) -> Answer:
    """One HTTP request with http.client (optionally on a kept-alive ``connection``)."""
    conn = connection or http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    data = body.encode() if isinstance(body, str) else body
    conn.request(method, path, body=data, headers=headers or {})
    response = conn.getresponse()
    text = response.read().decode("utf-8", errors="replace")
    answer = Answer(response.status, text, {k.lower(): v for k, v in response.getheaders()})
    if connection is None:
        conn.close()
    return answer


def unused_port() -> int:
    """A loopback port with nothing listening on it."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
