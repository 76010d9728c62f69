"""Command line: ``python -m calculator serve ROLE | all | healthcheck``."""

from __future__ import annotations

import argparse
import asyncio
import http.client
import os
import signal
import sys
from collections.abc import Sequence
from urllib.parse import urlsplit

from . import __version__
from .config import DEFAULT_PORTS, OPERATOR_ROLES, ROLES, Config, ConfigError, build_config
from .httpcore import Handler, HTTPServer
from .services import FrontEnd, limits_of, operator_handler

_TUNING = (
    ("--timeout", float, "seconds to wait for one operator call [CALC_TIMEOUT, 5]"),
    (
        "--expression-timeout",
        float,
        "seconds to evaluate one whole expression [CALC_EXPRESSION_TIMEOUT, 30]",
    ),
    ("--max-body", int, "largest request body in bytes [CALC_MAX_BODY, 65536]"),
    ("--max-depth", int, "deepest nesting of parentheses/unary signs [CALC_MAX_DEPTH, 100]"),
    ("--max-digits", int, "longest number in digits [CALC_MAX_DIGITS, 4000]"),
    ("--max-operations", int, "most operations in one expression [CALC_MAX_OPERATIONS, 1000]"),
    ("--max-calls", int, "operator calls in flight, in all [CALC_MAX_CALLS, 256]"),
    (
        "--max-calls-per-connection",
        int,
        "operator calls in flight per client connection [CALC_MAX_CALLS_PER_CONNECTION, 32]",
    ),
    ("--read-timeout", float, "seconds to receive one request [CALC_READ_TIMEOUT, 10]"),
    ("--idle-timeout", float, "seconds an idle connection is kept [CALC_IDLE_TIMEOUT, 60]"),
    ("--delay", float, "artificial delay of operator answers (tests) [CALC_DELAY, 0]"),
)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m calculator",
        description="The cloud-labs calculator: a front end and four operator HTTP services.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run one service")
    serve.add_argument(
        "role", nargs="?", choices=ROLES, help="service to run [CALC_ROLE]", metavar="ROLE"
    )
    serve.add_argument("--host", help="bind address [CALC_HOST, 127.0.0.1]")
    serve.add_argument("--port", type=int, help="port [CALC_PORT, 50000 + role index]")
    for op in OPERATOR_ROLES:
        serve.add_argument(
            f"--{op}-url",
            help=f"{op} service URL, front end only [CALC_{op.upper()}_URL, "
            f"http://127.0.0.1:{DEFAULT_PORTS[op]}]",
        )

    every = commands.add_parser("all", help="run the five services in one process")
    every.add_argument("--host", help="bind address [CALC_HOST, 127.0.0.1]")
    every.add_argument(
        "--base-port", type=int, default=50000, help="front end port; operators follow [50000]"
    )

    for sub in (serve, every):
        for flag, kind, text in _TUNING:
            sub.add_argument(flag, type=kind, help=text)

    check = commands.add_parser("healthcheck", help="exit 0 when a service answers /healthz")
    check.add_argument(
        "--url", help="health URL [CALC_HEALTHCHECK_URL, from CALC_HOST/CALC_PORT/CALC_ROLE]"
    )
    check.add_argument("--timeout", type=float, default=3.0, help="seconds [3]")
    return parser


def _overrides(args: argparse.Namespace) -> dict[str, object | None]:
    return {key: value for key, value in vars(args).items() if key != "command"}


def _connect_host(host: str) -> str:
    if host in ("0.0.0.0", ""):
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host


async def _run(configs: list[Config]) -> int:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    servers: list[HTTPServer] = []
    front_ends: list[FrontEnd] = []
    try:
        for config in configs:
            handler: Handler
            if config.role == "calculator":
                # In "all" mode the operators were started first: point at their real ports.
                for server in servers:
                    config.urls[server.name] = f"http://{_connect_host(config.host)}:{server.port}"
                front_end = FrontEnd(config)
                front_ends.append(front_end)
                handler = front_end.handler
            else:
                handler = operator_handler(config)
            log = sys.stderr if config.access_log else None
            server = HTTPServer(config.role, handler, limits_of(config), log)
            try:
                port = await server.start(config.host, config.port)
            except OSError as exc:
                print(
                    f"{config.role}: cannot listen on {config.host}:{config.port}: {exc.strerror}",
                    file=sys.stderr,
                )
                return 1
            servers.append(server)
            bind = f"[{config.host}]" if ":" in config.host else config.host
            where = f"http://{bind}:{port}"
            extra = ""
            if config.role == "calculator":
                extra = " (" + ", ".join(f"{k}={v}" for k, v in config.urls.items()) + ")"
            print(f"{config.role} listening on {where}{extra}", file=sys.stderr, flush=True)
        await stop.wait()
        print("stopping", file=sys.stderr, flush=True)
        return 0
    finally:
        for server in servers:
            await server.stop()
        for front_end in front_ends:
            front_end.close()


def _prepare(configs: list[Config]) -> int:
    largest = max(config.max_digits for config in configs)
    if largest > 4000:
        # Python refuses int/str conversions above 4300 digits by default.
        sys.set_int_max_str_digits(max(sys.get_int_max_str_digits(), 2 * largest + 16))
    return asyncio.run(_run(configs))


def healthcheck(url: str | None, timeout: float) -> int:
    if url is None:
        url = os.environ.get("CALC_HEALTHCHECK_URL", "").strip() or None
    if url is None:
        role = os.environ.get("CALC_ROLE", "calculator").strip() or "calculator"
        port = os.environ.get("CALC_PORT", "").strip() or str(DEFAULT_PORTS.get(role, 50000))
        host = _connect_host(os.environ.get("CALC_HOST", "127.0.0.1").strip())
        url = f"http://{host}:{port}/healthz"
    parts = urlsplit(url)
    try:
        connection = http.client.HTTPConnection(
            parts.hostname or "127.0.0.1", parts.port or 80, timeout=timeout
        )
        connection.request("GET", parts.path or "/healthz")
        response = connection.getresponse()
        body = response.read(200).decode("utf-8", "replace").strip()
        connection.close()
    except (OSError, http.client.HTTPException, ValueError) as exc:
        print(f"unhealthy: {url}: {exc}", file=sys.stderr)
        return 1
    if response.status != 200:
        print(f"unhealthy: {url}: HTTP {response.status} {body}", file=sys.stderr)
        return 1
    print(f"healthy: {url}: {body}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "healthcheck":
        return healthcheck(args.url, args.timeout)
    try:
        if args.command == "serve":
            role = args.role or os.environ.get("CALC_ROLE", "").strip()
            if not role:
                raise ConfigError("no role given (argument ROLE or CALC_ROLE)")
            configs = [build_config(role, _overrides(args))]
        else:
            overrides = _overrides(args)
            base = int(args.base_port)
            if not 0 <= base <= 65531:
                raise ConfigError(f"--base-port out of range: {base}")
            configs = []
            for index, role in enumerate(ROLES):
                port = base + index if base else 0
                configs.append(build_config(role, dict(overrides, port=port)))
            configs.append(configs.pop(0))  # operators first, then the front end
    except ConfigError as exc:
        print(f"python -m calculator: error: {exc}", file=sys.stderr)
        return 2
    return _prepare(configs)
