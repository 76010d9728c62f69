"""What a lab declares to prove it works after ``up``: checks, each a probe and an expectation.

A lab's checks come from its ``checks(config, outputs, reach)`` (``stacks/<lab>_checks.py``),
built from the same validated config and outputs as the lab itself, so no address is listed
twice. A probe says what to do and where:

- :class:`Run`: a shell command on a machine (this one, or a guest as :mod:`bench.lab` reaches
  it: ``ssh`` with the stack's own ssh command, ``docker exec`` for a container);
- :class:`Steps`: several of those in order (write a file on one node, read it on another);
- :class:`Http`: an HTTP request from this machine (POST when it has a body);
- :class:`Connect`: a TCP connection from this machine, reading what the server says first.

An expectation turns what came back (:class:`Observation`) into pass or fail and a short text
for the report's *observed* column: :class:`Equals`, :class:`Contains`, :class:`Succeeds`,
:class:`Unreachable` and :class:`Judged` (a function, for answers that need reading).
"""

from __future__ import annotations

import shlex
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from bench.lab import Target

SHOWN = 60
"""Characters of an answer shown in the observed column (the JSON report keeps all of it)."""


def first_line(text: str, limit: int = SHOWN) -> str:
    """The first non-empty line of ``text``, cut to ``limit`` characters."""
    line = next((part.strip() for part in text.splitlines() if part.strip()), "")
    return line if len(line) <= limit else line[: limit - 1] + "…"


# --- probes ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    """``command`` (POSIX shell) on the machine ``on``."""

    on: Target
    command: str
    timeout: float = 60.0
    """Seconds one attempt may take."""
    script: str | None = None
    """A script of the project (``checks/reach.sh``, under ``scripts/``) given to the command on
    its standard input (``sh -s -- ARGS``): the machine needs no copy of it."""

    @property
    def argv(self) -> list[str]:
        return [*self.on.argv, self.command]

    def describe(self) -> str:
        feed = f" < {shlex.quote('scripts/' + self.script)}" if self.script else ""
        return shlex.join(self.argv) + feed


@dataclass(frozen=True)
class Steps:
    """Commands run in order; the first that fails ends the probe, the last one's answer is
    the observation."""

    steps: tuple[Run, ...]

    def describe(self) -> str:
        return " && ".join(f"( {step.describe()} )" for step in self.steps)


@dataclass(frozen=True)
class Http:
    """An HTTP request from this machine, never through a proxy: GET, or POST of ``body``."""

    url: str
    body: str | None = None
    timeout: float = 10.0

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or ""

    def describe(self) -> str:
        post = ["-d", self.body, "-X", "POST"] if self.body is not None else []
        return shlex.join(
            ["curl", "-sS", "--noproxy", "*", "-m", f"{self.timeout:g}", *post, self.url]
        )


@dataclass(frozen=True)
class Connect:
    """A TCP connection from this machine to ``host:port``; what the server sends first (an
    SSH banner) is the observation."""

    host: str
    port: int
    timeout: float = 5.0

    def describe(self) -> str:
        return shlex.join(["nc", "-w", f"{self.timeout:g}", self.host, str(self.port)])


Probe = Run | Steps | Http | Connect


@dataclass(frozen=True)
class Observation:
    """What one attempt of a probe saw."""

    ok: bool
    """The command exited 0, the HTTP status was 2xx, the connection was accepted."""
    text: str
    """Standard output, the HTTP body, what the server sent."""
    detail: str = ""
    """Why it failed (exit status and standard error, HTTP status, refused, timed out)."""

    def failure(self) -> str:
        return first_line(self.detail) or first_line(self.text) or "failed"


# --- expectations ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Equals:
    """The probe succeeds and its answer, stripped, is ``text``."""

    text: str

    @property
    def shown(self) -> str:
        return self.text if self.text else "(nothing)"

    def judge(self, seen: Observation) -> tuple[bool, str]:
        if not seen.ok:
            return False, seen.failure()
        answer = seen.text.strip()
        return answer == self.text, first_line(answer) or "(nothing)"


@dataclass(frozen=True)
class Contains:
    """The probe succeeds and its answer contains ``text``."""

    text: str

    @property
    def shown(self) -> str:
        return f"… {self.text.strip()} …"

    def judge(self, seen: Observation) -> tuple[bool, str]:
        if not seen.ok:
            return False, seen.failure()
        if self.text in seen.text:
            line = next(line for line in seen.text.splitlines() if self.text in line)
            return True, first_line(line)
        return False, first_line(seen.text) or "(nothing)"


@dataclass(frozen=True)
class Succeeds:
    """The probe succeeds (exit 0, HTTP 2xx, connection accepted); ``shown`` says what that
    means here."""

    shown: str

    def judge(self, seen: Observation) -> tuple[bool, str]:
        if not seen.ok:
            return False, seen.failure()
        return True, first_line(seen.detail) or first_line(seen.text) or "ok"


@dataclass(frozen=True)
class Unreachable:
    """Nothing answers: the connection is refused or times out (a closed port, a filtered
    address). A probe that gets an answer fails."""

    shown: str = "no answer"

    def judge(self, seen: Observation) -> tuple[bool, str]:
        if seen.ok:
            return (
                False,
                f"answered: {first_line(seen.text) or first_line(seen.detail) or 'connected'}",
            )
        return True, seen.failure()


@dataclass(frozen=True)
class Judged:
    """The probe succeeds and ``verdict`` accepts its answer; ``verdict`` returns whether it
    did and what to show of the answer."""

    shown: str
    verdict: Callable[[str], tuple[bool, str]]

    def judge(self, seen: Observation) -> tuple[bool, str]:
        if not seen.ok:
            return False, seen.failure()
        return self.verdict(seen.text)


Expect = Equals | Contains | Succeeds | Unreachable | Judged


@dataclass(frozen=True)
class Check:
    """One question a lab answers after ``up``."""

    name: str
    probe: Probe
    expect: Expect
    retry: bool = True
    """Try again until the run's wait is over (a guest still booting, a service starting).
    Checks that expect no answer never retry: declare them after the checks that show the
    lab is up, so that a machine still booting is not taken for a closed port."""

    @property
    def expected(self) -> str:
        return self.expect.shown
