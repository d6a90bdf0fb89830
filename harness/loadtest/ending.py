"""The end of a run: summary, SLOs, baseline, reports, exit code, console section.

On the master (or in a local run), when Locust quits (the ``-t`` limit,
Ctrl-C, SIGTERM, or the web UI's process ending):

0. users still running (Ctrl-C, SIGTERM) are stopped first, so their cleanup is
   measured; a master waits for its workers' last reports;
1. the run's measurements are collected (:mod:`harness.loadtest.distributed`) and the
   summary is built (:mod:`harness.measure.summary`) with the resilience figures;
2. ``--slo`` / ``--slo-file`` are evaluated and ``--baseline`` compared
   (:mod:`harness.measure.slo`), giving the verdict and the exit code: 3 when an SLO is
   broken, else 4 when the run regressed against the baseline, else Locust's
   own (1 for failed requests); a leak or an early retry seen by the embedded
   emulator makes an otherwise clean run exit 1;
3. with ``--report-dir`` every report is written (:mod:`harness.report.files`);
4. after Locust's tables, the resilience and per-channel sections are printed.

Writing the reports never stops the run from ending: an unwritable directory
is logged as an error and the exit code stays what the run earned. A baseline
or SLO file that cannot be read any more at the end is left out of the summary,
which is still written, and the exit status is 2.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

import gevent
from locust import events
from locust.runners import STATE_INIT, STATE_STOPPED, MasterRunner, WorkerRunner

from harness.errors import ConfigurationError
from harness.loadtest.distributed import (
    collect,
    current_environment,
    remember_environment,
    results_for,
)
from harness.loadtest.lifecycle import EXIT_BAD_SETTINGS
from harness.loadtest.resilience_hooks import REPORT_FILE, resilience_summary, server_failed
from harness.loadtest.settings import settings_from_options
from harness.measure.slo import compare_to_baseline, evaluate_slos, load_baseline, verdict
from harness.measure.summary import build_summary
from harness.report.console import format_console
from harness.report.files import write_reports
from harness.report.resilience import format_summary

logger = logging.getLogger("harness")

_SUMMARY_ATTRIBUTE = "_appsync_harness_summary"
_PRINTED_ATTRIBUTE = "_appsync_harness_summary_printed"
FINAL_REPORTS_WAIT_S = 5.0
"""How long a master waits for the workers' reports sent after their users stopped
(Locust's workers report every 3 s)."""


def run_summary(environment: Any, locust_exit_code: int = 0) -> dict[str, Any]:
    """The finished run's summary with SLOs, baseline and verdict (needs no ``--report-dir``)."""
    options = environment.parsed_options
    settings = settings_from_options(options)
    results = collect(environment)
    resilience = resilience_summary(environment)
    counts: dict[str, tuple[int, int]] = {}
    for (_, method), entry in environment.stats.entries.items():
        requests, failures = counts.get(method, (0, 0))
        counts[method] = (requests + entry.num_requests, failures + entry.num_failures)
    template_of = {
        channel: template.name for template in settings.channels for channel in template.channels
    }
    summary = build_summary(
        results,
        settings=settings.describe(),
        run_id=settings.run_id,
        request_counts=counts,
        resilience=resilience,
        template_of=template_of,
        run_time_s=getattr(options, "run_time", None),
    )
    summary["slo"] = evaluate_slos(list(settings.slos), summary)
    summary["baseline"] = None
    if settings.baseline:
        summary["baseline"] = compare_to_baseline(
            summary,
            load_baseline(settings.baseline),
            max_regression=settings.max_regression,
            path=settings.baseline,
        )
    summary["verdict"] = verdict(summary, locust_exit_code)
    if server_failed(resilience.get("server")):
        summary["verdict"]["reasons"].append(
            "the embedded emulator still held connections or subscriptions after the run, "
            "or saw retries earlier than their policy allows"
        )
        if summary["verdict"]["exit_code"] == 0:
            summary["verdict"]["exit_code"] = 1
    return summary


def _on_quitting(environment: Any, **_: Any) -> None:
    remember_environment(environment)
    runner = environment.runner
    if isinstance(runner, WorkerRunner) or environment.parsed_options is None:
        return
    if getattr(environment, _SUMMARY_ATTRIBUTE, None) is not None:
        # Locust runs its shutdown twice on SIGTERM; the second pass, with the emulator
        # already stopping, must not replace the reports of the first.
        return
    _stop_users(environment)
    summary = _summary_come_what_may(environment)
    exit_code = summary["verdict"]["exit_code"]
    if exit_code != _locust_exit_code(environment):
        environment.process_exit_code = exit_code
    setattr(environment, _SUMMARY_ATTRIBUTE, summary)
    report_dir = str(getattr(environment.parsed_options, "report_dir", "") or "")
    if report_dir:
        _write(report_dir, summary, environment)


def _summary_come_what_may(environment: Any) -> dict[str, Any]:
    """The summary; when a file read at the end (``--baseline``, ``--slo-file``) went
    missing or bad during the run, the summary without it, and exit status 2."""
    try:
        return run_summary(environment, _locust_exit_code(environment))
    except ConfigurationError as exc:
        logger.error("%s; the run is summarised without it (exit status 2)", exc)
        options = environment.parsed_options
        options.baseline = options.slo_file = ""
        summary = run_summary(environment, _locust_exit_code(environment))
        summary["verdict"]["exit_code"] = EXIT_BAD_SETTINGS
        summary["verdict"]["reasons"].append(f"not evaluated: {exc}")
        return summary


def _stop_users(environment: Any) -> None:
    """Stop the users before summarising (Ctrl-C and SIGTERM reach ``quitting`` while
    they still run; the ``-t`` limit has stopped them already), so their cleanup and
    last figures are in the summary; on a master, wait (bounded) for each worker's
    report sent after its users stopped."""
    runner = environment.runner
    if runner is None:
        return
    if runner.state not in (STATE_INIT, STATE_STOPPED):
        runner.stop()
    if isinstance(runner, MasterRunner):
        deadline = time.monotonic() + FINAL_REPORTS_WAIT_S
        while time.monotonic() < deadline and not _final_reports_in(environment):
            gevent.sleep(0.1)


def _final_reports_in(environment: Any) -> bool:
    workers: set[str] = getattr(environment, "harness_workers_reporting", set())
    final: set[str] = getattr(environment, "harness_final_reports", set())
    return bool(workers) and workers <= final


def _locust_exit_code(environment: Any) -> int:
    """The exit code Locust itself would give (locust.main.shutdown)."""
    if environment.process_exit_code is not None:
        return int(environment.process_exit_code)
    runner = environment.runner
    if runner is not None and (runner.errors or runner.exceptions):
        return int(getattr(environment.parsed_options, "exit_code_on_error", 1))
    return 0


def _write(report_dir: str, summary: dict[str, Any], environment: Any) -> None:
    try:
        written = write_reports(report_dir, summary, results_for(environment).timeline)
        resilience = Path(report_dir) / REPORT_FILE
        resilience.write_text(json.dumps(summary["resilience"], indent=2) + "\n")
    except OSError as exc:
        logger.error("cannot write the reports to %s: %s", report_dir, exc)
        return
    logger.info("reports written to %s: %s", report_dir, ", ".join(path.name for path in written))


def _on_quit(**_: Any) -> None:
    environment = current_environment()
    summary = getattr(environment, _SUMMARY_ATTRIBUTE, None) if environment else None
    if summary is not None and not getattr(environment, _PRINTED_ATTRIBUTE, False):
        setattr(environment, _PRINTED_ATTRIBUTE, True)
        try:
            text = format_summary(summary["resilience"]) + "\n" + format_console(summary)
        except Exception:  # a bug here must not cost the exit code or the written reports
            logger.exception("cannot print the run summary (the report files have it)")
            return
        print(text, flush=True)


events.quitting.add_listener(_on_quitting)  # type: ignore[no-untyped-call]
events.quit.add_listener(_on_quit)  # type: ignore[no-untyped-call]
