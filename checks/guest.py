"""Where a lab's checks run, and the checks every kind of guest answers alike.

:class:`Reach` hands a lab's declaration this machine and the lab's machines, reached the way
:mod:`bench.lab` reaches them (the stack's own ssh commands, ``docker exec``): one way to reach
a guest for the benchmarks and the checks. The helpers below are checks on a guest: its name,
its addresses, its default route, a neighbour it reaches (``scripts/checks/reach.sh``), its
cloud-init.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from bench.lab import Target, local_host, ssh_target, targets
from checks.model import Check, Contains, Equals, Run


def _with_ssh_options(target: Target, options: Sequence[str]) -> Target:
    if not options or target.argv[:1] != ("ssh",):
        return target
    return Target(target.name, target.kind, ("ssh", *options, *target.argv[1:]))


@dataclass(frozen=True)
class Reach:
    """This machine and the lab's machines, for a lab's checks."""

    machines: Mapping[str, Target]
    """Each guest by name, as :func:`bench.lab.targets` reaches it."""
    token: str = "check"
    """Unique to this run: names what a check leaves on a guest (a file it writes)."""
    ssh_options: tuple[str, ...] = ()
    """Added to every ssh command (``-i KEY``)."""
    host: Target = field(default_factory=local_host)
    """This machine (``sh -c``)."""

    def guest(self, name: str) -> Target:
        if name not in self.machines:
            known = ", ".join(self.machines) or "none"
            raise KeyError(f"the stack's outputs reach no machine {name!r} (reached: {known})")
        return self.machines[name]

    def ssh(self, name: str, command: str) -> Target:
        """The machine reached by ``command``, an ssh command line the stack exports."""
        return _with_ssh_options(ssh_target(name, command), self.ssh_options)


def reach(
    lab: str,
    outputs: Mapping[str, Any],
    raw_config: Mapping[str, Any],
    *,
    token: str = "check",
    ssh_options: Sequence[str] = (),
) -> Reach:
    """The lab's machines from its outputs (and config), as the benchmarks reach them."""
    found = {t.name: _with_ssh_options(t, ssh_options) for t in targets(lab, outputs, raw_config)}
    return Reach(found, token, tuple(ssh_options))


# --- checks on a guest -----------------------------------------------------------------------

REACH_SCRIPT = "checks/reach.sh"
BOOT_TIMEOUT = 900.0
"""Seconds ``cloud-init status --wait`` may take on a guest still installing packages."""


def named(on: Target, name: str, via: str = "") -> Check:
    """The guest answers (through ``via``, e.g. a forward) with its host name."""
    where = f" ({via})" if via else ""
    return Check(f"ssh to {on.name}{where}: host name", Run(on, "hostname"), Equals(name))


def has_address(on: Target, address: str, where: str = "") -> Check:
    """``address`` is on one of the guest's interfaces."""
    suffix = f" on {where}" if where else ""
    return Check(
        f"{on.name} has {address}{suffix}",
        Run(on, "ip -o -4 addr show"),
        Contains(f" {address}/"),
    )


def routes_via(on: Target, destination: str, gateway: str) -> Check:
    """The guest's route to ``destination`` (an address, or ``default``) goes via ``gateway``."""
    if destination == "default":
        command, what = "ip -4 route show default", "default route"
    else:
        command, what = f"ip -4 route get {shlex.quote(destination)}", f"route to {destination}"
    return Check(f"{on.name}: {what} via {gateway}", Run(on, command), Contains(f"via {gateway} "))


def reaches(on: Target, address: str, what: str) -> Check:
    """The guest gets an ICMP echo reply from ``address`` (``what`` names it)."""
    return Check(
        f"{on.name} reaches {what} {address}",
        Run(on, shlex.join(["sh", "-s", "--", address]), script=REACH_SCRIPT),
        Contains(f"echo reply from {address}"),
    )


def cloud_init_done(on: Target) -> Check:
    """cloud-init finished on the guest without an error."""
    return Check(
        f"{on.name}: cloud-init finished",
        Run(on, "cloud-init status --wait", timeout=BOOT_TIMEOUT),
        Contains("status: done"),
    )
