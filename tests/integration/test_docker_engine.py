"""Smoke tests of the local Docker engine and base image set up by scripts/setup/.

Prerequisites (installed and started by ``scripts/setup/docker.sh`` and
``scripts/setup/base-image.sh``): a Docker engine answering on the default socket and the
local image ``cloudlabs/base:bookworm``. A missing engine or image is a failure, not a skip.
"""

from __future__ import annotations

import shutil
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

pytestmark = pytest.mark.integration

BASE_IMAGE = "cloudlabs/base:bookworm"
TEST_LABEL = "org.cloudlabs.test=docker-engine"
SETUP_HINT = "run: bash scripts/setup/docker.sh && bash scripts/setup/base-image.sh"

# A tiny HTTP server answering every GET with a fixed body naming the container.
SERVER_SCRIPT = """
import http.server, socket

class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = ("cloudlabs-ok " + socket.gethostname()).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass

http.server.ThreadingHTTPServer(("0.0.0.0", 8000), Handler).serve_forever()
"""

# Fetches a URL from inside a container, retrying while the server starts.
CLIENT_SCRIPT = """
import sys, time, urllib.request

deadline = time.time() + 30
while True:
    try:
        with urllib.request.urlopen(sys.argv[1], timeout=5) as response:
            print(response.read().decode())
        break
    except OSError as error:
        if time.time() > deadline:
            sys.exit(f"cannot fetch {sys.argv[1]}: {error}")
        time.sleep(0.5)
"""


def docker(
    *args: str, timeout: float = 120, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run the docker CLI and return the completed process (text output)."""
    result = subprocess.run(
        ["docker", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if check and result.returncode != 0:
        pytest.fail(
            f"docker {' '.join(args)} exited {result.returncode}\n"
            f"stdout: {result.stdout}\nstderr: {result.stderr}"
        )
    return result


@dataclass
class DockerResources:
    """Containers and networks created by a test, removed afterwards whatever happens."""

    prefix: str = field(default_factory=lambda: f"cloudlabs-test-{uuid.uuid4().hex[:10]}")
    containers: list[str] = field(default_factory=list)
    networks: list[str] = field(default_factory=list)

    def network(self, suffix: str) -> str:
        name = f"{self.prefix}-{suffix}"
        self.networks.append(name)
        docker("network", "create", "--label", TEST_LABEL, name)
        return name

    def container_name(self, suffix: str) -> str:
        name = f"{self.prefix}-{suffix}"
        self.containers.append(name)
        return name

    def cleanup(self) -> None:
        for name in reversed(self.containers):
            docker("rm", "--force", "--volumes", name, check=False)
        for name in reversed(self.networks):
            docker("network", "rm", name, check=False)


@pytest.fixture(scope="module", autouse=True)
def docker_cli() -> None:
    assert shutil.which("docker"), f"no docker CLI on PATH; {SETUP_HINT}"


@pytest.fixture
def resources() -> Iterator[DockerResources]:
    created = DockerResources()
    try:
        yield created
    finally:
        created.cleanup()


def test_engine_answers() -> None:
    result = docker("info", "--format", "{{.ServerVersion}} {{.Driver}}", check=False, timeout=30)
    assert result.returncode == 0, (
        f"the Docker engine does not answer: {result.stderr}\n{SETUP_HINT}"
    )
    version, driver = result.stdout.split()
    assert version, "the engine reported no server version"
    assert driver in {"overlay2", "vfs"}, f"unexpected storage driver {driver!r}"


def test_base_image_exists_and_runs_python() -> None:
    inspected = docker(
        "image",
        "inspect",
        "--format",
        '{{index .Config.Labels "org.cloudlabs.base-image"}}',
        BASE_IMAGE,
        check=False,
    )
    assert inspected.returncode == 0, f"{BASE_IMAGE} is missing; {SETUP_HINT}"
    assert inspected.stdout.strip().startswith("bookworm-"), inspected.stdout

    ran = docker("run", "--rm", "--network", "none", BASE_IMAGE, "python3", "-c", "print(1)")
    assert ran.stdout.strip() == "1"

    release = docker("run", "--rm", "--network", "none", BASE_IMAGE, "cat", "/etc/debian_version")
    assert release.stdout.strip().startswith("12."), release.stdout


def fetch_from_host(url: str, timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                body: bytes = response.read()
                return body.decode()
        except (urllib.error.URLError, ConnectionError, TimeoutError) as error:
            if time.monotonic() > deadline:
                pytest.fail(f"cannot reach {url} from the host: {error}")
            time.sleep(0.5)


def test_published_port_and_name_resolution_on_user_network(resources: DockerResources) -> None:
    network = resources.network("net")
    server = resources.container_name("server")
    docker(
        "run",
        "--detach",
        "--name",
        server,
        "--hostname",
        server,
        "--label",
        TEST_LABEL,
        "--network",
        network,
        # Let the engine pick a free host port, on loopback only.
        "--publish",
        "127.0.0.1::8000",
        BASE_IMAGE,
        "python3",
        "-c",
        SERVER_SCRIPT,
    )

    mapping = docker("port", server, "8000/tcp").stdout.split()
    assert mapping, f"{server} publishes no port for 8000/tcp"
    host_address = mapping[0]
    assert host_address.startswith("127.0.0.1:"), f"published on {host_address}, not loopback"

    from_host = fetch_from_host(f"http://{host_address}/")
    assert from_host == f"cloudlabs-ok {server}"

    client = resources.container_name("client")
    from_peer = docker(
        "run",
        "--rm",
        "--name",
        client,
        "--label",
        TEST_LABEL,
        "--network",
        network,
        BASE_IMAGE,
        "python3",
        "-c",
        CLIENT_SCRIPT,
        f"http://{server}:8000/",
    )
    assert from_peer.stdout.strip() == f"cloudlabs-ok {server}"
