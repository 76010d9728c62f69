"""Every output a shipped stack exports is documented in its lab's README section, and the
README lists no output the stack does not export.

In the README, each lab's section says ``Outputs of `<lab>`:``; the names in backticks from
there to the end of the paragraph, outside parentheses (where they are described), are the
lab's outputs.
"""

from __future__ import annotations

import re

import pytest

from tests.harness import ROOT, load_stack_file, run_stack_file

STACKS = sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in ROOT.glob("Pulumi.*.yaml"))
_PARAGRAPH = re.compile(r"Outputs of `([a-z0-9-]+)`:(.*?)(?:\n\s*\n|\Z)", re.S)
_PARENTHESES = re.compile(r"\([^()]*\)")


def readme_outputs() -> dict[str, list[str]]:
    """Each lab's documented outputs, in the README's order."""
    found: dict[str, list[str]] = {}
    for match in _PARAGRAPH.finditer((ROOT / "README.md").read_text()):
        lab, text = match.group(1), match.group(2)
        assert lab not in found, f"two 'Outputs of `{lab}`' paragraphs in the README"
        while _PARENTHESES.search(text):
            text = _PARENTHESES.sub("", text)
        found[lab] = re.findall(r"`([A-Za-z][A-Za-z0-9]*)`", text)
    return found


def test_the_readme_documents_the_outputs_of_every_lab() -> None:
    labs = {str(load_stack_file(stack)["cloud-labs:lab"]) for stack in STACKS}
    assert set(readme_outputs()) == labs


@pytest.mark.parametrize("stack", STACKS)
def test_a_stacks_outputs_are_the_ones_its_lab_section_lists(stack: str) -> None:
    lab = str(load_stack_file(stack)["cloud-labs:lab"])
    documented = readme_outputs()[lab]
    assert len(documented) == len(set(documented)), f"{lab}: listed twice in {documented}"
    exported = set(run_stack_file(stack).outputs)
    assert not exported - set(documented), f"{lab}: undocumented outputs"
    assert not set(documented) - exported, f"{lab}: documented but not exported"
