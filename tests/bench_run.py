"""``scripts/bench.sh`` run against machines a test brought up, and what every run of it must
show: each document valid and complete, the table and the plot with every benchmark."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Sequence
from pathlib import Path

import jsonschema
from matplotlib.container import BarContainer

from bench import report
from bench.figures import CATALOGUE
from bench.parsers import MULTI_PROCESS_ONLY
from bench.plot import plot_ratios
from tests.bench_docs import SCHEMA
from tests.harness import ROOT

VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)


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


def run_bench_sh(
    stack: str,
    lab: str,
    outputs: Path,
    results: Path,
    prefix: Sequence[str] = (),
    timeout: float = 1800,
) -> report.Run:
    """``[prefix] bash scripts/bench.sh STACK --lab LAB --outputs ... --quick --results ...``:
    it must succeed; the run it wrote."""
    args = [*prefix, "bash", str(ROOT / "scripts" / "bench.sh"), stack, "--lab", lab]
    args += ["--outputs", str(outputs), "--quick", "--results", str(results)]
    run = subprocess.run(args, capture_output=True, text=True, timeout=timeout, check=False)
    assert run.returncode == 0, run.stderr[-3000:]
    (directory,) = [p for p in (results / stack).iterdir() if p.is_dir()]
    return report.load_run(directory)


def assert_comparison(loaded: report.Run, guest: str) -> None:
    """Host and one guest: both documents complete, every benchmark a row of the table and,
    with its ratio, a bar of the plot."""
    assert list(loaded.docs) == ["host", guest]
    for doc in loaded.docs.values():
        assert_complete(doc)
    table = (loaded.directory / "report.md").read_text()
    rows = loaded.rows()
    assert len(rows) == len(CATALOGUE)
    for row in rows:
        assert f"| {row.label} | {row.unit} |" in table
    png = loaded.directory / "ratios.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert png.stat().st_size > 20_000
    figure = plot_ratios(rows, loaded.guests, "t")
    bars = [c for c in figure.axes[0].containers if isinstance(c, BarContainer)]
    with_ratio = [r for r in rows if r.ratio(guest) is not None]
    assert [len(c) for c in bars] == [len(with_ratio)]
    assert len(with_ratio) == len(expected_figures(loaded.docs[guest]))


def bench_container(stack: str, guest: str, container: str, directory: Path) -> report.Run:
    """``scripts/bench.sh`` on the host and one running container (as dev's output
    ``containers`` names it): the run, with both documents complete and the comparison
    rendered, and the container seen as one from inside."""
    outputs = directory / "outputs.json"
    outputs.write_text(json.dumps({"containers": {guest: container}}))
    loaded = run_bench_sh(stack, "dev", outputs, directory / "results")
    assert_comparison(loaded, guest)
    assert loaded.docs[guest]["machine"]["virtualization_container"] == "docker"
    return loaded
