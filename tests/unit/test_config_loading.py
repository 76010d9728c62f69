"""A stack's config as the program reads it: through pulumi.Config, secrets kept secret."""

from __future__ import annotations

import pulumi
import pytest

from stacks.shared.config import StackConfig
from stacks.shared.errors import ConfigError
from stacks.shared.remote import RemoteHostConfig
from stacks.shared.types import Name, Secret
from stacks.shared.validation import LabModel, validate_config
from tests.harness import assert_rejected, load_stack_file, run_function, run_program

HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFYK9Jv4TR4Dl95nNJ+uqp/wuzy8aHCte3sF1XpqnC6M"
KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXk=\n-----END OPENSSH PRIVATE KEY-----\n"


class Model(LabModel):
    remote_host: RemoteHostConfig
    token: Secret | None = None
    owner: Name = "me"


def read(config: dict, secrets: tuple[str, ...] = ()) -> tuple[Model, list, dict, list]:
    """Run the loader as main() does; export the secrets' inputs."""
    found: list = []

    def program() -> None:
        stack = StackConfig(pulumi.get_project())
        model = validate_config("t", Model, stack.values(Model))
        found.append((model, stack.bind_secrets(model)))
        pulumi.export("privateKey", model.remote_host.private_key.input())
        if model.token is not None:
            pulumi.export("token", model.token.input())

    run = run_function(program, config, secrets=secrets)
    model, plain = found[0]
    return model, [*run.secret_outputs], run.outputs, plain


def remote(**extra: str) -> dict:
    return {"host": "kvm.example.org", "privateKey": KEY, "hostKey": HOST_KEY, **extra}


def test_a_value_set_with_secret_reaches_the_resources_as_a_secret() -> None:
    model, secret_outputs, outputs, plain = read(
        {"remoteHost": remote(), "token": "t0ken"}, secrets=("remoteHost", "token")
    )
    assert sorted(secret_outputs) == ["privateKey", "token"]
    assert outputs == {"privateKey": KEY, "token": "t0ken"}
    assert plain == []
    assert "BEGIN" not in repr(model) and model.remote_host.private_key.reveal() == KEY


def test_a_value_set_without_secret_is_handed_over_as_it_is() -> None:
    _, secret_outputs, outputs, _ = read({"remoteHost": remote()})
    assert secret_outputs == [] and outputs["privateKey"] == KEY


def test_a_secret_the_lab_shows_in_plain_view_is_reported() -> None:
    *_, plain = read({"remoteHost": remote(), "owner": "alice"}, secrets=("owner",))
    assert plain == ["owner"]


def test_unknown_keys_and_empty_secrets_are_rejected() -> None:
    with pytest.raises(ConfigError) as caught:
        read({"remoteHost": remote(), "colour": "red", "token": ""})
    problems = {p.location: p.render() for p in caught.value.problems}
    assert sorted(problems) == ["colour", "token"]
    assert "unknown key" in problems["colour"] and "secret's text" in problems["token"]


def test_an_unknown_key_of_a_lab_is_still_rejected_and_lab_is_not_a_lab_key() -> None:
    config = {**load_stack_file("openstack-vm"), "cloud-labs:flavour": "small2"}
    assert_rejected(config, "openstack-vm", [("flavour", "unknown key")])
    assert run_program(load_stack_file("openstack-vm")).resources  # `lab` itself is fine


def test_a_secret_private_key_in_a_shipped_lab_stays_secret() -> None:
    config = load_stack_file("vbox-nat")
    config["cloud-labs:remoteHost"] = remote(user="lab")
    run = run_program(config, stack="vbox-nat", secrets=["remoteHost"])
    assert run.of_type("command:remote:Command")
    assert "PRIVATE KEY" not in repr(run.outputs)
