"""The package mirror from Docker image builds on this machine (no network namespace).

Prerequisites: the mirror (``scripts/setup/guest-mirror.sh``), the Docker engine and the local
base image ``cloudlabs/base:bookworm`` (``scripts/setup/docker.sh``, ``base-image.sh``). A
classic build on the default bridge installs a package from the mirror's docker0 address, the
repository verified with the mirror's key (a Dockerfile's offline path).
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

import pytest

from tests.guests import mirror, run
from tests.validators import require

pytestmark = pytest.mark.integration

BASE_IMAGE = "cloudlabs/base:bookworm"


def test_docker_build_installs_from_the_mirror(tmp_path: Path) -> None:
    require("docker")
    served = mirror()
    assert served.host_url, "the mirror is not served on docker0: run scripts/setup/guest-mirror.sh"
    shutil.copy(served.key, tmp_path / "cloudlabs-mirror.gpg")
    (tmp_path / "Dockerfile").write_text(
        f"FROM {BASE_IMAGE}\n"
        "COPY cloudlabs-mirror.gpg /etc/apt/keyrings/cloudlabs-mirror.gpg\n"
        "RUN rm -f /etc/apt/sources.list.d/* && echo 'deb [signed-by=/etc/apt/keyrings/"
        f"cloudlabs-mirror.gpg] {served.host_url} {served.suite} main' >/etc/apt/sources.list"
        " && apt-get update && apt-get install -y --no-install-recommends nano\n"
    )
    tag = f"cloudlabs/mirror-test:{uuid.uuid4().hex[:8]}"
    env = {**os.environ, "DOCKER_BUILDKIT": "0"}
    try:
        built = run(["docker", "build", "-q", "-t", tag, str(tmp_path)], env=env, timeout=300)
        assert built.stdout.strip().startswith("sha256:"), built.stdout
        version = run(["docker", "run", "--rm", "--network", "none", tag, "nano", "--version"])
        assert "GNU nano" in version.stdout
    finally:
        run(["docker", "image", "rm", "-f", tag], check=False)
