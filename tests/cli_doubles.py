"""Recording stand-ins for what scripts/up.sh and scripts/preview.sh run, and a runner.

The Pulumi CLI cannot be installed here; its stand-in records its arguments and the backend
environment, and answers `whoami` as a logged-out user would. The other stand-ins follow the
documented interfaces of what the scripts use and never reach the network: ``curl -fsSL -o FILE
URL`` serving Pulumi's installer, the installer (``install.sh --version V --install-root DIR
--no-edit-path``, which puts ``DIR/bin/pulumi`` in place), and the docker CLI (``info``,
``image inspect``, ``pull``, ``run``) of an engine that reaches no registry.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PINNED = (ROOT / ".pulumi-version").read_text().strip()

FAKE_PULUMI = """#!/usr/bin/env bash
printf '%s|%s|%s\\n' "$*" "${PULUMI_BACKEND_URL-unset}" "${PULUMI_CONFIG_PASSPHRASE-unset}" \
    >> "$FAKE_LOG"
[ "$1" = whoami ] && exit "${FAKE_WHOAMI_RC:-1}"
[ "$1" = version ] && echo "v$FAKE_PULUMI_VERSION"
exit 0
"""

FAKE_INSTALLER = """#!/bin/sh
# Pulumi's install.sh: --version V --install-root DIR --no-edit-path
echo "installer $*" >> "$FAKE_LOG"
[ "$FAKE_INSTALLER_RC" = 0 ] || { echo "error: could not download pulumi-v$2" >&2; exit 1; }
root=$HOME/.pulumi
while [ $# -gt 0 ]; do
    case "$1" in
        --version) FAKE_PULUMI_VERSION=$2; shift ;;
        --install-root) root=$2; shift ;;
    esac
    shift
done
mkdir -p "$root/bin"
sed "s/\\$FAKE_PULUMI_VERSION/$FAKE_PULUMI_VERSION/" "$FAKE_PULUMI_SOURCE" > "$root/bin/pulumi"
chmod +x "$root/bin/pulumi"
"""

FAKE_CURL = """#!/usr/bin/env bash
# curl -fsSL [--retry N] -o FILE URL
echo "curl $*" >> "$FAKE_LOG"
out=""; url=""
while [ $# -gt 0 ]; do
    case "$1" in
        -o) out=$2; shift ;;
        --retry) shift ;;
        -*) ;;
        *) url=$1 ;;
    esac
    shift
done
if [ "$FAKE_CURL" != ok ]; then
    echo "curl: (6) Could not resolve host: ${url#https://}" >&2
    exit 6
fi
cp "$FAKE_INSTALLER_SOURCE" "$out"
"""

FAKE_DOCKER = """#!/usr/bin/env bash
# The docker CLI of an engine that reaches no registry (FAKE_DOCKER_IMAGES: local images).
echo "docker $*" >> "$FAKE_LOG"
have() { case " $FAKE_DOCKER_IMAGES " in *" $1 "*) return 0 ;; esac; return 1; }
case "$1" in
    info) [ "$2" = --format ] && echo "server 20.10, storage driver overlay2, cgroup 2"; exit 0 ;;
    version) echo 20.10; exit 0 ;;
    buildx) exit 0 ;;
    image)
        image=${*: -1}
        have "$image" || { echo "Error: No such image: $image" >&2; exit 1; }
        case "$*" in *org.cloudlabs.base-image*) echo bookworm-1 ;; *) echo "[{}]" ;; esac
        exit 0 ;;
    pull)
        [ "$FAKE_DOCKER_PULL" = ok ] && exit 0
        echo "Error response from daemon: Get \\"https://registry-1.docker.io/v2/\\": dial tcp:" \
            "lookup registry-1.docker.io: no such host" >&2
        exit 1 ;;
    run)
        [ "$FAKE_DOCKER_RUN" = ok ] && { echo ok; exit 0; }
        echo "exec: \\"python3\\": executable file not found in \\$PATH" >&2; exit 127 ;;
esac
exit 0
"""


def write_script(path: Path, text: str) -> Path:
    path.write_text(text)
    path.chmod(0o755)
    return path


def run_script(
    tmp_path: Path,
    *args: str,
    with_cli: bool = True,
    whoami_rc: int = 1,
    curl: str = "ok",
    installer_rc: int = 0,
    docker_images: str = "",
    docker_pull: str = "fail",
    docker_run: str = "ok",
    script: str = "up.sh",
    env: dict[str, str] | None = None,
) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    bindir = tmp_path / "bin"
    bindir.mkdir(exist_ok=True)
    fakes = tmp_path / "fakes"
    fakes.mkdir(exist_ok=True)
    pulumi = write_script(fakes / "pulumi", FAKE_PULUMI)
    if with_cli:
        write_script(bindir / "pulumi", FAKE_PULUMI)
    write_script(bindir / "curl", FAKE_CURL)
    write_script(bindir / "docker", FAKE_DOCKER)
    log = tmp_path / "calls.log"
    full_env = {
        "PATH": f"{bindir}:/usr/bin:/bin:/usr/sbin:/sbin",
        "HOME": str(tmp_path),
        "FAKE_LOG": str(log),
        "FAKE_WHOAMI_RC": str(whoami_rc),
        "FAKE_PULUMI_VERSION": "0.0.0",
        "FAKE_PULUMI_SOURCE": str(pulumi),
        "FAKE_INSTALLER_SOURCE": str(write_script(fakes / "install.sh", FAKE_INSTALLER)),
        "FAKE_INSTALLER_RC": str(installer_rc),
        "FAKE_CURL": curl,
        "FAKE_DOCKER_IMAGES": docker_images,
        "FAKE_DOCKER_PULL": docker_pull,
        "FAKE_DOCKER_RUN": docker_run,
        "PYTHON": sys.executable,
        "PIP_CACHE_DIR": str(Path(os.environ.get("HOME", "/root")) / ".cache" / "pip"),
        **(env or {}),
    }
    result = subprocess.run(
        ["bash", str(ROOT / "scripts" / script), *args],
        env=full_env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    calls = log.read_text().splitlines() if log.exists() else []
    return result, calls


def pulumi_calls(calls: list[str]) -> list[str]:
    """The recorded calls of the Pulumi CLI stand-in only."""
    return [c for c in calls if not c.startswith(("curl ", "installer ", "docker "))]
