"""``python -m diagram STACK ...``: see :mod:`diagram.cli`."""

import sys

from diagram.cli import main

sys.exit(main())
