"""Topology diagrams of the labs (``scripts/diagram.sh``).

Each lab declares its topology in ``stacks/<lab>_checks.py`` (:mod:`diagram.model`), from its
validated config and, once deployed, its outputs; :mod:`diagram.dot` writes it as DOT and
:mod:`diagram.render` has Graphviz draw it as SVG and PNG.
"""
