"""scripts/setup/docker.sh starts dockerd with no descriptor of its caller's: run as the README
says, under ``flock /tmp/cloudlabs-docker.lock``, a dockerd that kept the lock's descriptor
would hold the lock for as long as it runs.

The engine is played by stand-ins on PATH: ``docker`` answers once ``dockerd`` has started,
``pgrep`` finds no running dockerd, and ``dockerd`` writes down its open descriptors.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tests.cli_doubles import write_script
from tests.harness import ROOT

DOCKERD = """#!/usr/bin/env python3
import os

opened = {}
for fd in os.listdir("/proc/self/fd"):
    try:
        opened[fd] = os.readlink(f"/proc/self/fd/{fd}")
    except OSError:  # the listing's own descriptor, closed by now
        pass
where = os.environ["STAND_IN_DIR"]
with open(f"{where}/dockerd-fds", "w") as out:
    out.writelines(f"{fd} {target}\\n" for fd, target in opened.items())
open(f"{where}/started", "w").close()
"""
DOCKER = """#!/bin/sh
[ -e "$STAND_IN_DIR/started" ] || exit 1
case "$1" in
    info) echo "server stand-in, storage driver overlay2, cgroup 2" ;;
    version) echo stand-in ;;
    *) exit 1 ;;
esac
"""


def test_dockerd_keeps_no_lock_or_pipe_of_its_caller(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    write_script(bin_dir / "dockerd", DOCKERD)
    write_script(bin_dir / "docker", DOCKER)
    write_script(bin_dir / "pgrep", "#!/bin/sh\nexit 1\n")
    lock, extra = tmp_path / "caller.lock", tmp_path / "caller-file"
    env = {
        **os.environ,
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "STAND_IN_DIR": str(tmp_path),
        "CLOUDLABS_DOCKERD_LOG": str(tmp_path / "dockerd.log"),
        "CLOUDLABS_DOCKER_STORAGE_DRIVER": "overlay2",
        "CLOUDLABS_DOCKER_WAIT": "10",
    }
    # The caller holds a lock (flock's descriptor) and one more file open.
    done = subprocess.run(
        ["flock", str(lock), "bash", "-c", f'exec 5>"{extra}"; bash scripts/setup/docker.sh'],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "engine ready: server stand-in" in done.stderr
    opened = dict(
        line.split(" ", 1) for line in (tmp_path / "dockerd-fds").read_text().splitlines()
    )
    assert opened["0"] == "/dev/null"
    assert opened["1"] == opened["2"] == str(tmp_path / "dockerd.log")
    inherited = [target for fd, target in opened.items() if int(fd) > 2]
    assert inherited == [], opened
