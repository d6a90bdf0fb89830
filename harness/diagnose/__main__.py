"""``python -m harness.diagnose``: see :mod:`harness.diagnose.cli`."""

import sys

from harness.diagnose.cli import main

sys.exit(main())
