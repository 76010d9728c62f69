"""scripts/up.sh: the README's main command, driven with a recording stand-in for the CLI.

The Pulumi CLI cannot be installed here; the stand-in records its arguments and the backend
environment, and answers `whoami` as a logged-out user would.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

FAKE_PULUMI = """#!/usr/bin/env bash
printf '%s|%s|%s\\n' "$*" "${PULUMI_BACKEND_URL-unset}" "${PULUMI_CONFIG_PASSPHRASE-unset}" \
    >> "$FAKE_LOG"
[ "$1" = whoami ] && exit "${FAKE_WHOAMI_RC:-1}"
exit 0
"""


def run_up(tmp_path: Path, *args: str, with_cli: bool = True, whoami_rc: int = 1):
    bindir = tmp_path / "bin"
    bindir.mkdir(exist_ok=True)
    if with_cli:
        fake = bindir / "pulumi"
        fake.write_text(FAKE_PULUMI)
        fake.chmod(0o755)
    log = tmp_path / "calls.log"
    env = {
        "PATH": f"{bindir}:/usr/bin:/bin",
        "HOME": str(tmp_path),
        "FAKE_LOG": str(log),
        "FAKE_WHOAMI_RC": str(whoami_rc),
        "PYTHON": sys.executable,
    }
    result = subprocess.run(
        ["bash", str(ROOT / "scripts" / "up.sh"), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    calls = log.read_text().splitlines() if log.exists() else []
    return result, calls


def test_missing_cli_stops_with_the_install_instruction(tmp_path: Path) -> None:
    result, calls = run_up(tmp_path, "openstack-vm", with_cli=False)
    assert result.returncode == 127
    assert "curl -fsSL https://get.pulumi.com | sh" in result.stderr
    assert calls == []


def test_unknown_stack_lists_the_shipped_ones(tmp_path: Path) -> None:
    result, calls = run_up(tmp_path, "nope")
    assert result.returncode == 2
    assert "openstack-vm" in result.stderr and "dev" in result.stderr
    assert calls == []


def test_logged_out_user_gets_local_state_and_up_on_the_stack(tmp_path: Path) -> None:
    result, calls = run_up(tmp_path, "openstack-vm", "--yes")
    assert result.returncode == 0, result.stderr
    backend = f"file://{ROOT}/.pulumi-state"
    assert calls[0].startswith("whoami|")
    assert calls[1:] == [
        f"stack select --create openstack-vm|{backend}|",
        f"up --stack openstack-vm --yes|{backend}|",
    ]


def test_logged_in_user_keeps_their_backend(tmp_path: Path) -> None:
    result, calls = run_up(tmp_path, "openstack-vm", whoami_rc=0)
    assert result.returncode == 0, result.stderr
    assert calls[-1] == "up --stack openstack-vm|unset|unset"
