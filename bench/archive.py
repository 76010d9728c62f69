"""The runner as an importable zip (``PYTHONPATH=bench.zip python3 -m bench run``): what a
guest receives, by cloud-init (``write_files``) or piped over ``ssh``/``docker exec``."""

from __future__ import annotations

from importlib import resources
from typing import Any

from components.calculator_bootstrap import package_archive
from components.renderers.cloudinit import File, Files, Packages, binary_file

RUNNER_FILES = (
    "__init__.py",
    "__main__.py",
    "cli.py",
    "facts.py",
    "figures.py",
    "jobs.py",
    "packages.txt",
    "parsers.py",
    "schema.json",
    "sizing.py",
    "suite.py",
)
"""The standard-library-only part of the package; report, plot, lab and this module stay on
the host."""


def runner_archive() -> bytes:
    """A deterministic zip holding ``bench/<file>`` for each of :data:`RUNNER_FILES`."""
    root = resources.files("bench")
    return package_archive(
        {f"bench/{name}": root.joinpath(name).read_bytes() for name in RUNNER_FILES}
    )


INSTALL_DIR = "/opt/cloudlabs-bench"
ARCHIVE_PATH = f"{INSTALL_DIR}/bench.zip"
COMMAND_PATH = "/usr/local/bin/cloudlabs-bench"
COMMAND = f"""#!/bin/sh
# The cloud-labs benchmark runner: cloudlabs-bench run [--quick] [--out FILE]
PYTHONPATH={ARCHIVE_PATH} exec python3 -m bench "$@"
"""


def guest_packages() -> list[str]:
    """What a guest installs for the suite: python3 and bench/packages.txt."""
    from bench.suite import package_names, packages_text

    return ["python3", *package_names(packages_text())]


def guest_files() -> list[File]:
    """The runner zip and the ``cloudlabs-bench`` command, as cloud-init ``write_files``."""
    return [
        binary_file(ARCHIVE_PATH, runner_archive()),
        File(COMMAND_PATH, COMMAND, "0755"),
    ]


def guest_suite(enabled: bool, runner: bool = True) -> tuple[list[File], list[str]]:
    """What a lab with ``benchmark.enabled`` adds to each guest's user-data: its files and its
    packages (merged into the lab's own ``Files`` and ``Packages`` parts); nothing when off.

    Without ``runner``, the packages alone: for a guest whose user-data has no room for the
    runner zip under Nova's limit (the calculator labs, which carry the calculator's own);
    ``scripts/bench.sh`` sends the runner on standard input at every run anyway."""
    if not enabled:
        return [], []
    return (guest_files() if runner else []), guest_packages()


def cloud_config_fragment() -> dict[str, Any]:
    """The part of a guest's ``#cloud-config`` that delivers the suite: the packages, the
    runner zip (base64) and the ``cloudlabs-bench`` command."""
    files, packages = guest_suite(True)
    return {**Packages(packages).document(), **Files(files).document()}
