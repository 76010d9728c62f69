"""The package mirror: one config type for every lab that installs distribution packages.

``aptMirror`` is the primary apt archive of the image's distribution (Debian, Ubuntu). In
``Pulumi.<stack>.yaml`` it is either the mirror's URL alone::

    aptMirror: http://deb.debian.org/debian

or a mapping, for a mirror signed with a key of its own (or not signed at all)::

    aptMirror:
      url: http://172.17.0.1:8090/debian
      key: |
        -----BEGIN PGP PUBLIC KEY BLOCK-----
        ...
      # or, instead of a key: trusted: true

The guests of the calculator labs (``bootstrap.aptMirror``), vbox-cluster and openstack-k8s
(``aptMirror``) get it through cloud-init (:func:`cloud_init_mirror`); the Docker
recipes as build arguments and docker-basics' snapshot preparation as environment variables
(``APT_MIRROR``, ``APT_MIRROR_KEY``, ``APT_MIRROR_TRUSTED``: :func:`mirror_variables`).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any

from pydantic import BeforeValidator

from components.renderers.cloudinit import AptMirror
from stacks.shared.errors import KeyPath, Problem
from stacks.shared.types import ArmoredKey, MirrorUrl, parse_mirror
from stacks.shared.validation import LabModel, check


class PackageMirror(LabModel):
    """An apt mirror of the image's distribution."""

    url: MirrorUrl
    """Its URL (``http://deb.debian.org/debian``, ``http://archive.ubuntu.com/ubuntu``)."""
    key: ArmoredKey | None = None
    """The armoured OpenPGP public key its Release files are signed with; omitted = the
    distribution's own keys (a public mirror)."""
    trusted: bool = False
    """Take its packages without checking any signature (an unsigned mirror)."""

    @check
    def _one_way_to_trust(self) -> Iterator[Problem]:
        if self.key is not None and self.trusted:
            yield Problem(
                ("trusted",),
                "a mirror is either checked with its key or trusted unchecked: drop one of them",
                True,
            )


def _from_url(value: Any) -> Any:
    """The shipped short form: the URL alone."""
    if isinstance(value, str):
        return {"url": parse_mirror(value.strip())}
    return value


PackageMirrorSetting = Annotated[PackageMirror | None, BeforeValidator(_from_url)]
"""A config key holding a :class:`PackageMirror`, its URL alone, or nothing (the image's own
mirror)."""


def mirror_variables(mirror: PackageMirror | None) -> dict[str, str]:
    """The mirror as the Docker recipes' build arguments and the snapshot's environment: only
    what is set, so a stack without a mirror builds as before."""
    if mirror is None:
        return {}
    found = {"APT_MIRROR": mirror.url}
    if mirror.key is not None:
        found["APT_MIRROR_KEY"] = mirror.key
    if mirror.trusted:
        found["APT_MIRROR_TRUSTED"] = "true"
    return found


def cloud_init_mirror(mirror: PackageMirror | None) -> AptMirror | None:
    """The mirror as cloud-init's primary apt mirror (a guest's first boot)."""
    if mirror is None:
        return None
    return AptMirror(mirror.url, key=mirror.key)


def cloud_init_problems(mirror: PackageMirror | None, path: KeyPath) -> Iterator[Problem]:
    """A mirror cloud-init can take (at config key ``path``): cloud-init checks a primary
    mirror's signatures, so ``trusted`` is refused."""
    if mirror is not None and mirror.trusted:
        yield Problem(
            (*path, "trusted"),
            "cloud-init checks a primary mirror's signatures (with the distribution's keys "
            f"or {'.'.join(map(str, path))}.key); give the mirror's key instead",
            True,
        )
