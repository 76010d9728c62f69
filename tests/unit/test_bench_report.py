"""The document schema, the comparison table, the plot and the results history."""

from __future__ import annotations

import copy
import json
import struct
from pathlib import Path

import jsonschema
import pytest
from matplotlib.container import BarContainer

from bench import report
from bench.figures import CATALOGUE
from bench.plot import plot_ratios
from tests.bench_docs import SCHEMA, document, scaled

VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)


def test_schema_is_valid_and_accepts_a_document() -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    VALIDATOR.validate(document())
    VALIDATOR.validate(document(cores=1, processes=1))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.pop("machine"), "'machine' is a required property"),
        (lambda d: d["machine"].pop("virtualization"), "'virtualization' is a required"),
        (lambda d: d.update(profile="slow"), "'slow' is not one of"),
        (lambda d: d["benchmarks"]["fio"]["figures"]["fio_read"].pop("unit"), "'unit' is a"),
        (lambda d: d["benchmarks"]["fio"].update(figures={}), "should be non-empty"),
        (lambda d: d["benchmarks"].update(iozone=d["benchmarks"]["fio"]), "'iozone' is not one"),
        (lambda d: d.update(started="yesterday"), "does not match"),
    ],
)
def test_schema_rejects(change, message: str) -> None:  # type: ignore[no-untyped-def]
    doc = document()
    change(doc)
    errors = [e.message for e in VALIDATOR.iter_errors(doc)]
    assert any(message in e for e in errors), errors


def test_a_failed_benchmark_may_have_no_figures() -> None:
    doc = document()
    doc["benchmarks"]["fio"].update(figures={}, error="fio is not installed")
    VALIDATOR.validate(doc)
    assert report.failures({"g": doc}) == ["g: fio: fio is not installed"]


def test_comparison_rows_and_ratios() -> None:
    host = document()
    guests = {"vm1": scaled(host, 0.5, "vm1"), "ct": scaled(document(processes=1), 1.0, "ct")}
    rows = report.comparison(host, guests)
    assert [r.id for r in rows] == [f.id for f in CATALOGUE]
    hpl = rows[0]
    assert hpl.ratio("vm1") == pytest.approx(0.5)
    latency = next(r for r in rows if r.id == "mpi_latency")
    assert latency.higher_is_better is False
    assert latency.ratio("ct") is None  # one MPI process: no latency figure


def test_table_says_which_way_is_better_and_gives_ratios() -> None:
    host = document()
    rows = report.comparison(host, {"vm1": scaled(host, 0.25, "vm1")})
    table = report.render_table(rows, ["vm1"])
    lines = table.splitlines()
    assert lines[0] == "| benchmark | unit | better | host | vm1 | vm1/host |"
    assert len(lines) == 2 + len(CATALOGUE)
    hpl = next(line for line in lines if line.startswith("| HPL"))
    assert hpl == "| HPL (LU solve, all processes) | GFLOPS | higher | 2.35 | 0.588 | 0.25 |"
    latency = next(line for line in lines if line.startswith("| MPI ring latency"))
    assert "| lower |" in latency


def test_numbers_are_readable() -> None:
    assert [report.number(v) for v in (4793.49, 28.56, 2.352, 0.0425763, None)] == [
        "4,793",
        "28.6",
        "2.35",
        "0.0426",
        "—",
    ]


def _png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", header[16:24])
    return width, height


def test_plot_has_one_bar_per_benchmark_and_guest(tmp_path: Path) -> None:
    host = document()
    guests = {"vm1": scaled(host, 0.5, "vm1"), "vm2": scaled(host, 0.1, "vm2")}
    rows = report.comparison(host, guests)
    figure = plot_ratios(rows, list(guests), "lab: guest/host")
    axes = figure.axes[0]
    bars = [c for c in axes.containers if isinstance(c, BarContainer)]
    assert [len(c) for c in bars] == [len(CATALOGUE), len(CATALOGUE)]
    assert [c.get_label() for c in bars] == ["vm1", "vm2"]
    assert [round(p.get_height(), 6) for p in bars[1]] == [0.1] * len(CATALOGUE)
    assert any(list(line.get_ydata()) == [1.0, 1.0] for line in axes.get_lines())
    ticks = [t.get_text() for t in axes.get_xticklabels()]
    assert len(ticks) == len(CATALOGUE)
    assert "lower is better" in ticks[[f.id for f in CATALOGUE].index("mpi_latency")]
    path = tmp_path / "ratios.png"
    figure.savefig(path, dpi=110)
    width, height = _png_size(path)
    assert width >= 800 and height >= 500
    assert path.stat().st_size > 20_000


def test_plot_switches_to_a_log_axis_for_emulated_guests() -> None:
    host = document()
    slow = scaled(host, 1.0, "tcg")
    slow["benchmarks"]["hpcc"]["figures"]["hpl"]["value"] /= 200  # software emulation
    figure = plot_ratios(report.comparison(host, {"tcg": slow}), ["tcg"], "t")
    assert figure.axes[0].get_yscale() == "log"


def test_report_says_which_machines_run_under_software_emulation(tmp_path: Path) -> None:
    directory = tmp_path / "lab" / "2026-12-01T100000Z"
    host = document()
    docs = {"host": host, "tcg": scaled(host, 0.02, "tcg"), "kvm": scaled(host, 0.9, "kvm")}
    docs["tcg"]["machine"].update(virtualization="qemu", virtualization_vm="qemu")
    for name in ("host", "kvm"):
        docs[name]["machine"].update(virtualization="kvm", virtualization_vm="kvm")
    machines = {n: {"kind": "vm", "file": f"{n}.json"} for n in docs}
    report.write_manifest(
        directory,
        {"stack": "lab", "lab": "libvirt-host", "started": "x", "profile": "quick",
         "machines": machines},
    )  # fmt: skip
    for n, doc in docs.items():
        (directory / f"{n}.json").write_text(json.dumps(doc))
    assert report.emulated_machines(docs) == ["tcg"]
    report.render_run(directory)
    text = (directory / "report.md").read_text()
    assert "Software emulation: tcg (QEMU's TCG" in text
    assert "| qemu, software emulation (TCG) |" in text
    assert "kvm, software" not in text


def _write_run(stack_dir: Path, name: str, factor: float) -> Path:
    directory = stack_dir / name
    host = document()
    docs = {"host": host, "vm1": scaled(host, factor, "vm1")}
    machines = {n: {"kind": "host" if n == "host" else "vm", "file": f"{n}.json"} for n in docs}
    report.write_manifest(
        directory,
        {
            "stack": stack_dir.name,
            "lab": "vbox-nat",
            "started": name,
            "profile": "quick",
            "machines": {**machines, "vm2": {"kind": "vm", "file": "vm2.json"}},
        },
    )
    for n, doc in docs.items():
        (directory / f"{n}.json").write_text(json.dumps(doc))
    return directory


def test_run_report_history_and_comparison_with_an_earlier_run(tmp_path: Path) -> None:
    stack_dir = tmp_path / "vbox-nat"
    first = _write_run(stack_dir, "2026-12-01T100000Z", 0.5)
    report.render_run(first)
    second = _write_run(stack_dir, "2026-12-02T100000Z", 0.8)
    written = report.render_run(second, against=first)
    assert written == [second / "ratios.png", second / "report.md", stack_dir / "index.md"]
    text = (second / "report.md").read_text()
    assert "![guest/host ratio per benchmark](ratios.png)" in text
    assert "| host | host | Intel(R) Xeon(R) Processor | 2 | 4.0 GiB |" in text
    assert "- vm2: no document" in text
    assert "## Against the run of 2026-12-01T100000Z" in text
    against = text.split("## Against the run of")[1].splitlines()
    assert against[2] == (
        "| benchmark | host now | host then | host change | vm1/host now | vm1/host then |"
    )
    hpl = next(line for line in against if line.startswith("| HPL"))
    assert hpl == "| HPL (LU solve, all processes) | 2.35 | 2.35 | 1.00 | 0.80 | 0.50 |"
    index = (stack_dir / "index.md").read_text().splitlines()
    runs = [line for line in index if line.startswith("| [")]
    assert [r.split("]")[0] for r in runs] == ["| [2026-12-02T100000Z", "| [2026-12-01T100000Z"]
    assert "vm1 0.80" in runs[0] and "vm1 0.50" in runs[1]


def test_host_only_run_has_a_table_and_no_plot(tmp_path: Path) -> None:
    directory = tmp_path / "local" / "2026-12-01T100000Z"
    report.write_manifest(
        directory,
        {
            "stack": "local",
            "lab": None,
            "started": "x",
            "profile": "full",
            "machines": {"host": {"kind": "host", "file": "host.json"}},
        },
    )
    (directory / "host.json").write_text(json.dumps(copy.deepcopy(document())))
    assert report.render_run(directory) == [directory / "report.md", directory.parent / "index.md"]
    assert (
        "| HPL (LU solve, all processes) | GFLOPS | higher | 2.35 |"
        in (directory / "report.md").read_text()
    )
