"""The reconnect loop: one user's connection, kept up under its reconnect policy.

:class:`ManagedConnection` connects and subscribes; when the connection is
lost (a close, a network error, a keep-alive timeout, the server's maximum
connection life) it waits as the policy says, connects again with fresh
authorization, and resubscribes every channel. Each attempt after a failure is
checked against the policy (:mod:`harness.measure.resilience`); a recovery is reported
as a ``reconnect`` request timed from the loss to the last resubscribe. A first
connect that fails is retried the same way (its attempts are checked, but it is
not a recovery).

The owner (a Locust user) reports requests through :class:`Reporter`; this
module fires no Locust events itself. It counts what AWS meters of a connection
(connects, subscribes, the time it is open) into a
:class:`~harness.measure.usage.UsageRecorder`.
"""

from __future__ import annotations

import itertools
import random
import time
from collections.abc import Callable
from functools import partial
from typing import Any, Protocol

import gevent
from gevent.event import Event

from harness.client.cleanup import client_leaks
from harness.client.websocket import EventsClient
from harness.config.retry import GiveUp, RetryPolicy
from harness.errors import ConnectionLost, HarnessError, RetriesExhausted
from harness.measure.delivery import DeliveryRecorder
from harness.measure.resilience import ResilienceLedger, client_id
from harness.measure.usage import UsageRecorder
from harness.protocol import REALTIME_PATH

RECONNECT = "reconnect"


class Reporter(Protocol):
    """How a connection reports to its owner's statistics."""

    def timed(
        self,
        request_type: str,
        name: str,
        call: Callable[[], Any],
        *,
        started: float | None = None,
        channel: str | None = None,
    ) -> HarnessError | None:
        """Run ``call``, report it timed from ``started`` (monotonic; default now); its error."""
        ...

    def report(
        self, request_type: str, name: str, response_time_ms: float, error: Exception | None
    ) -> None:
        """Report one request that was measured elsewhere."""
        ...

    def name_of(self, channel: str) -> str:
        """The name a channel is reported under (its template)."""
        ...


ClientFactory = Callable[[str], EventsClient]
"""Makes an unconnected client that sends the given client id."""


class ManagedConnection:
    """A connection and its subscriptions, reconnected per ``policy`` when lost."""

    # Slots: every idle user holds one (docs/performance.md#idle-connections).
    __slots__ = (
        "_attempting", "_counted_open", "_delivery", "_episodes", "_ledger", "_live_since",
        "_lost_at", "_lost_wall", "_make_client", "_reporter", "_rng", "_sleep", "_usage",
        "channels", "client", "gave_up", "policy", "user_id", "wake",
    )  # fmt: skip

    def __init__(
        self,
        *,
        user_id: str,
        make_client: ClientFactory,
        channels: list[str],
        policy: RetryPolicy,
        ledger: ResilienceLedger,
        reporter: Reporter,
        rng: random.Random,
        sleep: Callable[[float], Any] = gevent.sleep,
        delivery: DeliveryRecorder | None = None,
        usage: UsageRecorder | None = None,
    ) -> None:
        self.user_id = user_id
        self.channels = channels
        """Channels and wildcard patterns to hold; resubscribed after every reconnect."""
        self.policy = policy
        self.client: EventsClient | None = None
        self.gave_up: RetriesExhausted | None = None
        self.wake = Event()
        """Set when the connection is lost, so a user waiting on it reconnects at once."""
        self._make_client = make_client
        self._ledger = ledger
        self._reporter = reporter
        self._rng = rng
        self._sleep = sleep
        self._episodes = itertools.count()
        self._attempting: EventsClient | None = None
        self._lost_at = 0.0
        self._lost_wall = 0.0
        self._delivery = delivery
        self._usage = usage or UsageRecorder()
        self._counted_open = False
        """Whether a connection of this one is counted open in ``usage`` (one at a time)."""
        self._live_since: dict[str, int] = {}
        """Channel or pattern to the wall time (ns) its current subscription became live."""

    @property
    def up(self) -> bool:
        return self.client is not None and self.client.lost is None

    def wait(self, seconds: float | None) -> None:
        """Sleep up to ``seconds`` (``None``: no limit); return early when the connection
        is lost."""
        if self.client is None or self.client.lost is None:
            self.wake.wait(seconds)

    def ensure(self) -> bool:
        """Be connected and subscribed: reconnect now if the connection was lost.

        Blocks for the whole reconnect, backoff included. False once the policy
        gave up (the connection then stays down for the rest of the run)."""
        if self.up:
            return True
        if self.gave_up is not None:
            return False
        return self._recover()

    def close(self) -> None:
        """Unsubscribe (bounded by the operation timeout), close, and check what was left behind."""
        for client in (self._attempting, self.client):
            if client is None:
                continue
            deadline = time.monotonic() + client.options.operation_timeout_s
            for sub_id, channel in list(client.subscriptions.items()):
                if time.monotonic() >= deadline or client.lost is not None:
                    break
                error = self._reporter.timed(
                    "unsubscribe",
                    self._reporter.name_of(channel),
                    partial(client.unsubscribe, sub_id),
                    channel=channel,
                )
                if error is None:
                    self._ended(channel, time.time_ns())
            client.close()
        self._count_closed()
        self._end_all(time.time_ns())
        self.check_cleanup()

    def check_cleanup(self) -> None:
        """Report what the closed clients left: a ``cleanup`` request per leak, or one clean."""
        leaks = [
            leak
            for client in (self._attempting, self.client)
            if client is not None
            for leak in client_leaks(client, self.user_id)
        ]
        self._ledger.cleanup(leaks)
        for leak in leaks:
            self._reporter.report("cleanup", leak.kind, 0.0, leak)
        if not leaks:
            self._reporter.report("cleanup", "clean", 0.0, None)
        self._attempting = self.client = None

    # -- the loop ------------------------------------------------------------------

    def _on_lost(self, loss: ConnectionLost) -> None:
        self._count_closed()
        self._lost_at = time.monotonic()
        self._lost_wall = time.time()
        self.wake.set()

    def _recover(self) -> bool:
        lost = self.client.lost if self.client is not None else None
        if lost is None:  # the first connect: try at once
            failed_at, failed_wall = time.monotonic(), time.time()
        else:
            failed_at, failed_wall = self._lost_at, self._lost_wall
            self._ledger.loss(RECONNECT, self.policy, failed_wall)
            self._end_all(int(failed_wall * 1e9))
        recovery_started = failed_at
        self.client = None
        episode_number = next(self._episodes)
        episode = self.policy.episode(self._rng, failed_at)
        error: HarnessError | None = lost
        previous_delay: float | None = None
        attempt = 0
        while True:
            if error is not None:
                delay = episode.next_delay(error, time.monotonic())
                if isinstance(delay, GiveUp):
                    self._give_up(delay, episode.attempts, error, lost, recovery_started)
                    return False
                attempt += 1
                previous_delay = wait_out_backoff(
                    delay,
                    failed_at=failed_at,
                    sleep=self._sleep,
                    ledger=self._ledger,
                    reporter=self._reporter,
                    kind=RECONNECT,
                    policy=self.policy,
                    client=self.user_id,
                    episode=episode_number,
                    attempt=attempt,
                    episode_wall_s=failed_wall,
                    previous_s=previous_delay,
                )
            error = self._connect_and_subscribe(client_id(self.user_id, episode_number, attempt))
            if error is None:
                break
            failed_at = time.monotonic()
        if lost is not None:
            recovery_s = time.monotonic() - recovery_started
            self._ledger.recovered(RECONNECT, self.policy, recovery_s)
            self._reporter.report(RECONNECT, self.policy.label, recovery_s * 1000.0, None)
        return True

    def _connect_and_subscribe(self, attempt_id: str) -> HarnessError | None:
        """One attempt: connect, then subscribe every channel. The error that ended the
        connection, if any; a subscribe refused on a live connection is reported, not retried."""
        client = self._attempting = self._make_client(attempt_id)
        client.on_lost = self._on_lost
        self.wake.clear()
        self._usage.connect_requested(time.time())
        error = self._reporter.timed("connect", REALTIME_PATH, client.connect)
        if error is None:
            self._usage.connection_opened(time.monotonic())
            self._counted_open = True
        for channel in self.channels if error is None else ():
            self._usage.subscribe_requested()
            refused = self._reporter.timed(
                "subscribe",
                self._reporter.name_of(channel),
                partial(client.subscribe, channel),
                channel=channel,
            )
            if client.lost is not None:
                break
            if refused is None:
                self._live(channel)
        self._attempting = None
        if error is None and client.lost is not None:
            error = client.lost
        if error is None:
            self.client = client
            return None
        client.close()
        self._count_closed()
        self._end_all(time.time_ns())
        return error

    def _count_closed(self) -> None:
        """The connection counted open is closed or lost (counted once)."""
        if self._counted_open:
            self._usage.connection_closed(time.monotonic())
            self._counted_open = False

    # -- subscription lifetimes (delivery accounting) ----------------------------------

    def _live(self, channel: str) -> None:
        now_ns = time.time_ns()
        self._live_since[channel] = now_ns
        if self._delivery is not None:
            self._delivery.subscription_live(self.user_id, channel, now_ns)

    def _ended(self, channel: str, end_ns: int) -> None:
        start_ns = self._live_since.pop(channel, None)
        if start_ns is not None and self._delivery is not None:
            self._delivery.subscription_ended(self.user_id, channel, start_ns, end_ns)

    def _end_all(self, end_ns: int) -> None:
        for channel in list(self._live_since):
            self._ended(channel, end_ns)

    def _give_up(
        self,
        reason: GiveUp,
        retries: int,
        error: HarnessError,
        lost: ConnectionLost | None,
        recovery_started: float,
    ) -> None:
        self.gave_up = RetriesExhausted(RECONNECT, reason.value, retries, error)
        self._ledger.gave_up(RECONNECT, self.policy, reason.value)
        if lost is not None:
            elapsed_ms = (time.monotonic() - recovery_started) * 1000.0
            self._reporter.report(RECONNECT, self.policy.label, elapsed_ms, self.gave_up)


def wait_out_backoff(
    delay_s: float,
    *,
    failed_at: float,
    sleep: Callable[[float], Any],
    ledger: ResilienceLedger,
    reporter: Reporter,
    kind: str,
    policy: RetryPolicy,
    client: str,
    episode: int,
    attempt: int,
    episode_wall_s: float,
    previous_s: float | None,
) -> float:
    """Sleep until ``failed_at + delay_s`` (monotonic), then record retry ``attempt``
    against the policy and report its ``backoff`` row; the delay observed."""
    sleep(max(0.0, failed_at + delay_s - time.monotonic()))
    observed = time.monotonic() - failed_at
    violation = ledger.attempt(
        kind,
        policy,
        client=client,
        episode=episode,
        number=attempt,
        wall_s=time.time(),
        loss_wall_s=episode_wall_s,
        observed_s=observed,
        previous_s=previous_s,
    )
    reporter.report("backoff", policy.label, observed * 1000.0, violation)
    return observed
