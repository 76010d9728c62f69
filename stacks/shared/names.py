"""Logical names of the labs' resources: by role, never a name the user chose alone.

A VM called ``base`` by its config must not become a second ``base-disk`` beside the lab's own
base disk: the labs name their resources after what they are (``master``, ``node01``,
``vm-gateway``, ``k8s-worker-worker1``), and the user's names go into the resources' inputs.
A resource that was first deployed under another logical name keeps its state through an
alias (its children follow it: their names start with its name).
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import pulumi


def renamed(
    name: str, before: str, taken: Collection[str], **options: Any
) -> pulumi.ResourceOptions:
    """Options of a resource named ``name`` that earlier versions named ``before``: an alias
    to ``before`` when it differs and no resource of this program takes it (``taken``)."""
    aliases = [pulumi.Alias(name=before)] if before != name and before not in taken else None
    return pulumi.ResourceOptions(aliases=aliases, **options)
