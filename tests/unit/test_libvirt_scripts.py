"""The scripts of ``scripts/libvirt/`` against stand-in tools (no libvirtd, no root needed)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GIB = 1024**3

# `qemu-img` as QEMU 8 and later answers `info --output=json`: the protocol node comes first,
# with its own "format": "file" and a "virtual-size" that is the file's length. Every call is
# appended to $QEMU_IMG_LOG; `create`/`convert` make their output file, `resize` records it.
FAKE_QEMU_IMG = r"""#!/usr/bin/env bash
set -euo pipefail
printf '%s\n' "$*" >>"${QEMU_IMG_LOG}"
case "$1" in
info)
    file="${!#}"
    vsize="$(cat "${file}.vsize" 2>/dev/null || echo 2361393152)"
    cat <<EOF
{
    "children": [
        {
            "name": "file",
            "info": {
                "children": [
                ],
                "virtual-size": 197120,
                "filename": "${file}",
                "format": "file",
                "actual-size": 200704,
                "format-specific": {
                    "type": "file",
                    "data": {
                    }
                },
                "dirty-flag": false
            }
        }
    ],
    "virtual-size": ${vsize},
    "filename": "${file}",
    "cluster-size": 65536,
    "format": "qcow2",
    "actual-size": 200704,
    "dirty-flag": false
}
EOF
    ;;
create | convert)
    args=("$@")
    out="${args[${#args[@]} - 1]}"
    [[ "$1" == convert ]] || out="${args[${#args[@]} - 2]}"
    : >"${out}"
    ;;
resize) ;;
*) exit 2 ;;
esac
"""


@pytest.fixture
def tools(tmp_path: Path) -> dict[str, str]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "qemu-img"
    fake.write_text(FAKE_QEMU_IMG)
    fake.chmod(0o755)
    return {
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "QEMU_IMG_LOG": str(tmp_path / "qemu-img.log"),
    }


def run(script: str, action: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(ROOT / "scripts" / "libvirt" / script), action],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def calls(tools: dict[str, str], verb: str) -> list[list[str]]:
    log = Path(tools["QEMU_IMG_LOG"])
    lines = log.read_text().splitlines() if log.exists() else []
    return [ln.split() for ln in lines if ln.split()[0] == verb]


def test_disk_reads_the_image_fields_not_those_of_its_file_node(
    tools: dict[str, str], tmp_path: Path
) -> None:
    base = tmp_path / "base.img"
    base.write_text("")
    disk = tmp_path / "vm.qcow2"
    env = {
        **tools,
        "DISK_PATH": str(disk),
        "BASE_PATH": str(base),
        "DISK_SIZE_GIB": "20",
        "DISK_MODE": "backing",
        "OWNER": "cloud-labs/t",
    }
    result = run("disk.sh", "create", env)
    assert result.returncode == 0, result.stderr
    [create] = calls(tools, "create")
    assert create[create.index("-F") + 1] == "qcow2", "the base image's format, not 'file'"
    assert create[create.index("-b") + 1] == str(base)

    # Again, the disk already 20 GiB: nothing to grow (a running guest holds its lock).
    Path(f"{disk}.vsize").write_text(str(20 * GIB))
    result = run("disk.sh", "create", env)
    assert result.returncode == 0, result.stderr
    assert calls(tools, "resize") == []
    # Asked bigger: grown once.
    result = run("disk.sh", "create", {**env, "DISK_SIZE_GIB": "30"})
    assert result.returncode == 0, result.stderr
    assert [c[1:] for c in calls(tools, "resize")] == [[str(disk), "30G"]]


def test_disk_refuses_a_base_larger_than_asked(tools: dict[str, str], tmp_path: Path) -> None:
    base = tmp_path / "base.img"
    base.write_text("")
    Path(f"{base}.vsize").write_text(str(30 * GIB))
    env = {
        **tools,
        "DISK_PATH": str(tmp_path / "vm.qcow2"),
        "BASE_PATH": str(base),
        "DISK_SIZE_GIB": "20",
        "OWNER": "cloud-labs/t",
    }
    result = run("disk.sh", "create", env)
    assert result.returncode != 0 and "larger than the 20 GiB asked" in result.stderr
    assert calls(tools, "create") == [] and not (tmp_path / "vm.qcow2").exists()


def test_disk_size_is_a_number_before_bash_does_arithmetic_with_it(
    tools: dict[str, str], tmp_path: Path
) -> None:
    base = tmp_path / "base.img"
    base.write_text("")
    planted = tmp_path / "planted"
    env = {
        **tools,
        "DISK_PATH": str(tmp_path / "vm.qcow2"),
        "BASE_PATH": str(base),
        "DISK_SIZE_GIB": f"PATH[$(touch {planted})]",
        "OWNER": "cloud-labs/t",
    }
    result = run("disk.sh", "create", env)
    assert result.returncode != 0 and "whole number of GiB" in result.stderr
    assert not planted.exists()
