"""Snapshots and restore of a VM, as commands on its hypervisor's host (libvirt, VirtualBox).

Each platform has ``scripts/<platform>/snapshot.sh create|delete`` and
``scripts/<platform>/restore.sh create``, which take the machine's own variables (its name,
the stack's mark) and these: ``SNAPSHOT_NAME``, ``DEFINITION``, ``DESCRIPTION``, ``LIVE`` (1
or 0) for a snapshot; ``SNAPSHOT_NAME``, ``GENERATION`` for a restore.

- A snapshot is one command per declared snapshot (``<vm>-snapshot-<name>``), taken once. Its
  definition is a trigger: a change replaces the command, create first, and the script's create
  refuses a snapshot of the same name taken with another definition, so the old one stays.
- A restore is one command (``<vm>-restore``) whose update is its create and receives the
  previous run's output (``SNAPSHOT GENERATION``): a smaller generation is refused, the same
  one changes nothing, a larger one reverts the machine. It comes after every snapshot.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi

from components.children import child_options
from components.hostexec import Host, run_script


@dataclass(frozen=True)
class SnapshotSpec:
    name: str
    """The snapshot's name on the platform."""
    description: str = ""
    """Its description (one line)."""
    live: bool = False
    """Taken without pausing the machine (where the platform can)."""
    definition: str = ""
    """What must not change under this name (a digest of name, description and live)."""


@dataclass(frozen=True)
class RestoreSpec:
    snapshot: str
    """The snapshot to revert to."""
    generation: int
    """Reverted once each time this grows."""
    mode: str | None = None
    """OpenStack: ``rebuild`` the server or ``replace`` it (None elsewhere)."""


def restored(stdout: str | None) -> str:
    """``<snapshot>@<generation>`` from a restore script's output (``SNAPSHOT GENERATION``)."""
    words = (stdout or "").split()
    return f"{words[0]}@{words[1]}" if len(words) >= 2 else " ".join(words)


@dataclass(frozen=True)
class Operations:
    snapshots: dict[str, pulumi.Resource]
    """Each snapshot's command, by snapshot name."""
    restored: pulumi.Output[str] | None
    """What the machine was last restored to (``snapshot@generation``); None: no restore."""


def machine_operations(
    parent: pulumi.ComponentResource,
    name: str,
    host: Host,
    platform: str,
    machine: Mapping[str, pulumi.Input[str]],
    snapshots: Sequence[SnapshotSpec],
    restore: RestoreSpec | None,
    opts: pulumi.ResourceOptions | None,
    after: Sequence[pulumi.Resource],
) -> Operations:
    """The snapshot and restore commands of the machine ``name`` (children of ``parent``),
    after ``after`` (the machine itself); ``machine`` holds the variables naming it."""
    taken: dict[str, pulumi.Resource] = {}
    for snap in snapshots:
        taken[snap.name] = run_script(
            f"{name}-snapshot-{snap.name}",
            host,
            f"{platform}/snapshot.sh",
            {
                **machine,
                "SNAPSHOT_NAME": snap.name,
                "DEFINITION": snap.definition,
                "DESCRIPTION": snap.description,
                "LIVE": "1" if snap.live else "0",
            },
            triggers=[snap.definition],
            opts=child_options(parent, opts, after=after),
        )
    if restore is None:
        return Operations(taken, None)
    command = run_script(
        f"{name}-restore",
        host,
        f"{platform}/restore.sh",
        {**machine, "SNAPSHOT_NAME": restore.snapshot, "GENERATION": str(restore.generation)},
        delete=False,
        update=True,
        previous_output=True,
        opts=child_options(parent, opts, after=[*after, *taken.values()]),
    )
    return Operations(taken, command.stdout.apply(restored))
