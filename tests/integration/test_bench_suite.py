"""The benchmark suite for real: the quick profile on this host, and host against a container
of the benchmark image through scripts/bench.sh (tools installed by scripts/setup/bench.sh)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.bench_run import assert_complete, bench_container
from tests.harness import ROOT

pytestmark = pytest.mark.integration
IMAGE = "cloudlabs/bench:bookworm"
CONTAINER = "cloudlabs-bench-it"


def test_quick_suite_on_this_host(tmp_path: Path) -> None:
    out = tmp_path / "host.json"
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench",
            "run",
            "--quick",
            "--out",
            str(out),
            "--dir",
            str(tmp_path),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    doc = json.loads(out.read_text())
    assert_complete(doc)
    assert doc["profile"] == "quick"
    assert doc["machine"]["cores"] == len(os.sched_getaffinity(0))
    assert doc["sizes"]["hpl_n"] == 1024
    assert doc["benchmarks"]["hpcc"]["details"]["hpl_n"] == 1024
    assert "hpccoutf.txt" in doc["benchmarks"]["hpcc"]["raw"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["host.json"]  # fio cleaned up


def _docker(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=False)


@pytest.fixture
def container() -> Iterator[str]:
    """A one-CPU, 2 GiB container of the benchmark image (built by scripts/setup/bench.sh)."""
    assert _docker("image", "inspect", IMAGE).returncode == 0, f"{IMAGE} missing: run setup"
    _docker("rm", "-f", CONTAINER)
    started = _docker(
        "run", "-d", "--name", CONTAINER, "--cpuset-cpus", "0", "--memory", "2g", IMAGE
    )
    assert started.returncode == 0, started.stderr
    try:
        yield CONTAINER
    finally:
        _docker("rm", "-f", CONTAINER)


def test_host_against_a_container_through_bench_sh(tmp_path: Path, container: str) -> None:
    loaded = bench_container("bench-it", "bench", container, tmp_path)
    guest = loaded.docs["bench"]["machine"]
    assert guest["cores"] == 1
    assert guest["memory_bytes"] == 2 << 30
    assert (tmp_path / "results" / "bench-it" / "index.md").read_text().count("| [") == 1


def test_guest_cloud_config_fragment_is_valid_cloud_config() -> None:
    import yaml

    from bench.archive import cloud_config_fragment
    from tests.validators import assert_cloud_config_valid

    fragment = cloud_config_fragment()
    assert fragment["packages"][:2] == ["python3", "hpcc"]
    user_data = "#cloud-config\n" + yaml.safe_dump({"hostname": "g", **fragment})
    assert_cloud_config_valid(user_data, "bench fragment")
