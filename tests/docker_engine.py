"""The Docker engine's HTTP API on its unix socket, as the Docker provider uses it.

- :func:`provider_build` builds an image with the request pulumi-docker's ``Image`` sends
  (``provider/image.go``: ``dockerBuild``, through the Go client's ``ImageBuild``): the build
  context as a tar archive (the context directory with its ``.dockerignore`` applied, owned by
  root, the Dockerfile added under a generated name when it lies outside the context) and the
  query ``t``, ``dockerfile``, ``buildargs``, ``platform``, ``version`` — and ``rm=0``, which
  the Go client sends because the provider never sets ``Remove``. The one difference: the
  provider also opens a BuildKit session (``/session``) that lends the engine the registry
  credentials of the client's docker config; with no registry involved it has nothing to
  lend, and the build runs the same without it.
- :func:`engine_state` lists everything on the engine (every container, every image with the
  intermediate ones, networks, volumes), so that a test compares the engine before and after.
- :func:`local_mirror` is the package mirror the tests build (``scripts/setup/guest-mirror.sh``)
  as Docker builds reach it, and :func:`offline_base_image` a base image whose own package
  sources answer nowhere: together, a machine with no Debian mirror but the local one.
"""

from __future__ import annotations

import base64
import http.client
import io
import json
import os
import re
import secrets
import socket
import tarfile
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

BUILDERS = {"BuilderV1": "1", "BuilderBuildKit": "2"}
"""pulumi-docker's builder names and the API's ``version`` values."""


class EngineError(AssertionError):
    """The engine refused a request or reported an error; the message holds its answer."""


def socket_path() -> str:
    """The engine's unix socket: ``DOCKER_HOST`` when it names one, else the default."""
    host = os.environ.get("DOCKER_HOST", "")
    if host.startswith("unix://"):
        return host[len("unix://") :]
    assert not host, f"DOCKER_HOST={host}: the tests talk to a local engine on a unix socket"
    return "/var/run/docker.sock"


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self._path)
        self.sock = sock


def request(
    method: str,
    path: str,
    query: Mapping[str, str] | None = None,
    body: bytes | None = None,
    headers: Mapping[str, str] | None = None,
    timeout: float = 900,
) -> tuple[int, bytes]:
    """One API call; returns the status and the whole answer."""
    conn = _UnixConnection(socket_path(), timeout)
    try:
        target = path + ("?" + urlencode(query) if query else "")
        conn.request(method, target, body=body, headers=dict(headers or {}))
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def get_json(path: str, query: Mapping[str, str] | None = None) -> Any:
    status, data = request("GET", path, query)
    if status != 200:
        raise EngineError(f"GET {path}: {status} {data[:500]!r}")
    return json.loads(data)


# --- the build context, as the provider makes it -------------------------------------------


def _pattern(text: str) -> re.Pattern[str]:
    """A .dockerignore pattern (Go's filepath.Match, plus ``**``) as a regular expression."""
    out = ""
    i = 0
    while i < len(text):
        if text.startswith("**", i):
            out += ".*"
            i += 2
        elif text[i] == "*":
            out += "[^/]*"
            i += 1
        elif text[i] == "?":
            out += "[^/]"
            i += 1
        else:
            out += re.escape(text[i])
            i += 1
    return re.compile(f"^{out}$")


@dataclass(frozen=True)
class _Rule:
    regex: re.Pattern[str]
    include: bool


def _rules(patterns: list[str]) -> list[_Rule]:
    rules = []
    for raw in patterns:
        text = raw.strip()
        if not text or text.startswith("#"):
            continue
        include = text.startswith("!")
        text = os.path.normpath(text.lstrip("!").strip()).lstrip("/")
        rules.append(_Rule(_pattern(text), include))
    return rules


def _excluded(path: str, rules: list[_Rule]) -> bool:
    """Docker's rule: the last pattern matching the path or one of its parents decides."""
    parts = path.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    excluded = False
    for rule in rules:
        if any(rule.regex.match(p) for p in prefixes):
            excluded = not rule.include
    return excluded


def _files(root: Path) -> Iterator[Path]:
    for path in sorted(root.rglob("*")):
        if path.is_file() or path.is_symlink():
            yield path


def build_context(context: Path, dockerfile: Path) -> tuple[bytes, str]:
    """The tar archive the provider sends, and the Dockerfile's name in it."""
    ignore = context / ".dockerignore"
    patterns = ignore.read_text().splitlines() if ignore.is_file() else []
    relative = os.path.relpath(dockerfile.resolve(), context.resolve()).replace(os.sep, "/")
    inside = not relative.startswith("../")
    # Like the CLI, the provider never ignores the build's own files.
    if inside:
        patterns += [f"!{relative}", "!.dockerignore"]
    rules = _rules(patterns)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.GNU_FORMAT) as tar:

        def add(path: Path, name: str) -> None:
            info = tar.gettarinfo(str(path), arcname=name)
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            if info.isreg():
                with path.open("rb") as data:
                    tar.addfile(info, data)
            else:
                tar.addfile(info)

        for path in _files(context):
            name = path.relative_to(context).as_posix()
            if not _excluded(name, rules):
                add(path, name)
        name = relative
        if not inside:
            name = f".dockerfile.{secrets.token_hex(10)}"
            add(dockerfile, name)
    return buffer.getvalue(), name


def provider_query(image_name: str, build: Mapping[str, Any], dockerfile: str) -> dict[str, str]:
    """The query of the provider's build request (what the Go client makes of its options)."""
    query = {"t": image_name, "rm": "0", "dockerfile": dockerfile}
    args = build.get("args") or {}
    if args:
        query["buildargs"] = json.dumps({k: str(v) for k, v in args.items()})
    if build.get("platform"):
        query["platform"] = str(build["platform"]).lower()
    if build.get("target"):
        query["target"] = str(build["target"])
    # The provider's default builder is BuildKit.
    query["version"] = BUILDERS[build.get("builderVersion") or "BuilderBuildKit"]
    return query


def _fields(data: bytes) -> Iterator[tuple[int, int | bytes]]:
    """The fields of a protobuf message: (number, varint value or length-delimited bytes)."""
    i = 0

    def varint() -> int:
        nonlocal i
        value = shift = 0
        while True:
            byte = data[i]
            i += 1
            value |= (byte & 0x7F) << shift
            shift += 7
            if byte < 0x80:
                return value

    while i < len(data):
        key = varint()
        number, kind = key >> 3, key & 7
        if kind == 0:
            yield number, varint()
        elif kind == 2:
            size = varint()
            yield number, data[i : i + size]
            i += size
        elif kind in (1, 5):
            i += 8 if kind == 1 else 4
        else:
            return


def _build_log(lines: list[dict[str, Any]]) -> str:
    """What a build printed: the classic builder's ``stream`` lines, and BuildKit's step logs
    (``moby.buildkit.trace``: a control API StatusResponse whose field 3 holds VertexLogs,
    their field 4 the bytes written), as the provider shows them."""
    out = []
    for line in lines:
        if line.get("id") == "moby.buildkit.trace" and isinstance(line.get("aux"), str):
            for number, log in _fields(base64.b64decode(line["aux"])):
                if number == 3 and isinstance(log, bytes):
                    out += [m.decode(errors="replace") for n, m in _fields(log) if n == 4]
        elif "stream" in line:
            out.append(str(line["stream"]))
    return "".join(out)


def provider_build(root: Path, image_name: str, build: Mapping[str, Any]) -> str:
    """Build as pulumi-docker does; returns the image's id (``sha256:...``)."""
    context = root / str(build.get("context") or ".")
    dockerfile = root / str(build.get("dockerfile") or f"{build.get('context') or '.'}/Dockerfile")
    tar, name = build_context(context, dockerfile)
    query = provider_query(image_name, build, name)
    headers = {
        "Content-Type": "application/x-tar",
        "X-Registry-Config": base64.urlsafe_b64encode(b"{}").decode(),
    }
    status, data = request("POST", "/build", query, tar, headers)
    lines = [json.loads(line) for line in data.decode().splitlines() if line.strip()]
    errors = [line.get("error") or line["errorDetail"] for line in lines if "error" in line]
    if status != 200 or errors:
        log = _build_log(lines)
        raise EngineError(f"build of {image_name}: {status} {errors}\n{log[-4000:]}")
    inspected = get_json(f"/images/{quote(image_name, safe='')}/json")
    image_id: str = inspected["Id"]
    return image_id


# --- what is on the engine -----------------------------------------------------------------


@dataclass(frozen=True)
class EngineState:
    """Everything on the engine, each by id with a short description."""

    containers: dict[str, str]
    images: dict[str, str]
    networks: dict[str, str]
    volumes: dict[str, str]

    def added_since(self, before: EngineState) -> list[str]:
        """What is here and was not in ``before``, one line each."""
        found = []
        for kind in ("containers", "images", "networks", "volumes"):
            now, then = getattr(self, kind), getattr(before, kind)
            found += [f"{kind[:-1]} {key[:19]}: {now[key]}" for key in now if key not in then]
        return found


def engine_state() -> EngineState:
    """Every container (running or not), every image (intermediate ones too), network and
    volume on the engine."""
    containers = {
        c["Id"]: f"{'/'.join(c.get('Names') or [])} {c.get('Image')} {c.get('Status')}"
        for c in get_json("/containers/json", {"all": "1"})
    }
    images = {
        i["Id"]: ", ".join(i.get("RepoTags") or []) or "<none> (untagged)"
        for i in get_json("/images/json", {"all": "1"})
    }
    networks = {n["Id"]: n["Name"] for n in get_json("/networks")}
    volumes = {v["Name"]: v.get("Driver", "") for v in get_json("/volumes").get("Volumes") or []}
    return EngineState(containers, images, networks, volumes)


# --- the offline path: the local package mirror, a base image with no other source ---------

MIRROR_FACTS = Path(
    os.environ.get("CLOUDLABS_GUEST_MIRROR_DIR", "/var/lib/cloudlabs/guest-mirror"), "mirror.env"
)
UNREACHABLE_SOURCE = "http://127.0.0.1:9/debian"
"""A package source nothing answers at (the discard port of a build's own loopback)."""


@dataclass(frozen=True)
class LocalMirror:
    """The package mirror ``scripts/setup/guest-mirror.sh`` serves for Docker builds."""

    url: str
    """Its URL on the Docker bridge's address (``http://172.17.0.1:8090/debian``)."""
    key: str
    """The armoured public key its Release files are signed with."""

    def config(self) -> dict[str, str]:
        """The ``aptMirror`` config value that points a lab at it."""
        return {"url": self.url, "key": self.key}


def local_mirror() -> LocalMirror:
    """The local package mirror, which must answer on the Docker bridge."""
    hint = "run: bash scripts/setup/guest-mirror.sh (after scripts/setup/docker.sh)"
    assert MIRROR_FACTS.is_file(), f"no package mirror ({MIRROR_FACTS} missing): {hint}"
    facts = dict(
        line.split("=", 1)
        for line in MIRROR_FACTS.read_text().splitlines()
        if "=" in line and not line.startswith("#")
    )
    url = facts.get("MIRROR_HOST_URL", "")
    assert url, f"the mirror is not served on the Docker bridge: {hint}"
    release = f"{url}/dists/{facts['MIRROR_SUITE']}/InRelease"
    try:
        with urllib.request.urlopen(release, timeout=10) as answer:
            assert answer.status == 200, release
    except OSError as error:
        raise AssertionError(f"the mirror does not answer at {release}: {error} ({hint})") from None
    return LocalMirror(url=url, key=Path(facts["MIRROR_KEY_ASC"]).read_text())


def offline_base_image(base: str, tag: str, work: Path) -> str:
    """``base`` with every package source pointing where nothing answers, tagged ``tag``: what
    a machine without a Debian mirror has. Returns its id; the caller removes it."""
    (work / "Dockerfile").write_text(
        f"FROM {base}\n"
        "RUN rm -f /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources \\\n"
        f"    && echo 'deb {UNREACHABLE_SOURCE} bookworm main' > /etc/apt/sources.list\n"
    )
    return provider_build(work, tag, {"context": "."})
