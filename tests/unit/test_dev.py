"""dev, from its shipped stack file, checked against docs/labs.md#dev."""

from __future__ import annotations

import re
from pathlib import Path

from calculator.config import OPERATOR_ROLES as OPERATORS
from calculator.config import ROLES
from components.calculator import CalculatorSettings, OnDocker, docker_environment
from components.docker import engine_platform
from stacks.dev import DevConfig
from stacks.shared.docker import local_platform
from tests.harness import (
    ROOT,
    Resource,
    ScriptRun,
    StackRun,
    run_program,
    script_run,
)

STACK = "dev"
IMAGE = "docker:index/image:Image"
NETWORK = "docker:index/network:Network"
CONTAINER = "docker:index/container:Container"
COMMAND = "command:local:Command"
K = "cloud-labs:"


def by_role(run: StackRun) -> dict[str, Resource]:
    found: dict[str, Resource] = {}
    for res in run.of_type(CONTAINER):
        env = dict(e.split("=", 1) for e in res.inputs["envs"])
        found[env["CALC_ROLE"]] = res
    return found


def env_of(res: Resource) -> dict[str, str]:
    return dict(e.split("=", 1) for e in res.inputs["envs"])


def test_shipped_values_are_the_documented_defaults(shipped: dict) -> None:
    assert shipped[K + "lab"] == "dev"
    assert shipped[K + "publish"] == {"hostIp": "127.0.0.1", "hostPort": 50000}
    assert shipped[K + "ports"] == {r: 50000 + i for i, r in enumerate(ROLES)}
    assert shipped[K + "baseImage"] == "python:3.12-slim"
    # The file says exactly what the model would use without it.
    values = {k[len(K) :]: v for k, v in shipped.items() if k != K + "lab"}
    config = DevConfig.model_validate(values)
    default = DevConfig()
    assert [config.service_port(r) for r in ROLES] == [default.service_port(r) for r in ROLES]
    assert config.model_copy(update={"ports": {}}) == default


def test_image_is_built_locally_from_the_calculator_dockerfile(
    run: StackRun, shipped: dict
) -> None:
    image = run.one(IMAGE)
    build = image.inputs["build"]
    assert image.inputs["skipPush"] is True, image
    assert image.inputs["imageName"] == shipped[K + "image"]
    assert build["context"] == "calculator"
    assert build["dockerfile"] == "calculator/Dockerfile"
    assert build["args"] == {"BASE_IMAGE": shipped[K + "baseImage"]}
    assert build["builderVersion"] == "BuilderBuildKit"
    assert build["platform"] == (engine_platform() or local_platform())


def test_the_dockerfile_takes_the_base_image_as_a_build_argument() -> None:
    text = (ROOT / "calculator" / "Dockerfile").read_text()
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.startswith("#")]
    first_from = next(i for i, ln in enumerate(lines) if ln.upper().startswith("FROM "))
    assert re.fullmatch(r"ARG BASE_IMAGE(=\S+)?", lines[0]), lines[0]
    assert lines[first_from] == "FROM ${BASE_IMAGE}"


def test_destroy_removes_the_built_image_after_the_containers(run: StackRun) -> None:
    # The provider leaves built images behind on destroy; a command's delete removes the tag.
    image = run.one(IMAGE)
    cleanup = run.one(COMMAND, "dev-calculator-cleanup")
    assert cleanup.inputs["environment"] == {"IMAGE": image.inputs["imageName"]}
    assert script_run(cleanup.inputs["delete"]) == ScriptRun(
        [], "scripts/docker/image.sh", "delete", {}
    )
    assert run.depends_on(cleanup, image)
    for res in run.of_type(CONTAINER):
        assert run.depends_on(res, cleanup), f"{res} must be deleted before the image"


def test_a_new_image_tag_replaces_the_cleanup_so_the_old_tag_is_removed(run: StackRun) -> None:
    # pulumi-command re-runs only `create` when an input changes; a change of its triggers
    # replaces it, and the replaced command's delete removes the old tag.
    image = run.one(IMAGE)
    cleanup = run.one(COMMAND, "dev-calculator-cleanup")
    assert cleanup.inputs["triggers"] == [image.inputs["imageName"]], cleanup


def test_base_image_and_build_options_come_from_config(shipped: dict) -> None:
    config = {
        **shipped,
        K + "baseImage": "registry.example.org:5000/python:3.12-slim",
        K + "build": {"platform": "linux/arm64", "builderVersion": "BuilderBuildKit"},
    }
    build = run_program(config, stack="dev").one(IMAGE).inputs["build"]
    assert build["args"] == {"BASE_IMAGE": "registry.example.org:5000/python:3.12-slim"}
    assert build["platform"] == "linux/arm64"
    assert build["builderVersion"] == "BuilderBuildKit"


def test_one_user_network_joined_by_five_containers_one_per_role(
    run: StackRun, shipped: dict
) -> None:
    network = run.one(NETWORK)
    assert network.inputs["name"] == shipped[K + "network"]
    assert network.inputs["driver"] == "bridge"
    roles = by_role(run)
    assert sorted(roles) == sorted(ROLES)
    for role, res in roles.items():
        assert res.inputs["name"] == f"{shipped[K + 'containerPrefix']}-{role}", res
        assert res.inputs["networksAdvanced"] == [
            {"name": network.inputs["name"], "aliases": [role]}
        ], res
        assert "networkMode" not in res.inputs, res


def test_every_container_runs_the_built_image(run: StackRun) -> None:
    image = run.one(IMAGE)
    for res in run.of_type(CONTAINER):
        assert res.inputs["image"] == image.state["repoDigest"], res
        assert run.depends_on(res, image), res


def test_front_end_calls_the_operators_by_container_name(run: StackRun, shipped: dict) -> None:
    roles = by_role(run)
    front = env_of(roles["calculator"])
    ports = shipped[K + "ports"]
    for op in OPERATORS:
        name = roles[op].inputs["name"]
        assert front[f"CALC_{op.upper()}_URL"] == f"http://{name}:{ports[op]}"
    assert front["CALC_TIMEOUT"] == "5"
    for role, res in roles.items():
        env = env_of(res)
        assert env["CALC_HOST"] == "0.0.0.0", res
        assert env["CALC_PORT"] == str(ports[role]), res
        if role != "calculator":
            assert not any(k.endswith("_URL") for k in env), res


def test_only_the_front_end_is_published_on_loopback(run: StackRun) -> None:
    for role, res in by_role(run).items():
        if role == "calculator":
            assert res.inputs["ports"] == [
                {"internal": 50000, "external": 50000, "ip": "127.0.0.1", "protocol": "tcp"}
            ], res
        else:
            assert res.inputs.get("ports") in (None, []), res


def test_services_are_hardened_and_health_checked(run: StackRun) -> None:
    for res in run.of_type(CONTAINER):
        inputs = res.inputs
        assert inputs["user"] == "10001:10001", res
        assert inputs["readOnly"] is True, res
        assert inputs["tmpfs"] == {"/tmp": "rw,noexec,nosuid,size=16m"}, res
        assert inputs["restart"] == "unless-stopped", res
        assert inputs["mustRun"] is True, res
        assert inputs["healthcheck"] == {
            "tests": ["CMD", "python3", "-m", "calculator", "healthcheck"],
            "interval": "10s",
            "timeout": "3s",
            "retries": 3,
            "startPeriod": "5s",
        }, res
        assert "command" not in inputs, "the image's entrypoint serves CALC_ROLE"


def test_containers_are_deleted_before_they_are_replaced(run: StackRun) -> None:
    # A replaced container keeps its name and host port: the old one must go first
    # (otherwise "port is already allocated" / "name already in use").
    containers = run.of_type(CONTAINER)
    assert len(containers) == 5
    assert all(c.options.get("deleteBeforeReplace") for c in containers), containers


def test_changing_the_published_port_changes_only_the_front_end(shipped: dict) -> None:
    before = by_role(run_program(shipped, stack="dev"))
    moved = {**shipped, K + "publish": {"hostIp": "127.0.0.1", "hostPort": 8080}}
    after = by_role(run_program(moved, stack="dev"))
    assert after["calculator"].urn == before["calculator"].urn
    assert after["calculator"].inputs["ports"][0]["external"] == 8080
    for op in OPERATORS:
        assert after[op].inputs == before[op].inputs
    assert run_program(moved, stack="dev").outputs["url"] == "http://127.0.0.1:8080"


def test_outputs_give_the_url_and_the_exact_curl_line(run: StackRun) -> None:
    assert run.outputs["url"] == "http://127.0.0.1:50000"
    assert run.outputs["curlCommand"] == 'curl -d "(5+6)*2" -X POST http://127.0.0.1:50000'
    assert run.outputs["network"] == "cloudlabs-dev"
    assert run.outputs["containers"] == {r: f"cloudlabs-dev-{r}" for r in ROLES}


def test_custom_ports_are_used_everywhere(shipped: dict) -> None:
    config = {**shipped, K + "ports": {"sum": 7001, "calculator": 7000}}
    roles = by_role(run_program(config, stack="dev"))
    assert env_of(roles["calculator"])["CALC_SUM_URL"].endswith(":7001")
    assert env_of(roles["calculator"])["CALC_SUB_URL"].endswith(":50002")
    assert roles["calculator"].inputs["ports"][0]["internal"] == 7000
    assert env_of(roles["sum"])["CALC_PORT"] == "7001"


def test_published_on_every_interface_the_url_still_uses_loopback(shipped: dict) -> None:
    config = {**shipped, K + "publish": {"hostIp": "0.0.0.0", "hostPort": 50000}}
    run = run_program(config, stack="dev")
    assert by_role(run)["calculator"].inputs["ports"][0]["ip"] == "0.0.0.0"
    assert run.outputs["url"] == "http://127.0.0.1:50000"


def test_service_env_is_a_pure_function_of_config() -> None:
    config = DevConfig(container_prefix="x", operator_timeout=2.5)
    docker = OnDocker(
        image="img", network="net", container_names={r: config.container_name(r) for r in ROLES}
    )
    settings = CalculatorSettings(operator_timeout=config.operator_timeout)
    assert docker_environment(settings, docker, "div") == {
        "CALC_ROLE": "div",
        "CALC_HOST": "0.0.0.0",
        "CALC_PORT": "50004",
    }
    front = docker_environment(settings, docker, "calculator")
    assert front["CALC_TIMEOUT"] == "2.5"
    assert front["CALC_MUL_URL"] == "http://x-mul:50003"


def test_every_child_is_parented_to_its_component(run: StackRun) -> None:
    for res in run.resources:
        if res.type.startswith(("docker:", "command:")):
            assert res.parent is not None and "cloudlabs:docker:" in res.parent, res
            component = res.parent.rsplit("::", 1)[-1]
            assert res.name.startswith(f"{component}-"), res


def test_the_default_stack_file_selects_dev() -> None:
    text = Path(ROOT / "scripts" / "up.sh").read_text()
    assert "stack=${1:-dev}" in text
