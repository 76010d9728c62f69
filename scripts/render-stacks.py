#!/usr/bin/env python3
"""Render every shipped stack to text: what the program declares, in a form that diffs well.

Each ``Pulumi.<stack>.yaml`` runs through the real program under the mocks of
``tests/harness.py`` (as ``pulumi preview`` would, nothing is created). For each stack, OUT/<stack>/
receives:

- ``resources.txt``: every resource, sorted by type and name: its parent, the resources it
  depends on, its registration options (delete-before-replace, aliases...) and its inputs as
  sorted JSON. A multi-line text input (user-data, a script, a domain definition) is written to
  a file of its own and named in the JSON as ``<file: ...>``;
- ``files/<resource>/<input path>``: those texts, byte for byte;
- ``outputs.json``: the stack's outputs (secret ones marked).

Run it before and after a change and compare the two directories (``diff -r``): a refactoring
that keeps every line is one that changes nothing a deployed stack would see.

Usage: .venv/bin/python scripts/render-stacks.py OUT [STACK...]
"""

from __future__ import annotations

import json
import shlex
import shutil
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pulumi.runtime import rpc  # noqa: E402

from components.hostexec import script_text  # noqa: E402
from tests.harness import Resource, StackRun, run_stack_file  # noqa: E402


def shipped_stacks() -> list[str]:
    return sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in ROOT.glob("Pulumi.*.yaml"))


def short(urn: str) -> str:
    """``<type>::<name>`` of a URN (the parent chain is in the type part)."""
    _, _, kind, name = urn.split("::", 3)
    return f"{kind.rsplit('$', 1)[-1]}::{name}"


def plain(value: Any, files: dict[str, str], path: str) -> Any:
    """``value`` with secrets unwrapped (and marked) and multi-line texts moved to ``files``."""
    if isinstance(value, dict):
        if value.get(rpc._special_sig_key) == rpc._special_secret_sig:
            return {"<secret>": plain(value.get("value"), files, path)}
        return {key: plain(item, files, f"{path}/{key}") for key, item in value.items()}
    if isinstance(value, list):
        return [plain(item, files, f"{path}/{i}") for i, item in enumerate(value)]
    if isinstance(value, str) and "\n" in value:
        script = script_run(value)
        if script is not None:
            return script
        files[path.strip("/")] = value
        return f"<file: {path.strip('/')}>"
    return value


def script_run(value: str) -> str | None:
    """A command running the text of one of the project's scripts, with the text named by the
    script's path (``... bash -c <scripts/libvirt/disk.sh> create``), when it is one; the text
    is the file's as :func:`components.hostexec.script_text` sends it (its platform's helpers
    in place), or it is kept (with what the command exports before it)."""
    try:
        words = shlex.split(value)
    except ValueError:
        return None
    if "bash" not in words:
        return None
    at = words.index("bash")
    run = words[at:]
    if len(run) != 5 or run[1] != "-c" or not run[3].startswith("scripts/"):
        return None
    text, name = run[2], run[3]
    source = ROOT / name
    shown = f"<{name}>"
    if not (source.is_file() and text == script_text(name.removeprefix("scripts/"))):
        shown = f"<{name}, as: {text!r}>"
    return shlex.join([*words[:at], "bash", "-c"]) + f" {shown} {shlex.join(run[4:])}"


def render_resource(res: Resource, out: Path) -> str:
    files: dict[str, str] = {}
    inputs = plain(res.inputs, files, "")
    for rel, text in files.items():
        target = out / "files" / res.name / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    lines = [f"== {res.type} {res.name}"]
    lines.append(f"parent: {short(res.parent) if res.parent else '-'}")
    for dep in sorted({short(urn) for urn in res.depends_on}):
        lines.append(f"depends on: {dep}")
    for key, value in sorted(res.options.items()):
        lines.append(f"{key}: {json.dumps(value, sort_keys=True)}")
    lines.append("inputs: " + json.dumps(inputs, sort_keys=True, indent=2))
    return "\n".join(lines) + "\n"


def render_stack(stack: str, out: Path) -> StackRun:
    run = run_stack_file(stack)
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    ordered = sorted(run.resources, key=lambda r: (r.type, r.name))
    blocks = [render_resource(res, out) for res in ordered]
    (out / "resources.txt").write_text("\n".join(blocks))
    outputs = {
        key: {"<secret>": value} if key in run.secret_outputs else value
        for key, value in run.outputs.items()
    }
    (out / "outputs.json").write_text(json.dumps(outputs, sort_keys=True, indent=2) + "\n")
    return run


def main(argv: list[str]) -> int:
    if not argv or argv[0].startswith("-"):
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        return 2
    target = Path(argv[0])
    for stack in argv[1:] or shipped_stacks():
        run = render_stack(stack, target / stack)
        print(f"{stack}: {len(run.resources)} resources, {len(run.outputs)} outputs")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
