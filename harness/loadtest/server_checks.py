"""The embedded emulator's view of a run, from its admin API.

Once the users stopped, the emulator must hold no open connection and no live
subscription, and its attempt log must show no retry closer to the previous
one than the policy allows (:func:`harness.measure.resilience.server_side_backoff`).
The traced events its namespace handlers filtered are counted as filtered, not lost
(:func:`read_filtered`).
"""

from __future__ import annotations

import logging
import time

import gevent

from harness.emulator.admin_client import AdminClient, AdminError
from harness.loadtest.settings import EmbeddedEmulator
from harness.measure.delivery import DeliveryAccounts
from harness.measure.resilience import ResilienceLedger, server_side_backoff
from harness.measure.schema import ServerChecks

logger = logging.getLogger("harness")

SERVER_SETTLE_S = 3.0
"""How long the emulator may take to see the last closes before open connections count."""


def server_checks(emulator: EmbeddedEmulator, ledger: ResilienceLedger) -> ServerChecks:
    """Leftovers on the emulator, and backoff from its clock (waits up to SERVER_SETTLE_S)."""
    admin = AdminClient(emulator.admin_url, emulator.ca_file)
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


def read_filtered(emulator: EmbeddedEmulator, accounts: DeliveryAccounts, run_id: str) -> None:
    """Add to ``accounts`` this run's events the emulator's handlers filtered since the
    last read (a failed read is logged: those events then count as lost)."""
    try:
        document = AdminClient(emulator.admin_url, emulator.ca_file).filtered(
            accounts.filtered_read
        )
    except AdminError as exc:
        logger.warning("cannot read the events handlers filtered: %s", exc)
        return
    for _, run, publisher, channel, seq in document["events"]:
        if run == run_id:
            accounts.add_filtered(publisher, channel, seq)
    accounts.filtered_read = document["total"]
