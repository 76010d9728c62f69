"""Create on the real Docker engine exactly what a stack declared under Pulumi mocks.

The integration tests run a stack through the real program under mocks
(:mod:`tests.harness`), then hand the recorded resources to :class:`EngineApply`, which creates
them on the engine: images with the very build request the Docker provider sends
(:func:`tests.docker_engine.provider_build`: the recorded context, Dockerfile, build arguments,
target stage, platform and builder, through the engine's API), the rest with the docker CLI:
networks, containers (name, image, environment, command, network and aliases, published ports,
user, read-only root, tmpfs, anonymous volumes, restart policy, health check,
hostname, labels) and pulumi-command ``local:Command`` resources (their ``create`` script with
their environment; ``delete`` at clean-up, with ``PULUMI_COMMAND_STDOUT`` as pulumi-command
sets it). Values the mocks made up (image ids, container ids, command output) are replaced by
the real ones as they become known. Every input the stack declares must be understood here:
an unknown input fails the test rather than being silently dropped.

:meth:`EngineApply.cleanup` removes everything that was created, in reverse order, even after
a failure; it is idempotent. :meth:`EngineApply.left_behind` lists whatever is on the engine
that was not there when the :class:`EngineApply` was made: any container, image (intermediate
ones too), network or volume, whoever's name it carries.
"""

from __future__ import annotations

import os
import shlex
import subprocess
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.docker_engine import EngineState, engine_state, provider_build
from tests.harness import ROOT, Resource, StackRun

IMAGE = "docker:index/image:Image"
NETWORK = "docker:index/network:Network"
CONTAINER = "docker:index/container:Container"
COMMAND = "command:local:Command"
TEST_LABEL = "org.cloudlabs.test-run"

# Inputs the engine needs no action for (pulumi-side behaviour only).
_IGNORED = {
    IMAGE: {"buildOnPreview", "skipPush"},
    NETWORK: set(),
    CONTAINER: {"mustRun"},
    COMMAND: {"triggers", "delete"},
}


class DockerError(AssertionError):
    """A docker command failed; the message holds its output."""


def docker(*args: str, timeout: float = 600, env: Mapping[str, str] | None = None) -> str:
    """Run the docker CLI; return stdout, raise :class:`DockerError` on failure."""
    result = subprocess.run(
        ["docker", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
        cwd=ROOT,
    )
    if result.returncode != 0:
        raise DockerError(
            f"docker {shlex.join(args)} exited {result.returncode}\n"
            f"stdout: {result.stdout[-3000:]}\nstderr: {result.stderr[-3000:]}"
        )
    return result.stdout


def _docker_status(*args: str) -> int:
    """The docker CLI's exit status (its output is dropped)."""
    return subprocess.run(["docker", *args], capture_output=True).returncode


def _short(urn: str) -> str:
    return urn.rsplit("::", 1)[-1]


@dataclass
class EngineApply:
    """Applies a :class:`StackRun` to the engine; remembers what it created."""

    run: StackRun
    run_label: str
    """Value of the ``org.cloudlabs.test-run`` label put on every container and network."""
    real: dict[str, Any] = field(default_factory=dict)
    """Mock value -> real value (image ids, container ids, command output)."""
    images: list[str] = field(default_factory=list)
    networks: list[str] = field(default_factory=list)
    containers: list[str] = field(default_factory=list)
    commands: list[tuple[Resource, dict[str, str], str]] = field(default_factory=list)
    log: list[str] = field(default_factory=list)
    applied: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Each resource's inputs as last applied (real values substituted), by URN."""
    left_by_deletes: list[str] = field(default_factory=list)
    """Images still present after the containers and the command resources' deletes ran
    (what ``pulumi destroy`` would have left behind)."""
    before: EngineState = field(default_factory=engine_state)
    """The engine as it was before anything was applied."""
    left_after_destroy: list[str] = field(default_factory=list)
    """What :meth:`cleanup`'s destroy left on the engine that was not there before."""

    def left_behind(self) -> list[str]:
        """Whatever is on the engine now that was not there before, one line each."""
        return engine_state().added_since(self.before)

    # --- order -------------------------------------------------------------------------
    def _leaves(self) -> list[Resource]:
        return [r for r in self.run.resources if r.type in _IGNORED]

    def _order(self) -> Iterator[Resource]:
        """Leaf resources, each after every resource it depends on (or whose component)."""
        leaves = self._leaves()
        by_name = {r.name: r for r in self.run.resources}

        def leaf_names(name: str) -> set[str]:
            res = by_name.get(name)
            if res is None:
                return set()
            if res.type in _IGNORED:
                return {name}
            children = [r for r in self.run.resources if r.parent and _short(r.parent) == name]
            return set().union(*(leaf_names(c.name) for c in children)) if children else set()

        deps = {r.name: set().union(*(leaf_names(_short(u)) for u in r.depends_on)) for r in leaves}
        done: set[str] = set()
        pending = list(leaves)
        while pending:
            ready = [r for r in pending if deps[r.name] <= done]
            assert ready, f"dependency cycle among {[r.name for r in pending]}"
            for res in ready:
                pending.remove(res)
                done.add(res.name)
                yield res

    # --- values ------------------------------------------------------------------------
    def _sub(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.real.get(value, value)
        if isinstance(value, list):
            return [self._sub(v) for v in value]
        if isinstance(value, dict):
            return {k: self._sub(v) for k, v in value.items()}
        return value

    def _check_known(self, res: Resource, known: set[str]) -> None:
        unknown = set(res.inputs) - known - _IGNORED[res.type]
        assert not unknown, f"{res.urn}: inputs {sorted(unknown)} are not applied by the test"

    # --- apply -------------------------------------------------------------------------
    def apply(self, only: Callable[[Resource], bool] | None = None) -> None:
        """Create every resource in dependency order; with ``only``, just those it accepts
        (which must include what they depend on)."""
        for res in self._order():
            if only is None or only(res):
                self._create(res, self._sub(res.inputs))

    def _image(self, res: Resource, inputs: dict[str, Any]) -> None:
        self._check_known(res, {"imageName", "build"})
        build = dict(inputs["build"])
        known = {"context", "dockerfile", "args", "platform", "builderVersion", "target"}
        assert set(build) <= known, f"{res.urn}: build options {set(build) - known} not applied"
        name = inputs["imageName"]
        self.images.append(name)
        image_id = provider_build(ROOT, name, build)
        self.log.append(f"built {name} ({image_id})")
        self.real[res.state["repoDigest"]] = image_id

    def _network(self, res: Resource, inputs: dict[str, Any]) -> None:
        self._check_known(res, {"name", "driver", "internal", "labels"})
        name = inputs["name"]
        args = ["network", "create", "--label", f"{TEST_LABEL}={self.run_label}"]
        if inputs.get("driver"):
            args += ["--driver", inputs["driver"]]
        if inputs.get("internal"):
            args.append("--internal")
        for label in inputs.get("labels") or []:
            args += ["--label", f"{label['label']}={label['value']}"]
        self.networks.append(name)
        network_id = docker(*args, name).strip()
        self.real[res.id] = network_id

    def _container(self, res: Resource, inputs: dict[str, Any]) -> None:
        known = {
            "name",
            "image",
            "envs",
            "command",
            "entrypoints",
            "networksAdvanced",
            "ports",
            "user",
            "readOnly",
            "tmpfs",
            "volumes",
            "restart",
            "healthcheck",
            "hostname",
            "labels",
        }
        self._check_known(res, known)
        name = inputs["name"]
        args = ["run", "--detach", "--name", name, "--label", f"{TEST_LABEL}={self.run_label}"]
        for env in inputs.get("envs") or []:
            args += ["--env", env]
        networks = inputs.get("networksAdvanced") or []
        for index, net in enumerate(networks):
            assert index == 0, f"{res.urn}: more than one network is not applied by the test"
            assert set(net) <= {"name", "aliases"}, f"{res.urn}: network options {net}"
            args += ["--network", net["name"]]
            for alias in net.get("aliases") or []:
                args += ["--network-alias", alias]
        for port in inputs.get("ports") or []:
            assert set(port) <= {"internal", "external", "ip", "protocol"}, port
            spec = f"{int(port['internal'])}/{port.get('protocol') or 'tcp'}"
            args += ["--publish", f"{port.get('ip') or '0.0.0.0'}:{int(port['external'])}:{spec}"]
        if inputs.get("user"):
            args += ["--user", inputs["user"]]
        if inputs.get("readOnly"):
            args.append("--read-only")
        for path, options in sorted((inputs.get("tmpfs") or {}).items()):
            args += ["--tmpfs", f"{path}:{options}" if options else path]
        for volume in inputs.get("volumes") or []:
            assert set(volume) == {"containerPath"}, f"{res.urn}: volume options {volume}"
            args += ["--volume", volume["containerPath"]]
        if inputs.get("restart"):
            args += ["--restart", inputs["restart"]]
        health = inputs.get("healthcheck")
        if health:
            args += self._health(res, health)
        if inputs.get("hostname"):
            args += ["--hostname", inputs["hostname"]]
        for label in inputs.get("labels") or []:
            args += ["--label", f"{label['label']}={label['value']}"]
        entry = list(inputs.get("entrypoints") or [])
        if entry:
            args += ["--entrypoint", entry[0]]
        args.append(inputs["image"])
        args += entry[1:] + list(inputs.get("command") or [])
        self.containers.append(name)
        container_id = docker(*args).strip()
        self.log.append(f"started {name} ({container_id[:12]})")
        self.real[res.id] = container_id

    @staticmethod
    def _health(res: Resource, health: dict[str, Any]) -> list[str]:
        known = {"tests", "interval", "timeout", "retries", "startPeriod"}
        assert set(health) <= known, f"{res.urn}: health options {set(health) - known}"
        test = list(health["tests"])
        if test[0] == "CMD":
            # The CLI takes shell form; the exec-form words are quoted one by one.
            command = shlex.join(test[1:])
        else:
            assert test[0] == "CMD-SHELL", f"{res.urn}: health check {test}"
            command = test[1]
        args = ["--health-cmd", command]
        for key, flag in (
            ("interval", "--health-interval"),
            ("timeout", "--health-timeout"),
            ("startPeriod", "--health-start-period"),
        ):
            if health.get(key):
                args += [flag, health[key]]
        if health.get("retries"):
            args += ["--health-retries", str(int(health["retries"]))]
        return args

    def _command(
        self,
        res: Resource,
        inputs: dict[str, Any],
        previous: Mapping[str, str] | None = None,
        action: str = "create",
    ) -> None:
        self._check_known(
            res,
            {"create", "update", "environment", "interpreter", "dir", "addPreviousOutputInEnv"},
        )
        self.applied[res.urn] = inputs
        interpreter = list(inputs.get("interpreter") or ["/bin/sh", "-c"])
        env = {k: str(v) for k, v in (inputs.get("environment") or {}).items()}
        cwd = Path(inputs.get("dir") or ROOT)
        self.commands.append((res, env, ""))
        result = subprocess.run(
            [*interpreter, inputs[action]],
            capture_output=True,
            text=True,
            timeout=900,
            env={**os.environ, **env, **(previous or {})},
            cwd=cwd,
        )
        if result.returncode != 0:
            raise DockerError(
                f"{res.urn}: {action} exited {result.returncode}\n"
                f"stdout: {result.stdout[-3000:]}\nstderr: {result.stderr[-3000:]}"
            )
        self.commands[-1] = (res, env, result.stdout)
        self.real[res.state["stdout"]] = result.stdout.strip()
        self.log.append(f"ran {res.name}: {result.stdout.strip()}")

    # --- update ------------------------------------------------------------------------
    def update(self, run: StackRun) -> list[str]:
        """Take the engine from the applied run to ``run`` the way ``pulumi up`` would, and
        return what was done (empty: no change).

        A resource is compared by its inputs with the real values substituted (an output
        that changed upstream changes it): a container with other inputs is replaced (deleted
        first: fixed names); a command whose ``triggers`` changed and that has no ``update``
        is replaced (its create first, unless ``deleteBeforeReplace``, then the old delete);
        any other changed command runs its ``update`` (else its ``create``) with the previous
        output in ``PULUMI_COMMAND_STDOUT``. Resources no longer declared are deleted last.
        """
        done: list[str] = []
        old = {r.urn: r for r in self._leaves()}
        previous = self.run
        self.run = run
        for res in self._order():
            before = old.get(res.urn)
            inputs = self._sub(res.inputs)
            if before is None:
                done.append(f"create {res.name}")
                self._create(res, inputs)
                continue
            if inputs == self.applied.get(res.urn):
                continue
            if res.type == CONTAINER:
                done.append(f"replace {res.name}")
                self._remove_container(inputs["name"])
                self.applied[res.urn] = inputs
                self._container(res, inputs)
            elif res.type == COMMAND:
                replace = not res.inputs.get("update") and (
                    before.inputs.get("triggers") != res.inputs.get("triggers")
                )
                done.append(f"{'replace' if replace else 'update'} {res.name}")
                self._change_command(before, res, inputs, replace)
            else:
                raise AssertionError(f"{res.urn}: changing a {res.type} is not applied")
        for urn, res in reversed(list(old.items())):
            if urn in {r.urn for r in run.resources}:
                continue
            done.append(f"delete {res.name}")
            if res.type == CONTAINER:
                self._remove_container(self._sub(res.inputs)["name"])
            elif res.type == COMMAND:
                self._delete_command(res)
            else:
                raise AssertionError(f"{res.urn}: deleting a {res.type} is not applied")
        assert previous is not run
        return done

    def _create(self, res: Resource, inputs: dict[str, Any]) -> None:
        self.applied[res.urn] = inputs
        if res.type == IMAGE:
            self._image(res, inputs)
        elif res.type == NETWORK:
            self._network(res, inputs)
        elif res.type == CONTAINER:
            self._container(res, inputs)
        else:
            self._command(res, inputs)

    def _remove_container(self, name: str) -> None:
        docker("rm", "--force", "--volumes", name)
        self.containers.remove(name)

    def _entry(self, res: Resource) -> tuple[Resource, dict[str, str], str]:
        (entry,) = [c for c in self.commands if c[0].urn == res.urn]
        return entry

    def _delete_command(self, res: Resource) -> None:
        entry = self._entry(res)
        if res.inputs.get("delete"):
            self.run_delete(*entry)
        self.commands.remove(entry)

    def _change_command(
        self, before: Resource, res: Resource, inputs: dict[str, Any], replace: bool
    ) -> None:
        entry = self._entry(before)
        if replace and res.options.get("deleteBeforeReplace") is True:
            self._delete_command(before)
            self._command(res, inputs)
            return
        previous: dict[str, str] = {}
        if not replace and res.inputs.get("addPreviousOutputInEnv") is not False:
            previous = {"PULUMI_COMMAND_STDOUT": entry[2].strip()}
        action = "update" if not replace and inputs.get("update") else "create"
        count, applied = len(self.commands), self.applied[res.urn]
        try:
            self._command(res, inputs, previous, action=action)
        except DockerError:
            # As the engine leaves it: the old resource (and its state) in place.
            del self.commands[count:]
            self.applied[res.urn] = applied
            raise
        self.commands.remove(entry)
        if replace and before.inputs.get("delete"):
            self.run_delete(*entry)

    # --- clean-up ----------------------------------------------------------------------
    def run_delete(self, res: Resource, env: dict[str, str], stdout: str) -> None:
        """Run a command resource's ``delete`` the way pulumi-command does: in its ``dir``,
        with ``PULUMI_COMMAND_STDOUT`` unless ``addPreviousOutputInEnv`` is false."""
        interpreter = list(res.inputs.get("interpreter") or ["/bin/sh", "-c"])
        previous = {"PULUMI_COMMAND_STDOUT": stdout.strip()}
        if res.inputs.get("addPreviousOutputInEnv") is False:
            previous = {}
        result = subprocess.run(
            [*interpreter, res.inputs["delete"]],
            capture_output=True,
            text=True,
            timeout=300,
            env={**os.environ, **env, **previous},
            cwd=Path(res.inputs.get("dir") or ROOT),
        )
        if result.returncode != 0:
            raise DockerError(f"{res.urn}: delete exited {result.returncode}: {result.stderr}")

    def cleanup(self) -> list[str]:
        """Do what ``pulumi destroy`` does (remove the containers, run the commands' deletes,
        remove the networks), note in :attr:`left_after_destroy` what that left on the engine,
        then remove that too, so that the engine is as it was.

        Returns the problems met (an empty list when everything went away)."""
        problems: list[str] = []
        for name in reversed(self.containers):
            gone = subprocess.run(
                ["docker", "rm", "--force", "--volumes", name], capture_output=True, text=True
            )
            if gone.returncode != 0 and "No such container" not in gone.stderr:
                problems.append(f"container {name}: {gone.stderr.strip()}")
        self.containers.clear()
        for res, env, stdout in reversed(self.commands):
            try:
                self.run_delete(res, env, stdout)
            except DockerError as error:
                problems.append(str(error))
        self.commands.clear()
        self.left_by_deletes = [
            name
            for name in self.images
            if subprocess.run(["docker", "image", "inspect", name], capture_output=True).returncode
            == 0
        ]
        for name in reversed(self.networks):
            gone = subprocess.run(["docker", "network", "rm", name], capture_output=True, text=True)
            if gone.returncode != 0 and "not found" not in gone.stderr:
                problems.append(f"network {name}: {gone.stderr.strip()}")
        self.networks.clear()
        self.left_after_destroy = self.left_behind()
        for name in reversed(self.images):
            gone = subprocess.run(["docker", "image", "rm", name], capture_output=True, text=True)
            if gone.returncode != 0 and "No such image" not in gone.stderr:
                problems.append(f"image {name}: {gone.stderr.strip()}")
        self.images.clear()
        self._remove_everything_new()
        still = self.left_behind()
        if still:
            problems.append(f"still on the engine after the clean-up: {still}")
        return problems

    def _remove_everything_new(self) -> None:
        """Remove whatever appeared on the engine since :attr:`before` (the tests hold the
        engine's lock: it is theirs), containers first, then images, networks, volumes."""
        now = engine_state()
        for kind, remove in (
            ("containers", ["rm", "--force", "--volumes"]),
            ("images", ["image", "rm", "--force"]),
            ("networks", ["network", "rm"]),
            ("volumes", ["volume", "rm", "--force"]),
        ):
            new = [key for key in getattr(now, kind) if key not in getattr(self.before, kind)]
            # An image's children first: repeat while something still goes.
            for _ in range(len(new) or 1):
                if not new:
                    break
                new = [key for key in new if _docker_status(*remove, key) != 0]
