"""A script's text as the stacks send it (``components.hostexec.script_text``): its platform's
shared helpers (``scripts/<platform>/lib.sh``) in place of the one line that sources them, so
that the script runs as one text over SSH, and the same as from a clone."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from components import hostexec
from components.hostexec import SCRIPTS, SOURCE_LIB, script_command, script_text

PLATFORMS = ("docker", "virtualbox", "libvirt", "openstack", "kubernetes")


def platform_scripts() -> list[Path]:
    return sorted(p for d in PLATFORMS for p in (SCRIPTS / d).glob("*.sh") if p.name != "lib.sh")


def sourcing(path: Path) -> bool:
    return SOURCE_LIB in path.read_text().splitlines()


def test_the_helpers_take_the_place_of_the_line_that_sources_them() -> None:
    users = [p for p in platform_scripts() if sourcing(p)]
    assert {p.parent.name for p in users} >= {"docker", "virtualbox"}
    assert {"vm.sh", "disk.sh", "seed.sh", "snapshot.sh", "restore.sh"} <= {
        p.name for p in users if p.parent.name == "virtualbox"
    }
    for path in users:
        lib = (path.parent / "lib.sh").read_text()
        before, after = path.read_text().split(SOURCE_LIB + "\n")
        sent = script_text(f"{path.parent.name}/{path.name}")
        assert sent == before + lib + after, path
        assert SOURCE_LIB not in sent.splitlines(), path


def test_a_script_without_the_line_is_sent_as_it_is() -> None:
    others = [p for p in platform_scripts() if not sourcing(p)]
    assert others, "libvirt's scripts source nothing"
    for path in others:
        assert script_text(f"{path.parent.name}/{path.name}") == path.read_text(), path


def test_a_platform_script_sources_its_helpers_by_that_line_only() -> None:
    # Any other form (another path, `source`, a variable) would reach the host as it is and
    # fail there: the host has no copy of the repository.
    sources = re.compile(r"^\s*(\.|source)\s.*lib\.sh")
    for path in platform_scripts():
        for line in path.read_text().splitlines():
            if sources.match(line):
                assert line == SOURCE_LIB, f"{path}: {line}"


def test_helpers_that_source_helpers_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / "a.sh").write_text(f"set -eu\n{SOURCE_LIB}\nhello\n")
    (tmp_path / "p" / "lib.sh").write_text(f"{SOURCE_LIB}\nhello() {{ echo hi; }}\n")
    monkeypatch.setattr(hostexec, "SCRIPTS", tmp_path)
    with pytest.raises(ValueError, match=r"sources another lib\.sh"):
        script_text.__wrapped__("p/a.sh")
    (tmp_path / "p" / "lib.sh").write_text("hello() { echo hi; }")  # no final line end
    assert script_text.__wrapped__("p/a.sh") == "set -eu\nhello() { echo hi; }\nhello\n"


def run(
    script: str, action: str, env: dict[str, str], cwd: Path, *, sent: bool
) -> subprocess.CompletedProcess[str]:
    """``script`` as a stack runs it, sent as one text (``bash -c <text> scripts/<script>
    <action>``) from a folder without any of the repository's files, or run by hand from the
    clone (``bash scripts/<script> <action>``)."""
    argv = ["/bin/sh", "-c", script_command(script, action)] if sent else [
        "bash", str(SCRIPTS / script), action]  # fmt: skip
    return subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True)


@pytest.mark.parametrize("sent", [True, False], ids=["sent", "from-the-clone"])
def test_a_script_runs_the_same_sent_as_one_text_and_from_the_clone(
    tmp_path: Path, sent: bool
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path / "home")}
    made = run("virtualbox/ready-key.sh", "create", {**env, "KEY_PATH": "~/keys/ready"},
               elsewhere, sent=sent)  # fmt: skip
    assert made.returncode == 0, made.stderr
    assert made.stdout.startswith("ssh-ed25519 ") and "cloudlabs-ready" in made.stdout
    assert (tmp_path / "home" / "keys" / "ready").exists(), "~/ expanded by the helpers"
    # The helpers' messages carry the script's name.
    disk = {**env, "DISK_PATH": "d.vdi", "DISK_SOURCE": "s.vmdk", "DISK_SIZE_MB": "lots"}
    failed = run("virtualbox/disk.sh", "create", disk, elsewhere, sent=sent)
    assert failed.returncode == 1
    assert failed.stderr == "disk: DISK_SIZE_MB must be a number of MB (got 'lots')\n"
    # docker's helpers: a tag already gone (a stand-in docker that knows no image).
    stub = tmp_path / "bin"
    stub.mkdir()
    (stub / "docker").write_text("#!/bin/sh\nexit 1\n")
    (stub / "docker").chmod(0o755)
    docker = {**env, "PATH": f"{stub}:/usr/bin:/bin", "IMAGE": "lab/web:1"}
    gone = run("docker/image.sh", "delete", docker, elsewhere, sent=sent)
    assert (gone.returncode, gone.stderr) == (0, "lab/web:1 is already gone\n")
