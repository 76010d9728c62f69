"""Shared test set-up: the project root on ``sys.path``, the shipped stack of a test module,
and the guests' boot times printed after the run.

The Pulumi mocks and everything built on them live in :mod:`tests.harness`; the fixtures below
give a module the shipped ``Pulumi.<STACK>.yaml`` of its ``STACK`` attribute (``shipped``) and
that stack run through the real program under the mocks (``run``), once per module.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import pytest  # noqa: E402

from tests.harness import StackRun, load_stack_file, run_stack_file  # noqa: E402


@pytest.fixture
def root() -> Path:
    """The project's root directory."""
    return ROOT


@pytest.fixture(scope="module")
def shipped(request: pytest.FixtureRequest) -> dict[str, Any]:
    """The config of the module's shipped stack (``STACK = "dev"``), keys as written."""
    return load_stack_file(request.module.STACK)


@pytest.fixture(scope="module")
def run(request: pytest.FixtureRequest) -> StackRun:
    """The module's shipped stack, run through the real program under the mocks."""
    return run_stack_file(request.module.STACK)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Each real guest's time to SSH and to ready (tests/guests.py), after the results."""
    guests = sys.modules.get("tests.guests")
    if guests is not None and guests.TIMINGS:
        terminalreporter.section("guest boot times")
        for line in guests.TIMINGS:
            terminalreporter.write_line(line)
