"""The comparison of a run (host side): a Markdown table and a plot of guest/host ratios.

A *run* is one directory ``results/<stack>/<UTC date and time>/`` holding ``run.json`` (the
stack, the lab, each machine's kind and document file) and one document per machine
(``host.json``, ``<guest>.json``). :func:`render_run` writes ``report.md`` and ``ratios.png``
there and refreshes ``results/<stack>/index.md``, the history of every run of the stack.
Every function but the ``render_*``/``write_*`` ones is pure.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.facts import emulated
from bench.figures import CATALOGUE

MANIFEST = "run.json"
REPORT = "report.md"
PLOT = "ratios.png"
INDEX = "index.md"


@dataclass(frozen=True)
class Row:
    """One figure across the machines of a run."""

    id: str
    label: str
    unit: str
    higher_is_better: bool
    host: float | None
    guests: dict[str, float | None]

    def ratio(self, guest: str) -> float | None:
        """guest / host (None when either is missing or the host's is 0)."""
        value = self.guests.get(guest)
        if value is None or not self.host:
            return None
        return value / self.host


def figures_of(doc: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Every parsed figure of a document, by id."""
    found: dict[str, dict[str, Any]] = {}
    for bench in doc.get("benchmarks", {}).values():
        found.update(bench.get("figures", {}))
    return found


def comparison(host: Mapping[str, Any], guests: Mapping[str, Mapping[str, Any]]) -> list[Row]:
    """One row per figure that the host or any guest has, in catalogue order (figures unknown
    to this version of the catalogue come last, in the order the documents give them)."""
    host_figures = figures_of(host)
    guest_figures = {name: figures_of(doc) for name, doc in guests.items()}
    order = [f.id for f in CATALOGUE]
    for figures in (host_figures, *guest_figures.values()):
        order += [k for k in figures if k not in order]
    rows = []
    for figure_id in order:
        present = [f[figure_id] for f in (host_figures, *guest_figures.values()) if figure_id in f]
        if not present:
            continue
        meta = present[0]
        rows.append(
            Row(
                id=figure_id,
                label=meta["label"],
                unit=meta["unit"],
                higher_is_better=meta["higher_is_better"],
                host=host_figures.get(figure_id, {}).get("value"),
                guests={
                    name: figures.get(figure_id, {}).get("value")
                    for name, figures in guest_figures.items()
                },
            )
        )
    return rows


def number(value: float | None) -> str:
    """A figure with three significant digits or so, never in exponent form above 1."""
    if value is None:
        return "—"
    magnitude = abs(value)
    if magnitude >= 100:
        return f"{value:,.0f}"
    if magnitude >= 10:
        return f"{value:.1f}"
    if magnitude >= 1:
        return f"{value:.2f}"
    return f"{value:.3g}"


def ratio_text(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}" if value >= 0.1 else f"{value:.3f}"


def render_table(rows: Sequence[Row], guests: Sequence[str]) -> str:
    """Benchmark, better (higher/lower), host, then each guest's figure and guest/host ratio."""
    head = ["benchmark", "unit", "better", "host"]
    for guest in guests:
        head += [guest, f"{guest}/host"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in rows:
        cells = [row.label, row.unit, "higher" if row.higher_is_better else "lower"]
        cells.append(number(row.host))
        for guest in guests:
            cells += [number(row.guests.get(guest)), ratio_text(row.ratio(guest))]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def render_against(
    rows: Sequence[Row], earlier: Sequence[Row], guests: Sequence[str], label: str
) -> str:
    """Each figure's guest/host ratio in this run and in an earlier one (and the host's own
    figure in both), for the machines both runs have."""
    before = {row.id: row for row in earlier}
    common = [g for g in guests if any(g in row.guests for row in earlier)]
    head = ["benchmark", "host now", f"host {label}", "host change"]
    for guest in common:
        head += [f"{guest}/host now", f"{guest}/host {label}"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in rows:
        old = before.get(row.id)
        old_host = old.host if old else None
        change = row.host / old_host if row.host is not None and old_host else None
        cells = [row.label, number(row.host), number(old_host), ratio_text(change)]
        for guest in common:
            cells += [ratio_text(row.ratio(guest)), ratio_text(old.ratio(guest) if old else None)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _gib(value: int | None) -> str:
    return "—" if value is None else f"{value / (1 << 30):.1f} GiB"


def render_machines(docs: Mapping[str, Mapping[str, Any]], kinds: Mapping[str, str]) -> str:
    """What each machine is: kind, CPU, cores, memory, kernel, virtualization, sizes used."""
    head = [
        "machine",
        "kind",
        "CPU",
        "cores",
        "memory",
        "kernel",
        "virtualization (inside)",
        "BLAS kernels",
        "profile",
        "HPL N",
        "STREAM array >= 4x LLC",
        "fio file",
    ]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, doc in docs.items():
        m, s, t = doc["machine"], doc["sizes"], doc["tools"]
        virt = m.get("virtualization") or "—"
        if m.get("virtualization_vm") not in (None, "none", virt):
            virt += f" (VM: {m['virtualization_vm']})"
        if emulated(m):
            virt += ", software emulation (TCG)"
        cells = [
            name,
            kinds.get(name, "guest"),
            m.get("cpu_model") or "—",
            str(m["cores"]),
            _gib(m["memory_bytes"]),
            m["kernel"],
            virt,
            t.get("openblas_core") or "—",
            doc["profile"],
            str(s["hpl_n"]),
            "yes" if s["stream_cache_rule_met"] else "no",
            f"{s['fio_size'] >> 20} MiB",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def emulated_machines(docs: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """The machines that run under software emulation (:func:`bench.facts.emulated`)."""
    return [name for name, doc in docs.items() if emulated(doc["machine"])]


def failures(docs: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """``machine: benchmark: error`` for every benchmark that did not run to the end."""
    return [
        f"{name}: {bench_name}: {bench['error']}"
        for name, doc in docs.items()
        for bench_name, bench in doc["benchmarks"].items()
        if bench.get("error")
    ]


# --- runs on disk ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    directory: Path
    manifest: dict[str, Any]
    docs: dict[str, dict[str, Any]]
    """Machine name -> document; ``host`` first."""

    @property
    def guests(self) -> list[str]:
        return [name for name in self.docs if name != "host"]

    @property
    def kinds(self) -> dict[str, str]:
        return {n: m.get("kind", "guest") for n, m in self.manifest["machines"].items()}

    def rows(self) -> list[Row]:
        host = self.docs.get("host", {})
        return comparison(host, {g: self.docs[g] for g in self.guests})


def load_run(directory: Path) -> Run:
    manifest = json.loads((directory / MANIFEST).read_text(encoding="utf-8"))
    docs = {}
    for name, machine in manifest["machines"].items():
        path = directory / machine["file"]
        if path.exists():
            docs[name] = json.loads(path.read_text(encoding="utf-8"))
    if "host" in docs:
        docs = {"host": docs.pop("host"), **docs}
    return Run(directory, manifest, docs)


def write_manifest(directory: Path, manifest: Mapping[str, Any]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    text = json.dumps(manifest, indent=1) + "\n"
    (directory / MANIFEST).write_text(text, encoding="utf-8")


def render_report(run: Run, earlier: Run | None = None, plot: str | None = PLOT) -> str:
    m = run.manifest
    lines = [
        f"# Benchmarks of stack `{m['stack']}` (lab `{m.get('lab') or '—'}`), {m['started']}",
        "",
        "Each machine ran the same suite (`python -m bench run`, profile "
        f"`{'`, `'.join(sorted({d['profile'] for d in run.docs.values()}))}`) one after the "
        "other; problem sizes follow each machine's own memory and cores. A ratio is the "
        "guest's figure divided by the host's: above 1 the guest got more of it; whether more "
        "is better is in the column *better* (for latency, lower is better)."
        + (
            f" OpenBLAS's kernels were set to `{m['blas_core']}` on every machine (`--blas-core`)."
            if m.get("blas_core")
            else ""
        ),
        "",
        "## Machines",
        "",
        render_machines(run.docs, run.kinds),
    ]
    if slow := emulated_machines({guest: run.docs[guest] for guest in run.guests}):
        lines += [
            f"Software emulation: {', '.join(slow)} (QEMU's TCG, every guest instruction "
            "translated, no hardware virtualization). Expect CPU and memory ratios far below 1 "
            "there (0.01 to 0.1): they measure the emulator, not what a KVM or VirtualBox guest "
            "would get.",
            "",
        ]
    lines += [
        "## Figures and guest/host ratios"
        if run.guests
        else "## Figures (host only: no guest yet)",
        "",
        render_table(run.rows(), run.guests),
    ]
    if plot:
        lines += [f"![guest/host ratio per benchmark]({plot})", ""]
    problems = failures(run.docs)
    missing = [n for n in m["machines"] if n not in run.docs]
    if problems or missing:
        lines += ["## What did not run", ""]
        lines += [f"- {name}: no document (the run there failed)" for name in missing]
        lines += [f"- {p}" for p in problems]
        lines.append("")
    if earlier is not None:
        label = earlier.manifest["started"]
        lines += [
            f"## Against the run of {label}",
            "",
            render_against(run.rows(), earlier.rows(), run.guests, "then"),
        ]
    return "\n".join(lines)


def headline(run: Run) -> str:
    """The geometric mean of every guest/host ratio of higher-is-better figures, per guest."""
    parts = []
    for guest in run.guests:
        ratios = [
            r for row in run.rows() if row.higher_is_better if (r := row.ratio(guest)) is not None
        ]
        if ratios and all(r > 0 for r in ratios):
            mean = math.exp(sum(math.log(r) for r in ratios) / len(ratios))
            parts.append(f"{guest} {mean:.2f}")
    return ", ".join(parts) or "—"


def render_index(stack_dir: Path) -> str:
    """The history of a stack's runs, newest first."""
    lines = [
        f"# Benchmark runs of stack `{stack_dir.name}`",
        "",
        "| run | profile | machines | geometric mean of guest/host ratios (higher is better) |",
        "|---|---|---|---|",
    ]
    for directory in sorted(stack_dir.iterdir(), reverse=True):
        if not (directory / MANIFEST).exists():
            continue
        run = load_run(directory)
        profiles = ", ".join(sorted({d["profile"] for d in run.docs.values()})) or "—"
        link = f"[{directory.name}]({directory.name}/{REPORT})"
        lines.append(f"| {link} | {profiles} | {', '.join(run.docs)} | {headline(run)} |")
    return "\n".join(lines) + "\n"


def render_run(directory: Path, against: Path | None = None) -> list[Path]:
    """Write report.md and ratios.png of the run in ``directory``, refresh the stack's index."""
    from bench.plot import plot_ratios

    run = load_run(directory)
    earlier = load_run(against) if against else None
    written = []
    if run.guests:
        figure = plot_ratios(run.rows(), run.guests, f"{run.manifest['stack']}: guest/host ratio")
        figure.savefig(directory / PLOT, dpi=110)
        written.append(directory / PLOT)
    report = render_report(run, earlier, PLOT if run.guests else None)
    (directory / REPORT).write_text(report, encoding="utf-8")
    written.append(directory / REPORT)
    index = directory.parent / INDEX
    index.write_text(render_index(directory.parent), encoding="utf-8")
    written.append(index)
    return written
