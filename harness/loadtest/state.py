"""One Locust environment's harness state: what its users share, record and summarise.

A :class:`RunState` hangs off the environment (one attribute, read through
:func:`run_state`). :meth:`RunState.new_run` starts every run afresh
(``test_start``, so values changed in the web UI's start form apply):

- ``runtime``: settings, target and authorizer, built when the first user of
  the run starts (on a worker, from what the master sent);
- ``recorders``: what this process's users record until the next drain;
- ``deliveries``: deliveries on their way into Locust's stats table (in batches);
- ``results``: the run's merged measurements (on the master, or in a local run);
- ``summary``: the finished run's summary, built once;
- ``reports``: the report files the finished run wrote.

The web UI can start run after run in one process: each start forgets the last
run's summary and reports (once its end is done).
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gevent.event import Event
from gevent.lock import RLock

from harness.errors import ConfigurationError
from harness.loadtest.batched_stats import BatchedRequests
from harness.loadtest.identities import Identities, worker_count_of
from harness.loadtest.pausing import let_users_run
from harness.loadtest.runtime import HarnessRuntime
from harness.loadtest.settings import EmbeddedEmulator, settings_from_options
from harness.loadtest.target import Target
from harness.measure.recorders import ProcessRecorders, RunResults
from harness.measure.resilience import ResilienceLedger
from harness.measure.schema import Summary, WorkerReport

_ATTRIBUTE = "appsync_harness"


@dataclass
class RunState:
    """The harness's state for one Locust environment (see the module docstring)."""

    environment: Any
    runtime: HarnessRuntime | None = None
    recorders: ProcessRecorders = field(init=False)
    deliveries: BatchedRequests = field(init=False)
    results: RunResults = field(init=False)
    summary: Summary | None = None
    summary_printed: bool = False
    reports: list[Path] = field(default_factory=list)
    default_report_dir: str = ""
    """Where reports go without ``--report-dir`` (a web UI session's temporary folder, so
    that its runs can be downloaded); empty: nowhere."""
    ending: Event = field(default_factory=Event, repr=False)
    """Set when the run's end (summary, reports) has begun."""
    ended: Event = field(default_factory=Event, repr=False)
    """Set once the run's end is done (reports written, or given up)."""
    users_started: int = 0
    """Users of this run that finished ``on_start`` (up, or given up)."""
    _busy: RLock = field(default_factory=RLock, repr=False)
    """Held while tidying or collecting, which yield between steps: the end of a run must
    not read the stats or results while the tidy loop's last step is half done."""

    def __post_init__(self) -> None:
        self.new_run()

    def new_run(self) -> None:
        """Forget the last run: fresh recorders and results, settings read again."""
        tolerance = self._backoff_tolerance_s()
        self.runtime = None
        self.recorders = ProcessRecorders(resilience=ResilienceLedger(tolerance_s=tolerance))
        self.deliveries = BatchedRequests("deliver")
        self.users_started = 0
        self.results = RunResults(backoff_tolerance_s=tolerance)
        self.summary = None
        self.summary_printed = False
        self.reports = []
        self.ending = Event()
        self.ended = Event()

    def tidy(self) -> None:
        """Count recorded latencies into histograms and add waiting deliveries to Locust's
        stats: small steps, taken a few times a second, so no drain has much to do. It
        gives way to the connections between histograms (docs/architecture.md#the-gevent-loop)."""
        with self._busy:
            self.recorders.latency.compact(pause=let_users_run)
            self.deliveries.flush(self.environment.stats, pause=let_users_run)

    def report(self, *, final: bool) -> WorkerReport:
        """A worker's report to the master: everything recorded since the last one, after
        the waiting deliveries went into Locust's stats (which Locust sends alongside)."""
        with self._busy:
            self.tidy()
            return self.recorders.drain(final=final)

    def collect(self, *, delivery: bool = True) -> RunResults:
        """Drain this process's recorders into the run's results; the results. (In a
        distributed run the master's recorders stay empty: its users are on the workers.)

        ``delivery=False`` leaves the delivery records for a later drain: the accounts
        are only read at the end (and by the live views), and merging them mid-run would
        only cost time. Each step gives way to the users (:mod:`harness.loadtest.pausing`)."""
        with self._busy:
            self.tidy()
            drained = self.recorders.drain(final=False, delivery=delivery, pause=let_users_run)
            self.results.merge(drained, time.time(), pause=let_users_run)
        return self.results

    def user_runtime(self) -> HarnessRuntime:
        """The runtime the users of this run share, built on first use; raises
        :class:`ConfigurationError` or :class:`SigningError` when the settings are bad."""
        if self.runtime is None:
            environment = self.environment
            options = environment.parsed_options or argparse.Namespace()
            settings = settings_from_options(options)
            if not environment.host:
                raise ConfigurationError(
                    "--host",
                    "is empty and no embedded emulator was started (run through locust -f)",
                )
            target = Target.from_settings(settings, environment.host)
            worker = max(0, getattr(environment.runner, "worker_index", 0) or 0)
            workers = worker_count_of(environment.parsed_options)
            embedded = EmbeddedEmulator.of(environment.parsed_options)
            identities = Identities(
                settings,
                target,
                worker=worker,
                workers=workers,
                identity_endpoint=embedded.cognito_identity_url if embedded else None,
            )
            self.runtime = HarnessRuntime(settings, target, identities)
        return self.runtime

    def _backoff_tolerance_s(self) -> float:
        value = getattr(self.environment.parsed_options, "backoff_tolerance", 0.1)
        return float(value or 0.0)


def run_state(environment: Any) -> RunState:
    """The environment's harness state, made on first use."""
    state: RunState | None = getattr(environment, _ATTRIBUTE, None)
    if state is None:
        state = RunState(environment)
        setattr(environment, _ATTRIBUTE, state)
    return state
