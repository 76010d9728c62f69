"""The runner as an importable zip (``PYTHONPATH=bench.zip python3 -m bench run``): what a
guest receives, by cloud-init (``write_files``) or piped over ``ssh``/``docker exec``."""

from __future__ import annotations

from importlib import resources

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
