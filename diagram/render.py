"""DOT text to SVG and PNG with Graphviz's ``dot``."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

FORMATS = ("svg", "png")
PINNED_GRAPHVIZ = "2.43.0"
"""What ``dot -V`` says on Debian bookworm (package graphviz 2.42.2): the committed SVGs are
this version's drawing of the committed DOT."""
PNG_DPI = "110"
"""The PNG's resolution: addresses stay readable at the size the README shows."""


def dot_command() -> str:
    path = shutil.which("dot")
    if path is None:
        raise FileNotFoundError("Graphviz's dot is not installed: run scripts/setup/checks.sh")
    return path


def draw(text: str, fmt: str) -> bytes:
    """``text`` drawn by ``dot`` in ``fmt`` (``svg`` or ``png``)."""
    extra = ["-Gdpi=" + PNG_DPI] if fmt == "png" else []
    done = subprocess.run(
        [dot_command(), f"-T{fmt}", *extra],
        input=text.encode(),
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"dot -T{fmt} failed: {done.stderr.decode(errors='replace')}")
    return done.stdout


def write(text: str, directory: Path, name: str) -> list[Path]:
    """``<name>.dot``, ``.svg`` and ``.png`` in ``directory``; returns their paths."""
    directory.mkdir(parents=True, exist_ok=True)
    source = directory / f"{name}.dot"
    source.write_text(text, encoding="utf-8")
    written = [source]
    for fmt in FORMATS:
        path = directory / f"{name}.{fmt}"
        path.write_bytes(draw(text, fmt))
        written.append(path)
    return written
