"""The package builds offline into a small wheel that runs straight from the zip file."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_wheel_builds_offline_and_is_small(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
            "--no-index", "--quiet", "--wheel-dir", str(tmp_path), str(ROOT),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    (wheel,) = tmp_path.glob("cloudlabs_calculator-*-py3-none-any.whl")
    assert wheel.stat().st_size < 40 * 1024
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        assert "calculator/__main__.py" in names
        assert not any(name.startswith("tests/") or ".pyc" in name for name in names)
        metadata = archive.read("cloudlabs_calculator-0.1.0.dist-info/METADATA").decode()
    assert "Requires-Dist" not in metadata  # standard library only
    assert "Requires-Python: >=3.11" in metadata
    # Pure Python: the wheel itself is importable (how cloud-init payloads can use it).
    run = subprocess.run(
        [sys.executable, "-m", "calculator", "--version"],
        env={**os.environ, "PYTHONPATH": str(wheel)},
        capture_output=True,
        text=True,
        timeout=20,
        cwd=tmp_path,
    )
    assert run.returncode == 0, run.stderr
    assert "0.1.0" in run.stdout


def test_sdist_contains_the_sources(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location(
        "cloudlabs_build", ROOT / "_build_backend" / "cloudlabs_build.py"
    )
    assert spec is not None and spec.loader is not None
    backend = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(backend)
    name = backend.build_sdist(str(tmp_path))
    with tarfile.open(tmp_path / name) as archive:
        names = set(archive.getnames())
    base = name.removesuffix(".tar.gz")
    for member in ("pyproject.toml", "PKG-INFO", "src/calculator/cli.py", "Dockerfile"):
        assert f"{base}/{member}" in names


def test_dockerfile_contract() -> None:
    text = (ROOT / "Dockerfile").read_text()
    lines = [line.strip() for line in text.splitlines() if line.strip() and line[0] != "#"]
    assert lines[0] == "ARG BASE_IMAGE=python:3.11-slim"
    assert lines[1] == "FROM ${BASE_IMAGE}"
    assert "PYTHONDONTWRITEBYTECODE=1" in text
    assert any(line.startswith("USER ") and "root" not in line for line in lines)
    assert "EXPOSE 50000 50001 50002 50003 50004" in lines
    assert "pip install" not in text  # works on a base image without pip


def test_systemd_unit_contract() -> None:
    unit = (ROOT / "systemd" / "calculator@.service").read_text()
    for needed in (
        "EnvironmentFile=-/etc/calculator/%i.env",
        "Restart=on-failure",
        "DynamicUser=yes",
        "-m calculator serve %i",
    ):
        assert needed in unit
    example = (ROOT / "systemd" / "calculator.env.example").read_text()
    assert "CALC_SUM_URL=" in example
