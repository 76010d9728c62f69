"""``scripts/check.sh`` run against a stack a test brought up: the test's config and the real
outputs written to files (what ``--config`` and ``--outputs`` read), the JSON report back."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tests.harness import ROOT


@dataclass(frozen=True)
class CheckRun:
    status: int
    report: dict[str, Any]
    stderr: str

    @property
    def failed(self) -> list[str]:
        return [c["name"] for c in self.report["checks"] if not c["passed"]]

    def summary(self) -> str:
        lines = [
            f"{'pass' if c['passed'] else 'FAIL'} {c['name']}: {c['observed']} ({c['probe'][:300]})"
            for c in self.report.get("checks", [])
        ]
        return "\n".join([*lines, self.stderr[-3000:]])


def run_check_sh(
    stack: str,
    config: Mapping[str, Any],
    outputs: Mapping[str, Any],
    directory: Path,
    *extra: str,
    prefix: Sequence[str] = (),
    timeout: float = 1800,
) -> CheckRun:
    """``[prefix] bash scripts/check.sh STACK --config ... --outputs ... --json EXTRA``."""
    config_file = directory / f"Pulumi.{stack}.yaml"
    config_file.write_text(yaml.safe_dump({"config": dict(config)}), encoding="utf-8")
    outputs_file = directory / f"{stack}-outputs.json"
    outputs_file.write_text(json.dumps(dict(outputs)), encoding="utf-8")
    args = [*prefix, "bash", str(ROOT / "scripts" / "check.sh"), stack]
    args += ["--config", str(config_file), "--outputs", str(outputs_file), "--json", *extra]
    done = subprocess.run(args, capture_output=True, text=True, timeout=timeout, check=False)
    try:
        report = json.loads(done.stdout)
    except json.JSONDecodeError:
        report = {"checks": [], "stdout": done.stdout}
    return CheckRun(done.returncode, report, done.stderr)
