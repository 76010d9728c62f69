"""A stand-in for ``VBoxManage`` (VirtualBox 7.1) as strict as the real one where the project's
scripts depend on it.

Every behaviour below is taken from VirtualBox's own VBoxManage sources
(``src/VBox/Frontends/VBoxManage/VBoxManage{Info,ModifyVM,ControlVM,StorageController,Disk,List,
Misc}.cpp`` and ``src/VBox/Main/src-all/Global.cpp`` of https://github.com/VirtualBox/virtualbox)
or from the two tools that drive VBoxManage in production, Vagrant's VirtualBox driver
(``plugins/providers/virtualbox/driver/{base,meta,version_7_0}.rb``) and Multipass's VirtualBox
backend (``src/platform/backends/virtualbox/virtualbox_virtual_machine.cpp``); the comment next
to each behaviour names its source. Error texts quoted from a source are VirtualBox's; the
others are this stand-in's own wording (marked "wording").

What it models:

- the syntax of the subcommands the scripts use (:data:`GRAMMAR`); a syntax error exits with
  status 2, as ``errorSyntax`` does, a refused operation with status 1;
- machine state with VirtualBox's state names (``machineStateToName``), changing with time: an
  ACPI power button leaves the guest ``running`` while it shuts down, then ``stopping``, then
  ``poweroff``; after a power-off the VM's session lock is held a little longer, and what needs
  the lock fails meanwhile with VirtualBox's "already locked for a session" error;
- the locks each subcommand takes (``modifyvm``/``storagectl``/``discardstate`` a write lock,
  ``storageattach``/``controlvm`` a shared one), so changing settings of a running VM fails;
- ``showvminfo --machinereadable`` keys and values as VBoxManageInfo.cpp prints them;
- host differences: host-only *networks* exist on macOS builds only (``VBOX_WITH_VMNET``), and
  VBoxManage.exe writes CRLF line ends on Windows;
- translated human-readable output under a Russian locale (VBoxManage's approved translation),
  the machine-readable keys staying as they are.

A lint, not VirtualBox's behaviour: VBoxManage 7 still takes the older option spellings
(``--natpf<N>``, ``--macaddress<N>``... VBoxManageModifyVM.cpp lists both with ``OPT2``); this
stand-in rejects them (exit status 2, ``"lint"`` in the call log) so the scripts keep to the
names the VirtualBox 7 manual documents.

State lives in a JSON file, every call is appended to a JSON-lines log.

Environment: ``FAKE_VBOX_STATE`` (state file), ``FAKE_VBOX_LOG`` (call log),
``FAKE_VBOX_VERSION`` (what ``--version`` prints, default ``7.1.4r165100``),
``FAKE_VBOX_HOST_OS`` (``Linux``, ``Darwin`` or ``Windows``), ``FAKE_VBOX_ACPI_SECONDS`` (how long
a guest takes to react to the power button; ``never``: it ignores it),
``FAKE_VBOX_STOPPING_SECONDS``, ``FAKE_VBOX_UNLOCK_SECONDS`` (the lock window after a power-off),
``FAKE_VBOX_POWEROFF_FAILS`` (a power-off reports failure though the VM ends powered off).
"""

from __future__ import annotations

import fcntl
import json
import os
import posixpath
import re
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MANUAL = "https://www.virtualbox.org/manual/ch08.html"
READ_ONLY = frozenset({"list", "showvminfo", "showmediuminfo", "getextradata", "--version"})
DEFAULT_VERSION = "7.1.4r165100"


class Usage(Exception):
    """The call does not follow VBoxManage's syntax (exit status 2, ``errorSyntax``)."""


class Lint(Usage):
    """VBoxManage accepts the call, the project does not (an older option spelling)."""


class Failure(Exception):
    """VirtualBox refuses the operation (exit status 1)."""


# The COM error VirtualBox reports when a session holds the machine. Quoted from real output
# (e.g. packer and Vagrant reports: "Context: "LockMachine(a->session, LockType_Write)" at line
# ... of file VBoxManageModifyVM.cpp").
LOCKED = "The machine '{}' is already locked for a session (or being unlocked)"
LOCKED_DETAILS = (
    "Details: code VBOX_E_INVALID_OBJECT_STATE (0x80bb0007), component MachineWrap, "
    "interface IMachine, callee nsISupports"
)


class Locked(Failure):
    def __init__(self, name: str, context: str) -> None:
        super().__init__(f"{LOCKED.format(name)}\n{LOCKED_DETAILS}\nContext: {context}")


# --- the host ----------------------------------------------------------------------------


def host_os() -> str:
    return os.environ.get("FAKE_VBOX_HOST_OS", "Linux")


def vmnet() -> bool:
    """Host-only networks (``hostonlynet``, ``list hostonlynets``, ``--host-only-net<N>``) are
    built with ``VBOX_WITH_VMNET``, macOS only (VBoxManageModifyVM.cpp, VBoxManageList.cpp;
    Vagrant's ``use_host_only_nets?`` in version_7_0.rb: darwin and VirtualBox >= 7)."""
    return host_os() == "Darwin"


def seconds(name: str, default: float) -> float | None:
    value = os.environ.get(name, "")
    if value == "never":
        return None
    return float(value) if value else default


def russian() -> bool:
    """The locale VBoxManage translates its text to: Russian is its one approved translation
    (src/VBox/Frontends/VBoxManage/nls/ApprovedLanguages.kmk), picked from the environment's
    locale as libc does (LC_ALL, then LC_MESSAGES, then LANG)."""
    for var in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(var)
        if value:
            return value.startswith("ru")
    return False


# The human-readable labels the scripts read, and a stand-in for their translation (wording:
# VBoxManage prints them through tr(), e.g. Disk::tr("Capacity:       %lld MBytes\n") in
# VBoxManageDisk.cpp, List::tr("Name:            %ls\n") in VBoxManageList.cpp).
TRANSLATED = {
    "Name:": "Имя:",
    "Location:": "Расположение:",
    "Capacity:": "Ёмкость:",
    "Operating system:": "Операционная система:",
    "MBytes": "МБайт",
}


def label(text: str) -> str:
    return TRANSLATED.get(text, text) if russian() else text


# Guest OS types (Global::sOSTypes in src/VBox/Main/src-all/Global.cpp): the id createvm
# and modifyvm take, looked up without regard to case (Multipass passes "ubuntu_64"), and the
# description showvminfo prints as ``ostype`` (VBoxManageInfo.cpp: SHOW_STRING_PROP(osType,
# Description, "ostype", ...)). A subset: the Linux types these labs may use.
OS_TYPES = {
    "Other": "Other/Unknown",
    "Other_64": "Other/Unknown (64-bit)",
    "Linux26": "Linux 2.6 / 3.x / 4.x / 5.x (32-bit)",
    "Linux26_64": "Linux 2.6 / 3.x / 4.x / 5.x (64-bit)",
    "Linux": "Other Linux (32-bit)",
    "Linux_64": "Other Linux (64-bit)",
    "Debian": "Debian (32-bit)",
    "Debian_64": "Debian (64-bit)",
    "Debian_arm64": "Debian (ARM 64-bit)",
    "Debian11_64": "Debian 11 Bullseye (64-bit)",
    "Debian12_64": "Debian 12 Bookworm (64-bit)",
    "Ubuntu": "Ubuntu (32-bit)",
    "Ubuntu_64": "Ubuntu (64-bit)",
    "Ubuntu_arm64": "Ubuntu (ARM 64-bit)",
    "Ubuntu20_LTS_64": "Ubuntu 20.04 LTS (Focal Fossa) (64-bit)",
    "Ubuntu22_LTS_64": "Ubuntu 22.04 LTS (Jammy Jellyfish) (64-bit)",
    "Ubuntu24_LTS_64": "Ubuntu 24.04 LTS (Noble Numbat) (64-bit)",
    "Ubuntu24_LTS_arm64": "Ubuntu 24.04 LTS (Noble Numbat) (ARM 64-bit)",
}


def os_type(ref: str) -> str | None:
    return next((k for k in OS_TYPES if k.lower() == ref.lower()), None)


# --- value checkers: each consumes the option's arguments and returns them ---------------

Take = Callable[[list[str]], list[str]]


def one(pattern: str = r".+") -> Take:
    def take(args: list[str]) -> list[str]:
        if not args or not re.fullmatch(pattern, args[0]):
            raise Usage(f"expected a value matching {pattern!r}, got {args[:1]}")
        return [args.pop(0)]

    return take


def choice(*values: str) -> Take:
    return one("|".join(re.escape(v) for v in values))


def flag(args: list[str]) -> list[str]:
    return []


INT = one(r"[0-9]+")
ONOFF = choice("on", "off")
MAC = one(r"auto|[0-9A-Fa-f]{12}")
NATPF_RULE = r"[^,]+,(tcp|udp),[0-9.]*,[0-9]+,[0-9.]*,[0-9]+"


def natpf(args: list[str]) -> list[str]:
    """``--nat-pf<N> <rule>`` or ``--nat-pf<N> delete <name>`` (``natpf<N>`` for controlvm):
    VBoxManageModifyVM.cpp MODIFYVM_NATPF, six comma-separated terms."""
    if args[:1] == ["delete"]:
        if len(args) < 2:
            raise Usage("Not enough parameters")
        return [args.pop(0), args.pop(0)]
    return one(NATPF_RULE)(args)


def uart(args: list[str]) -> list[str]:
    """``--uart<N> off`` or ``--uart<N> <I/O base> <IRQ>`` (MODIFYVM_UART)."""
    if args[:1] in (["off"], ["disable"]):
        return [args.pop(0)]
    return one(r"0x[0-9A-Fa-f]+")(args) + INT(args)


def uartmode(args: list[str]) -> list[str]:
    """``disconnected``, or ``server|client|tcpserver|tcpclient|file <path>``, or a host device
    path (MODIFYVM_UARTMODE)."""
    mode = one()(args)
    if mode[0] in ("server", "client", "tcpserver", "tcpclient", "file"):
        if not args:
            raise Usage("Missing or invalid argument to '--uart-mode'")
        return [*mode, args.pop(0)]
    return mode


def nic_type(args: list[str]) -> list[str]:
    """Attachment types of MODIFYVM_NIC; ``hostonlynet`` only with ``VBOX_WITH_VMNET``. An
    unknown one is an argument error (exit status 1), not a syntax error."""
    value = one()(args)
    known = {"none", "null", "nat", "bridged", "intnet", "hostonly", "generic", "natnetwork"}
    if vmnet():
        known.add("hostonlynet")
    if value[0].lower() not in known:
        raise Failure(f"Invalid type '{value[0]}' specfied for NIC")  # sic, VBoxManageModifyVM
    return value


@dataclass(frozen=True)
class Spec:
    section: str
    """Where the usage is documented: the manual's anchor for the subcommand."""
    source: str
    """The VBoxManage source file that implements it."""
    positionals: tuple[Take, ...] = ()
    options: dict[str, Take] = field(default_factory=dict)
    """Exact option names (``--name``); numbered ones are written with ``<N>``."""
    required: frozenset[str] = frozenset()
    medium_kind: bool = False
    """The first positional may be ``disk``, ``dvd`` or ``floppy``."""


ANY = one()
MEDIUM_KIND = ("disk", "dvd", "floppy")
# Spellings VBoxManage 7 still accepts (OPT2 second names in VBoxManageModifyVM.cpp) that the
# project's lint refuses: the manual documents the hyphenated ones.
LEGACY = {
    "--natpf<N>": "--nat-pf<N>",
    "--macaddress<N>": "--mac-address<N>",
    "--hostonlyadapter<N>": "--host-only-adapter<N>",
    "--hostonlynet<N>": "--host-only-net<N>",
    "--uartmode<N>": "--uart-mode<N>",
    "--uarttype<N>": "--uart-type<N>",
    "--cableconnected<N>": "--cable-connected<N>",
    "--nictype<N>": "--nic-type<N>",
}


def _list_kinds(args: list[str]) -> list[str]:
    kinds = ["vms", "runningvms", "hdds", "dvds", "hostonlyifs", "ostypes", "intnets", "hostinfo"]
    if vmnet():  # VBoxManageList.cpp: listHostOnlyNetworks is #ifdef VBOX_WITH_VMNET
        kinds.append("hostonlynets")
    return choice(*kinds)(args)


def _modifyvm_options() -> dict[str, Take]:
    options: dict[str, Take] = {
        "--name": ANY,
        "--ostype": ANY,
        "--os-type": ANY,
        "--memory": INT,
        "--cpus": INT,
        "--firmware": choice("bios", "efi", "efi32", "efi64", "efidual"),
        "--ioapic": ONOFF,
        "--acpi": ONOFF,
        "--boot<N>": choice("none", "floppy", "dvd", "disk", "net"),
        "--nic<N>": nic_type,
        "--nic-type<N>": choice("Am79C970A", "Am79C973", "82540EM", "82543GC", "82545EM", "virtio"),
        "--cable-connected<N>": ONOFF,
        "--intnet<N>": ANY,
        "--host-only-adapter<N>": ANY,
        "--mac-address<N>": MAC,
        "--nat-pf<N>": natpf,
        "--uart<N>": uart,
        "--uart-mode<N>": uartmode,
        "--uart-type<N>": choice("16450", "16550A", "16750"),
        "--graphicscontroller": choice("none", "vboxvga", "vmsvga", "vboxsvga"),
        "--vram": INT,
        "--rtc-use-utc": ONOFF,
    }
    if vmnet():  # OPT2("--host-only-net", "--hostonlynet", ...) is #ifdef VBOX_WITH_VMNET
        options["--host-only-net<N>"] = ANY
    return options


# The accepted grammar, one entry per subcommand, with its manual section and source file.
def grammar() -> dict[str, Spec]:
    return {
        "list": Spec(
            f"{MANUAL}#vboxmanage-list",
            "VBoxManageList.cpp",
            (_list_kinds,),
            {"--long": flag, "-l": flag, "--sorted": flag, "-s": flag},
        ),
        "showvminfo": Spec(
            f"{MANUAL}#vboxmanage-showvminfo",
            "VBoxManageInfo.cpp",
            (ANY,),
            {"--details": flag, "--machinereadable": flag, "--password-id": ANY, "--password": ANY},
        ),
        "createvm": Spec(
            f"{MANUAL}#vboxmanage-createvm",
            "VBoxManageMisc.cpp",
            (),
            {
                "--name": ANY,
                "--basefolder": ANY,
                "--default": flag,
                "--groups": ANY,
                "--ostype": ANY,
                "--register": flag,
                "--uuid": ANY,
                "--cipher": ANY,
                "--password-id": ANY,
                "--password": ANY,
                "--platform-architecture": choice("x86", "arm"),
            },
            required=frozenset({"--name"}),
        ),
        "modifyvm": Spec(
            f"{MANUAL}#vboxmanage-modifyvm", "VBoxManageModifyVM.cpp", (ANY,), _modifyvm_options()
        ),
        "storagectl": Spec(
            f"{MANUAL}#vboxmanage-storagectl",
            "VBoxManageStorageController.cpp",
            (ANY,),
            {
                "--name": ANY,
                "--add": choice("floppy", "ide", "pcie", "sas", "sata", "scsi", "usb", "virtio"),
                "--controller": choice(
                    "BusLogic",
                    "I82078",
                    "ICH6",
                    "IntelAhci",
                    "LSILogic",
                    "LSILogicSAS",
                    "NVMe",
                    "PIIX3",
                    "PIIX4",
                    "USB",
                    "VirtIO",
                ),
                "--bootable": ONOFF,
                "--hostiocache": ONOFF,
                "--portcount": INT,
                "--rename": ANY,
                "--remove": flag,
            },
            required=frozenset({"--name"}),
        ),
        "storageattach": Spec(
            f"{MANUAL}#vboxmanage-storageattach",
            "VBoxManageStorageController.cpp",
            (ANY,),
            {
                "--storagectl": ANY,
                "--port": INT,
                "--device": INT,
                "--type": choice("dvddrive", "fdd", "hdd"),
                "--medium": ANY,
                "--mtype": choice(
                    "normal", "writethrough", "immutable", "shareable", "readonly", "multiattach"
                ),
                "--comment": ANY,
                "--nonrotational": ONOFF,
                "--discard": ONOFF,
                "--hotpluggable": ONOFF,
                "--tempeject": ONOFF,
                "--forceunmount": flag,
            },
        ),
        "startvm": Spec(
            f"{MANUAL}#vboxmanage-startvm",
            "VBoxManageMisc.cpp",
            (ANY,),
            {"--type": choice("gui", "headless", "sdl", "separate"), "--putenv": ANY, "-E": ANY},
        ),
        "controlvm": Spec(f"{MANUAL}#vboxmanage-controlvm", "VBoxManageControlVM.cpp", (ANY,)),
        "discardstate": Spec(f"{MANUAL}#vboxmanage-discardstate", "VBoxManageMisc.cpp", (ANY,)),
        "unregistervm": Spec(
            f"{MANUAL}#vboxmanage-unregistervm",
            "VBoxManageMisc.cpp",
            (ANY,),
            {"--delete": flag, "--delete-all": flag},
        ),
        "clonemedium": Spec(
            f"{MANUAL}#vboxmanage-clonemedium",
            "VBoxManageDisk.cpp",
            (ANY, ANY),
            {
                "--format": choice("VDI", "VMDK", "VHD", "RAW"),
                "--variant": ANY,
                "--existing": flag,
            },
            medium_kind=True,
        ),
        "modifymedium": Spec(
            f"{MANUAL}#vboxmanage-modifymedium",
            "VBoxManageDisk.cpp",
            (ANY,),
            {
                "--type": ANY,
                "--autoreset": ONOFF,
                "--property": ANY,
                "--compact": flag,
                "--resize": INT,
                "--resizebyte": INT,
                "--move": ANY,
                "--setlocation": ANY,
                "--description": ANY,
            },
            medium_kind=True,
        ),
        "closemedium": Spec(
            f"{MANUAL}#vboxmanage-closemedium",
            "VBoxManageDisk.cpp",
            (ANY,),
            {"--delete": flag},
            medium_kind=True,
        ),
        "showmediuminfo": Spec(
            f"{MANUAL}#vboxmanage-showmediuminfo", "VBoxManageDisk.cpp", (ANY,), medium_kind=True
        ),
        # VBoxManageSnapshot.cpp handleSnapshot: the VM, then the action (see SNAPSHOT).
        "snapshot": Spec(f"{MANUAL}#vboxmanage-snapshot", "VBoxManageSnapshot.cpp", (ANY,)),
        # VBoxManageMisc.cpp handleSetExtraData / handleGetExtraData: <vm>|global <key> [value]
        "setextradata": Spec(f"{MANUAL}#vboxmanage-setextradata", "VBoxManageMisc.cpp", (ANY,)),
        "getextradata": Spec(f"{MANUAL}#vboxmanage-getextradata", "VBoxManageMisc.cpp", (ANY,)),
    }


GRAMMAR = grammar()
"""The grammar on this stand-in's default host (Linux)."""


def _shutdown(args: list[str]) -> list[str]:
    return [args.pop(0)] if args[:1] == ["--force"] else []


# controlvm's own subcommands (VBoxManageControlVM.cpp handleControlVM), each with its
# arguments. ``shutdown`` and ``reboot`` exist in 7.x (#ifdef VBOX_WITH_GUEST_CONTROL).
CONTROLVM: dict[str, Take] = {
    "pause": flag,
    "resume": flag,
    "reset": flag,
    "poweroff": flag,
    "savestate": flag,
    "acpipowerbutton": flag,
    "acpisleepbutton": flag,
    "shutdown": _shutdown,
    "reboot": _shutdown,
    "natpf<N>": natpf,
}


# snapshot's actions (VBoxManageSnapshot.cpp handleSnapshot), each with the options it parses.
# ``take``: RTGetOpt over --description (-description, -desc), --pause, --live, --uniquename;
# ``delete``/``restore``: "exactly one parameter: snapshot name" (argc != 3: errorSyntax
# "Expecting snapshot name only"); ``list``: --details, --machinereadable.
SNAPSHOT_ACTIONS: dict[str, dict[str, Take]] = {
    "take": {
        "--description": ANY,
        "-description": ANY,
        "-desc": ANY,
        "--pause": flag,
        "--live": flag,
        "--uniquename": ANY,
    },
    "delete": {},
    "restore": {},
    "restorecurrent": {},
    "list": {"--details": flag, "--machinereadable": flag},
}


def _snapshot_args(args: list[str]) -> list[tuple[str, list[str]]]:
    """``snapshot <vm>``'s action, its snapshot name and options, as handleSnapshot reads
    them; a bad call raises :class:`Usage`."""
    if not args:
        raise Usage("Not enough parameters")
    action = args.pop(0)
    if action not in SNAPSHOT_ACTIONS:
        raise Usage(f"snapshot: unknown action {action!r} (VBoxManageSnapshot.cpp)")
    parsed: list[tuple[str, list[str]]] = [(action, [])]
    if action in ("take", "delete", "restore"):
        if not args:
            raise Usage(
                "Missing snapshot name" if action == "take" else "Expecting snapshot name only"
            )
        parsed[0] = (action, [args.pop(0)])
        if action != "take" and args:
            raise Usage("Expecting snapshot name only")
    if action == "restorecurrent" and args:
        raise Usage("Too many arguments")
    options = SNAPSHOT_ACTIONS[action]
    while args:
        word = args.pop(0)
        if word not in options:
            raise Usage(f"snapshot {action}: unknown option {word!r} (VBoxManageSnapshot.cpp)")
        parsed.append((word, options[word](args)))
    return parsed


def _numbered(table: dict[str, Any], word: str) -> tuple[str, int | None] | None:
    """The table key for ``word`` (``--nic2`` -> ``--nic<N>``, 2), or None."""
    if word in table:
        return word, None
    match = re.fullmatch(r"(.*?)([1-8])", word)
    if match and f"{match.group(1)}<N>" in table:
        return f"{match.group(1)}<N>", int(match.group(2))
    return None


@dataclass
class Call:
    command: str
    positionals: list[str]
    options: list[tuple[str, list[str]]]
    """(option as written, its arguments), in order."""

    def opt(self, name: str) -> list[str] | None:
        for key, values in self.options:
            if key == name:
                return values
        return None


def parse(argv: list[str]) -> Call:
    """Check ``argv`` against the grammar; raise :class:`Usage` when it does not fit."""
    if not argv:
        raise Usage("no subcommand")
    if argv in (["--version"], ["-V"]):  # VBoxManage.cpp: prints "%sr%u\n" and exits
        return Call("--version", [], [])
    table = grammar()
    command, rest = argv[0], list(argv[1:])
    spec = table.get(command)
    if spec is None:
        raise Usage(f"unknown subcommand {command!r}")
    args: list[str] = []
    for word in rest:  # --option=value is the same as --option value (RTGetOpt)
        if word.startswith("--") and "=" in word:
            args += word.split("=", 1)
        else:
            args.append(word)
    positionals: list[str] = []
    if spec.medium_kind and args and args[0] in MEDIUM_KIND:
        positionals.append(args.pop(0))
    elif spec.medium_kind:
        positionals.append("disk")
    for take in spec.positionals:
        if not args or args[0].startswith("-"):
            raise Usage(f"{command}: missing argument ({spec.section})")
        positionals += take(args)
    options: list[tuple[str, list[str]]] = []
    if command == "controlvm":
        if not args:
            raise Usage("Not enough parameters.")
        found = _numbered(CONTROLVM, args[0])
        if found is None:
            raise Usage(f"controlvm: unknown action {args[0]!r} ({spec.section})")
        action = args.pop(0)
        options.append((action, CONTROLVM[found[0]](args)))
    if command == "snapshot":
        return Call(command, positionals, _snapshot_args(args))
    if command in ("setextradata", "getextradata"):
        # <vm>|global <key|enumerate> [value]: the key, and for setextradata an optional value
        # (none deletes the key)
        most = 2 if command == "setextradata" else 1
        if not args or len(args) > most:
            raise Usage(f"{command}: expected a key{' and a value' if most == 2 else ''}")
        return Call(command, positionals + args, [])
    while args:
        word = args.pop(0)
        found = _numbered(spec.options, word)
        if found is None:
            legacy = _numbered(LEGACY, word)
            if legacy is not None:
                better = LEGACY[legacy[0]].replace("<N>", str(legacy[1] or ""))
                raise Lint(f"{command}: {word} is an older spelling; the manual's is {better}")
            raise Usage(f"{command}: unknown option {word!r} ({spec.section})")
        try:
            options.append((word, spec.options[found[0]](args)))
        except Usage as exc:
            raise Usage(f"{command} {word}: {exc} ({spec.section})") from None
    missing = spec.required - {key for key, _ in options}
    if missing:
        raise Usage(f"{command}: missing {sorted(missing)} ({spec.section})")
    return Call(command, positionals, options)


# --- state ------------------------------------------------------------------------------

# How long things take by default: long enough that a script polling every couple of seconds
# (each VBoxManage call taking its own time) sees the guest still running, then stopping, and
# meets the lock after the power-off.
ACPI_SECONDS = 2.0
STOPPING_SECONDS = 4.0
UNLOCK_SECONDS = 4.0

RUNNING = ("running", "paused", "gurumeditation", "stopping", "starting", "saving", "restoring")
"""States with a VM process, whose session holds the machine's lock (machineStateToName)."""
SAVED = ("saved", "aborted-saved")


def new_vm(name: str, ostype: str, basefolder: str) -> dict[str, Any]:
    """A VM as ``createvm --register`` without ``--default`` leaves it: BIOS, 128 MB, one CPU,
    boot order floppy, DVD, disk (VirtualBox's defaults), adapter 1 NAT, no controllers."""
    return {
        "uuid": str(uuid.uuid4()),
        "ostype": ostype,
        "basefolder": basefolder,
        "cpus": 1,
        "memory": 128,
        "firmware": "BIOS",
        "ioapic": "off",
        "boot": ["floppy", "dvd", "disk", "none"],
        "uart1": "off",
        "uartmode1": "disconnected",
        "uarttype1": "16550A",
        "nics": {"1": {"type": "nat", "mac": "080027000001"}},
        "forwards": {},
        "controllers": [],
        "attachments": {},
        "state": "poweroff",
        "since": time.time(),
        "locked_until": 0.0,
    }


def machine_path(path: str) -> str:
    """A location as VirtualBox stores it: absolute and normalised (RTPathAbs: no ``.``, ``..``
    or doubled separators), which is what showvminfo and ``list hdds`` print back."""
    return posixpath.normpath(os.path.abspath(path))


class VirtualBox:
    def __init__(self, state: dict[str, Any]) -> None:
        self.vms: dict[str, dict[str, Any]] = state.setdefault("vms", {})
        self.hdds: dict[str, dict[str, Any]] = state.setdefault("hdds", {})
        self.dvds: dict[str, dict[str, Any]] = state.setdefault("dvds", {})
        self.hostonlyifs: list[str] = state.setdefault("hostonlyifs", [])
        self.hostonlynets: list[str] = state.setdefault("hostonlynets", [])
        self.out: list[str] = []
        self.now = time.time()
        for vm in self.vms.values():
            self.settle(vm)

    # --- time -----------------------------------------------------------------------------

    def settle(self, vm: dict[str, Any]) -> None:
        """Advance a VM whose guest is shutting down after the ACPI power button: it reads
        ``running`` while the guest shuts down, then ``stopping``, then ``poweroff`` (Multipass
        treats ``stopping`` as still running: instance_state_for), and its session lock is held
        for a while after it reads ``poweroff``."""
        pressed = vm.get("acpi_at")
        if pressed is None or vm["state"] not in ("running", "stopping"):
            return
        react = seconds("FAKE_VBOX_ACPI_SECONDS", ACPI_SECONDS)
        if react is None:  # a guest without ACPI support ignores the button
            return
        stopping = seconds("FAKE_VBOX_STOPPING_SECONDS", STOPPING_SECONDS) or 0.0
        off_at = pressed + react + stopping
        if self.now < pressed + react:
            vm["state"] = "running"
        elif self.now < off_at:
            vm["state"] = "stopping"
        else:
            self._off(vm, off_at)

    def _off(self, vm: dict[str, Any], at: float) -> None:
        vm["state"] = "poweroff"
        vm["since"] = at
        vm.pop("acpi_at", None)
        vm["locked_until"] = at + (seconds("FAKE_VBOX_UNLOCK_SECONDS", UNLOCK_SECONDS) or 0.0)
        self._console(vm, "reboot: Power down")

    # --- locks ----------------------------------------------------------------------------

    def vm(self, ref: str) -> dict[str, Any]:
        for name, vm in self.vms.items():
            if ref in (name, vm["uuid"]):
                return vm
        # VBoxManageInfo.cpp et al.: FindMachine fails with VBOX_E_OBJECT_NOT_FOUND
        raise Failure(f"Could not find a registered machine named '{ref}'")

    def name_of(self, vm: dict[str, Any]) -> str:
        return next(n for n, v in self.vms.items() if v is vm)

    def write_lock(self, vm: dict[str, Any], source: str) -> None:
        """LockType_Write, as modifyvm, storagectl and discardstate take it: refused while a
        VM process holds the machine, and during the unlock window after a power-off."""
        if vm["state"] in RUNNING or self.now < vm.get("locked_until", 0.0):
            raise Locked(self.name_of(vm), f'"LockMachine(a->session, LockType_Write)" ({source})')

    def shared_lock(self, vm: dict[str, Any], source: str) -> bool:
        """LockType_Shared (storageattach, controlvm): joins the running VM's session (True:
        runtime changes), or takes the lock itself on a VM without one; refused while the
        session is being unlocked."""
        if vm["state"] in RUNNING:
            return True
        if self.now < vm.get("locked_until", 0.0):
            raise Locked(self.name_of(vm), f'"LockMachine(a->session, LockType_Shared)" ({source})')
        return False

    def mutable(self, vm: dict[str, Any]) -> None:
        """Settings of a VM with a saved state cannot change (wording)."""
        if vm["state"] in SAVED:
            raise Failure(f"The machine is not mutable (state is {vm['state']})")

    def attached_to(self, path: str) -> list[str]:
        return [
            n
            for n, vm in self.vms.items()
            if any(a["medium"] == path for a in vm["attachments"].values())
        ]

    def run(self, call: Call) -> None:
        getattr(self, "do_" + call.command.lstrip("-").replace("-", "_"))(call)

    def _console(self, vm: dict[str, Any], line: str) -> None:
        """What the guest writes to its first serial port, when that goes to a file."""
        mode = vm.get("uartmode1", "")
        if vm.get("uart1") != "off" and mode.startswith("file,"):
            with open(mode[len("file,") :], "a") as console:
                console.write(line + "\n")

    # --- read-only commands -----------------------------------------------------------------

    def do_version(self, call: Call) -> None:
        self.out.append(os.environ.get("FAKE_VBOX_VERSION", DEFAULT_VERSION))

    def do_list(self, call: Call) -> None:
        what = call.positionals[0]
        if what in ("vms", "runningvms"):  # VBoxManageList.cpp: "name" {uuid}
            for name, vm in self.vms.items():
                if what == "vms" or vm["state"] in RUNNING:
                    self.out.append(f'"{name}" {{{vm["uuid"]}}}')
        elif what in ("hdds", "dvds"):
            media = self.hdds if what == "hdds" else self.dvds
            for path, medium in media.items():
                users = self.attached_to(path)
                self.out += [
                    f"UUID:           {medium['uuid']}",
                    "State:          created",
                    f"{label('Location:')}       {path}",
                ]
                if what == "hdds":
                    self.out += [
                        "Storage format: VDI",
                        f"{label('Capacity:')}       {medium['size']} {label('MBytes')}",
                    ]
                self.out += [f"In use by VMs:  {', '.join(users)}" if users else "", ""]
        elif what == "hostonlyifs":  # listNetworkInterfaces
            for name in self.hostonlyifs:
                name_line = f"{label('Name:')}            {name}"
                self.out += [name_line, "IPAddress:       192.168.56.254", ""]
        elif what == "hostonlynets":  # listHostOnlyNetworks
            for name in self.hostonlynets:
                self.out += [
                    f"{label('Name:')}            {name}",
                    f"GUID:            {uuid.uuid5(uuid.NAMESPACE_DNS, name)}",
                    "",
                    "State:           Enabled",
                    "NetworkMask:     255.255.255.0",
                    "LowerIP:         192.168.56.1",
                    "UpperIP:         192.168.56.199",
                    f"VBoxNetworkName: hostonly-{name}",
                    "",
                ]
        elif what == "ostypes":
            for key, description in OS_TYPES.items():
                self.out += [f"ID:          {key}", f"Description: {description}", ""]
        elif what == "hostinfo":  # listHostInfo
            self.out += ["Host Information:", "", f"{label('Operating system:')} {host_os()}"]

    def do_showvminfo(self, call: Call) -> None:
        vm = self.vm(call.positionals[0])
        name = self.name_of(vm)
        if call.opt("--machinereadable") is None:
            self.out.append(f"Name: {name}\nState: {vm['state']}")
            return
        # The keys and their order as showVMInfo prints them (VBoxManageInfo.cpp).
        folder = f"{vm['basefolder']}/{name}"
        since = time.strftime("%Y-%m-%dT%H:%M:%S.000000000", time.gmtime(vm["since"]))
        lines = [
            f'name="{name}"',
            'encryption="disabled"',
            'groups="/"',
            'platformArchitecture="x86"',
            f'ostype="{OS_TYPES[vm["ostype"]]}"',
            f'UUID="{vm["uuid"]}"',
            f'CfgFile="{folder}/{name}.vbox"',
            f'SnapFldr="{folder}/Snapshots"',
            f'LogFldr="{folder}/Logs"',
            f'hardwareuuid="{vm["uuid"]}"',
            f"memory={vm['memory']}",
            'pagefusion="off"',
            "vram=8",
            'chipset="piix3"',
            f'firmware="{vm["firmware"]}"',
            f"cpus={vm['cpus']}",
            'bootmenu="messageandmenu"',
            *(f'boot{i}="{dev}"' for i, dev in enumerate(vm["boot"], start=1)),
            'acpi="on"',
            f'ioapic="{vm["ioapic"]}"',
            f'VMState="{vm["state"]}"',
            f'VMStateChangeTime="{since}"',
        ]
        if vm["state"] in SAVED:
            lines.append(f'VMStateFile="{folder}/Snapshots/{vm["uuid"]}.sav"')
        lines.append('graphicscontroller="vboxvga"')
        for index, ctl in enumerate(vm["controllers"]):
            lines += [
                f'storagecontrollername{index}="{ctl["name"]}"',
                f'storagecontrollertype{index}="{ctl["type"]}"',
                f'storagecontrollerinstance{index}="0"',
                f'storagecontrollermaxportcount{index}="30"',
                f'storagecontrollerportcount{index}="{ctl["ports"]}"',
                f'storagecontrollerbootable{index}="on"',
            ]
        for ctl in vm["controllers"]:  # showMediumAttachments: every port of every controller
            for port in range(ctl["ports"]):
                lines += self._slot(vm, ctl["name"], port)
        lines += self._nics(vm)
        lines += ['hidpointing="ps2mouse"', 'hidkeyboard="ps2kbd"']
        uart = vm["uart1"]
        lines.append(f'uart1="{uart}"')
        if uart != "off":
            lines += [f'uartmode1="{vm["uartmode1"]}"', f'uarttype1="{vm["uarttype1"]}"']
        lines += ['uart2="off"', 'uart3="off"', 'uart4="off"', "GuestMemoryBalloon=0"]
        self.out += lines

    def _slot(self, vm: dict[str, Any], ctl: str, port: int) -> list[str]:
        """One port (SATA: one device each) as showMediumAttachments prints it: the medium's
        location, ``emptydrive`` for a drive without a medium, ``none`` for no device; the name
        quoted ("SATA-1-0") since outputMachineReadableStringWithFmtName is asked to."""
        slot = f"{ctl}-{port}-0"
        found = vm["attachments"].get(slot)
        if found is None:
            return [f'"{slot}"="none"']
        medium, dvd = found["medium"], found["type"] == "dvddrive"
        if not medium:
            return [f'"{slot}"="emptydrive"', f'"{ctl}-IsEjected-{port}-0"="off"']
        media = self.dvds if dvd else self.hdds
        lines = [f'"{slot}"="{medium}"', f'"{ctl}-ImageUUID-{port}-0"="{media[medium]["uuid"]}"']
        if dvd:
            lines += [f'"{ctl}-tempeject-{port}-0"="off"', f'"{ctl}-IsEjected-{port}-0"="off"']
        lines += [
            f'"{ctl}-hot-pluggable-{port}-0"="off"',
            f'"{ctl}-nonrotational-{port}-0"="off"',
            f'"{ctl}-discard-{port}-0"="off"',
        ]
        return lines

    def _nics(self, vm: dict[str, Any]) -> list[str]:
        """Adapters 1 to 8 (getMaxNics for PIIX3): the attachment's own key first (natnet,
        intnet, hostonlyadapter, hostonly-network), then MAC, cable, ``nic<N>`` (``hostonlynet``
        reads ``hostonlynetwork``), type and speed, then NAT settings and ``Forwarding(i)``."""
        lines: list[str] = []
        seven_oh_oh = os.environ.get("FAKE_VBOX_VERSION", DEFAULT_VERSION).startswith("7.0.0")
        for n in range(1, 9):
            nic = vm["nics"].get(str(n), {"type": "none"})
            kind = nic["type"]
            if kind == "none":
                lines.append(f'nic{n}="none"')
                continue
            shown = kind
            if kind == "nat":
                lines.append(f'natnet{n}="nat"')
            elif kind == "intnet":
                lines.append(f'intnet{n}="{nic.get("intnet", "intnet")}"')
            elif kind == "hostonly":
                lines.append(f'hostonlyadapter{n}="{nic.get("hostonly", "")}"')
            elif kind == "hostonlynet":
                lines.append(f'hostonly-network{n}="{nic.get("hostonlynet", "")}"')
                shown = "hostonlynetwork"
            lines += [
                f'macaddress{n}="{nic.get("mac", "")}"',
                f'cableconnected{n}="on"',
                f'nic{n}="{shown}"',
                f'nictype{n}="82540EM"',
                f'nicspeed{n}="0"',
            ]
            if kind == "nat":
                lines += ['mtu="0"', 'sockSnd="64"', 'sockRcv="64"']
                lines += ['tcpWndSnd="64"', 'tcpWndRcv="64"']
                rules = list(vm["forwards"].values()) if n == 1 else []
                # The first 7.0 release printed no forwarding once a VM had more than one rule
                # (Vagrant's comment on read_forwarded_ports in version_7_0.rb).
                if not (seven_oh_oh and len(rules) > 1):
                    lines += [f'Forwarding({i})="{rule}"' for i, rule in enumerate(rules)]
        return lines

    def do_showmediuminfo(self, call: Call) -> None:
        kind, path = call.positionals
        media = self.hdds if kind == "disk" else self.dvds
        path = machine_path(path)
        if path not in media:
            raise Failure(f"Could not find file for the medium '{path}'")
        self.out += [
            f"UUID:           {media[path]['uuid']}",
            f"{label('Location:')}       {path}",
            f"{label('Capacity:')}       {media[path].get('size', 0)} {label('MBytes')}",
        ]

    # --- mutating commands --------------------------------------------------------------------

    def do_createvm(self, call: Call) -> None:
        name = (call.opt("--name") or [""])[0]
        if call.opt("--register") is None:
            raise Failure("this stand-in only models createvm --register")
        given = (call.opt("--ostype") or ["Other"])[0]
        ostype = os_type(given)
        if ostype is None:  # VBoxManageMisc.cpp handleCreateVM
            raise Failure("Unknown or invalid guest OS type given.")
        if name in self.vms:
            raise Failure(f"Machine '{name}' is already registered")
        # Without --basefolder: VirtualBox's default machine folder, ~/VirtualBox VMs
        default = os.path.join(os.path.expanduser("~"), "VirtualBox VMs")
        base = machine_path((call.opt("--basefolder") or [default])[0])
        folder = Path(base, name)
        folder.mkdir(parents=True, exist_ok=True)  # the settings file <name>.vbox goes there
        (folder / f"{name}.vbox").write_text("<VirtualBox/>\n")
        self.vms[name] = new_vm(name, ostype, base)
        self.out.append(f"Virtual machine '{name}' is created and registered.")

    def do_modifyvm(self, call: Call) -> None:
        vm = self.vm(call.positionals[0])
        # handleModifyVM: LockMachine(a->session, LockType_Write) before any option
        self.write_lock(vm, "VBoxManageModifyVM.cpp")
        self.mutable(vm)
        table = grammar()["modifyvm"].options
        for key, values in call.options:
            found = _numbered(table, key)
            assert found is not None
            base, n = found
            nic = vm["nics"].setdefault(str(n), {"type": "none"}) if n else {}
            if base == "--nat-pf<N>":
                self._natpf(vm, values)
            elif base in ("--ostype", "--os-type"):
                ostype = os_type(values[0])
                if ostype is None:
                    raise Failure(f"Invalid guest OS type '{values[0]}' (wording)")
                vm["ostype"] = ostype
            elif base in ("--cpus", "--memory"):
                vm[base[2:]] = int(values[0])
            elif base == "--firmware":
                vm["firmware"] = values[0].upper()
            elif base == "--ioapic":
                vm["ioapic"] = values[0]
            elif base == "--boot<N>":
                vm["boot"][(n or 1) - 1] = values[0]
            elif base == "--nic<N>":
                nic["type"] = values[0].lower()
                nic.setdefault("mac", f"080027{n:06X}")
            elif base == "--intnet<N>":
                nic["intnet"] = values[0]
            elif base == "--host-only-adapter<N>":
                nic["hostonly"] = values[0]
            elif base == "--host-only-net<N>":
                nic["hostonlynet"] = values[0]
            elif base == "--mac-address<N>":
                nic["mac"] = values[0].upper()
            elif base == "--uart<N>":
                # showvminfo prints "%#06x,%d": 0x3F8 reads back as 0x03f8
                vm["uart1"] = (
                    "off"
                    if values[0] in ("off", "disable")
                    else (f"{int(values[0], 16):#06x},{int(values[1])}")
                )
            elif base == "--uart-mode<N>":
                # PortMode_RawFile reads back as "file,<path>" (VBoxManageInfo.cpp)
                vm["uartmode1"] = ",".join(values) if len(values) > 1 else values[0]
            elif base == "--uart-type<N>":
                vm["uarttype1"] = values[0]

    def _natpf(self, vm: dict[str, Any], values: list[str]) -> None:
        if values[0] == "delete":
            if values[1] not in vm["forwards"]:
                raise Failure(f"A NAT rule named '{values[1]}' does not exist (wording)")
            del vm["forwards"][values[1]]
            return
        rule = values[0]
        name = rule.split(",", 1)[0]
        host = rule.split(",")[2:4]
        if name in vm["forwards"]:
            raise Failure(f"A NAT rule of this name '{name}' already exists")
        for other in vm["forwards"].values():
            if other.split(",")[2:4] == host:
                raise Failure(
                    f"A NAT rule for this host port and this host IP already exists: {host}"
                )
        vm["forwards"][name] = rule

    def do_storagectl(self, call: Call) -> None:
        vm = self.vm(call.positionals[0])
        # handleStorageController: LockMachine(a->session, LockType_Write)
        self.write_lock(vm, "VBoxManageStorageController.cpp")
        self.mutable(vm)
        name = (call.opt("--name") or [""])[0]
        if call.opt("--add") is not None:
            if any(c["name"] == name for c in vm["controllers"]):
                raise Failure(f"Storage controller named '{name}' already exists")
            kind = (call.opt("--controller") or ["IntelAhci"])[0]
            ports = int((call.opt("--portcount") or ["30"])[0])
            vm["controllers"].append({"name": name, "type": kind, "ports": ports})

    def do_storageattach(self, call: Call) -> None:
        vm = self.vm(call.positionals[0])
        ctl_name = (call.opt("--storagectl") or [None])[0]
        if ctl_name is None:
            raise Usage("Storage controller name not specified")
        # handleStorageAttach: LockMachine(a->session, LockType_Shared); a shared session on
        # a running VM means runtime changes (fRunTime)
        runtime = self.shared_lock(vm, "VBoxManageStorageController.cpp")
        ctl = next((c for c in vm["controllers"] if c["name"] == ctl_name), None)
        if ctl is None:
            raise Failure(f"Could not find a controller named '{ctl_name}'")
        port = call.opt("--port")
        if port is None:  # a SATA controller has 30 ports: --port is required
            raise Usage("Port not specified")
        device = (call.opt("--device") or ["0"])[0]  # one device per SATA port: default 0
        slot = f"{ctl_name}-{port[0]}-{device}"
        if int(port[0]) >= ctl["ports"]:  # the port count grows to hold the port
            ctl["ports"] = int(port[0]) + 1
        medium = (call.opt("--medium") or [""])[0]
        kind = (call.opt("--type") or [None])[0]
        current = vm["attachments"].get(slot)
        if not runtime:
            self.mutable(vm)
        if medium == "none":
            if current is None:  # Machine::DetachDevice on an empty slot
                raise Failure(
                    f"No storage device attached to device slot {device} on port {port[0]} "
                    f"of controller '{ctl_name}'"
                )
            if runtime and current["type"] == "hdd":
                raise Failure("Cannot detach a disk from the running machine (wording)")
            del vm["attachments"][slot]
            return
        if kind is None and current is not None:
            kind = current["type"]
        if kind is None:
            raise Failure("Argument --type must be specified")
        if medium == "emptydrive":
            if current is not None and current["type"] == "dvddrive":
                current["medium"] = ""  # UnmountMedium
            elif runtime and kind != "dvddrive":
                raise Failure(
                    f"No DVD/Floppy Drive attached to the controller '{ctl_name}'at the port: "
                    f"{port[0]}, device: {device}"
                )
            else:  # hot-plugs an empty drive (runtime) or attaches one
                vm["attachments"][slot] = {"type": "dvddrive", "medium": ""}
            return
        path = machine_path(medium)
        if not Path(path).is_file():
            raise Failure(f"Could not find file for the medium '{path}'")
        if kind == "dvddrive":
            if runtime and (current is None or current["type"] != "dvddrive"):
                # at runtime only MountMedium, into a drive that exists (Machine::mountMedium)
                raise Failure(
                    f"No drive attached to device slot {device} on port {port[0]} of "
                    f"controller '{ctl_name}' (wording)"
                )
            self.dvds.setdefault(path, {"uuid": str(uuid.uuid4()), "size": 0})
            vm["attachments"][slot] = {"type": "dvddrive", "medium": path}
            return
        if runtime:  # no hot-plugging of disks in this model
            raise Failure("Cannot attach a disk to the running machine (wording)")
        if path not in self.hdds:
            size = max(1, Path(path).stat().st_size >> 20)
            self.hdds[path] = {"uuid": str(uuid.uuid4()), "size": size}
        vm["attachments"][slot] = {"type": "hdd", "medium": path}

    def do_startvm(self, call: Call) -> None:
        vm = self.vm(call.positionals[0])
        name = self.name_of(vm)
        if vm["state"] in RUNNING or self.now < vm.get("locked_until", 0.0):
            raise Failure(
                f"The machine '{name}' is already locked by a session (or being locked or unlocked)"
            )
        disks = [a for a in vm["attachments"].values() if a["type"] == "hdd"]
        if "disk" not in vm["boot"] or not disks:
            raise Failure("No bootable medium found (wording)")
        mode = vm["uartmode1"]
        if vm["uart1"] != "off" and mode.startswith("file,"):
            console = Path(mode[len("file,") :])
            if not console.parent.is_dir():
                raise Failure(f"Failed to open serial port file '{console}' (wording)")
            console.touch()
        vm["state"] = "running"
        vm["since"] = self.now
        vm.pop("acpi_at", None)
        self._console(vm, f"Booting {OS_TYPES[vm['ostype']]} from {disks[0]['medium']}")
        self.out += [f"Waiting for VM \"{name}\" to power on...",
                     f'VM "{name}" has been successfully started.']  # fmt: skip

    def do_controlvm(self, call: Call) -> None:
        vm = self.vm(call.positionals[0])
        name = self.name_of(vm)
        action, values = call.options[0]
        # handleControlVM: LockMachine(Shared), then no console means not running
        if not self.shared_lock(vm, "VBoxManageControlVM.cpp"):
            raise Failure(f"Machine '{name}' is not currently running.")
        if action.startswith("natpf"):
            self._natpf(vm, values)
        elif action == "acpipowerbutton":
            if vm["state"] == "running":
                vm.setdefault("acpi_at", self.now)
            elif vm["state"] != "stopping":
                raise Failure(f"Invalid machine state: {vm['state']} (wording)")
        elif action == "poweroff":
            # Console::PowerDown waits for the VM to be off (showProgress); a VM already being
            # powered down refuses a second one (wording)
            if vm["state"] == "stopping":
                raise Failure("Invalid machine state: stopping (must be Running, Paused or Stuck)")
            self._off(vm, self.now)
            if os.environ.get("FAKE_VBOX_POWEROFF_FAILS"):
                # The power-down's progress fails while the VM ends powered off all the same
                # (a guest shutting down at that moment): CHECK_PROGRESS_ERROR(progress,
                # ("Failed to power off machine.")) in VBoxManageControlVM.cpp.
                raise Failure("Failed to power off machine.")
        elif action in ("shutdown", "reboot"):
            # needs the Guest Additions, which Ubuntu's cloud images do not have
            raise Failure(
                "Current installed Guest Additions don't support shutting down the guest."
            )

    # --- snapshots and extra data ---------------------------------------------------------

    def do_snapshot(self, call: Call) -> None:
        """handleSnapshot: LockMachine(Shared) (a running VM's session is joined), then the
        action. Snapshots are kept flat, in the order taken; each remembers the settings and
        whether the VM ran (an online snapshot restores to ``saved``)."""
        vm = self.vm(call.positionals[0])
        name = self.name_of(vm)
        if vm["state"] not in RUNNING and self.now < vm.get("locked_until", 0.0):
            raise Locked(
                name, '"LockMachine(a->session, LockType_Shared)" (VBoxManageSnapshot.cpp)'
            )
        action, values = call.options[0]
        snaps: list[dict[str, Any]] = vm.setdefault("snapshots", [])
        if action == "list":
            if not snaps:
                # "This machine does not have any snapshots", RTEXITCODE_FAILURE
                self.out.append("This machine does not have any snapshots")
                raise Failure("This machine does not have any snapshots (wording)")
            if call.opt("--machinereadable") is not None:
                for i, snap in enumerate(snaps):
                    suffix = "" if i == 0 else "-" + "-".join(["1"] * i)
                    self.out += [f'SnapshotName{suffix}="{snap["name"]}"',
                                 f'SnapshotUUID{suffix}="{snap["uuid"]}"']  # fmt: skip
                self.out += [f'CurrentSnapshotName="{snaps[-1]["name"]}"',
                             f'CurrentSnapshotUUID="{snaps[-1]["uuid"]}"']  # fmt: skip
            else:
                self.out += [f"   Name: {s['name']} (UUID: {s['uuid']})" for s in snaps]
            return
        if action == "take":
            if vm["state"] not in ("poweroff", "aborted", "running", "paused", *SAVED):
                raise Failure(f"Invalid machine state: {vm['state']} (wording)")
            snap = {
                "name": values[0],
                "uuid": str(uuid.uuid4()),
                "description": (call.opt("--description") or call.opt("-description") or [""])[0],
                "online": vm["state"] in RUNNING,
                "live": call.opt("--live") is not None,
                "settings": {k: vm[k] for k in ("cpus", "memory")},
            }
            snaps.append(snap)
            self.out += ["0%...10%...20%...30%...40%...50%...60%...70%...80%...90%...100%",
                         f"Snapshot taken. UUID: {snap['uuid']}"]  # fmt: skip
            return
        found = [s for s in snaps if s["name"] == values[0]] if values else snaps[-1:]
        if not found:
            # SessionMachine::FindSnapshot: VBOX_E_OBJECT_NOT_FOUND
            raise Failure(f"Could not find a snapshot named '{values[0] if values else ''}'")
        snap = found[0]
        verb = "Deleting" if action == "delete" else "Restoring"
        self.out.append(f"{verb} snapshot '{snap['name']}' ({snap['uuid']})")
        if action == "delete":
            snaps.remove(snap)
            return
        # SessionMachine::restoreSnapshot: refused while the machine is online
        if vm["state"] in RUNNING:
            raise Failure(
                "Cannot delete the current state of the running machine "
                f"(machine state: {vm['state'].capitalize()})"
            )
        vm.update(snap["settings"])
        vm["state"] = "saved" if snap["online"] else "poweroff"
        vm["since"] = self.now
        vm["current_snapshot"] = snap["name"]

    def do_setextradata(self, call: Call) -> None:
        vm = self.vm(call.positionals[0])
        data: dict[str, str] = vm.setdefault("extradata", {})
        key, *value = call.positionals[1:]
        if value and value[0]:
            data[key] = value[0]
        else:  # no value (or an empty one) removes the key
            data.pop(key, None)

    def do_getextradata(self, call: Call) -> None:
        vm = self.vm(call.positionals[0])
        value = vm.get("extradata", {}).get(call.positionals[1])
        # handleGetExtraData: "Value: %ls" or "No value set!"
        self.out.append(f"Value: {value}" if value else "No value set!")

    def do_discardstate(self, call: Call) -> None:
        vm = self.vm(call.positionals[0])
        # handleDiscardState: LockMachine(Write), then DiscardSavedState
        self.write_lock(vm, "VBoxManageMisc.cpp")
        if vm["state"] not in SAVED:
            raise Failure(
                "Cannot discard the saved state as the machine is not in the Saved or "
                f"Aborted-Saved state (machine state: {vm['state']}) (wording)"
            )
        vm["state"] = "poweroff" if vm["state"] == "saved" else "aborted"
        vm["since"] = self.now

    def do_unregistervm(self, call: Call) -> None:
        vm = self.vm(call.positionals[0])
        name = self.name_of(vm)
        if vm["state"] in RUNNING or self.now < vm.get("locked_until", 0.0):
            raise Failure(f"Cannot unregister the machine '{name}' while it is locked (wording)")
        if call.opt("--delete") is not None or call.opt("--delete-all") is not None:
            for attachment in list(vm["attachments"].values()):
                medium = attachment["medium"]
                if medium in self.hdds:
                    Path(medium).unlink(missing_ok=True)
                    del self.hdds[medium]
            # DeleteConfig removes the settings file and the folder when nothing else is left in
            # it (a serial port's file is not VirtualBox's to delete)
            folder = Path(vm["basefolder"], name)
            (folder / f"{name}.vbox").unlink(missing_ok=True)
            if folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()
        del self.vms[name]

    def do_clonemedium(self, call: Call) -> None:
        kind, source, target = call.positionals
        source, target = machine_path(source), machine_path(target)
        if kind != "disk":
            raise Failure("this stand-in only models disk clones")
        if not Path(source).is_file():
            raise Failure(f"Could not find file for the medium '{source}'")
        if Path(target).exists() and call.opt("--existing") is None:
            raise Failure(f"Cannot register the hard disk '{target}' because it already exists")
        if source not in self.hdds:  # opening the source registers it, as VirtualBox does
            self.hdds[source] = {"uuid": str(uuid.uuid4()), "size": _virtual_size(Path(source))}
        Path(target).write_bytes(Path(source).read_bytes())
        self.hdds[target] = {"uuid": str(uuid.uuid4()), "size": self.hdds[source]["size"]}
        self.out.append(f"Clone medium created in format 'VDI'. UUID: {self.hdds[target]['uuid']}")

    def do_modifymedium(self, call: Call) -> None:
        _kind, path = call.positionals
        path = machine_path(path)
        if path not in self.hdds:
            raise Failure(f"Could not find file for the medium '{path}'")
        size = call.opt("--resize")
        if size is not None:
            for name in self.attached_to(path):
                self.write_lock(self.vms[name], "VBoxManageDisk.cpp")
            if int(size[0]) < self.hdds[path]["size"]:
                raise Failure("Shrinking is not yet supported for medium")
            self.hdds[path]["size"] = int(size[0])

    def do_closemedium(self, call: Call) -> None:
        kind, path = call.positionals
        path = machine_path(path)
        media = self.hdds if kind == "disk" else self.dvds
        if path not in media:
            raise Failure(f"Could not find file for the medium '{path}'")
        users = self.attached_to(path)
        if users:
            raise Failure(f"Cannot close medium '{path}' because it is attached to {users}")
        del media[path]
        if call.opt("--delete") is not None:
            Path(path).unlink(missing_ok=True)


def _virtual_size(path: Path) -> int:
    """A source image's virtual size in MB: a test image may say it in its first line
    (``virtual-size-mb: N``); otherwise its file size."""
    with path.open("rb") as image:
        head = image.read(64)
    found = re.match(rb"virtual-size-mb: ([0-9]+)", head)
    if found:
        return int(found.group(1))
    return max(1, path.stat().st_size >> 20)


def main(argv: list[str]) -> int:
    # Without explicit paths, keep state out of the working directory.
    default_dir = Path(tempfile.gettempdir()) / "cloudlabs-fake-vbox"
    default_dir.mkdir(exist_ok=True)
    state_path = Path(os.environ.get("FAKE_VBOX_STATE", default_dir / "vbox-state.json"))
    log_path = Path(os.environ.get("FAKE_VBOX_LOG", default_dir / "vbox-calls.jsonl"))
    # VBoxManage.exe writes CRLF line ends (IPRT's text-mode stdout on Windows; Vagrant's
    # base.rb execute: r.stdout.gsub("\r\n", "\n")).
    end = "\r\n" if host_os() == "Windows" else "\n"
    with open(state_path.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        entry: dict[str, Any] = {"argv": argv}
        try:
            call = parse(argv)
        except Usage as exc:
            entry["rejected"] = str(exc)
            if isinstance(exc, Lint):
                entry["lint"] = True
            _log(log_path, entry)
            print(f"VBoxManage: error: Syntax error: {exc}", file=sys.stderr)
            return 2
        except Failure as exc:  # an argument error (errorArgument): exit status 1
            entry["failed"] = str(exc)
            _log(log_path, entry)
            print(f"VBoxManage: error: {exc}", file=sys.stderr)
            return 1
        listing = call.command == "snapshot" and call.options[0][0] == "list"
        entry["mutating"] = call.command not in READ_ONLY and not listing
        state = json.loads(state_path.read_text()) if state_path.exists() else {}
        box = VirtualBox(state)
        try:
            box.run(call)
        except Usage as exc:  # errorSyntax after the machine was found ("Port not specified")
            entry["rejected"] = str(exc)
            _log(log_path, entry)
            state_path.write_text(json.dumps(state, indent=1, sort_keys=True))
            print(f"VBoxManage: error: {exc}", file=sys.stderr)
            return 2
        except Failure as exc:
            entry["failed"] = str(exc)
            _log(log_path, entry)
            state_path.write_text(json.dumps(state, indent=1, sort_keys=True))
            for line in str(exc).splitlines():
                print(f"VBoxManage: error: {line}", file=sys.stderr)
            return 1
        state_path.write_text(json.dumps(state, indent=1, sort_keys=True))
        _log(log_path, entry)
        if box.out:
            sys.stdout.write(end.join("\n".join(box.out).split("\n")) + end)
        return 0


def _log(path: Path, entry: dict[str, Any]) -> None:
    entry["at"] = time.time()
    with path.open("a") as log:
        log.write(json.dumps(entry) + "\n")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
