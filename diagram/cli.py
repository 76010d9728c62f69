"""``python -m diagram``: draw a stack's topology (what ``scripts/diagram.sh`` runs).

    python -m diagram STACK [--config FILE] [--outputs FILE | --pulumi] [--out DIR]
    python -m diagram --shipped [--out DIR]      every shipped stack, from its config alone

The topology comes from the stack's validated config (``Pulumi.<stack>.yaml``, or
``--config``) and, when the stack is deployed, its outputs (``--outputs FILE``, or ``--pulumi``:
``pulumi stack output --json``). Writes ``<stack>.dot``, ``.svg`` and ``.png`` to ``--out``
(default ``diagrams/``; ``docs/diagrams/`` for ``--shipped``, the diagrams the README shows).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bench.lab import file_outputs, pulumi_outputs
from diagram import dot, render
from diagram.model import Topology
from stacks.shared.errors import CloudLabsError
from stacks.shared.stackfile import ROOT, StackFile, load

SHIPPED_DIR = Path("docs/diagrams")


def shipped_stacks(root: Path = ROOT) -> list[str]:
    return sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in root.glob("Pulumi.*.yaml"))


def topology_of(stack: StackFile, outputs: Mapping[str, Any] | None = None) -> Topology:
    """The stack's topology, as its lab declares it."""
    topology: Topology = stack.declarations().topology(stack.config, dict(outputs or {}))
    return topology


def shipped_dot(name: str, root: Path = ROOT) -> str:
    """The DOT text of a shipped stack, from its config alone (what ``docs/diagrams`` holds)."""
    return dot.render(topology_of(load(name, root=root)))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="scripts/diagram.sh", description=__doc__.split("\n")[0])
    parser.add_argument("stack", nargs="?")
    parser.add_argument("--shipped", action="store_true", help="every shipped stack")
    parser.add_argument("--config", type=Path, help="the stack's config file")
    parser.add_argument("--outputs", type=Path, help="the deployed stack's outputs as JSON")
    parser.add_argument("--pulumi", action="store_true", help="outputs from pulumi, if deployed")
    parser.add_argument("--out", type=Path, help="where the files go")
    return parser


def main(argv: list[str] | None = None, root: Path = ROOT) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.shipped == (args.stack is not None):
        parser.error("give a stack, or --shipped")
    try:
        if args.shipped:
            out = args.out or root / SHIPPED_DIR
            for name in shipped_stacks(root):
                for path in render.write(shipped_dot(name, root), out, name):
                    print(path)
            return 0
        stack = load(args.stack, args.config, root)
        outputs: dict[str, Any] = {}
        if args.outputs:
            outputs = file_outputs(args.outputs)
        elif args.pulumi:
            try:
                outputs = pulumi_outputs(args.stack)
            except RuntimeError as error:
                print(f"diagram: drawn from the config alone ({error})", file=sys.stderr)
        text = dot.render(topology_of(stack, outputs))
        for path in render.write(text, args.out or Path("diagrams"), args.stack):
            print(path)
        return 0
    except (CloudLabsError, FileNotFoundError, RuntimeError) as error:
        print(f"diagram: {error}", file=sys.stderr)
        return 2
