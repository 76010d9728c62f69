"""The benchmark suite for real: the quick profile on this host, and host against a container
of the benchmark image through scripts/bench.sh (tools installed by scripts/setup/bench.sh)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import jsonschema
import pytest
from matplotlib.container import BarContainer

from bench import report
from bench.figures import CATALOGUE
from bench.parsers import MULTI_PROCESS_ONLY
from bench.plot import plot_ratios
from tests.bench_docs import SCHEMA
from tests.harness import ROOT

pytestmark = pytest.mark.integration
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)
IMAGE = "cloudlabs/bench:bookworm"
CONTAINER = "cloudlabs-bench-it"


def expected_figures(doc: dict[str, object]) -> set[str]:
    every = {f.id for f in CATALOGUE}
    cores = doc["machine"]["cores"]  # type: ignore[index]
    return every - set(MULTI_PROCESS_ONLY) if cores == 1 else every


def assert_complete(doc: dict[str, object]) -> None:
    VALIDATOR.validate(doc)
    benchmarks = doc["benchmarks"]
    assert isinstance(benchmarks, dict)
    assert {name: b["error"] for name, b in benchmarks.items()} == {
        "hpcc": None,
        "fio": None,
        "sysbench": None,
    }
    figures = report.figures_of(doc)
    assert set(figures) == expected_figures(doc)
    assert all(f["value"] > 0 for f in figures.values()), figures
    assert all(doc["tools"].values()), doc["tools"]  # type: ignore[attr-defined]


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
    outputs = tmp_path / "outputs.json"
    outputs.write_text(json.dumps({"containers": {"bench": container}}))
    results = tmp_path / "results"
    run = subprocess.run(
        [
            "bash",
            str(ROOT / "scripts" / "bench.sh"),
            "bench-it",
            "--lab",
            "dev",
            "--outputs",
            str(outputs),
            "--quick",
            "--results",
            str(results),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    (directory,) = [p for p in (results / "bench-it").iterdir() if p.is_dir()]
    loaded = report.load_run(directory)
    assert list(loaded.docs) == ["host", "bench"]
    for doc in loaded.docs.values():
        assert_complete(doc)
    guest = loaded.docs["bench"]["machine"]
    assert guest["cores"] == 1
    assert guest["memory_bytes"] == 2 << 30
    assert guest["virtualization_container"] == "docker"

    table = (directory / "report.md").read_text()
    rows = loaded.rows()
    assert len(rows) == len(CATALOGUE)
    for row in rows:
        assert f"| {row.label} | {row.unit} |" in table
    png = directory / "ratios.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert png.stat().st_size > 20_000
    figure = plot_ratios(rows, loaded.guests, "t")
    bars = [c for c in figure.axes[0].containers if isinstance(c, BarContainer)]
    with_ratio = [r for r in rows if r.ratio("bench") is not None]
    assert [len(c) for c in bars] == [len(with_ratio)]
    assert len(with_ratio) == len(expected_figures(loaded.docs["bench"]))
    assert (results / "bench-it" / "index.md").read_text().count("| [") == 1


def test_guest_cloud_config_fragment_is_valid_cloud_config() -> None:
    import yaml

    from bench.archive import cloud_config_fragment
    from tests.validators import assert_cloud_config_valid

    fragment = cloud_config_fragment()
    assert fragment["packages"][:2] == ["python3", "hpcc"]
    user_data = "#cloud-config\n" + yaml.safe_dump({"hostname": "g", **fragment})
    assert_cloud_config_valid(user_data, "bench fragment")
