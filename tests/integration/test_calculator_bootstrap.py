"""The calculator labs' cloud-init user-data, run for real in throwaway containers.

For each role the user-data is rendered by the same code the OpenStack stacks use
(``stacks.shared.calculator``) from the real calculator package, checked by ``cloud-init
schema`` and against Nova's size limit, then carried out inside a container from the local
Debian image ``cloudlabs/base:bookworm`` by a small interpreter of the cloud-config subset the
renderer emits. Containers have no systemd and no access to package registries, so:

- ``packages``: each declared package must already be installed in the image (dpkg says so);
  nothing is downloaded. ``package_update`` and ``apt`` (the mirror) change only where apt
  would fetch from, and are not exercised here.
- ``write_files``: every entry is decoded (``b64``) and written into the container with its
  path and permissions.
- ``runcmd``: ``systemctl daemon-reload`` has nothing to do; ``systemctl enable --now UNIT``
  starts what the written unit (for ``name@role``: the template, with ``%i`` = role, and its
  drop-ins) declares: its ``ExecStart``, ``${VAR}`` expanded, with its ``Environment=`` and
  ``EnvironmentFile=`` variables, as an unprivileged user when it says ``DynamicUser=yes``.
  Anything else in the document fails the test. ``Restart=`` is checked by
  ``systemd-analyze`` in the unit tests, not here.

The operators run in four containers on a user-defined Docker network; the front end's
user-data is rendered with their addresses, exactly as a stack renders it with the operator
VMs' addresses. A fifth container plays the end user.

Prerequisites: ``scripts/setup/docker.sh`` and ``scripts/setup/base-image.sh`` (called by
``scripts/setup/calculator-bootstrap.sh``). A missing engine or image is a failure.
"""

from __future__ import annotations

import base64
import io
import json
import re
import shlex
import shutil
import subprocess
import tarfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

import pytest
import yaml

from calculator.config import OPERATOR_ROLES as OPERATORS
from calculator.config import ROLES
from components.calculator import service_user_data
from components.calculator_bootstrap import USER_DATA_LIMIT, nova_size
from stacks.openstack_naas import OpenStackNaasConfig
from stacks.shared.calculator_build import bootstrap, settings
from stacks.shared.validation import validate_config
from tests.harness import load_stack_file
from tests.validators import assert_cloud_config_valid

pytestmark = pytest.mark.integration

BASE_IMAGE = "cloudlabs/base:bookworm"
LABEL = "org.cloudlabs.test=calculator-bootstrap"
SETUP_HINT = "run: bash scripts/setup/calculator-bootstrap.sh"
UNPRIVILEGED = "65534:65534"  # what DynamicUser=yes amounts to: no root, no home
KNOWN_KEYS = {"apt", "package_update", "packages", "write_files", "runcmd"}

# Run inside a container: one HTTP request, retried while the service starts.
# argv: method url body deadline-seconds; prints "<status>\n<body>".
CLIENT = r"""
import sys, time, urllib.error, urllib.request
method, url, body, wait = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
deadline = time.time() + wait
while True:
    try:
        data = body.encode() if method == "POST" else None
        request = urllib.request.Request(url, data=data, method=method)
        with urllib.request.urlopen(request, timeout=10) as response:
            print(response.status); print(response.read().decode(), end="")
        break
    except urllib.error.HTTPError as error:
        print(error.code); print(error.read().decode(), end="")
        break
    except OSError as error:
        if time.time() > deadline:
            sys.exit(f"no answer from {url}: {error}")
        time.sleep(0.3)
"""

# Stops the calculator process of a container (no procps in the image).
KILL_SERVICE = r"""
import os, signal
for pid in filter(str.isdigit, os.listdir("/proc")):
    try:
        argv = open(f"/proc/{pid}/cmdline", "rb").read().split(b"\0")
    except OSError:
        continue
    if argv[1:4] == [b"-m", b"calculator", b"serve"]:
        os.kill(int(pid), signal.SIGTERM)
"""


def docker(*args: str, stdin: bytes | None = None, check: bool = True) -> str:
    result = subprocess.run(
        ["docker", *args], input=stdin, capture_output=True, timeout=180, check=False
    )
    if check and result.returncode != 0:
        pytest.fail(
            f"docker {shlex.join(args)} exited {result.returncode}: "
            f"{result.stderr.decode(errors='replace')}"
        )
    return result.stdout.decode(errors="replace")


@dataclass
class Sandbox:
    """Containers and a network made by the test, removed whatever happens."""

    prefix: str = field(default_factory=lambda: f"cloudlabs-boot-{uuid.uuid4().hex[:8]}")
    containers: list[str] = field(default_factory=list)
    network: str | None = None

    def create_network(self) -> str:
        self.network = f"{self.prefix}-net"
        docker("network", "create", "--label", LABEL, self.network)
        return self.network

    def start(self, suffix: str) -> str:
        """A container idling on the network, waiting for what the user-data declares."""
        name = f"{self.prefix}-{suffix}"
        self.containers.append(name)
        assert self.network
        docker(
            "run", "--detach", "--name", name, "--hostname", suffix, "--label", LABEL,
            "--network", self.network, BASE_IMAGE, "sleep", "infinity",
        )  # fmt: skip
        return name

    def address(self, container: str) -> str:
        assert self.network
        info = json.loads(docker("inspect", container))[0]
        return str(info["NetworkSettings"]["Networks"][self.network]["IPAddress"])

    def cleanup(self) -> None:
        for name in reversed(self.containers):
            docker("rm", "--force", name, check=False)
        if self.network:
            docker("network", "rm", self.network, check=False)


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    assert shutil.which("docker"), f"no docker CLI; {SETUP_HINT}"
    image = subprocess.run(
        ["docker", "image", "inspect", BASE_IMAGE], capture_output=True, check=False
    )
    assert image.returncode == 0, f"{BASE_IMAGE} missing: {image.stderr.decode()}; {SETUP_HINT}"
    made = Sandbox()
    try:
        made.create_network()
        yield made
    finally:
        made.cleanup()


# -- the interpreter of the cloud-config subset ---------------------------------------------


def parse_env_file(text: str) -> dict[str, str]:
    env = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        assert sep, f"not KEY=value: {line!r}"
        env[key] = value
    return env


def parse_unit(*texts: str) -> dict[str, list[tuple[str, str]]]:
    """A unit file and its drop-ins: section -> (key, value) in order (keys may repeat)."""
    sections: dict[str, list[tuple[str, str]]] = {}
    for text in texts:
        current: list[tuple[str, str]] = []
        for line in text.splitlines():
            line = line.strip()
            if not line or line.startswith(("#", ";")):
                continue
            if line.startswith("[") and line.endswith("]"):
                current = sections.setdefault(line[1:-1], [])
            else:
                key, sep, value = line.partition("=")
                assert sep, f"not a unit setting: {line!r}"
                current.append((key.strip(), value.strip()))
    return sections


def unit_files(written: dict[str, bytes], unit: str) -> list[str]:
    """The text of ``unit`` (or of its template, for ``name@instance``) and its drop-ins."""
    base = f"/etc/systemd/system/{unit}"
    if base not in written and "@" in unit:
        name, _, rest = unit.partition("@")
        base = f"/etc/systemd/system/{name}@.{rest.rsplit('.', 1)[1]}"
    assert base in written, f"the user-data writes no unit for {unit}"
    drop_ins = sorted(path for path in written if path.startswith(f"{base}.d/"))
    return [written[path].decode() for path in (base, *drop_ins)]


def service_command(written: dict[str, bytes], unit: str) -> tuple[list[str], dict[str, str], bool]:
    """What systemd would run for ``unit``: argv, environment, whether as a dynamic user."""
    instance = unit.partition("@")[2].rsplit(".", 1)[0]
    settings = parse_unit(*unit_files(written, unit))["Service"]
    env: dict[str, str] = {}
    exec_start = ""
    dynamic = False
    for key, value in settings:
        value = value.replace("%i", instance)
        if key == "Environment":
            name, _, val = value.partition("=")
            env[name] = val
        elif key == "EnvironmentFile":
            path = value.removeprefix("-")
            if path in written:
                env.update(parse_env_file(written[path].decode()))
            else:
                assert value.startswith("-"), f"{unit}: missing {path}"
        elif key == "ExecStart":
            exec_start = value
        elif key == "DynamicUser":
            dynamic = value == "yes"
    assert exec_start, f"{unit} has no ExecStart"
    argv = [re.sub(r"\$\{(\w+)\}", lambda m: env[m.group(1)], word)
            for word in shlex.split(exec_start)]  # fmt: skip
    return argv, env, dynamic


def write_files_tar(entries: list[dict[str, Any]]) -> tuple[bytes, dict[str, bytes]]:
    """A tar of the ``write_files`` entries (with their parent directories) and their bytes."""
    written: dict[str, bytes] = {}
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        made: set[str] = set()
        for entry in entries:
            assert set(entry) <= {"path", "content", "encoding", "owner", "permissions"}, entry
            assert entry.get("owner", "root:root") == "root:root", entry
            encoding = entry.get("encoding", "text")
            assert encoding in ("b64", "text"), entry
            raw = entry["content"]
            data = base64.b64decode(raw) if encoding == "b64" else raw.encode()
            path = PurePosixPath(entry["path"])
            for parent in reversed(path.parents[:-1]):
                if str(parent) not in made:
                    made.add(str(parent))
                    info = tarfile.TarInfo(str(parent).lstrip("/"))
                    info.type, info.mode = tarfile.DIRTYPE, 0o755
                    tar.addfile(info)
            info = tarfile.TarInfo(str(path).lstrip("/"))
            info.size, info.mode = len(data), int(entry.get("permissions", "0644"), 8)
            tar.addfile(info, io.BytesIO(data))
            written[str(path)] = data
    return buffer.getvalue(), written


def apply_user_data(container: str, user_data: str) -> None:
    """Carry out ``user_data`` in ``container`` (see the module docstring for the subset)."""
    doc = yaml.safe_load(user_data)
    assert set(doc) <= KNOWN_KEYS, f"keys this interpreter cannot run: {set(doc) - KNOWN_KEYS}"
    for package in doc.get("packages", []):
        name, version = (package, None) if isinstance(package, str) else package
        status = docker(
            "exec", container, "dpkg-query", "-W", "-f", "${Status} ${Version}", name, check=False
        )
        assert status.startswith("install ok installed"), f"{name} is not in {BASE_IMAGE}"
        if version is not None:
            assert status.split()[-1] == version, f"{name}: {status}"
    archive, written = write_files_tar(doc.get("write_files", []))
    docker("cp", "-", f"{container}:/", stdin=archive)
    for command in doc.get("runcmd", []):
        if command == ["systemctl", "daemon-reload"]:
            continue
        assert command[:3] == ["systemctl", "enable", "--now"] and len(command) == 4, command
        argv, env, dynamic = service_command(written, command[3])
        user = ["--user", UNPRIVILEGED] if dynamic else []
        flags = [item for key, value in env.items() for item in ("--env", f"{key}={value}")]
        docker("exec", "--detach", *user, "--workdir", "/", *flags, container, *argv)


def request(
    sandbox: Sandbox, method: str, url: str, body: str = "", wait: float = 30
) -> tuple[int, str]:
    client = f"{sandbox.prefix}-client"
    if client not in sandbox.containers:
        sandbox.start("client")
    out = docker("exec", client, "python3", "-c", CLIENT, method, url, body, str(wait))
    status, _, text = out.partition("\n")
    return int(status), text


# -- the test ---------------------------------------------------------------------------------


def test_user_data_of_every_role_brings_up_a_working_calculator(sandbox: Sandbox) -> None:
    # The services and bootstrap of the shipped openstack-naas stack, as its program reads them.
    shipped = load_stack_file("openstack-naas")
    raw = {key.split(":", 1)[1]: value for key, value in shipped.items()}
    raw.pop("lab")
    config = validate_config("openstack-naas", OpenStackNaasConfig, raw)
    services = config.services
    told, boot = settings(config, services), bootstrap(config)

    operators = {op: sandbox.start(op) for op in OPERATORS}
    addresses = {op: sandbox.address(name) for op, name in operators.items()}
    front = sandbox.start("front")

    documents = {op: service_user_data(told, boot, op) for op in OPERATORS}
    documents["calculator"] = service_user_data(told, boot, "calculator", addresses)
    for role in ROLES:
        user_data = documents[role]
        assert_cloud_config_valid(user_data, f"{role}-user-data")
        assert nova_size(user_data) <= USER_DATA_LIMIT, f"{role}: {nova_size(user_data)}"
        apply_user_data(front if role == "calculator" else operators[role], user_data)

    # Every service answers its health check on its port, reached over the Docker network.
    for role in ROLES:
        host = front if role == "calculator" else operators[role]
        status, body = request(sandbox, "GET", f"http://{host}:{services.port(role)}/healthz")
        assert (status, body.strip()) == (200, "ok"), f"{role}: {status} {body}"
    # ... runs as the unprivileged user, from the archive on PYTHONPATH
    top = docker("top", operators["sum"], "-o", "pid,uid,args")
    lines = [line.split(None, 2) for line in top.splitlines() if "calculator serve sum" in line]
    assert [uid for _, uid, _ in lines] == ["65534"], top

    # Each operator computes its operation.
    for op, body, answer in (
        ("sum", "2 3", "5"),
        ("sub", "5 3", "2"),
        ("mul", "12 3", "36"),
        ("div", "15 5", "3"),
    ):
        status, text = request(
            sandbox, "POST", f"http://{operators[op]}:{services.port(op)}/", body
        )
        assert (status, text.strip()) == (200, answer), f"{op}: {status} {text}"

    # The front end, wired to the operator containers by address, evaluates the lab's example.
    url = f"http://{front}:{services.port('calculator')}/"
    status, text = request(sandbox, "POST", url, "(5+6)*2")
    assert (status, text.strip()) == (200, "result = 22"), f"{status} {text}"

    # It really calls them: with the sum service stopped, a sum fails, a product still works.
    docker("exec", operators["sum"], "python3", "-c", KILL_SERVICE)
    status, text = request(sandbox, "POST", url, "1+2")
    assert status >= 500 and addresses["sum"] in text, f"{status} {text}"
    status, text = request(sandbox, "POST", url, "6*7")
    assert (status, text.strip()) == (200, "result = 42"), f"{status} {text}"
