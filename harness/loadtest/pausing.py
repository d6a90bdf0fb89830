"""How the harness's own background work (tidying the recorders, the live figures) gives
way to its users on the gevent loop they share.

Between two steps of such work, :func:`let_users_run` waits until the loop has nothing
else to do: every ready connection read, every due timer run. ``gevent.sleep(0)``, the
usual yield, only queues behind the callbacks already due, so a frame that arrives during
the work waits for the next step; measured with ``bench/bench_peers.py`` at 10,000
deliveries/s, tidying with it held the delivery p99 2 ms above a bare asyncio client's,
and the live views' rebuilds with it held their p99 4 times the unwatched harness's. A
process that is never idle (saturated) still makes progress: the wait ends after
:data:`LONGEST_WAIT_S`.
"""

from __future__ import annotations

import gevent

LONGEST_WAIT_S = 0.005
"""The longest a step of background work waits for an idle loop."""


def let_users_run() -> None:
    """Wait until the loop is idle, or :data:`LONGEST_WAIT_S` at most."""
    with gevent.Timeout(LONGEST_WAIT_S, False):
        gevent.idle()
