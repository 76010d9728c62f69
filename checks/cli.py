"""``python -m checks``: run a deployed stack's checks (what ``scripts/check.sh`` runs).

    python -m checks STACK [--outputs FILE] [--config FILE] [--json] [--list]
                           [--wait SECONDS] [--interval SECONDS] [--only TEXT]
                           [--identity KEY] [--ssh-option OPTION]...

The stack's config comes from ``Pulumi.<stack>.yaml`` (or ``--config``), validated by its lab's
model; its outputs from ``pulumi stack output --json`` or the JSON file of ``--outputs``, as
for the benchmarks (:mod:`bench.lab`). Exit status: 0 when every check passed, 1 when one
failed, 2 when the stack could not be read.
"""

from __future__ import annotations

import argparse
import json
import sys
import uuid
from pathlib import Path
from typing import Any

from bench.lab import file_outputs, pulumi_outputs
from checks import report
from checks.guest import reach
from checks.probes import execute, guarded, lab_addresses
from checks.runner import Outcome, run_checks
from stacks.shared.errors import CloudLabsError
from stacks.shared.stackfile import ROOT, load


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="scripts/check.sh", description="Run a deployed stack's checks."
    )
    parser.add_argument("stack")
    parser.add_argument(
        "--outputs", type=Path, help="the stack's outputs as JSON (default: pulumi)"
    )
    parser.add_argument("--config", type=Path, help="the stack's config file (Pulumi.<stack>.yaml)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--list", action="store_true", help="print the checks, run nothing")
    parser.add_argument(
        "--wait",
        type=float,
        default=300.0,
        help="seconds a failing check is retried (guests still booting; default 300)",
    )
    parser.add_argument("--interval", type=float, default=5.0, help="seconds between tries")
    parser.add_argument("--only", help="run the checks whose name contains this text")
    parser.add_argument("--identity", type=Path, help="private key for every ssh (ssh -i)")
    parser.add_argument(
        "--ssh-option", action="append", default=[], help="an ssh -o option (repeatable)"
    )
    return parser


class Outputs(dict[str, Any]):
    """A stack's outputs; a missing one is named in the error."""

    def __missing__(self, key: str) -> Any:
        raise KeyError(f"the stack has no output {key!r} (outputs: {', '.join(sorted(self))})")


def _progress(outcome: Outcome) -> None:
    result = "pass" if outcome.passed else f"FAIL ({outcome.observed})"
    print(f"check: {outcome.check.name}: {result}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None, root: Path = ROOT) -> int:
    args = _parser().parse_args(argv)
    try:
        stack = load(args.stack, args.config, root)
        outputs = Outputs(
            file_outputs(args.outputs) if args.outputs else pulumi_outputs(args.stack)
        )
    except (CloudLabsError, FileNotFoundError, RuntimeError) as error:
        print(f"check: {error}", file=sys.stderr)
        return 2
    options = [*(["-i", str(args.identity)] if args.identity else [])]
    for option in args.ssh_option:
        options += ["-o", option]
    try:
        machines = reach(
            stack.lab, outputs, stack.raw, token=uuid.uuid4().hex[:12], ssh_options=options
        )
        declared = stack.declarations().checks(stack.config, outputs, machines)
    except KeyError as error:
        print(f"check: {error.args[0]}", file=sys.stderr)
        return 2
    if args.only:
        declared = [c for c in declared if args.only in c.name]
    if args.list:
        sys.stdout.write(report.listing(declared))
        return 0
    probe = guarded(execute, lab_addresses(outputs))
    outcomes = run_checks(
        declared, probe, wait=args.wait, interval=args.interval, progress=_progress
    )
    if args.json:
        print(json.dumps(report.document(args.stack, stack.lab, outcomes), indent=1))
    else:
        sys.stdout.write(report.table(outcomes))
    return 0 if all(o.passed for o in outcomes) else 1
