"""A VirtualBox disk cloned from a cloud image or from another disk (``clonemedium``)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi

from components.children import child_options
from components.hostexec import Host, run_script
from components.virtualbox.host import virtualbox_host


@dataclass(frozen=True)
class DiskArgs:
    path: str
    """The VDI file to create on the VirtualBox host (``~/`` = that user's home)."""
    source: str
    """The cloud image (VMDK/VDI/VHD) or the disk to clone."""
    size_mb: int = 0
    """Grow the clone to this size; 0 keeps the source's size. A larger value later grows the
    disk in place (the VM must be powered off); a disk never shrinks."""
    source_url: str | None = None
    """Where to download ``source`` from when it is missing (cloud images only)."""
    source_is_disk: bool = False
    """True when ``source`` is a disk of this stack (it stays registered after the clone)."""
    host: Host = field(default_factory=virtualbox_host)
    """Where VBoxManage runs. (A disk cloned from another goes after it: ``depends_on``.)"""


class Disk(pulumi.ComponentResource):
    path: pulumi.Output[str]
    """The disk's file on the VirtualBox host, as given."""

    def __init__(self, name: str, args: DiskArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("cloudlabs:virtualbox:Disk", name, None, opts)
        run_script(
            f"{name}-medium",
            args.host,
            "virtualbox/disk.sh",
            {
                "DISK_PATH": args.path,
                "DISK_SOURCE": args.source,
                "DISK_SOURCE_URL": args.source_url or "",
                "DISK_SOURCE_KIND": "disk" if args.source_is_disk else "image",
                "DISK_SIZE_MB": str(args.size_mb),
            },
            # A new file or a new source is a new disk; the size grows in place (update).
            update=True,
            triggers=[args.path, args.source],
            opts=child_options(self, opts, delete_before_replace=True),
        )
        self.path = pulumi.Output.from_input(args.path)
        self.register_outputs({"path": self.path})
