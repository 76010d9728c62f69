"""Checks that answer a deployed lab's questions (``scripts/check.sh``).

Each lab declares its checks in ``stacks/<lab>_checks.py`` (:mod:`checks.model`); this package
runs them (:mod:`checks.runner`, :mod:`checks.probes`) and reports them (:mod:`checks.report`).
"""
