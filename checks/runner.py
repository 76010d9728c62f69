"""Run a lab's checks in their declared order, retrying those that may wait for a guest.

A check that fails is tried again every ``interval`` seconds until it passes or ``wait``
seconds have gone by since it started (guests still booting, services starting); checks that
expect no answer, and those declared with ``retry=False``, get one attempt.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from checks.model import Check, Unreachable
from checks.probes import Executor


@dataclass(frozen=True)
class Outcome:
    """How one check ended."""

    check: Check
    passed: bool
    observed: str
    """The short text of the report's observed column."""
    output: str
    """The last attempt's whole answer (and why it failed)."""
    seconds: float
    attempts: int


def run_check(
    check: Check,
    execute: Executor,
    *,
    wait: float,
    interval: float,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> Outcome:
    started = clock()
    attempts = 0
    retry = check.retry and not isinstance(check.expect, Unreachable)
    while True:
        attempts += 1
        seen = execute(check.probe)
        passed, observed = check.expect.judge(seen)
        elapsed = clock() - started
        if passed or not retry or elapsed + interval > wait:
            output = seen.text if not seen.detail else f"{seen.text}\n[{seen.detail}]".lstrip()
            return Outcome(check, passed, observed, output, round(elapsed, 3), attempts)
        sleep(interval)


def run_checks(
    checks: Sequence[Check],
    execute: Executor,
    *,
    wait: float,
    interval: float = 5.0,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    progress: Callable[[Outcome], None] | None = None,
) -> list[Outcome]:
    """Every check, one after the other; ``progress`` is told of each as it ends."""
    outcomes = []
    for check in checks:
        outcome = run_check(check, execute, wait=wait, interval=interval, clock=clock, sleep=sleep)
        outcomes.append(outcome)
        if progress is not None:
            progress(outcome)
    return outcomes
