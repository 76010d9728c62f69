"""The stacks CI previews and brings up, read from ci/stacks.yaml.

    stacks.py matrix             GitHub output lines: matrix=<JSON> (the stacks whose variables
                                 are all set in this environment) and any=true|false
    stacks.py missing STACK      the variables STACK needs that are not set, one per line
    stacks.py environment STACK  the GitHub environment `pulumi up` of STACK runs in

Only names are printed, never a value.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent.parent
STACKS_FILE = ROOT / "ci" / "stacks.yaml"


@dataclass(frozen=True)
class CiStack:
    stack: str
    backend: str
    needs: tuple[str, ...]
    """Every variable the stack needs: its backend's, then its own."""
    environment: str


def load(path: Path = STACKS_FILE) -> dict[str, CiStack]:
    data = yaml.safe_load(path.read_text()) or {}
    backends = data.get("backends") or {}
    found: dict[str, CiStack] = {}
    for entry in data.get("stacks") or []:
        name = entry["stack"]
        backend = entry["backend"]
        if backend not in backends:
            known = ", ".join(sorted(backends))
            raise SystemExit(f"{path}: {name}: unknown backend {backend!r} (known: {known})")
        if not (ROOT / f"Pulumi.{name}.yaml").is_file():
            raise SystemExit(f"{path}: {name}: no stack file Pulumi.{name}.yaml")
        needs = tuple(dict.fromkeys([*backends[backend], *(entry.get("secrets") or [])]))
        found[name] = CiStack(name, backend, needs, entry.get("environment") or f"up-{name}")
    return found


def missing(stack: CiStack) -> list[str]:
    return [name for name in stack.needs if not os.environ.get(name)]


def main(argv: list[str]) -> int:
    stacks = load()
    if argv[:1] == ["matrix"]:
        ready = []
        for stack in stacks.values():
            absent = missing(stack)
            if absent:
                print(f"{stack.stack}: not previewed, unset: {' '.join(absent)}", file=sys.stderr)
            else:
                ready.append({"stack": stack.stack, "backend": stack.backend})
        print("matrix=" + json.dumps({"include": ready}, separators=(",", ":")))
        print("any=" + ("true" if ready else "false"))
        return 0
    if len(argv) == 2 and argv[0] in ("missing", "environment"):
        stack = stacks.get(argv[1])
        if argv[0] == "missing":
            for name in missing(stack) if stack else []:
                print(name)
            return 0
        if stack is None:
            print(f"{argv[1]} is not listed in ci/stacks.yaml", file=sys.stderr)
            return 2
        print(stack.environment)
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
