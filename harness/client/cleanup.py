"""Cleanup validation: what a stopped client left behind.

A user that stops (at the end of a run, or mid-run when Locust lowers the user
count) must leave no open socket, no operation waiting for an answer, no
subscription that ``unsubscribe_success`` did not end, and must not have been
sent ``data`` for a subscription after it ended. The server side (no open
connections or live subscriptions once every user stopped) is checked from
the emulator's admin stats by :mod:`harness.loadtest.server_checks`.
"""

from __future__ import annotations

from harness.client.websocket import EventsClient
from harness.errors import CleanupLeak


def client_leaks(client: EventsClient, user: str) -> list[CleanupLeak]:
    """What ``client`` (closed by its user) left behind, each named by user, channel and id."""
    leaks: list[CleanupLeak] = []
    if client.socket_open:
        leaks.append(CleanupLeak("open-socket", user, None, None))
    for key, _operation, channel in client.pending():
        leaks.append(CleanupLeak("pending-operation", user, channel, key))
    if client.lost is None:
        # A connection the server ended took its subscriptions with it; one the
        # client closed must have unsubscribed each of them first.
        for sub_id, channel in client.subscriptions.items():
            leaks.append(CleanupLeak("subscription", user, channel, sub_id))
    for sub_id in client.counters.data_after_unsubscribe:
        leaks.append(
            CleanupLeak("data-after-unsubscribe", user, client.unsubscribed[sub_id], sub_id)
        )
    return leaks
