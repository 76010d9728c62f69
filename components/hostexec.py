"""Running the project's scripts on a host: this machine, or one reached over SSH.

Every platform's shell lives in ``scripts/<platform>/<object>.sh`` and follows one convention
(``scripts/README.md``): the first argument is the action, ``create`` (check, then act: it also
runs on every update, so it converges) or ``delete`` (undo what create made, and only that);
parameters are environment variables; the script is shellcheck-clean and can be run by hand
from a clone (its platform's shared helpers, ``scripts/<platform>/lib.sh``, are sourced by
one line). :func:`run_script` declares the pulumi-command resource that runs one.

The script's text travels inside the command (``bash -c <script> <name> <action>``), the
helpers' text in place of the line that sources them, so the host needs no copy of this
repository. On this machine the parameters are given to pulumi-command's ``environment``; on a
remote host they are exported inside the command, because an SSH server accepts only the
variables its ``AcceptEnv`` lists.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import pulumi
import pulumi_command as command

SCRIPTS = Path(__file__).resolve().parent.parent / "scripts"
"""Where the scripts live in this repository."""

ACTIONS = ("create", "delete")


@dataclass(frozen=True)
class RemoteHost:
    """A host reached over SSH."""

    host: str
    """Its name or address."""
    user: str = "root"
    """The login user."""
    port: int = 22
    """The SSH port."""
    private_key: pulumi.Input[str] | None = None
    """The private key (a Pulumi secret when configured with ``--secret``); None = the SSH
    agent."""
    host_key: str | None = None
    """The host's public key (``ssh-ed25519 AAAA...``): the connection is refused when the host
    shows another one."""
    dial_error_limit: int = 10
    """How many failed connection attempts before giving up (a host that is rebooting)."""
    per_dial_timeout: int = 15
    """Seconds one connection attempt may take."""

    @property
    def jump(self) -> str:
        """``user@host[:port]``, for ``ssh -J`` (an IPv6 address in brackets)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.user}@{host}" + (f":{self.port}" if self.port != 22 else "")

    def connection(self) -> command.remote.ConnectionArgs:
        return command.remote.ConnectionArgs(
            host=self.host,
            port=self.port,
            user=self.user,
            private_key=self.private_key,
            host_key=self.host_key,
            dial_error_limit=self.dial_error_limit,
            per_dial_timeout=self.per_dial_timeout,
        )


@dataclass(frozen=True)
class Host:
    """Where scripts run."""

    remote: RemoteHost | None = None
    """None = this machine."""
    sudo: bool = False
    """Run the scripts through ``sudo -n`` (a login user that is not root)."""
    env: Mapping[str, str] = field(default_factory=dict)
    """Variables every script gets on this host (the hypervisor's command, its URI)."""

    def command_there(self, argv: Sequence[str]) -> str:
        """``argv`` as typed on this machine to run it on the host: itself, or through ssh."""
        if self.remote is None:
            return shlex.join(argv)
        r = self.remote
        port = r.port if r.port != 22 else None
        return ssh_command(f"{r.user}@{r.host}", port=port, remote=argv)

    def ssh_to(self, user: str, address: str, port: int | None = None) -> str:
        """The ssh command reaching ``user@address[:port]`` as the host sees it: directly, or
        with the host as jump host (``ssh -J``)."""
        jump = self.remote.jump if self.remote is not None else None
        return ssh_command(f"{user}@{address}", port=port, jump=jump)


def ssh_command(
    destination: str,
    *,
    port: int | None = None,
    jump: str | None = None,
    options: Sequence[str] = (),
    remote: Sequence[str] = (),
) -> str:
    """An ssh command line to ``destination`` (``user@host``) that is safe to paste: every word
    quoted for the shell it is pasted in, and ``remote`` (a command to run there) quoted once
    more as one word, for the remote shell that reads it."""
    words = ["ssh", *options]
    if jump is not None:
        words += ["-J", jump]
    if port is not None:
        words += ["-p", str(port)]
    words.append(destination)
    if remote:
        words.append(shlex.join(remote))
    return shlex.join(words)


SOURCE_LIB = '. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"'
"""The line by which a script sources its platform's shared helpers (``scripts/<platform>/lib.sh``)
from a clone; :func:`script_text` puts the helpers' text in its place."""


@cache
def script_text(script: str) -> str:
    """The text of ``scripts/<script>`` (``virtualbox/vm.sh``), as one text: a line
    :data:`SOURCE_LIB` is replaced by the text of ``lib.sh`` next to the script, so the script
    needs no file on the host it runs on."""
    path = SCRIPTS / script
    lines = path.read_text().splitlines(keepends=True)
    if not any(line.rstrip("\n") == SOURCE_LIB for line in lines):
        return "".join(lines)
    lib = (path.parent / "lib.sh").read_text()
    if any(line.rstrip("\n") == SOURCE_LIB for line in lib.splitlines()):
        raise ValueError(f"{path.parent / 'lib.sh'} sources another lib.sh: helpers nest no deeper")
    lib = lib if lib.endswith("\n") else lib + "\n"
    return "".join(lib if line.rstrip("\n") == SOURCE_LIB else line for line in lines)


def script_command(
    script: str,
    action: str,
    *,
    exports: Mapping[str, str] | None = None,
    sudo: bool = False,
    keep: Sequence[str] = (),
) -> str:
    """The shell command running ``scripts/<script> <action>`` from the script's text.

    ``exports`` are exported inside the command (for a remote host); with ``sudo``, the
    variables named in ``keep`` (already in the caller's environment) pass through sudo.
    """
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r}; expected one of {ACTIONS}")
    text = script_text(script)
    if exports:
        text = "".join(f"export {k}={shlex.quote(v)}\n" for k, v in sorted(exports.items())) + text
    run = shlex.join(["bash", "-c", text, f"scripts/{script}", action])
    if not sudo:
        return run
    preserve = f"--preserve-env={','.join(sorted(keep))} " if keep else ""
    return f"sudo -n {preserve}{run}"


ARGUMENT_MAX = 131072
"""Linux's limit on one command-line argument or environment string (MAX_ARG_STRLEN, 32 pages
of 4 KiB). Over SSH the whole command, with its exports and the script, is one argument of the
login shell (``sh -c <command>``); on this machine each parameter is one environment string."""


def largest_argument(host: Host, script: str, env: Mapping[str, str]) -> int:
    """The bytes (with the final NUL) of the longest argument or environment string that
    running ``scripts/<script> create`` on ``host`` with ``env`` takes: compare with
    :data:`ARGUMENT_MAX`."""
    full = {**host.env, **env}
    if host.remote is None:
        return max((len(f"{k}={v}".encode()) + 1 for k, v in full.items()), default=0)
    command = script_command(script, "create", exports=full, sudo=host.sudo)
    return len(command.encode()) + 1


def run_script(
    name: str,
    host: Host,
    script: str,
    env: Mapping[str, pulumi.Input[str]],
    *,
    delete: bool = True,
    update: bool = False,
    triggers: Sequence[Any] = (),
    previous_output: bool = False,
    opts: pulumi.ResourceOptions,
) -> command.local.Command | command.remote.Command:
    """A command resource running ``scripts/<script>`` on ``host``.

    ``create`` runs on ``up``; an input change runs it again (it converges). ``delete``
    (unless False) runs on ``destroy`` and before a replacement. ``triggers`` replace the
    resource when they change, except with ``update``: an explicit update command (the create
    action) then runs instead. With ``previous_output``, the script's delete reads what its
    create printed (``PULUMI_COMMAND_STDOUT``).
    """
    full: dict[str, pulumi.Input[str]] = {**host.env, **env}
    common: dict[str, Any] = {
        "triggers": list(triggers) or None,
        "add_previous_output_in_env": previous_output,
        "opts": opts,
    }
    if host.remote is None:
        keep = list(full)

        def local(action: str) -> str:
            return script_command(script, action, sudo=host.sudo, keep=keep)

        return command.local.Command(
            name,
            create=local("create"),
            update=local("create") if update else None,
            delete=local("delete") if delete else None,
            environment=full,
            **common,
        )
    values = pulumi.Output.all(**full)

    def remote(action: str) -> pulumi.Output[str]:
        return values.apply(
            lambda resolved: script_command(script, action, exports=resolved, sudo=host.sudo)
        )

    return command.remote.Command(
        name,
        connection=host.remote.connection(),
        create=remote("create"),
        update=remote("create") if update else None,
        delete=remote("delete") if delete else None,
        **common,
    )
