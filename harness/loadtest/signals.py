"""Ctrl-C and SIGTERM: the first ends the run with its reports, a second exits at once.

Locust ends a run on the first SIGINT (``KeyboardInterrupt``) or SIGTERM, and the
harness then stops the users, summarises and writes the reports
(:mod:`harness.loadtest.ending`), which can take seconds. A :class:`SignalGuard`,
installed on the master (or in a local run), counts both signals:

- the second one, whenever it comes, kills the embedded emulator and exits at
  once with status 128 + the signal's number, without reports: the user asked
  twice. Nothing in between yields to other greenlets, which would go on
  ending the run meanwhile;
- a first SIGINT becomes Locust's ``KeyboardInterrupt`` in the main greenlet,
  where Locust waits for it, not in whichever greenlet happened to run (a user
  half-way through an operation, which it would kill);
- a first SIGINT that arrives while the run is already ending (the ``-t`` limit
  was reached) is not turned into a ``KeyboardInterrupt``, which would tear the
  reports half-written; the run goes on ending, and says so.

A first SIGTERM is left to Locust, which runs its shutdown again;
:func:`~harness.loadtest.ending.finish_run` makes that second pass wait for
the first.
"""

from __future__ import annotations

import logging
import os
import signal
from collections.abc import Callable
from typing import Any

import gevent

logger = logging.getLogger("harness")


class SignalGuard:
    """Counts SIGINT and SIGTERM in one process (see the module docstring)."""

    def __init__(self, kill_emulators: Callable[[], object]) -> None:
        self._kill_emulators = kill_emulators
        self.signals = 0
        self.ending = False
        """Set when the run's end (summary, reports) has begun."""

    def install(self) -> None:
        previous = signal.getsignal(signal.SIGINT)
        signal.signal(signal.SIGINT, lambda signum, frame: self._on_sigint(previous, frame))
        # Beside Locust's own SIGTERM watcher, which still runs its shutdown.
        gevent.signal_handler(signal.SIGTERM, self._count, signal.SIGTERM)

    def _on_sigint(self, previous: Any, frame: Any) -> None:
        self._count(signal.SIGINT)
        if self.ending:
            logger.warning(
                "Ctrl-C: the run is already ending and its reports are being written; "
                "press it again to exit at once without them"
            )
            return
        if previous is not signal.default_int_handler and callable(previous):
            previous(signal.SIGINT, frame)
            return
        # Locust ends the run on a KeyboardInterrupt in its main greenlet. Raised here, it
        # would land in whichever greenlet runs (a user's, half-way through an unsubscribe)
        # before gevent passes it on; thrown into the main greenlet, no user is cut short.
        hub = gevent.get_hub()
        hub.loop.run_callback(hub.parent.throw, KeyboardInterrupt)

    def _count(self, signum: int) -> None:
        self.signals += 1
        if self.signals >= 2:
            self.exit_now(signum)

    def exit_now(self, signum: int) -> None:
        name = signal.Signals(signum).name
        logger.error("%s again: exiting at once, without the run's reports", name)
        try:
            self._kill_emulators()
        finally:
            logging.shutdown()
            os._exit(128 + signum)
