"""The real validators the tests run on what the project generates.

Each function runs the tool that would consume the file for real (installed by
``scripts/setup/tools.sh`` and the platform set-up scripts) and fails the test with the tool's
own message. A missing tool is a failure, never a skip.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Iterable
from pathlib import Path


def require(tool: str) -> str:
    """The path of ``tool``; fails the test when the set-up did not install it."""
    path = shutil.which(tool)
    assert path, f"{tool} is not installed: run scripts/test.sh, which installs it"
    return path


def assert_cloud_config_valid(user_data: str, name: str = "user-data") -> None:
    """``cloud-init schema`` accepts ``user_data`` (a ``#cloud-config`` document)."""
    assert user_data.startswith("#cloud-config\n"), f"{name}: must start with #cloud-config"
    cloud_init = require("cloud-init")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        path.write_text(user_data)
        result = subprocess.run(
            [cloud_init, "schema", "--config-file", str(path)],
            capture_output=True,
            text=True,
        )
    assert result.returncode == 0, f"{name}: cloud-init schema: {result.stdout}{result.stderr}"


def assert_shellcheck_clean(scripts: Iterable[Path | str], shell: str | None = None) -> None:
    """``shellcheck`` finds nothing in the given files (``shell`` forces the dialect)."""
    shellcheck = require("shellcheck")
    args = [shellcheck, "-x", "-S", "style"]
    if shell:
        args += ["-s", shell]
    files = [str(p) for p in scripts]
    assert files, "no scripts given"
    result = subprocess.run([*args, *files], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def assert_shell_snippet_clean(text: str, shell: str = "bash") -> None:
    """``shellcheck`` accepts a script held in memory (a rendered runcmd or bootstrap)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "snippet.sh"
        body = text if text.startswith("#!") else f"#!/usr/bin/env {shell}\n{text}"
        path.write_text(body)
        assert_shellcheck_clean([path], shell=shell)
