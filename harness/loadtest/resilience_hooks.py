"""Locust listeners that carry the resilience ledger through a run.

- ``test_start``: a fresh ledger per run, in every process;
- ``report_to_master`` / ``worker_report``: workers drain their ledger into each
  report; the master merges (a worker's last report follows its users' stop).

:func:`resilience_summary` builds the figures at the end of a run; against the
embedded emulator it adds the server side: no open connection or live
subscription once the users stopped, and backoff from the server's attempt log.
:mod:`harness.loadtest.ending` prints and writes them.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import gevent
from locust import events
from locust.runners import STATE_STOPPED, MasterRunner

from harness.emulator.admin_client import AdminClient, AdminError
from harness.loadtest.distributed import attached, current_environment
from harness.loadtest.settings import EMBEDDED_ADMIN_ATTRIBUTE, EMBEDDED_CA_ATTRIBUTE
from harness.measure.resilience import ResilienceLedger, server_side_backoff

logger = logging.getLogger("harness")

REPORT_KEY = "harness_resilience"
REPORT_FILE = "resilience.json"
SERVER_SETTLE_S = 3.0
"""How long the emulator may take to see the last closes before open connections count."""
_LEDGER_ATTRIBUTE = "_appsync_harness_ledger"


def ledger_for(environment: Any) -> ResilienceLedger:
    """The run's ledger in this process, made on first use."""

    def make() -> ResilienceLedger:
        environment.harness_workers_reporting = set()
        environment.harness_final_reports = set()
        tolerance = getattr(environment.parsed_options, "backoff_tolerance", 0.1)
        return ResilienceLedger(tolerance_s=float(tolerance or 0.0))

    return attached(environment, _LEDGER_ATTRIBUTE, make)


def _on_test_start(environment: Any, **_: Any) -> None:
    if hasattr(environment, _LEDGER_ATTRIBUTE):
        delattr(environment, _LEDGER_ATTRIBUTE)
    ledger_for(environment)


def _on_report_to_master(client_id: str, data: dict[str, Any], **_: Any) -> None:
    environment = current_environment()
    if environment is None:
        return
    data[REPORT_KEY] = ledger_for(environment).drain()
    data[REPORT_KEY]["final"] = environment.runner.state == STATE_STOPPED


def _on_worker_report(client_id: str, data: dict[str, Any], **_: Any) -> None:
    environment = current_environment()
    report = data.get(REPORT_KEY)
    if environment is None or report is None:
        return
    ledger_for(environment).merge(report)
    environment.harness_workers_reporting.add(client_id)
    if report.get("final"):
        environment.harness_final_reports.add(client_id)


def resilience_summary(environment: Any) -> dict[str, Any]:
    """The run's resilience summary; against the embedded emulator with its server checks."""
    runner = environment.runner
    ledger = ledger_for(environment)
    summary: dict[str, Any] = {"schema": 1, **ledger.summary()}
    if isinstance(runner, MasterRunner):
        summary["workers"] = {
            "count": len(environment.harness_workers_reporting),
            "final_reports": len(environment.harness_final_reports),
        }
    options = environment.parsed_options
    admin_url = getattr(options, EMBEDDED_ADMIN_ATTRIBUTE, None)
    if admin_url:
        admin = AdminClient(admin_url, getattr(options, EMBEDDED_CA_ATTRIBUTE, None))
        summary["server"] = _server_checks(admin, ledger)
    return summary


def _server_checks(admin: AdminClient, ledger: ResilienceLedger) -> dict[str, Any]:
    """The emulator's view once the users stopped: leftovers, and backoff from its clock."""
    deadline = time.monotonic() + SERVER_SETTLE_S
    try:
        while True:
            stats = admin.stats()
            connections = stats["connections"]["open"]
            subscriptions = stats["subscriptions"]["live"]
            if (connections == 0 and subscriptions == 0) or time.monotonic() >= deadline:
                break
            gevent.sleep(0.1)
    except AdminError as exc:
        logger.error("server-side checks skipped: %s", exc)
        return {"error": str(exc)}
    return {
        "open_connections": connections,
        "live_subscriptions": subscriptions,
        "backoff": server_side_backoff(ledger, stats.get("connection_attempts", [])),
    }


def server_failed(server: dict[str, Any] | None) -> bool:
    if server is None:
        return False
    backoff = server.get("backoff") or {}
    return bool(
        server.get("open_connections")
        or server.get("live_subscriptions")
        or backoff.get("violations")
    )


for _hook, _listener in (
    (events.test_start, _on_test_start),
    (events.report_to_master, _on_report_to_master),
    (events.worker_report, _on_worker_report),
):
    _hook.add_listener(_listener)  # type: ignore[no-untyped-call]
