"""The benchmark suite on a lab's guests: one config block for every lab with guests.

``benchmark.enabled: true`` gives every guest the suite (``bench/``): the VM labs through
cloud-init (the packages of ``bench/packages.txt``, the runner zip and the ``cloudlabs-bench``
command, :func:`bench.archive.guest_suite`), the Docker labs as an image layer
(``docker/bench/Dockerfile`` on top of the lab's image). ``scripts/bench.sh <stack>`` then
compares them with the host.
"""

from __future__ import annotations

from bench.archive import guest_suite
from components.calculator_bootstrap import USER_DATA_LIMIT, nova_size
from components.renderers.cloudinit import Files, Packages, render_user_data
from stacks.shared.errors import ConfigError, Problem
from stacks.shared.validation import LabModel


class BenchmarkConfig(LabModel):
    enabled: bool = False
    """Install the benchmark suite (HPL/STREAM by hpcc, fio, sysbench and the runner) on every
    guest of the lab."""


def suite_user_data(lab: str, config: BenchmarkConfig) -> str | None:
    """The user-data of an OpenStack VM that gets nothing else by cloud-init: the suite when
    enabled, None (no user-data) when not. Stops before any resource when it would exceed
    Nova's limit."""
    if not config.enabled:
        return None
    files, packages = guest_suite(True)
    user_data = render_user_data(Files(files), Packages(packages))
    if (size := nova_size(user_data)) > USER_DATA_LIMIT:
        message = (
            f"the suite's user-data would be {size} bytes once base64-encoded, over Nova's "
            f"{USER_DATA_LIMIT}"
        )
        raise ConfigError(lab, [Problem(("benchmark", "enabled"), message)])
    return user_data
