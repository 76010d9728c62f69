"""Shared test set-up: the project root on ``sys.path`` for ``components``/``stacks``."""

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
