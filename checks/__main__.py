"""``python -m checks STACK ...``: see :mod:`checks.cli`."""

import sys

from checks.cli import main

sys.exit(main())
