"""The end of a run: summary, SLOs, baseline, reports, exit code, console section.

On the master (or in a local run), when Locust quits (the ``-t`` limit,
Ctrl-C, SIGTERM, or the web UI's process ending), :func:`finish_run`:

0. stops users still running (Ctrl-C, SIGTERM), so their cleanup is
   measured; a master waits for its workers' last reports;
1. collects the run's measurements and builds the summary
   (:mod:`harness.measure.summary`) with the resilience figures and, against
   the embedded emulator, its server-side checks;
2. evaluates ``--slo`` / ``--slo-file`` and compares ``--baseline``, giving the
   verdict and the exit code (:mod:`harness.measure.verdict`): 5 when a worker
   was lost, 3 when an SLO is broken, else 4 when the run regressed against the
   baseline, else Locust's own (1 for failed requests); lost or duplicated
   events no SLO judges, or a leak or an early retry seen by the embedded
   emulator, make an otherwise clean run exit 1;
3. adds the lost and duplicated events to Locust's table as failed ``deliver``
   requests of their templates, so the table Locust prints next shows them;
4. with ``--report-dir`` writes every report (:mod:`harness.report.files`),
   each file atomically.

After Locust's tables, :func:`print_summary` prints the resilience and
per-channel sections.

``--report-dir`` is checked before any user starts (:mod:`harness.loadtest.startup`);
a write that still fails at the end (a full disk) is logged, and the exit status
becomes 5: the run's record is incomplete. A baseline or SLO file that cannot be
read any more at the end is left out of the summary, which is still written, and
the exit status is 2.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

import gevent
from locust.runners import STATE_CLEANUP, STATE_INIT, STATE_STOPPED, MasterRunner

from harness.errors import ConfigurationError
from harness.loadtest.batched_stats import add_delivery_failures
from harness.loadtest.server_checks import read_filtered, server_checks
from harness.loadtest.settings import EmbeddedEmulator, settings_from_options
from harness.loadtest.state import RunState
from harness.measure.baseline import compare_to_baseline, load_baseline
from harness.measure.schema import BaselineSection, ResilienceSummary, Summary
from harness.measure.slo import evaluate_slos
from harness.measure.summary import MidRun, build_summary, judged
from harness.measure.verdict import EXIT_BAD_SETTINGS, EXIT_INCOMPLETE
from harness.measure.workers import DEFAULT_CLOCK_BOUND_MS
from harness.report.console import format_console
from harness.report.files import write_atomically, write_reports
from harness.workload.channels import template_of_channels

logger = logging.getLogger("harness")

REPORT_FILE = "resilience.json"
FINAL_REPORTS_WAIT_S = 15.0
"""How long a master waits at most for the workers' reports sent after their users
stopped (Locust's workers report every 3 s, once their users' cleanup is done); it stops
waiting for a worker Locust lists as missing (no heartbeat for about 3 s) or gone."""
STOPPING_WAIT_S = 30.0
"""How long the end of a run waits for users already stopping (their cleanup is bounded
by ``--operation-timeout`` per unsubscribe)."""
SECOND_PASS_WAIT_S = STOPPING_WAIT_S + FINAL_REPORTS_WAIT_S + 30.0
"""How long Locust's second shutdown pass (a SIGTERM during the first) waits for the first."""


def run_summary(
    state: RunState, locust_exit_code: int = 0, *, mid_run: MidRun | None = None
) -> Summary:
    """The finished run's summary with SLOs, baseline and verdict (needs no ``--report-dir``);
    with ``mid_run``, the run so far, judged as if it ended now (the live views)."""
    environment = state.environment
    options = environment.parsed_options
    settings = settings_from_options(options)
    # collects this process's last records first; mid-run, what is open on the server is
    # not a leak (the live views show it on its own)
    resilience = resilience_summary(state, server=mid_run is None)
    emulator = EmbeddedEmulator.of(options)
    if emulator is not None:
        read_filtered(emulator, state.results.accounts, settings.run_id)
    counts: dict[str, tuple[int, int]] = {}
    for (_, method), entry in environment.stats.entries.items():
        requests, failures = counts.get(method, (0, 0))
        counts[method] = (requests + entry.num_requests, failures + entry.num_failures)
    measured = build_summary(
        state.results,
        settings=settings.describe(),
        run_id=settings.run_id,
        request_counts=counts,
        resilience=resilience,
        template_of=template_of_channels(settings.channels),
        run_time_s=None if mid_run else getattr(options, "run_time", None),
        distributed=isinstance(environment.runner, MasterRunner),
        clock_bound_ms=settings.max_clock_offset_s * 1000.0 or DEFAULT_CLOCK_BOUND_MS,
        mid_run=mid_run,
        prices=settings.price_file,
    )
    baseline: BaselineSection | None = None
    if settings.baseline:
        baseline = compare_to_baseline(
            measured,
            load_baseline(settings.baseline),
            max_regression=settings.max_regression,
            path=settings.baseline,
        )
    return judged(
        measured,
        evaluate_slos(list(settings.slos), measured),
        baseline,
        locust_exit_code,
        allow_loss=settings.allow_loss,
        gate_clocks=settings.max_clock_offset_s > 0,
    )


def resilience_summary(state: RunState, *, server: bool = True) -> ResilienceSummary:
    """The run's resilience summary; against the embedded emulator with its server checks
    (unless ``server`` is False)."""
    results = state.collect()
    summary = results.resilience.summary()
    emulator = EmbeddedEmulator.of(state.environment.parsed_options)
    if emulator is not None and server:
        summary["server"] = server_checks(emulator, results.resilience)
    return summary


def finish_run(state: RunState) -> None:
    """Stop the users, summarise, set the exit code and write the reports, once per run."""
    if state.ending.is_set() or state.ended.is_set():
        # A SIGTERM makes Locust run its shutdown again; the second pass waits for the
        # first to write the reports, then lets Locust exit with the run's status.
        state.ended.wait(SECOND_PASS_WAIT_S)
        return
    state.ending.set()
    try:
        _finish(state)
    finally:
        state.ended.set()


def _finish(state: RunState) -> None:
    environment = state.environment
    _stop_users(state)
    summary = _summary_come_what_may(state)
    state.summary = summary
    add_delivery_failures(environment.stats, summary["delivery"])
    report_dir = str(getattr(environment.parsed_options, "report_dir", "") or "")
    report_dir = report_dir or state.default_report_dir
    if report_dir and not _write(report_dir, summary, state):
        summary["verdict"]["exit_code"] = EXIT_INCOMPLETE
        summary["verdict"]["reasons"].insert(
            0, f"incomplete: the reports could not be written to {report_dir}"
        )
    # Set even when it equals Locust's code: the failures just added must not change it.
    environment.process_exit_code = summary["verdict"]["exit_code"]


def print_summary(state: RunState) -> None:
    """Print the resilience and per-channel sections, once, after Locust's tables."""
    summary = state.summary
    if summary is None or state.summary_printed:
        return
    state.summary_printed = True
    try:
        text = format_console(summary)
    except Exception:  # a bug here must not cost the exit code or the written reports
        logger.exception("cannot print the run summary (the report files have it)")
        return
    print(text, flush=True)


def _summary_come_what_may(state: RunState) -> Summary:
    """The summary; when a file read at the end (``--baseline``, ``--slo-file``,
    ``--price-file``) went missing or bad during the run, the summary without it (the
    built-in prices), and exit status 2."""
    exit_code = locust_exit_code(state.environment)
    try:
        return run_summary(state, exit_code)
    except ConfigurationError as exc:
        logger.error("%s; the run is summarised without it (exit status 2)", exc)
        options = state.environment.parsed_options
        options.baseline = options.slo_file = options.price_file = ""
        summary = run_summary(state, exit_code)
        summary["verdict"]["exit_code"] = EXIT_BAD_SETTINGS
        summary["verdict"]["reasons"].append(f"not evaluated: {exc}")
        return summary


def _stop_users(state: RunState) -> None:
    """Stop the users before summarising (Ctrl-C and SIGTERM reach ``quitting`` while
    they still run; the ``-t`` limit has stopped them already), so their cleanup and
    last figures are in the summary; on a master, wait (bounded) for each worker's
    report sent after its users stopped."""
    runner = state.environment.runner
    if runner is None:
        return
    if runner.state == STATE_CLEANUP:
        # The users are stopping already (the -t limit): stopping them again would cut
        # their cleanup short. Wait for them, as long as their unsubscribes may take.
        deadline = time.monotonic() + STOPPING_WAIT_S
        while runner.state == STATE_CLEANUP and time.monotonic() < deadline:
            gevent.sleep(0.1)
    if runner.state not in (STATE_INIT, STATE_STOPPED):
        runner.stop()
    if isinstance(runner, MasterRunner):
        deadline = time.monotonic() + FINAL_REPORTS_WAIT_S
        while time.monotonic() < deadline and not state.results.workers.settled:
            gevent.sleep(0.1)


def locust_exit_code(environment: Any) -> int:
    """The exit code Locust itself would give (locust.main.shutdown)."""
    if environment.process_exit_code is not None:
        return int(environment.process_exit_code)
    runner = environment.runner
    if runner is not None and (runner.errors or runner.exceptions):
        return int(getattr(environment.parsed_options, "exit_code_on_error", 1))
    return 0


def _write(report_dir: str, summary: Summary, state: RunState) -> bool:
    """Write the reports; False (logged) when one could not be written."""
    try:
        written = write_reports(report_dir, summary, state.results.timeline)
        resilience = Path(report_dir) / REPORT_FILE
        written.append(write_atomically(resilience, json.dumps(summary["resilience"], indent=2)))
    except OSError as exc:
        logger.error("cannot write the reports to %s: %s (exit status 5)", report_dir, exc)
        return False
    logger.info("reports written to %s: %s", report_dir, ", ".join(path.name for path in written))
    state.reports = written
    return True
