"""cloud-labs: the lab named by this stack's `lab` config key, built from its config."""

from stacks import main

main()
