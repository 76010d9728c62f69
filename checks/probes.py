"""Running probes for real: commands through subprocess, HTTP with urllib, TCP with socket.

Nothing goes through a proxy: the proxy variables of this environment are removed from the
commands' environment and urllib is given no proxy handler, so every probe reaches the address
it names. :func:`guarded` refuses, without sending anything, a request from this machine to an
address that is not the lab's (:func:`lab_addresses`).
"""

from __future__ import annotations

import ipaddress
import os
import re
import socket
import subprocess
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from checks.model import Connect, Http, Observation, Probe, Run, Steps
from components.hostexec import script_text

Executor = Callable[[Probe], Observation]

PROXY_VARIABLES = ("http_proxy", "https_proxy", "all_proxy", "ftp_proxy", "no_proxy")
KEEP = 4000
"""Characters of a command's output kept (the end of it)."""


def environment() -> dict[str, str]:
    """This process's environment without the proxy variables."""
    drop = {*PROXY_VARIABLES, *(name.upper() for name in PROXY_VARIABLES)}
    return {key: value for key, value in os.environ.items() if key not in drop}


def _run(probe: Run) -> Observation:
    try:
        done = subprocess.run(
            probe.argv,
            input=script_text(probe.script) if probe.script else "",
            capture_output=True,
            text=True,
            errors="replace",
            timeout=probe.timeout,
            env=environment(),
            check=False,
        )
    except subprocess.TimeoutExpired:
        return Observation(False, "", f"no answer within {probe.timeout:g} s")
    except OSError as error:
        return Observation(False, "", f"cannot run {probe.argv[0]}: {error.strerror}")
    if done.returncode != 0:
        stderr = done.stderr.strip()[-KEEP:]
        return Observation(False, done.stdout[-KEEP:], f"exit {done.returncode}: {stderr}".strip())
    return Observation(True, done.stdout[-KEEP:], done.stderr.strip()[-KEEP:])


_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _http(probe: Http) -> Observation:
    data = probe.body.encode() if probe.body is not None else None
    request = urllib.request.Request(probe.url, data=data, method="POST" if data else "GET")
    try:
        with _OPENER.open(request, timeout=probe.timeout) as answer:
            body = answer.read(KEEP).decode("utf-8", "replace")
            return Observation(True, body, f"HTTP {answer.status}")
    except urllib.error.HTTPError as error:
        body = error.read(KEEP).decode("utf-8", "replace")
        return Observation(False, body, f"HTTP {error.code}: {body.strip()[:200]}")
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        return Observation(False, "", f"{reason}")


def _connect(probe: Connect) -> Observation:
    try:
        with socket.create_connection((probe.host, probe.port), timeout=probe.timeout) as conn:
            try:
                first = conn.recv(256).decode("utf-8", "replace")
            except TimeoutError:
                first = ""
            return Observation(True, first, "connected")
    except ConnectionRefusedError:
        return Observation(False, "", "refused")
    except TimeoutError:
        return Observation(False, "", f"timed out after {probe.timeout:g} s")
    except OSError as error:
        return Observation(False, "", error.strerror or str(error))


def execute(probe: Probe) -> Observation:
    """Run ``probe`` once."""
    if isinstance(probe, Run):
        return _run(probe)
    if isinstance(probe, Steps):
        seen = Observation(False, "", "no steps")
        for i, step in enumerate(probe.steps, start=1):
            seen = _run(step)
            if not seen.ok:
                return Observation(False, seen.text, f"step {i} ({step.on.name}): {seen.failure()}")
        return seen
    if isinstance(probe, Http):
        return _http(probe)
    return _connect(probe)


# --- the lab's own addresses -----------------------------------------------------------------

_ADDRESS = re.compile(r"(?<![\d.])(\d{1,3}(?:\.\d{1,3}){3})(?![\d.])")
_URL_HOST = re.compile(r"\b[a-z][a-z0-9+.-]*://([^/:\s]+)")


def _texts(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _texts(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _texts(item)


def lab_addresses(outputs: Mapping[str, Any]) -> frozenset[str]:
    """Every address and URL host found in the stack's outputs."""
    found: set[str] = set()
    for text in _texts(outputs):
        found.update(_ADDRESS.findall(text))
        found.update(_URL_HOST.findall(text))
    return frozenset(found)


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def guarded(execute: Executor, allowed: frozenset[str]) -> Executor:
    """``execute``, except that a request from this machine (HTTP, TCP) to a host that is
    neither loopback nor in ``allowed`` fails at once and sends nothing."""

    def run(probe: Probe) -> Observation:
        host = probe.host if isinstance(probe, (Http, Connect)) else None
        if host is not None and not _loopback(host) and host not in allowed:
            return Observation(False, "", f"not sent: {host} is not an address of the lab")
        return execute(probe)

    return run
