""":func:`install`: the harness's listeners on Locust's events, added explicitly.

Importing a harness module never changes Locust; a locustfile (and every
scenario) calls ``install(events)`` once, and again is harmless:

- ``init_command_line_parser``: registers every harness option;
- ``init``: on the master (or in a local run) checks the settings and stops
  the run before any user starts when one is bad; with an empty ``--host``
  starts the embedded emulator (:mod:`harness.loadtest.startup`); counts
  Ctrl-C and SIGTERM, so a second one exits at once (:mod:`harness.loadtest.signals`);
  adds the harness's views to the web UI, and serves ``/metrics`` with
  ``--prometheus-port`` (:mod:`harness.loadtest.web_ui`);
- ``test_start``: a fresh run state in every process; the master checks the
  settings again (the web UI's form may have changed them), warns when they would go
  over a per-API quota (:mod:`harness.loadtest.forecast`), and watches its
  workers (which go missing, which leave); every process with
  users tidies its recorders five times a second (latencies counted, deliveries
  added to Locust's stats) and a local run drains them once a second;
- ``test_stop``: the last deliveries go into Locust's stats; in a web UI
  session, once the users have stopped, the run is summarised and its reports
  written (to ``--report-dir``, else to a temporary folder), so that they can be
  downloaded from the UI while the process goes on;
- ``spawning_complete``: once the users are up, freezes the objects made during
  ramp-up out of the garbage collector (full collections paused ~50 ms);
- ``report_to_master`` / ``worker_report``: each worker report (after the
  deliveries waiting for Locust's stats are added to them) carries one
  :class:`~harness.measure.schema.WorkerReport`, with the worker's users and
  their id prefix, which the master merges;
- ``quitting``: the summary, verdict and reports (:mod:`harness.loadtest.ending`);
- ``quit``: the console sections, then the embedded emulator is stopped (and
  at exit, for a run that dies early).
"""

from __future__ import annotations

import atexit
import gc
import logging
import shutil
import sys
import tempfile
import time
import weakref
from typing import Any

import gevent
from locust.runners import STATE_MISSING, STATE_STOPPED, LocalRunner, MasterRunner, WorkerRunner

from harness.emulator.process import EmulatorStartError
from harness.errors import ConfigurationError, SigningError
from harness.loadtest.clock import clock_estimate, install_clock
from harness.loadtest.ending import (
    SECOND_PASS_WAIT_S,
    STOPPING_WAIT_S,
    finish_run,
    print_summary,
)
from harness.loadtest.forecast import quota_warnings
from harness.loadtest.identities import record_worker_count
from harness.loadtest.settings import HarnessSettings, register_options, settings_from_options
from harness.loadtest.signals import SignalGuard
from harness.loadtest.startup import EmbeddedEmulators, check_report_dir_option, prepare_run
from harness.loadtest.state import RunState, run_state
from harness.loadtest.web_ui import HarnessViews, install_web_ui, serve_metrics
from harness.measure.verdict import EXIT_BAD_SETTINGS

logger = logging.getLogger("harness")

REPORT_KEY = "appsync_harness"
"""The key of the harness's data in a worker's report to the master."""
TIDY_S = 0.2
"""How often a process with users counts its latencies and flushes deliveries to Locust."""
LOCAL_DRAIN_S = 1.0
FREEZE_WAIT_S = 60.0
"""The longest wait, after spawning, for the users' first connects and subscribes."""
WATCH_WORKERS_S = 1.0
"""How often a master looks at its workers' states."""

_installed: weakref.WeakSet[Any] = weakref.WeakSet()
"""The Locust ``events`` objects that have the listeners (``install`` adds them once)."""


def install(events: Any) -> None:
    """Add the harness's listeners to Locust's ``events`` (``locust.events``)."""
    if events in _installed:
        return
    _installed.add(events)
    listeners = _Listeners()
    for hook, listener in (
        (events.init_command_line_parser, listeners.add_options),
        (events.init, listeners.on_init),
        (events.test_start, listeners.on_test_start),
        (events.test_stop, listeners.on_test_stop),
        (events.spawning_complete, listeners.on_spawning_complete),
        (events.report_to_master, listeners.on_report_to_master),
        (events.worker_report, listeners.on_worker_report),
        (events.quitting, listeners.on_quitting),
        (events.quit, listeners.on_quit),
    ):
        hook.add_listener(listener)
    atexit.register(listeners.emulators.stop_all)


def installed(events: Any) -> bool:
    """Whether :func:`install` added the listeners to ``events``."""
    return events in _installed


class _Listeners:
    """The listeners of one ``install``, and what they share."""

    def __init__(self) -> None:
        self.emulators = EmbeddedEmulators()
        self.signals = SignalGuard(self.emulators.kill_all)
        self.environment: Any = None
        """The environment last seen, for the hooks Locust calls without one."""
        self.metrics_server: Any = None
        """``--prometheus-port``'s server, when asked for."""

    def state(self) -> RunState | None:
        return None if self.environment is None else run_state(self.environment)

    def add_options(self, parser: Any, **_: Any) -> None:
        register_options(parser)

    def on_init(self, environment: Any, runner: Any = None, web_ui: Any = None, **_: Any) -> None:
        self.environment = environment
        install_clock(environment)  # workers measure their clock against the master's
        if isinstance(runner, WorkerRunner) or environment.parsed_options is None:
            return
        try:
            prepare_run(environment, self.emulators)
            self._add_views(environment, web_ui)
        except (ConfigurationError, SigningError, EmulatorStartError) as exc:
            logger.error("invalid settings: %s", exc)
            self.emulators.stop_all()
            sys.exit(EXIT_BAD_SETTINGS)
        self.signals.install()

    def _add_views(self, environment: Any, web_ui: Any) -> None:
        """The web UI's harness views; ``/metrics`` on its own port with --prometheus-port."""
        views = None
        if web_ui is not None:
            views = install_web_ui(environment, web_ui)
            state = run_state(environment)
            state.default_report_dir = tempfile.mkdtemp(prefix="appsync-harness-reports-")
            atexit.register(shutil.rmtree, state.default_report_dir, ignore_errors=True)
        port = int(getattr(environment.parsed_options, "prometheus_port", 0) or 0)
        if port:
            self.metrics_server = serve_metrics(views or HarnessViews(environment), port)

    def on_test_start(self, environment: Any, **_: Any) -> None:
        self.environment = environment
        state = run_state(environment)
        if state.ending.is_set():  # the web UI's last run is still being summarised
            state.ended.wait(SECOND_PASS_WAIT_S)
        state.new_run()
        runner = environment.runner
        if isinstance(runner, LocalRunner | WorkerRunner):
            gevent.spawn(_tidy, state, local=isinstance(runner, LocalRunner))
        if isinstance(runner, MasterRunner):
            gevent.spawn(_watch_workers, state, runner)
            record_worker_count(environment.parsed_options, runner.worker_count)
        if isinstance(runner, WorkerRunner) or environment.parsed_options is None:
            return
        # The web UI's start form may have changed any option: check again, and stop a
        # run whose settings are bad instead of letting every user fail on its own.
        try:
            settings = settings_from_options(environment.parsed_options)
            check_report_dir_option(settings.report_dir)
        except ConfigurationError as exc:
            logger.error("invalid settings: %s; the run is stopped", exc)
            gevent.spawn(runner.stop)
            return
        _warn_about_quotas(environment, settings)

    def on_test_stop(self, environment: Any, **_: Any) -> None:
        state = run_state(environment)
        state.tidy()
        if environment.web_ui is not None and not isinstance(environment.runner, WorkerRunner):
            gevent.spawn(_finish_when_stopped, state)

    def on_spawning_complete(self, user_count: int = 0, **_: Any) -> None:
        state = self.state()
        if state is not None:
            gevent.spawn(_freeze_when_up, state, user_count)

    def on_report_to_master(self, client_id: str, data: dict[str, Any], **_: Any) -> None:
        state = self.state()
        if state is not None:
            runner = state.environment.runner
            # Before Locust's own listener serialises the stats (it is added later).
            report = state.report(final=runner.state == STATE_STOPPED)
            report["process"] = {
                "tag": None if state.runtime is None else state.runtime.process_tag,
                "users": runner.user_count,
                "clock": clock_estimate(state.environment),
            }
            data[REPORT_KEY] = report

    def on_worker_report(self, client_id: str, data: dict[str, Any], **_: Any) -> None:
        state = self.state()
        report = data.get(REPORT_KEY)
        if state is not None and report is not None:
            state.results.merge(report, time.time(), client_id)

    def on_quitting(self, environment: Any, **_: Any) -> None:
        self.environment = environment
        if isinstance(environment.runner, WorkerRunner) or environment.parsed_options is None:
            return
        self.signals.ending = True
        finish_run(run_state(environment))

    def on_quit(self, **_: Any) -> None:
        state = self.state()
        if state is not None:
            print_summary(state)
        self.emulators.stop_all()


def _warn_about_quotas(environment: Any, settings: HarnessSettings) -> None:
    """Say, as the run starts, which per-API quota its options would go over."""
    spawn_rate = float(getattr(environment.parsed_options, "spawn_rate", 1) or 1)
    users = int(getattr(environment.runner, "target_user_count", 0) or 0)
    try:
        warnings = quota_warnings(environment.user_classes, users, spawn_rate, settings)
    except ConfigurationError:
        return  # a user class's own options are bad: its users say so as they start
    for warning in warnings:
        logger.warning("quota: %s", warning)


def _finish_when_stopped(state: RunState) -> None:
    """In a web UI session, summarise a run stopped from the UI (or by its ``-t`` limit)
    and write its reports, once Locust has stopped it (bounded wait): the process goes
    on, and the UI offers the reports. Quitting later finds the run already finished."""
    runner = state.environment.runner
    deadline = time.monotonic() + STOPPING_WAIT_S
    while runner.state != STATE_STOPPED and time.monotonic() < deadline:
        gevent.sleep(0.1)
    if runner.state == STATE_STOPPED:
        finish_run(state)


def _freeze_when_up(state: RunState, user_count: int) -> None:
    """Once the spawned users are up (connected and subscribed, or given up), move every
    object made so far out of the garbage collector's reach: a full collection then
    walks only what was made since, instead of pausing the process for tens of
    milliseconds (docs/performance.md). Bounded: it freezes after :data:`FREEZE_WAIT_S`
    whatever the users' state."""
    deadline = time.monotonic() + FREEZE_WAIT_S
    while state.users_started < user_count and time.monotonic() < deadline:
        gevent.sleep(TIDY_S)
    gc.collect()
    gc.freeze()


def _watch_workers(state: RunState, runner: MasterRunner) -> None:
    """Tell the run's worker roster which workers Locust lists, and which it lists as
    missing or no longer lists, once a second until the run is summarised."""
    results = state.results
    while state.results is results and state.summary is None:
        now = time.time()
        workers = results.workers
        listed = dict(runner.clients)
        for worker_id, node in listed.items():
            if node.state == STATE_MISSING:
                workers.gone(worker_id, now)
            else:
                workers.seen(worker_id)
        for worker_id in list(workers.workers):
            if worker_id not in listed:
                workers.gone(worker_id, now)
        gevent.sleep(WATCH_WORKERS_S)


def _tidy(state: RunState, *, local: bool) -> None:
    """Tidy the recorders every :data:`TIDY_S` and, in a local run, drain latencies
    once a second for the over-time figures; until the runner stops or the next run
    replaces the recorders (the end of the run drains what is left)."""
    recorders = state.recorders
    ticks_per_drain = round(LOCAL_DRAIN_S / TIDY_S)
    ticks = 0
    while True:
        gevent.sleep(TIDY_S)
        if state.recorders is not recorders:
            return
        ticks += 1
        if local and ticks % ticks_per_drain == 0:
            state.collect(delivery=False)
        else:
            state.tidy()
        if state.environment.runner.state == STATE_STOPPED:
            return
