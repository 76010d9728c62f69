"""The benchmark suite: the same runner on the host and in every guest.

Runner modules (standard library only, shipped into guests as a zip on ``PYTHONPATH``):
``figures`` (what is measured), ``sizing`` (problem sizes from memory and cores), ``parsers``
(tool outputs to figures), ``facts`` (the machine as seen from inside), ``suite`` (runs the
tools and writes one JSON document), ``cli``. Host-side modules (never shipped): ``report``
(the comparison table and the results history), ``plot`` (matplotlib), ``lab`` (reaching a
stack's guests), ``archive`` (the guest payload).
"""

from __future__ import annotations

__version__ = "1.0.0"

SCHEMA_ID = "cloudlabs-bench/1"
"""The ``schema`` value of every document this version writes (``bench/schema.json``)."""
