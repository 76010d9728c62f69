#!/usr/bin/env python3
"""How long the Pulumi program takes to import for each lab, before it registers anything.

Every `pulumi preview`, `up` and `destroy` pays it. For each lab, a fresh interpreter imports
what `__main__.py` imports for that lab (the `stacks` package, the lab's module and the
provider SDKs it uses); the figure is the median of RUNS runs (min-max in brackets), then the
same for importing every lab at once and for `pulumi` alone (the floor).

Usage: .venv/bin/python scripts/import-time.py [--runs N] [LAB...]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from stacks.shared.catalogue import labs  # noqa: E402

TIMED = """
import time
started = time.perf_counter()
{imports}
print(time.perf_counter() - started)
"""
ONE_LAB = "import stacks\nfrom stacks.shared.catalogue import select\nselect({lab!r}).load()"
EVERY_LAB = "import stacks\nfrom stacks.shared.catalogue import labs\nfor e in labs(): e.load()"


def seconds(imports: str, runs: int) -> list[float]:
    program = TIMED.format(imports=imports)
    found = []
    for _ in range(runs):
        done = subprocess.run(
            [sys.executable, "-c", program],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        )
        found.append(float(done.stdout.strip().splitlines()[-1]))
    return found


def show(label: str, times: list[float]) -> None:
    print(f"{label:<22} {statistics.median(times):6.2f} s  [{min(times):.2f}-{max(times):.2f}]")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="runs per figure (default 7)")
    parser.add_argument("labs", nargs="*", help="labs to time (default: every lab)")
    args = parser.parse_args()
    names = args.labs or [entry.name for entry in labs()]
    print(f"import time, median of {args.runs} runs (min-max), {sys.executable}")
    for name in names:
        show(name, seconds(ONE_LAB.format(lab=name), args.runs))
    show("every lab at once", seconds(EVERY_LAB, args.runs))
    show("pulumi alone", seconds("import pulumi", args.runs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
