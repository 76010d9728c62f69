"""Snapshots and restore, one model for every VM and container of every lab.

A VM's (or container's) config may declare::

    snapshots:
      - name: clean            # taken once by `up`; removed from the list = deleted by `up`
        description: before the exercises
        live: false            # taken without pausing the machine (where the platform can)
    restore:
      snapshot: clean          # revert to this snapshot...
      generation: 1            # ...each time this number grows (once per increase)
      mode: rebuild            # OpenStack only: rebuild the server, or replace it

What the config alone decides is checked here, with the rest of the lab's config, before any
resource exists: snapshot names are valid and distinct, ``restore`` names a declared snapshot,
``live`` only where the platform has it (:data:`SUPPORT`), ``mode`` only on OpenStack
(:class:`CloudMachine`). Two rules need the
previous state, which only the engine holds; each is enforced by the command that would act,
before it acts (see the README's "Snapshots, restore, resize"):

- a snapshot's definition (description, live) is an input that replaces its resource: the
  replacement's create runs first (create before delete) and refuses a snapshot of the same
  name taken with another definition, so nothing is re-taken and nothing deleted;
- the restore's generation is an input of its command; the update receives what the previous
  run printed (the generation it restored) and refuses a smaller one, without touching the VM.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import pulumi
from pydantic import Field

from components.operations import RestoreSpec, SnapshotSpec
from stacks.shared.errors import Problem
from stacks.shared.types import Name
from stacks.shared.validation import LabModel, check

MachinePlatform = Literal["docker", "virtualbox", "libvirt", "openstack"]
MAX_GENERATION = 999_999_999
"""The largest restore generation (the scripts read nine digits)."""
RestoreMode = Literal["rebuild", "replace"]


@dataclass(frozen=True)
class Support:
    """What a platform offers for snapshots and resize."""

    snapshot: str
    """What a snapshot is there."""
    live: bool
    """Whether a snapshot can be taken without pausing the machine."""
    restore: str
    """What a restore does there."""
    restore_modes: tuple[RestoreMode, ...] = ()
    """The choices of ``restore.mode`` (none: the key is not part of the config)."""
    resize: str = ""
    """What a changed size does."""


SUPPORT: dict[MachinePlatform, Support] = {
    "docker": Support(
        snapshot="an image committed from the container (docker commit)",
        live=True,
        restore="the container re-created from the snapshot image",
    ),
    "virtualbox": Support(
        snapshot="a VirtualBox snapshot (VBoxManage snapshot take)",
        live=True,
        restore="VBoxManage snapshot restore, powered off first and started again if it ran",
        resize="cpus and memory with the VM powered off; the disk grows, never shrinks",
    ),
    "libvirt": Support(
        snapshot="an internal snapshot in the qcow2 disk (virsh snapshot-create-as)",
        live=False,
        restore="virsh snapshot-revert, started again if it ran",
        resize="vcpus and memory from the next start; the disk grows, never shrinks",
    ),
    "openstack": Support(
        snapshot="an image taken from the server (openstack server image create)",
        live=False,
        restore="the server rebuilt from the image, or replaced by one booted from it",
        restore_modes=("rebuild", "replace"),
        resize="the flavor (in place, Nova's resize and confirm)",
    ),
}
"""Every platform's snapshots, restore and resize, as the README's table shows them."""


class SnapshotConfig(LabModel):
    """One snapshot of a VM or container."""

    name: Name
    """The snapshot's name on the platform; a new name is a new snapshot."""
    description: str = Field("", max_length=200, pattern=r"^[^\x00-\x1f\x7f]*$")
    """Shown next to the snapshot (one line)."""
    live: bool = False
    """Taken while the machine keeps running, without pausing it (Docker, VirtualBox)."""

    def definition(self) -> str:
        """What identifies this snapshot's content: changing it needs a new name."""
        text = json.dumps(
            {"name": self.name, "description": self.description, "live": self.live},
            sort_keys=True,
        )
        return hashlib.sha256(text.encode()).hexdigest()[:16]


class RestoreConfig(LabModel):
    """Revert the machine to one of its snapshots, once per increase of ``generation``."""

    snapshot: Name
    """The snapshot to revert to (one of ``snapshots``)."""
    generation: int = Field(ge=1, le=MAX_GENERATION)
    """Raise it to restore again; the same value changes nothing, a smaller one is an error."""


class CloudRestoreConfig(RestoreConfig):
    """A restore of an OpenStack server, which can be done two ways."""

    mode: RestoreMode = "rebuild"
    """``rebuild`` the server from the image, or ``replace`` it by one booted from it."""


class Snapshotted(LabModel):
    """Base of the config of a VM or container that can be snapshotted and restored.

    Subclasses set :attr:`PLATFORM`; the rules of this class check the keys against it. An
    OpenStack machine's ``restore`` is a :class:`CloudRestoreConfig` (:class:`CloudMachine`).
    """

    PLATFORM: ClassVar[MachinePlatform]
    snapshots: list[SnapshotConfig] = Field(default_factory=list)
    """Snapshots ``up`` takes (once each) and keeps; ``destroy`` deletes them."""
    restore: RestoreConfig | None = None
    """A restore to one of ``snapshots``."""

    @check
    def _snapshots(self) -> Iterator[Problem]:
        # Read from the fields that validated: the rule also runs on a partly valid machine.
        fields = self.__dict__
        yield from snapshot_problems(
            self.PLATFORM, fields.get("snapshots", []), fields.get("restore")
        )

    def snapshot_specs(self) -> list[SnapshotSpec]:
        """The declared snapshots, as the components take them."""
        return [SnapshotSpec(s.name, s.description, s.live, s.definition()) for s in self.snapshots]

    def restore_spec(self) -> RestoreSpec | None:
        """The declared restore, as the components take it."""
        if self.restore is None:
            return None
        mode = self.restore.mode if isinstance(self.restore, CloudRestoreConfig) else None
        return RestoreSpec(self.restore.snapshot, self.restore.generation, mode)

    def restore_snapshot(self) -> SnapshotConfig | None:
        """The snapshot ``restore`` names, or None without a restore."""
        if self.restore is None:
            return None
        return next(s for s in self.snapshots if s.name == self.restore.snapshot)


class CloudMachine(Snapshotted):
    """Base of the config of an OpenStack server: its restore has a ``mode``."""

    PLATFORM: ClassVar[MachinePlatform] = "openstack"
    restore: CloudRestoreConfig | None = None
    """A restore to one of ``snapshots``, by rebuild or replacement."""


def snapshot_problems(
    platform: MachinePlatform, snapshots: Sequence[SnapshotConfig], restore: RestoreConfig | None
) -> Iterator[Problem]:
    """Names distinct, ``restore`` on a declared snapshot, the platform's limits."""
    support = SUPPORT[platform]
    seen: dict[str, int] = {}
    for i, snap in enumerate(snapshots):
        if "name" not in snap.__dict__:  # a snapshot whose name did not validate
            continue
        if snap.name in seen:
            yield Problem(
                ("snapshots", i, "name"),
                f"already the name of snapshots[{seen[snap.name]}]",
                snap.name,
            )
        seen.setdefault(snap.name, i)
        if snap.__dict__.get("live") and not support.live:
            yield Problem(
                ("snapshots", i, "live"),
                f"{platform} has no live snapshots ({support.snapshot} pauses the machine)",
                True,
            )
    if restore is None:
        return
    if "snapshot" in restore.__dict__ and restore.snapshot not in seen:
        known = ", ".join(sorted(seen)) or "none declared"
        yield Problem(
            ("restore", "snapshot"),
            f"names no snapshot of this machine (snapshots: {known})",
            restore.snapshot,
        )


def export_restored(machines: Mapping[str, Any]) -> None:
    """The stack output ``restored``: what each machine with a restore (an object with a
    ``restored`` output, None without one) was last restored to, by machine name."""
    pulumi.export(
        "restored", {k: m.restored for k, m in machines.items() if m.restored is not None}
    )
