"""How a component declares its children: parented to it, and after what it comes after.

A caller says what a component needs first the way it would for any resource::

    Server("vm", ServerArgs(...), opts=pulumi.ResourceOptions(depends_on=[router]))

A component's own ``depends_on`` does not reach the resources it creates (pulumi/pulumi#8721):
Pulumi would start the server's port before the router's interfaces exist, and delete the
interfaces first on ``destroy``. So every component gives each of its children the options
:func:`child_options` builds, which repeat the component's dependencies on the child. The other
direction needs nothing: depending *on* a component waits for all its children, so naming a
router in ``depends_on`` means its interfaces and routes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pulumi


def dependencies(opts: pulumi.ResourceOptions | None) -> list[pulumi.Resource]:
    """The resources ``opts`` says must come first."""
    found = opts.depends_on if opts is not None else None
    if found is None:
        return []
    if isinstance(found, pulumi.Resource):
        return [found]
    if isinstance(found, Sequence):
        resources = [r for r in found if isinstance(r, pulumi.Resource)]
        if len(resources) == len(found):
            return resources
    raise TypeError("a component's depends_on must list resources")


def child_options(
    parent: pulumi.ComponentResource,
    opts: pulumi.ResourceOptions | None,
    *,
    after: Sequence[pulumi.Resource] = (),
    **options: Any,
) -> pulumi.ResourceOptions:
    """Options for a child of ``parent``: parented to it, depending on what ``opts`` (the
    component's own options) depend on, and on ``after`` (siblings it needs), with ``options``
    (``delete_before_replace``...)."""
    needs = [*dependencies(opts), *after]
    return pulumi.ResourceOptions(parent=parent, depends_on=needs or None, **options)
