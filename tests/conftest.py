"""Shared test set-up: the project root on ``sys.path`` for ``components``/``stacks``; the
guests' boot times printed after the run."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import pytest  # noqa: E402


@pytest.fixture
def root() -> Path:
    """The project's root directory."""
    return ROOT


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Each real guest's time to SSH and to ready (tests/guests.py), after the results."""
    guests = sys.modules.get("tests.guests")
    if guests is not None and guests.TIMINGS:
        terminalreporter.section("guest boot times")
        for line in guests.TIMINGS:
            terminalreporter.write_line(line)
