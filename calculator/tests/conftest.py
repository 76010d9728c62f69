"""Fixtures: real HTTP services on free loopback ports, run in a background event loop."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from calc_support import Cluster, LoopThread
from calculator.config import OPERATOR_ROLES


@pytest.fixture(scope="session")
def runner() -> Iterator[LoopThread]:
    loop_thread = LoopThread()
    yield loop_thread
    loop_thread.stop()


@pytest.fixture(scope="session")
def services(runner: LoopThread) -> Iterator[Cluster]:
    """The five services with default settings (shared by the whole session)."""
    cluster = Cluster(runner)
    for role in OPERATOR_ROLES:
        cluster.start_operator(role)
    cluster.start_front_end()
    yield cluster
    cluster.close()


@pytest.fixture
def cluster(runner: LoopThread) -> Iterator[Cluster]:
    """An empty cluster for a test that needs its own settings or fake upstreams."""
    made = Cluster(runner)
    yield made
    made.close()
