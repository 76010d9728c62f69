"""A stand-in for ``VBoxManage`` that checks each call against the documented usage.

It accepts only the subcommands and options listed in :data:`GRAMMAR` (a subset of VirtualBox
7's VBoxManage, each entry naming its section of the User Manual, chapter 8
https://www.virtualbox.org/manual/ch08.html, with the option names that manual documents: e.g.
``--nat-pf<N>``, not the older ``--natpf<N>`` VBoxManage 7 still takes); anything else is
rejected with exit status 2, as VBoxManage does for a syntax error. It keeps the state a real
VirtualBox would (registered VMs and their settings, media, NAT rules, power state) in a JSON
file, answers the read-only commands from it, refuses what VirtualBox refuses (changing settings
of a running VM, deleting an attached disk, cloning onto an existing file), and appends every
call to a JSON-lines log.

Environment: ``FAKE_VBOX_STATE`` (state file), ``FAKE_VBOX_LOG`` (call log).
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import sys
import tempfile
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MANUAL = "https://www.virtualbox.org/manual/ch08.html"
READ_ONLY = frozenset({"list", "showvminfo", "showmediuminfo"})


class Usage(Exception):
    """The call does not follow VBoxManage's documented syntax (exit status 2)."""


class Failure(Exception):
    """VirtualBox refuses the operation (exit status 1)."""


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
    """``--nat-pf<N> <rule>`` or ``--nat-pf<N> delete <name>`` (``natpf<N>`` for controlvm)."""
    if args[:1] == ["delete"]:
        if len(args) < 2:
            raise Usage("natpf delete needs a rule name")
        return [args.pop(0), args.pop(0)]
    return one(NATPF_RULE)(args)


def uart(args: list[str]) -> list[str]:
    """``--uart<N> off`` or ``--uart<N> <I/O base> <IRQ>``."""
    if args[:1] == ["off"]:
        return [args.pop(0)]
    return one(r"0x[0-9A-Fa-f]+")(args) + INT(args)


def uartmode(args: list[str]) -> list[str]:
    mode = choice("disconnected", "server", "client", "tcpserver", "tcpclient", "file")(args)
    return mode if mode == ["disconnected"] else mode + one()(args)


@dataclass(frozen=True)
class Spec:
    section: str
    """Where the usage is documented: the manual's anchor for the subcommand."""
    positionals: tuple[Take, ...] = ()
    options: dict[str, Take] = field(default_factory=dict)
    """Exact option names (``--name``); numbered ones are written with ``<N>``."""
    required: frozenset[str] = frozenset()
    medium_kind: bool = False
    """The first positional may be ``disk``, ``dvd`` or ``floppy``."""


ANY = one()
MEDIUM_KIND = ("disk", "dvd", "floppy")

# The accepted grammar, one entry per subcommand, with its section of the manual (chapter 8).
GRAMMAR: dict[str, Spec] = {
    "list": Spec(
        f"{MANUAL}#vboxmanage-list",
        (choice("vms", "runningvms", "hdds", "dvds", "hostonlyifs", "ostypes", "intnets"),),
        {"--long": flag, "-l": flag, "--sorted": flag, "-s": flag},
    ),
    "showvminfo": Spec(
        f"{MANUAL}#vboxmanage-showvminfo",
        (ANY,),
        {"--details": flag, "--machinereadable": flag, "--password-id": ANY, "--password": ANY},
    ),
    "createvm": Spec(
        f"{MANUAL}#vboxmanage-createvm",
        (),
        {
            "--name": ANY,
            "--basefolder": ANY,
            "--default": flag,
            "--groups": ANY,
            "--ostype": one(r"[A-Za-z0-9_]+"),
            "--register": flag,
            "--uuid": ANY,
            "--cipher": ANY,
            "--password-id": ANY,
            "--password": ANY,
        },
        required=frozenset({"--name"}),
    ),
    "modifyvm": Spec(
        f"{MANUAL}#vboxmanage-modifyvm",
        (ANY,),
        {
            "--name": ANY,
            "--ostype": one(r"[A-Za-z0-9_]+"),
            "--memory": INT,
            "--cpus": INT,
            "--firmware": choice("bios", "efi", "efi32", "efi64"),
            "--ioapic": ONOFF,
            "--boot<N>": choice("none", "floppy", "dvd", "disk", "net"),
            "--nic<N>": choice(
                "none",
                "null",
                "nat",
                "natnetwork",
                "bridged",
                "intnet",
                "hostonly",
                "hostonlynet",
                "generic",
            ),
            "--nic-type<N>": choice(
                "Am79C970A", "Am79C973", "82540EM", "82543GC", "82545EM", "virtio"
            ),
            "--cable-connected<N>": ONOFF,
            "--intnet<N>": ANY,
            "--host-only-adapter<N>": ANY,
            "--mac-address<N>": MAC,
            "--nat-pf<N>": natpf,
            "--uart<N>": uart,
            "--uart-mode<N>": uartmode,
            "--graphicscontroller": choice("none", "vboxvga", "vmsvga", "vboxsvga"),
            "--vram": INT,
            "--rtc-use-utc": ONOFF,
        },
    ),
    "storagectl": Spec(
        f"{MANUAL}#vboxmanage-storagectl",
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
            "--forceunmount": flag,
        },
        required=frozenset({"--storagectl"}),
    ),
    "startvm": Spec(
        f"{MANUAL}#vboxmanage-startvm",
        (ANY,),
        {"--type": choice("gui", "headless", "sdl", "separate"), "--putenv": ANY, "-E": ANY},
    ),
    "controlvm": Spec(f"{MANUAL}#vboxmanage-controlvm", (ANY,)),
    "unregistervm": Spec(
        f"{MANUAL}#vboxmanage-unregistervm", (ANY,), {"--delete": flag, "--delete-all": flag}
    ),
    "clonemedium": Spec(
        f"{MANUAL}#vboxmanage-clonemedium",
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
        f"{MANUAL}#vboxmanage-closemedium", (ANY,), {"--delete": flag}, medium_kind=True
    ),
    "showmediuminfo": Spec(f"{MANUAL}#vboxmanage-showmediuminfo", (ANY,), {}, medium_kind=True),
}

# controlvm's own subcommands (same manual section), each with its arguments.
CONTROLVM: dict[str, Take] = {
    "pause": flag,
    "resume": flag,
    "reset": flag,
    "poweroff": flag,
    "savestate": flag,
    "acpipowerbutton": flag,
    "acpisleepbutton": flag,
    "natpf<N>": natpf,
}


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
    """Check ``argv`` against :data:`GRAMMAR`; raise :class:`Usage` when it does not fit."""
    if not argv:
        raise Usage("no subcommand")
    command, rest = argv[0], list(argv[1:])
    spec = GRAMMAR.get(command)
    if spec is None:
        raise Usage(f"unknown subcommand {command!r}")
    args: list[str] = []
    for word in rest:  # --option=value is the same as --option value
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
            raise Usage("controlvm: missing action")
        found = _numbered(CONTROLVM, args[0])
        if found is None:
            raise Usage(f"controlvm: unknown action {args[0]!r} ({spec.section})")
        action = args.pop(0)
        options.append((action, CONTROLVM[found[0]](args)))
    while args:
        word = args.pop(0)
        found = _numbered(spec.options, word)
        if found is None:
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


def new_vm(name: str, ostype: str, basefolder: str) -> dict[str, Any]:
    return {
        "uuid": str(uuid.uuid4()),
        "ostype": ostype,
        "basefolder": basefolder,
        "cpus": 1,
        "memory": 128,
        "firmware": "BIOS",
        "ioapic": "off",
        "uart1": "off",
        "uartmode1": "disconnected",
        "nics": {"1": {"type": "nat", "mac": "080027000001"}},
        "forwards": {},
        "controllers": [],
        "attachments": {},
        "state": "poweroff",
    }


class VirtualBox:
    def __init__(self, state: dict[str, Any]) -> None:
        self.vms: dict[str, dict[str, Any]] = state.setdefault("vms", {})
        self.hdds: dict[str, dict[str, Any]] = state.setdefault("hdds", {})
        self.dvds: dict[str, dict[str, Any]] = state.setdefault("dvds", {})
        self.hostonlyifs: list[str] = state.setdefault("hostonlyifs", [])
        self.out: list[str] = []

    def vm(self, ref: str) -> dict[str, Any]:
        for name, vm in self.vms.items():
            if ref in (name, vm["uuid"]):
                return vm
        raise Failure(f"Could not find a registered machine named '{ref}'")

    def name_of(self, vm: dict[str, Any]) -> str:
        return next(n for n, v in self.vms.items() if v is vm)

    def unlocked(self, vm: dict[str, Any]) -> None:
        if vm["state"] != "poweroff" and vm["state"] != "aborted":
            raise Failure(
                f"The machine '{self.name_of(vm)}' is already locked for a session "
                "(or being unlocked)"
            )

    def attached_to(self, path: str) -> list[str]:
        return [n for n, vm in self.vms.items() if path in vm["attachments"].values()]

    def run(self, call: Call) -> None:
        getattr(self, f"do_{call.command}")(call)

    # read-only commands
    def do_list(self, call: Call) -> None:
        what = call.positionals[0]
        if what in ("vms", "runningvms"):
            for name, vm in self.vms.items():
                if what == "vms" or vm["state"] == "running":
                    self.out.append(f'"{name}" {{{vm["uuid"]}}}')
        elif what in ("hdds", "dvds"):
            media = self.hdds if what == "hdds" else self.dvds
            for path, medium in media.items():
                users = self.attached_to(path)
                self.out += [
                    f"UUID:           {medium['uuid']}",
                    "State:          created",
                    f"Location:       {path}",
                ]
                if what == "hdds":
                    self.out += [
                        "Storage format: VDI",
                        f"Capacity:       {medium['size']} MBytes",
                    ]
                self.out += [f"In use by VMs:  {', '.join(users)}" if users else "", ""]
        elif what == "hostonlyifs":
            for name in self.hostonlyifs:
                self.out += [f"Name:            {name}", "IPAddress:       192.168.56.254", ""]

    def do_showvminfo(self, call: Call) -> None:
        vm = self.vm(call.positionals[0])
        name = self.name_of(vm)
        if call.opt("--machinereadable") is None:
            self.out.append(f"Name: {name}\nState: {vm['state']}")
            return
        lines = [
            f'name="{name}"',
            f'UUID="{vm["uuid"]}"',
            f'CfgFile="{vm["basefolder"]}/{name}/{name}.vbox"',
            f'ostype="{vm["ostype"]}"',
            f"memory={vm['memory']}",
            f"cpus={vm['cpus']}",
            f'firmware="{vm["firmware"]}"',
            f'ioapic="{vm["ioapic"]}"',
            f'VMState="{vm["state"]}"',
        ]
        for index, ctl in enumerate(vm["controllers"]):
            lines.append(f'storagecontrollername{index}="{ctl}"')
        for slot, medium in sorted(vm["attachments"].items()):
            lines.append(f'"{slot}"="{medium}"')
        for n in range(1, 9):
            nic = vm["nics"].get(str(n), {"type": "none"})
            lines.append(f'nic{n}="{nic["type"]}"')
            if nic["type"] == "none":
                continue
            lines.append(f'macaddress{n}="{nic.get("mac", "")}"')
            if nic["type"] == "intnet":
                lines.append(f'intnet{n}="{nic.get("intnet", "intnet")}"')
            if nic["type"] == "hostonly":
                lines.append(f'hostonlyadapter{n}="{nic.get("hostonly", "")}"')
        for index, rule in enumerate(vm["forwards"].values()):
            lines.append(f'Forwarding({index})="{rule}"')
        uart = vm["uart1"]
        lines.append(f'uart1="{uart}"')
        if uart != "off":
            lines.append(f'uartmode1="{vm["uartmode1"]}"')
        self.out += lines

    def do_showmediuminfo(self, call: Call) -> None:
        kind, path = call.positionals
        media = self.hdds if kind == "disk" else self.dvds
        if path not in media:
            raise Failure(f"Could not find file for the medium '{path}'")
        self.out += [
            f"UUID:           {media[path]['uuid']}",
            f"Location:       {path}",
            f"Capacity:       {media[path].get('size', 0)} MBytes",
        ]

    # mutating commands
    def do_createvm(self, call: Call) -> None:
        name = (call.opt("--name") or [""])[0]
        if call.opt("--register") is None:
            raise Failure("this stand-in only models createvm --register")
        if name in self.vms:
            raise Failure(f"Machine '{name}' is already registered")
        ostype = (call.opt("--ostype") or ["Other"])[0]
        base = (call.opt("--basefolder") or ["~/VirtualBox VMs"])[0]
        self.vms[name] = new_vm(name, ostype, base)
        self.out.append(f"Virtual machine '{name}' is created and registered.")

    def do_modifyvm(self, call: Call) -> None:
        vm = self.vm(call.positionals[0])
        for key, values in call.options:
            found = _numbered(GRAMMAR["modifyvm"].options, key)
            assert found is not None
            base, n = found
            if base == "--nat-pf<N>":
                self._natpf(vm, values)
                continue
            self.unlocked(vm)
            nic = vm["nics"].setdefault(str(n), {"type": "none"}) if n else {}
            if base in ("--cpus", "--memory"):
                vm[base[2:]] = int(values[0])
            elif base == "--firmware":
                vm["firmware"] = values[0].upper()
            elif base == "--ioapic":
                vm["ioapic"] = values[0]
            elif base == "--nic<N>":
                nic["type"] = values[0]
                nic.setdefault("mac", f"080027{n:06X}")
            elif base == "--intnet<N>":
                nic["intnet"] = values[0]
            elif base == "--host-only-adapter<N>":
                nic["hostonly"] = values[0]
            elif base == "--mac-address<N>":
                nic["mac"] = values[0].upper()
            elif base == "--uart<N>":
                vm["uart1"] = "off" if values == ["off"] else f"{values[0].lower()},{values[1]}"
                vm["uart1"] = vm["uart1"].replace("0x3f8", "0x03f8")
            elif base == "--uart-mode<N>":
                vm["uartmode1"] = values[0]

    def _natpf(self, vm: dict[str, Any], values: list[str]) -> None:
        if values[0] == "delete":
            if values[1] not in vm["forwards"]:
                raise Failure(f"A NAT rule named '{values[1]}' does not exist")
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
        self.unlocked(vm)
        name = (call.opt("--name") or [""])[0]
        if call.opt("--add") is not None:
            if name in vm["controllers"]:
                raise Failure(f"Storage controller named '{name}' already exists")
            vm["controllers"].append(name)

    def do_storageattach(self, call: Call) -> None:
        vm = self.vm(call.positionals[0])
        ctl = (call.opt("--storagectl") or [""])[0]
        if ctl not in vm["controllers"]:
            raise Failure(f"Could not find a controller named '{ctl}'")
        port = (call.opt("--port") or ["0"])[0]
        device = (call.opt("--device") or ["0"])[0]
        slot = f"{ctl}-{port}-{device}"
        medium = (call.opt("--medium") or [""])[0]
        kind = (call.opt("--type") or [None])[0]
        current = vm["attachments"].get(slot)
        is_dvd = (
            kind == "dvddrive"
            or (kind is None and current in self.dvds)
            or (kind is None and current in ("emptydrive",))
        )
        if not is_dvd:
            self.unlocked(vm)  # no hot-plugging of disks in this model
        if medium == "none":
            vm["attachments"].pop(slot, None)
            return
        if medium == "emptydrive":
            vm["attachments"][slot] = "emptydrive"
            return
        if not Path(medium).is_file():
            raise Failure(f"Could not find file for the medium '{medium}'")
        media = self.dvds if is_dvd else self.hdds
        media.setdefault(medium, {"uuid": str(uuid.uuid4()), "size": 0})
        vm["attachments"][slot] = medium

    def do_startvm(self, call: Call) -> None:
        vm = self.vm(call.positionals[0])
        if vm["state"] == "running":
            raise Failure(f"The machine '{self.name_of(vm)}' is already locked by a session")
        if not any(m in self.hdds for m in vm["attachments"].values()):
            raise Failure("no bootable medium")
        vm["state"] = "running"
        self.out.append(f'VM "{self.name_of(vm)}" has been successfully started.')

    def do_controlvm(self, call: Call) -> None:
        vm = self.vm(call.positionals[0])
        action, values = call.options[0]
        if vm["state"] != "running":
            raise Failure(f"Machine '{self.name_of(vm)}' is not currently running")
        if action.startswith("natpf"):
            self._natpf(vm, values)
        elif action in ("poweroff", "acpipowerbutton"):
            vm["state"] = "poweroff"

    def do_unregistervm(self, call: Call) -> None:
        vm = self.vm(call.positionals[0])
        self.unlocked(vm)
        if call.opt("--delete") is not None or call.opt("--delete-all") is not None:
            for medium in list(vm["attachments"].values()):
                if medium in self.hdds:
                    Path(medium).unlink(missing_ok=True)
                    del self.hdds[medium]
        del self.vms[self.name_of(vm)]

    def do_clonemedium(self, call: Call) -> None:
        kind, source, target = call.positionals
        if kind != "disk":
            raise Failure("this stand-in only models disk clones")
        if not Path(source).is_file():
            raise Failure(f"Could not find file for the medium '{source}'")
        if Path(target).exists() and call.opt("--existing") is None:
            raise Failure(f"Cannot register the hard disk '{target}' because it already exists")
        if source not in self.hdds:  # opening the source registers it, as VirtualBox does
            size = max(1, Path(source).stat().st_size // (1 << 20)) if source else 1
            self.hdds[source] = {"uuid": str(uuid.uuid4()), "size": size}
        Path(target).write_bytes(Path(source).read_bytes())
        self.hdds[target] = {"uuid": str(uuid.uuid4()), "size": self.hdds[source]["size"]}
        self.out.append(f"Clone medium created in format 'VDI'. UUID: {self.hdds[target]['uuid']}")

    def do_modifymedium(self, call: Call) -> None:
        _kind, path = call.positionals
        if path not in self.hdds:
            raise Failure(f"Could not find file for the medium '{path}'")
        size = call.opt("--resize")
        if size is not None:
            for name in self.attached_to(path):
                self.unlocked(self.vms[name])
            if int(size[0]) < self.hdds[path]["size"]:
                raise Failure("Shrinking is not yet supported for medium")
            self.hdds[path]["size"] = int(size[0])

    def do_closemedium(self, call: Call) -> None:
        kind, path = call.positionals
        media = self.hdds if kind == "disk" else self.dvds
        if path not in media:
            raise Failure(f"Could not find file for the medium '{path}'")
        users = self.attached_to(path)
        if users:
            raise Failure(f"Cannot close medium '{path}' because it is attached to {users}")
        del media[path]
        if call.opt("--delete") is not None:
            Path(path).unlink(missing_ok=True)


def main(argv: list[str]) -> int:
    # Without explicit paths, keep state out of the working directory.
    default_dir = Path(tempfile.gettempdir()) / "cloudlabs-fake-vbox"
    default_dir.mkdir(exist_ok=True)
    state_path = Path(os.environ.get("FAKE_VBOX_STATE", default_dir / "vbox-state.json"))
    log_path = Path(os.environ.get("FAKE_VBOX_LOG", default_dir / "vbox-calls.jsonl"))
    with open(state_path.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        entry: dict[str, Any] = {"argv": argv}
        try:
            call = parse(argv)
        except Usage as exc:
            entry["rejected"] = str(exc)
            _log(log_path, entry)
            print(f"VBoxManage: error: Syntax error: {exc}", file=sys.stderr)
            return 2
        entry["mutating"] = call.command not in READ_ONLY
        state = json.loads(state_path.read_text()) if state_path.exists() else {}
        box = VirtualBox(state)
        try:
            box.run(call)
        except Failure as exc:
            entry["failed"] = str(exc)
            _log(log_path, entry)
            print(f"VBoxManage: error: {exc}", file=sys.stderr)
            return 1
        state_path.write_text(json.dumps(state, indent=1, sort_keys=True))
        _log(log_path, entry)
        if box.out:
            print("\n".join(box.out))
        return 0


def _log(path: Path, entry: dict[str, Any]) -> None:
    with path.open("a") as log:
        log.write(json.dumps(entry) + "\n")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
