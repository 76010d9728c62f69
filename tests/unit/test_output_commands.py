"""Every command a lab prints in its outputs is safe to paste into a shell.

Each lab is built (under the mocks) from its full config in which every text value ends with
``$(…)``, backticks, ``;`` and quotes — the labs' types would refuse these, so the model is
altered after validation — and with the provider's addresses (floating IPs, fixed IPs) made
the same way. Every output command must then parse (``bash -n``) and, run by ``bash -c``
with stand-ins for ssh, curl, kubectl… on PATH (ssh's runs the remote command through a
shell, as the remote host would), run none of it: a marker file would show it.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bench.lab import ssh_target
from components.libvirt.inventory import InventoryHost, render_inventory
from stacks.shared.catalogue import LABS
from stacks.shared.validation import LabModel
from tests import harness
from tests.config_walk import FULL, is_literal, lab, model_of
from tests.harness import RecordingMocks, run_function, run_program

MARKERS = ("ran-dollar", "ran-backtick", "ran-semicolon")
PAYLOAD = "x$(echo>ran-dollar)`echo>ran-backtick`;echo>ran-semicolon;'\"#"
"""Appended to every text value: each piece, if a shell ran it, writes its marker file."""
PARSED_BY_THE_BUILD = {("KubernetesConfig", "version")}
"""Text the build reads (the minor release): left as it is."""
ADDRESSES_ONLY = {"dev", "docker-basics"}
"""Labs whose commands hold only a configured address and port (no text value)."""
COMMAND_OUTPUT = re.compile(r"command|curl", re.IGNORECASE)
STAND_INS = ("curl", "kubectl", "sudo", "cat", "cloud-init")
SSH = r"""#!/bin/bash
# ssh: note the call, then run the remote command through a shell, as sshd would.
printf '%s\n' "$*" >>"$LOG"
args=("$@")
i=0
while ((i < ${#args[@]})); do
    case "${args[i]}" in
        -[BbcDEeFIiJLlmOoPpQRSWw]) ((i += 2)) ;;
        -*) ((i += 1)) ;;
        *) break ;;
    esac
done
remote=("${args[@]:i+1}")
if ((${#remote[@]})); then /bin/bash -c "${remote[*]}"; fi
"""
OTHER = """#!/bin/bash
printf '%s\\n' "$0 $*" >>"$LOG"
"""


def hostile(model: LabModel) -> LabModel:
    """``model`` with :data:`PAYLOAD` after every text value (not switches between choices)."""
    updates: dict[str, Any] = {}
    for name, info in type(model).model_fields.items():
        keep = (type(model).__name__, name) in PARSED_BY_THE_BUILD or is_literal(info.annotation)
        updates[name] = getattr(model, name) if keep else _hostile(getattr(model, name))
    return model.model_copy(update=updates)


def _hostile(value: Any) -> Any:
    if isinstance(value, LabModel):
        return hostile(value)
    if isinstance(value, list):
        return [_hostile(v) for v in value]
    if isinstance(value, dict):
        return {k: _hostile(v) for k, v in value.items()}
    if isinstance(value, str):
        return value + PAYLOAD
    return value


class HostileMocks(RecordingMocks):
    """The provider's addresses end with the payload too."""

    def new_resource(self, args: Any) -> tuple[str, dict[str, Any]]:
        rid, state = super().new_resource(args)
        if "address" in state and args.typ.endswith("floatingIp:FloatingIp"):
            state["address"] += PAYLOAD
        if "allFixedIps" in state:
            state["allFixedIps"] = [ip + PAYLOAD for ip in state["allFixedIps"]]
        return rid, state


def commands(outputs: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """Every command in the outputs: (where, the command)."""
    for key, value in outputs.items():
        if not COMMAND_OUTPUT.search(key):
            continue
        if isinstance(value, dict):
            yield from ((f"{key}.{k}", v) for k, v in value.items())
        else:
            yield key, value


def _redis_on_a_node(model: Any) -> Any:
    # redis.node names one of the nodes, whose names are the (hostile) prefix and a number.
    redis = model.redis.model_copy(update={"node": model.nodes.names()[0]})
    return model.model_copy(update={"redis": redis})


KEEP_CONSISTENT = {"vbox-cluster": _redis_on_a_node}
"""Values that must still name one another once hostile."""


def hostile_outputs(name: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    build = lab(name).build
    model = hostile(model_of(name))
    model = KEEP_CONSISTENT.get(name, lambda m: m)(model)
    monkeypatch.setattr(harness, "RecordingMocks", HostileMocks)
    # The inventory refuses such values outright (test_the_inventory_refuses_...): left out.
    monkeypatch.setattr("stacks.libvirt_host.render_inventory", lambda *_: "")
    return run_function(lambda: build(model), stack=name).outputs


@pytest.fixture
def shell(tmp_path: Path) -> Path:
    """A directory of stand-ins (``bin/``), a working directory (``work/``) and a log."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (tmp_path / "work").mkdir()
    for program, text in [("ssh", SSH), *((p, OTHER) for p in STAND_INS)]:
        (bin_dir / program).write_text(text)
        (bin_dir / program).chmod(0o755)
    return tmp_path


def paste(shell: Path, command: str) -> subprocess.CompletedProcess[str]:
    """``command`` as pasted into bash, with only the stand-ins on PATH."""
    env = {"PATH": str(shell / "bin"), "HOME": str(shell), "LOG": str(shell / "log")}
    return subprocess.run(
        ["/bin/bash", "-c", command],
        cwd=shell / "work",
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def assert_safe(shell: Path, where: str, command: str) -> None:
    syntax = subprocess.run(["/bin/bash", "-n", "-c", command], capture_output=True, text=True)
    assert syntax.returncode == 0, f"{where}: {command!r} does not parse: {syntax.stderr}"
    paste(shell, command)
    ran = [m for m in MARKERS if any(p.name.startswith(m) for p in shell.rglob("*"))]
    assert not ran, f"{where}: pasting {command!r} ran {ran}"


@pytest.mark.parametrize("name", [entry.name for entry in LABS])
def test_hostile_values_in_output_commands_never_run(
    name: str, shell: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    found = list(commands(hostile_outputs(name, monkeypatch)))
    assert found, f"{name} prints no command"
    if name not in ADDRESSES_ONLY:
        assert any("ran-dollar" in command for _, command in found), "no hostile value printed"
    for where, command in found:
        assert_safe(shell, where, command)
    assert (shell / "log").exists(), "no stand-in was called: the commands did not run at all"


@pytest.mark.parametrize("name", [entry.name for entry in LABS])
def test_output_commands_of_full_configs_paste_and_parse(name: str, shell: Path) -> None:
    outputs = run_program(FULL[name], stack=name).outputs
    for where, command in commands(outputs):
        assert_safe(shell, where, command)
        if command.startswith("ssh") and "Command" in where and "kubeconfig" not in where:
            # The benchmark reaches guests with these: they split back into ssh's words.
            assert ssh_target(where, command).argv[0] == "ssh"


def test_the_ssh_stand_in_runs_the_remote_command_like_a_remote_shell(shell: Path) -> None:
    # The check above would miss a command quoted once only: the remote shell reads it again.
    once = "ssh -p 22 u@h 'echo $(echo>ran-dollar)'"
    paste(shell, once)
    assert (shell / "work" / "ran-dollar").exists()
    assert os.path.getsize(shell / "log") > 0


@pytest.mark.parametrize(
    ("name", "role", "address", "user"),
    [
        ("kvm1\n[evil]", "compute", "10.0.0.5", "ubuntu"),
        ("kvm1", "compute", "10.0.0.5 ansible_become_pass=x", "ubuntu"),
        ("kvm1", "compute\n[all:vars]", "10.0.0.5", "ubuntu"),
        ("kvm1", "compute", "10.0.0.5", "ubuntu\nansible_python_interpreter=/tmp/x"),
    ],
)
def test_the_inventory_refuses_a_value_that_opens_a_section_or_variable(
    name: str, role: str, address: str, user: str
) -> None:
    with pytest.raises(ValueError, match="not one inventory word"):
        render_inventory([InventoryHost(name, role, address)], user, None)
