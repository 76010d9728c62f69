"""``python -m bench``: the runner (on every machine) and the host-side commands.

    python -m bench run [--quick] [--out FILE|-] [--dir DIR] [--only hpcc,fio,sysbench]
    python -m bench sizes [--quick]                   the problem sizes this machine would get
    python -m bench report RUN_DIR [--against RUN_DIR] the comparison table and plot of a run
    python -m bench lab STACK [--outputs FILE] [--quick] [--results DIR] [--against RUN_DIR]
                              [--host-ssh CMD | --host-document FILE | --no-host]
                                                      run on the host and a stack's guests
    python -m bench archive FILE                      the runner as a zip for guests

``run`` exits with status 1 when a benchmark failed (the document is written all the same).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path
from typing import Any

from bench.figures import BENCHMARKS
from bench.sizing import FULL, PROFILES, QUICK


def _benchmarks(text: str) -> tuple[str, ...]:
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown benchmark(s) {unknown or text!r}; expected some of {','.join(BENCHMARKS)}"
        )
    return names


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run the suite here and write one JSON document")
    run.add_argument("--quick", action="store_true", help="seconds, not minutes (tests)")
    run.add_argument("--out", default="-", help="the document's path, or - (default)")
    run.add_argument("--dir", default="/var/tmp", help="where fio writes (default /var/tmp)")
    run.add_argument("--only", type=_benchmarks, default=BENCHMARKS, help="hpcc,fio,sysbench")
    run.add_argument("--blas-core", help="OPENBLAS_CORETYPE for hpcc (default: detected)")

    sizes = sub.add_parser("sizes", help="print the problem sizes of this machine")
    sizes.add_argument("--quick", action="store_true")
    sizes.add_argument("--dir", default="/var/tmp")

    report = sub.add_parser("report", help="render a run's comparison (host side)")
    report.add_argument("run_dir", type=Path)
    report.add_argument("--against", type=Path, help="an earlier run to compare with")

    lab = sub.add_parser("lab", help="run on the host and every guest of a stack (host side)")
    lab.add_argument("stack")
    lab.add_argument("--outputs", type=Path, help="stack outputs as JSON (default: pulumi)")
    lab.add_argument("--lab", help="the stack's lab (default: its Pulumi.<stack>.yaml)")
    lab.add_argument("--quick", action="store_true")
    lab.add_argument("--results", type=Path, default=Path("results"))
    lab.add_argument("--no-host", action="store_true", help="guests only")
    lab.add_argument("--host-ssh", help="ssh command of the host the guests run on, if remote")
    lab.add_argument("--blas-core", help="OPENBLAS_CORETYPE on every machine (default: detected)")
    lab.add_argument(
        "--host-document", type=Path, help="an earlier host document to use instead of a run"
    )
    lab.add_argument("--against", type=Path, help="an earlier run to compare with")

    archive = sub.add_parser("archive", help="write the runner as an importable zip")
    archive.add_argument("out", type=Path)
    return parser


def _write(doc: dict[str, Any], out: str) -> None:
    text = json.dumps(doc, indent=1, sort_keys=False) + "\n"
    if out == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
    else:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        Path(out).write_text(text, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "run":
        from bench import suite

        options = suite.Options(
            profile=QUICK if args.quick else FULL,
            directory=args.dir,
            only=args.only,
            blas_core=args.blas_core,
        )
        doc = suite.run(options)
        _write(doc, args.out)
        failed = [name for name, b in doc["benchmarks"].items() if b["error"]]
        return 1 if failed else 0
    if args.command == "sizes":
        from bench import facts
        from bench.sizing import Resources, plan

        machine = facts.collect()
        resources = Resources(
            machine["cores"],
            machine["memory_bytes"],
            machine["llc_bytes"],
            shutil.disk_usage(args.dir).free,
        )
        profile = PROFILES["quick" if args.quick else "full"]
        print(json.dumps(plan(resources, profile).as_dict(), indent=1))
        return 0
    if args.command == "report":
        from bench import report

        written = report.render_run(args.run_dir, against=args.against)
        for path in written:
            print(path)
        return 0
    if args.command == "lab":
        from bench import lab

        return lab.main(args)
    if args.command == "archive":
        from bench import archive

        args.out.write_bytes(archive.runner_archive())
        print(args.out)
        return 0
    raise AssertionError(args.command)  # pragma: no cover
