"""One timing unit for every bounded wait of the tests, stretched on a slow machine.

As python-websockets does with ``MS`` and ``WEBSOCKETS_TESTS_TIMEOUT_FACTOR``: a wait
for something to happen (an answer, a process to exit, a condition) is a multiple of
:data:`MS`, and ``HARNESS_TESTS_TIMING_FACTOR=3`` makes every such wait three times
longer, pytest-timeout's limits included (``tests/conftest.py``). Durations that are
part of what a test measures (a fault's 250 ms delay, a run of 2 s) are not scaled.
"""

from __future__ import annotations

import os

FACTOR = float(os.environ.get("HARNESS_TESTS_TIMING_FACTOR", "1"))
"""How much longer than on an idle 2-core machine every wait may take."""
MS = 0.001 * FACTOR
"""One millisecond of waiting, stretched by :data:`FACTOR`."""
