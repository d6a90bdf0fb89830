"""The run so far, for the web UI's live views, their JSON endpoints and ``/metrics``.

:class:`LiveFigures` builds the run's summary while the run goes on (the same
``summary.json`` shape, judged as if the run ended now; see
:class:`harness.measure.summary.MidRun`) and keeps it for a while, so that any
number of browsers and scrapers cost one summary per refresh:

- events are judged lost or missed only once they are :data:`JUDGE_LAG_S` old
  (plus a worker's report interval in a distributed run), so an event still on
  its way is never called lost;
- a summary is rebuilt at most every :data:`MIN_REFRESH_S`, and never more
  often than keeps its cost under :data:`COST_SHARE` of the process's time (one
  that took 0.5 s is kept for 10 s): in a local run the users
  share the process, and the live views must not disturb what they measure;
- every step of the way (the drain, the delivery accounting, the histograms)
  pauses every millisecond or so until the loop is idle
  (:func:`~harness.loadtest.pausing.let_users_run`);
- once the run has ended, its final summary is served (``final``: true).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from gevent.lock import Semaphore
from locust.runners import STATE_INIT, WORKER_REPORT_INTERVAL, MasterRunner

from harness.loadtest.ending import locust_exit_code, run_summary
from harness.loadtest.pausing import let_users_run
from harness.loadtest.state import RunState, run_state
from harness.measure.delivery import GRACE_S
from harness.measure.schema import Summary
from harness.measure.summary import MidRun

MIN_REFRESH_S = 2.0
"""The live figures are at most this old when the run goes on (unless they cost more)."""
COST_SHARE = 0.05
"""The largest share of the process's time the live figures may take."""
JUDGE_LAG_S = GRACE_S + 1.0
"""How old an event must be before the live views call it lost or missed."""


@dataclass(frozen=True)
class LiveSnapshot:
    """One look at the run: its summary so far (or its final summary) and how it was taken."""

    summary: Summary
    taken_at: float
    """Wall time."""
    cost_s: float
    """How long building it took, its pauses included (0 for a final summary)."""
    final: bool
    judged_until: float | None
    """Wall time: events intended later are not judged yet (None once final)."""
    state: str
    """Locust's runner state when it was taken."""

    def describe(self) -> dict[str, Any]:
        """The ``live`` block of the JSON endpoints."""
        return {
            "state": self.state,
            "final": self.final,
            "taken_at": self.taken_at,
            "age_s": round(max(0.0, time.time() - self.taken_at), 3),
            "cost_ms": round(self.cost_s * 1000.0, 1),
            "judged_until": self.judged_until,
        }


class LiveFigures:
    """The live summary of one Locust environment's runs (see the module docstring)."""

    def __init__(self, environment: Any) -> None:
        self.environment = environment
        self._snapshot: LiveSnapshot | None = None
        self._of: tuple[int, int] | None = None
        """Which run (its results) and which final summary the snapshot is of."""
        self._lock = Semaphore()

    def snapshot(self) -> LiveSnapshot | None:
        """The run's figures, fresh enough; None before the first run starts."""
        runner = self.environment.runner
        if runner is None or (runner.state == STATE_INIT and self._snapshot is None):
            return None
        with self._lock:  # one build at a time; the others take its result
            state = run_state(self.environment)
            of = (id(state.results), id(state.summary))
            if self._snapshot is None or of != self._of or self._stale():
                self._snapshot = self._take(state)
                self._of = (id(state.results), id(state.summary))
            return self._snapshot

    def _stale(self) -> bool:
        snapshot = self._snapshot
        if snapshot is None:
            return True
        if snapshot.final:
            return False
        keep_s = max(MIN_REFRESH_S, snapshot.cost_s / COST_SHARE)
        return time.time() - snapshot.taken_at >= keep_s

    def _take(self, state: RunState) -> LiveSnapshot:
        runner = self.environment.runner
        if state.summary is not None:
            return LiveSnapshot(state.summary, time.time(), 0.0, True, None, runner.state)
        started = time.perf_counter()
        lag_s = JUDGE_LAG_S + (WORKER_REPORT_INTERVAL if isinstance(runner, MasterRunner) else 0)
        judged_until = time.time() - lag_s
        summary = run_summary(
            state,
            locust_exit_code(self.environment),
            mid_run=MidRun(judged_until, pause=let_users_run),
        )
        cost_s = time.perf_counter() - started
        return LiveSnapshot(summary, time.time(), cost_s, False, judged_until, runner.state)
