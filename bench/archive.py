"""The runner as an importable zip (``PYTHONPATH=bench.zip python3 -m bench run``): what a
guest receives, by cloud-init (``write_files``) or piped over ``ssh``/``docker exec``."""

from __future__ import annotations

import base64
from importlib import resources
from typing import Any

from components.calculator_bootstrap import package_archive

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


def cloud_config_fragment() -> dict[str, Any]:
    """The part of a guest's ``#cloud-config`` that delivers the suite (a lab merges its
    ``packages`` and ``write_files`` lists into its own): the packages, the runner zip
    (base64) and the ``cloudlabs-bench`` command."""
    return {
        "packages": guest_packages(),
        "write_files": [
            {
                "path": ARCHIVE_PATH,
                "encoding": "b64",
                "content": base64.b64encode(runner_archive()).decode("ascii"),
                "owner": "root:root",
                "permissions": "0644",
            },
            {
                "path": COMMAND_PATH,
                "content": COMMAND,
                "owner": "root:root",
                "permissions": "0755",
            },
        ],
    }
