"""The cloud-labs policy pack: ``pulumi preview --policy-pack policy`` runs it."""

from pulumi_policy import EnforcementLevel, PolicyPack

from cloudlabs_policy import PACK_NAME, build_policies
from cloudlabs_policy.stack_config import StackConfig

PolicyPack(
    name=PACK_NAME,
    enforcement_level=EnforcementLevel.MANDATORY,
    policies=build_policies(StackConfig.from_engine),
)
