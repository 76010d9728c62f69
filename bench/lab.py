"""Run the suite on the host and on every guest of a deployed stack (host side).

How the guests of each lab are reached is declared in :data:`LABS`, from the stack's outputs
(and, where the outputs do not name them, its config): over ``ssh`` with the commands the
stack exports (NAT forwards, jump hosts included) for VMs, with ``docker exec`` for containers.
Adding a lab is adding one entry. The outputs come from ``pulumi stack output --json`` or,
with ``--outputs FILE``, from a JSON file of the same shape.

On each machine the runner arrives on standard input as a zip and runs from a temporary
directory with the machine's own ``python3``; the document comes back on standard output. The
machines run one after another, never at the same time.
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from bench.archive import runner_archive
from bench.report import render_run, write_manifest

SSH_OPTIONS = (
    "-o",
    "BatchMode=yes",
    # A guest's first connection records its host key, as answering "yes" would; a changed
    # key is still refused.
    "-o",
    "StrictHostKeyChecking=accept-new",
    "-o",
    "ConnectTimeout=30",
    "-o",
    "ServerAliveInterval=30",
)


@dataclass(frozen=True)
class Target:
    """One machine: ``argv + [shell command]`` runs the command there, standard input
    connected."""

    name: str
    kind: str
    """``host``, ``vm`` or ``container``."""
    argv: tuple[str, ...]

    @property
    def reach(self) -> str:
        return shlex.join([*self.argv, "..."])


def local_host() -> Target:
    return Target("host", "host", ("sh", "-c"))


def ssh_target(name: str, command: str, kind: str = "vm") -> Target:
    """A machine reached with an ssh command line as a stack exports it (``ssh -J jump -p 3022
    user@127.0.0.1``); comments after ``#`` are dropped, batch mode is added."""
    words = shlex.split(command, comments=True)
    if not words or words[0] != "ssh":
        raise ValueError(f"{name}: not an ssh command: {command!r}")
    return Target(name, kind, ("ssh", *SSH_OPTIONS, *words[1:]))


def docker_target(name: str, container: str) -> Target:
    return Target(name, "container", ("docker", "exec", "-i", container, "sh", "-c"))


# --- how each lab's guests are reached ------------------------------------------------------

Outputs = Mapping[str, Any]
Config = Mapping[str, Any]
Declaration = Callable[[Outputs, Config], list[Target]]


def _need(outputs: Outputs, key: str) -> Any:
    if key not in outputs:
        raise KeyError(f"the stack has no output {key!r} (outputs: {sorted(outputs)})")
    return outputs[key]


def ssh_map(key: str) -> Declaration:
    """Every guest of an output mapping guest name -> ssh command."""
    return lambda outputs, _: [ssh_target(n, c) for n, c in _need(outputs, key).items()]


def ssh_one(key: str, name: str) -> Declaration:
    """One guest from an output holding an ssh command."""
    return lambda outputs, _: [ssh_target(name, _need(outputs, key))]


def docker_map(key: str) -> Declaration:
    """Every container of an output mapping role -> container name."""
    return lambda outputs, _: [docker_target(n, c) for n, c in _need(outputs, key).items()]


def docker_config(*keys: str) -> Declaration:
    """Containers named by config keys (``ct1`` -> ``cloud-labs:ct1.name``, default the key)."""

    def declare(_: Outputs, config: Config) -> list[Target]:
        return [
            docker_target(key, (config.get(f"cloud-labs:{key}") or {}).get("name", key))
            for key in keys
        ]

    return declare


def combine(*declarations: Declaration) -> Declaration:
    return lambda outputs, config: [t for d in declarations for t in d(outputs, config)]


LABS: dict[str, Declaration] = {
    "vbox-nat": ssh_map("sshCommands"),
    "vbox-cluster": ssh_map("sshCommands"),
    "libvirt-host": ssh_map("sshCommands"),
    "openstack-vm": ssh_one("sshCommand", "server"),
    "openstack-calculator": combine(
        ssh_one("sshCommand", "calculator"), ssh_map("operatorSshCommands")
    ),
    "openstack-naas": combine(ssh_one("sshCommand", "calculator"), ssh_map("operatorSshCommands")),
    "openstack-k8s": ssh_map("sshCommands"),
    "dev": docker_map("containers"),
    "docker-basics": docker_config("ct1", "ct2", "ct3"),
}


def targets(lab: str, outputs: Outputs, config: Config) -> list[Target]:
    if lab not in LABS:
        raise KeyError(f"no benchmark declaration for lab {lab!r}; known: {', '.join(LABS)}")
    return LABS[lab](outputs, config)


# --- outputs and config of a stack ----------------------------------------------------------


def pulumi_outputs(stack: str) -> dict[str, Any]:
    run = subprocess.run(
        ["pulumi", "stack", "output", "--json", "--show-secrets", "--stack", stack],
        capture_output=True,
        text=True,
        check=False,
    )
    if run.returncode != 0:
        raise RuntimeError(f"pulumi stack output --stack {stack} failed: {run.stderr.strip()}")
    return dict(json.loads(run.stdout))


def file_outputs(path: Path) -> dict[str, Any]:
    return dict(json.loads(path.read_text(encoding="utf-8")))


def stack_config(root: Path, stack: str) -> dict[str, Any]:
    path = root / f"Pulumi.{stack}.yaml"
    if not path.exists():
        return {}
    return dict((yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("config") or {})


# --- running -------------------------------------------------------------------------------


def remote_script(quick: bool, blas_core: str | None = None) -> str:
    """The POSIX shell run on each machine: the zip from standard input, the document out."""
    args = ["run", "--out", "-", *(["--quick"] if quick else [])]
    if blas_core:
        args += ["--blas-core", blas_core]
    return (
        'd="$(mktemp -d)" && trap \'rm -rf "$d"\' EXIT && cat > "$d/bench.zip" && '
        f'PYTHONPATH="$d/bench.zip" python3 -m bench {shlex.join(args)}'
    )


@dataclass(frozen=True)
class Result:
    target: Target
    doc: dict[str, Any] | None
    status: int
    stderr: str


def run_on(
    target: Target,
    quick: bool,
    payload: bytes,
    blas_core: str | None = None,
    log: Any = sys.stderr,
) -> Result:
    argv = [*target.argv, remote_script(quick, blas_core)]
    print(f"bench: {target.name} ({target.kind}): {shlex.join(argv)}", file=log, flush=True)
    run = subprocess.run(argv, input=payload, capture_output=True, check=False)
    stderr = run.stderr.decode("utf-8", "replace")
    try:
        doc = json.loads(run.stdout.decode("utf-8", "replace"))
    except json.JSONDecodeError:
        doc = None
    return Result(target, doc if isinstance(doc, dict) else None, run.returncode, stderr)


def stamp() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H%M%SZ")


def run_lab(
    stack: str,
    lab: str,
    machines: Sequence[Target],
    results: Path,
    quick: bool,
    against: Path | None = None,
    host_document: Path | None = None,
    blas_core: str | None = None,
    log: Any = sys.stderr,
) -> tuple[Path, list[Result]]:
    """Run on every machine in turn, write the run directory and its report. With
    ``host_document``, the host is not run again: that earlier document of it is used."""
    directory = results / stack / stamp()
    directory.mkdir(parents=True, exist_ok=False)
    payload = runner_archive()
    manifest: dict[str, Any] = {
        "stack": stack,
        "lab": lab,
        "started": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "profile": "quick" if quick else "full",
        "blas_core": blas_core,
        "machines": {},
    }
    outcomes = []
    if host_document is not None:
        doc = json.loads(host_document.read_text(encoding="utf-8"))
        (directory / "host.json").write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
        manifest["machines"]["host"] = {
            "kind": "host",
            "reach": f"earlier document {host_document.name} ({doc['started']})",
            "file": "host.json",
        }
    for target in machines:
        result = run_on(target, quick, payload, blas_core, log)
        outcomes.append(result)
        entry = {"kind": target.kind, "reach": target.reach, "file": f"{target.name}.json"}
        if result.doc is not None:
            text = json.dumps(result.doc, indent=1) + "\n"
            (directory / entry["file"]).write_text(text, encoding="utf-8")
            for name, outcome in (result.doc.get("benchmarks") or {}).items():
                if outcome.get("error"):
                    error = outcome["error"]
                    print(f"bench: {target.name}: {name} failed: {error}", file=log, flush=True)
        else:
            entry["error"] = f"exit status {result.status}: {result.stderr.strip()[-2000:]}"
            print(f"bench: {target.name}: no document: {entry['error']}", file=log, flush=True)
        manifest["machines"][target.name] = entry
    write_manifest(directory, manifest)
    for path in render_run(directory, against=against):
        print(path, file=log, flush=True)
    return directory, outcomes


ROOT = Path(__file__).resolve().parent.parent
"""The project directory, where the stacks' Pulumi.<stack>.yaml files are."""


def main(args: argparse.Namespace, root: Path = ROOT) -> int:
    config = stack_config(root, args.stack)
    lab = args.lab or config.get("cloud-labs:lab")
    if not lab:
        print(f"bench: the lab of stack {args.stack!r} is unknown: give --lab", file=sys.stderr)
        return 2
    outputs = file_outputs(args.outputs) if args.outputs else pulumi_outputs(args.stack)
    guests = targets(lab, outputs, config)
    if args.host_ssh:
        host = Target("host", "host", ssh_target("host", args.host_ssh).argv)
    else:
        host = local_host()
    machines = guests if args.no_host or args.host_document else [host, *guests]
    directory, outcomes = run_lab(
        args.stack,
        lab,
        machines,
        args.results,
        args.quick,
        against=args.against,
        host_document=args.host_document,
        blas_core=args.blas_core,
    )
    print(directory / "report.md")
    return 0 if all(r.doc is not None and r.status == 0 for r in outcomes) else 1
