"""A minimal PEP 517 / PEP 660 build backend using only the Python standard library.

It builds the pure-Python wheel (and sdist, and editable wheel) of this one project without
any build dependency, so the package builds offline, with or without build isolation.
Metadata comes from the ``[project]`` table of pyproject.toml.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import tarfile
import time
import tomllib
import zipfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "calculator"
SDIST_FILES = ("pyproject.toml", "README.md", "Dockerfile", ".dockerignore", "loadtest.py")
SDIST_DIRS = ("_build_backend", "src", "tests", "systemd")
_DATE = time.gmtime(int(os.environ.get("SOURCE_DATE_EPOCH", "315532800")))[:6]


def _project() -> dict[str, Any]:
    with open(ROOT / "pyproject.toml", "rb") as handle:
        project: dict[str, Any] = tomllib.load(handle)["project"]
    return project


def _dist_name() -> str:
    return str(_project()["name"]).replace("-", "_").lower()


def _base() -> str:
    return f"{_dist_name()}-{_project()['version']}"


def _metadata() -> str:
    project = _project()
    lines = [
        "Metadata-Version: 2.1",
        f"Name: {project['name']}",
        f"Version: {project['version']}",
        f"Summary: {project.get('description', '')}",
    ]
    if "requires-python" in project:
        lines.append(f"Requires-Python: {project['requires-python']}")
    lines.extend(f"Requires-Dist: {dep}" for dep in project.get("dependencies", []))
    readme = project.get("readme")
    if isinstance(readme, str):
        lines.append("Description-Content-Type: text/markdown")
        return "\n".join(lines) + "\n\n" + (ROOT / readme).read_text(encoding="utf-8")
    return "\n".join(lines) + "\n"


def _dist_info_files() -> dict[str, bytes]:
    info = f"{_base()}.dist-info"
    files = {
        f"{info}/METADATA": _metadata().encode(),
        f"{info}/WHEEL": (
            b"Wheel-Version: 1.0\nGenerator: cloudlabs_build\nRoot-Is-Purelib: true\n"
            b"Tag: py3-none-any\n"
        ),
        f"{info}/top_level.txt": f"{PACKAGE}\n".encode(),
    }
    scripts = _project().get("scripts", {})
    if scripts:
        entries = "".join(f"{name} = {target}\n" for name, target in scripts.items())
        files[f"{info}/entry_points.txt"] = f"[console_scripts]\n{entries}".encode()
    return files


def _package_files() -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    source = ROOT / "src"
    for path in sorted((source / PACKAGE).rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
            files[path.relative_to(source).as_posix()] = path.read_bytes()
    return files


def _write_wheel(directory: str, files: dict[str, bytes]) -> str:
    files = dict(files)
    files.update(_dist_info_files())
    record_name = f"{_base()}.dist-info/RECORD"
    record = []
    for name, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{name},sha256={digest},{len(data)}")
    record.append(f"{record_name},,")
    files[record_name] = ("\n".join(record) + "\n").encode()
    filename = f"{_base()}-py3-none-any.whl"
    with zipfile.ZipFile(Path(directory) / filename, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            entry = zipfile.ZipInfo(name, _DATE)
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = 0o644 << 16
            archive.writestr(entry, data, compresslevel=9)
    return filename


# -- PEP 517 ----------------------------------------------------------------------------------


def get_requires_for_build_wheel(config_settings: object = None) -> list[str]:
    return []


def get_requires_for_build_sdist(config_settings: object = None) -> list[str]:
    return []


def get_requires_for_build_editable(config_settings: object = None) -> list[str]:
    return []


def prepare_metadata_for_build_wheel(
    metadata_directory: str, config_settings: object = None
) -> str:
    for name, data in _dist_info_files().items():
        target = Path(metadata_directory) / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    return f"{_base()}.dist-info"


prepare_metadata_for_build_editable = prepare_metadata_for_build_wheel


def build_wheel(
    wheel_directory: str, config_settings: object = None, metadata_directory: object = None
) -> str:
    return _write_wheel(wheel_directory, _package_files())


def build_editable(
    wheel_directory: str, config_settings: object = None, metadata_directory: object = None
) -> str:
    pth = f"{ROOT / 'src'}\n".encode()
    return _write_wheel(wheel_directory, {f"__editable__.{_dist_name()}.pth": pth})


def build_sdist(sdist_directory: str, config_settings: object = None) -> str:
    base = _base()
    filename = f"{base}.tar.gz"
    paths = [ROOT / name for name in SDIST_FILES if (ROOT / name).exists()]
    for folder in SDIST_DIRS:
        paths.extend(
            path
            for path in sorted((ROOT / folder).rglob("*"))
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
        )
    with tarfile.open(Path(sdist_directory) / filename, "w:gz", format=tarfile.PAX_FORMAT) as tar:
        pkg_info = _metadata().encode()
        entry = tarfile.TarInfo(f"{base}/PKG-INFO")
        entry.size = len(pkg_info)
        entry.mode = 0o644
        tar.addfile(entry, io.BytesIO(pkg_info))
        for path in paths:
            data = path.read_bytes()
            entry = tarfile.TarInfo(f"{base}/{path.relative_to(ROOT).as_posix()}")
            entry.size = len(data)
            entry.mode = 0o644
            tar.addfile(entry, io.BytesIO(data))
    return filename
