"""Many concurrent ``POST /`` to a load balancer, each answer kept: the counter labs' load.

Imported by the loopback tests, or run as a script where the balancer is reached (inside the
libvirt tests' network namespace), standard library only::

    python3 tests/post_load.py HOST PORT TOTAL CONCURRENCY [COMMAND_JSON]

prints ``{"answers": [[status, body], ...], "during": ...}``, one answer per request;
``COMMAND_JSON`` (an argv list) is run once a quarter of the requests are answered (to stop a
node mid-run; tried again while it exits 255, ssh's own failure) and ``during`` is its exit
status and output (null without one).
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import Callable

REQUEST = b"POST / HTTP/1.1\r\nHost: lab\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"


async def _post(host: str, port: int, limit: asyncio.Semaphore) -> tuple[int, str]:
    async with limit:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            writer.write(REQUEST)
            await writer.drain()
            data = await reader.read()
        finally:
            writer.close()
    head, _, body = data.partition(b"\r\n\r\n")
    parts = head.split()
    return (int(parts[1]) if len(parts) > 1 else 0), body.decode(errors="replace")


async def _posts(
    host: str,
    port: int,
    total: int,
    concurrency: int,
    at_quarter: Callable[[], object] | None = None,
) -> list[tuple[int, str]]:
    limit = asyncio.Semaphore(concurrency)
    tasks = [asyncio.create_task(_post(host, port, limit)) for _ in range(total)]
    if at_quarter is not None:
        while sum(t.done() for t in tasks) < total // 4:
            await asyncio.sleep(0.01)
        await asyncio.get_running_loop().run_in_executor(None, at_quarter)
    return list(await asyncio.gather(*tasks))


def posts(
    host: str,
    port: int,
    total: int,
    concurrency: int,
    *,
    at_quarter: Callable[[], object] | None = None,
    timeout: float = 180,
) -> list[tuple[int, str]]:
    """``total`` POSTs, at most ``concurrency`` at a time: each (HTTP status, body), in order;
    ``at_quarter`` is called once a quarter of them are answered."""
    run = _posts(host, port, total, concurrency, at_quarter)
    return asyncio.run(asyncio.wait_for(run, timeout=timeout))


def main(argv: list[str]) -> int:
    host, port, total, concurrency = argv[0], int(argv[1]), int(argv[2]), int(argv[3])
    command = json.loads(argv[4]) if len(argv) > 4 else None
    during: dict[str, object] = {}

    def run_command() -> None:
        for _ in range(5):
            done = subprocess.run(command, capture_output=True, text=True, check=False)
            during.update(exit=done.returncode, output=done.stdout + done.stderr)
            if done.returncode != 255:
                break

    answers = posts(host, port, total, concurrency, at_quarter=run_command if command else None)
    print(json.dumps({"answers": answers, "during": during or None}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
