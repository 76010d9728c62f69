"""The rule on stack outputs: none carries a value that is a secret in the stack's config."""

from __future__ import annotations

from collections.abc import Callable

from pulumi_policy import (
    EnforcementLevel,
    ReportViolation,
    StackValidationArgs,
    StackValidationPolicy,
)

from cloudlabs_policy.resources import STACK, of_type, plain, strings
from cloudlabs_policy.stack_config import StackConfig

NO_SECRETS_IN_OUTPUTS = "outputs-carry-no-config-secrets"
MIN_INSIDE = 6
"""A secret this long or longer is also found inside a longer output; a shorter one (a port, a
user name) only as a whole output value, so that it does not match by accident."""


def no_secrets_in_outputs(config: Callable[[], StackConfig]) -> StackValidationPolicy:
    def validate(args: StackValidationArgs, report: ReportViolation) -> None:
        secrets = config().secrets()
        if not secrets:
            return
        for stack in of_type(args.resources, STACK):
            outputs = plain(stack.props)
            if not isinstance(outputs, dict):
                continue
            for name in sorted(outputs):
                texts = list(strings(plain(outputs[name])))
                for path, secret in sorted(secrets.items()):
                    if any(
                        text == secret or (len(secret) >= MIN_INSIDE and secret in text)
                        for text in texts
                    ):
                        report(
                            f"output {name!r} carries the value of the secret config {path}.",
                            stack.urn,
                        )

    return StackValidationPolicy(
        name=NO_SECRETS_IN_OUTPUTS,
        description=(
            "No stack output carries a value that is a secret in the stack's config "
            "(entries set with `pulumi config set --secret`)."
        ),
        enforcement_level=EnforcementLevel.MANDATORY,
        validate=validate,
    )
