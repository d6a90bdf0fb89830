"""``python -m harness.emulator``: see :mod:`harness.emulator.cli`."""

import sys

from harness.emulator.cli import main

sys.exit(main())
