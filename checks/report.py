"""The checks' results: a table for people, a JSON document for machines."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from checks.model import Check
from checks.runner import Outcome

WIDTHS = {"check": 60, "expected": 30, "observed": 30}
"""The widest each text column gets in the table (longer texts are cut; JSON has them all)."""


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def table(outcomes: Sequence[Outcome]) -> str:
    """check, expected, observed, result, time: one line per check, then a summary."""
    rows = [
        (
            o.check.name,
            o.check.expected,
            o.observed,
            "pass" if o.passed else "FAIL",
            f"{o.seconds:.1f} s" + (f" ({o.attempts} tries)" if o.attempts > 1 else ""),
        )
        for o in outcomes
    ]
    header = ("check", "expected", "observed", "result", "time")
    limits = [WIDTHS["check"], WIDTHS["expected"], WIDTHS["observed"], 6, 40]
    cut = [
        tuple(_cut(cell, limit) for cell, limit in zip(row, limits, strict=True)) for row in rows
    ]
    widths = [max(len(r[i]) for r in [header, *cut]) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(
            cell.ljust(width) for cell, width in zip(cells, widths, strict=True)
        ).rstrip()

    lines = [line(header), line(["-" * w for w in widths]), *(line(r) for r in cut)]
    failed = sum(not o.passed for o in outcomes)
    total = sum(o.seconds for o in outcomes)
    lines.append("")
    lines.append(
        f"{len(outcomes)} checks: {len(outcomes) - failed} passed, {failed} failed ({total:.1f} s)"
    )
    return "\n".join(lines) + "\n"


def listing(checks: Sequence[Check]) -> str:
    """Each check with what it would run (nothing is run)."""
    return "".join(
        f"{c.name}\n  expects: {c.expected}\n  probe:   {c.probe.describe()}\n" for c in checks
    )


def document(stack: str, lab: str, outcomes: Sequence[Outcome]) -> dict[str, Any]:
    """The JSON report: every check with its probe (a command safe to paste), expectation,
    observation, result, time and attempts."""
    return {
        "stack": stack,
        "lab": lab,
        "passed": all(o.passed for o in outcomes),
        "checks": [
            {
                "name": o.check.name,
                "probe": o.check.probe.describe(),
                "expected": o.check.expected,
                "observed": o.observed,
                "passed": o.passed,
                "seconds": o.seconds,
                "attempts": o.attempts,
                "output": o.output,
            }
            for o in outcomes
        ],
    }
