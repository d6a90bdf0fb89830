"""The Locust users: subscribers, publishers, and users that do both.

This is the only module that fires Locust ``request`` events. Request types
are ``connect``, ``subscribe``, ``publish`` (WebSocket), ``http_publish``,
``deliver`` (end-to-end, from the event's intended send time to its arrival)
and ``unsubscribe``; names are channel templates (``/default/room-{1..20}``)
or wildcard patterns, so the stats table stays readable.

Each user holds one WebSocket connection (publishers that publish over HTTP
hold none). On stop it unsubscribes every subscription and closes.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from functools import partial
from typing import Any

import gevent
from locust import User, constant, task

import harness.locust_hooks  # noqa: F401  (installs the options and listeners)
from harness.client import ClientOptions, EventsClient, PublishOutcome
from harness.config import HarnessSettings
from harness.errors import ClientError, HarnessError, OperationRejected
from harness.http_publish import HttpPublisher
from harness.protocol import REALTIME_PATH
from harness.runtime import HarnessRuntime, runtime_for
from harness.schedule import PublishSchedule, Slot
from harness.tracing import TraceStamp, make_event, read_event

logger = logging.getLogger(__name__)

RECONNECT_PAUSE_S = 1.0
"""Until issue 5's policies: a lost connection is retried after this pause."""
IDLE_STEP_S = 1.0


class PartialPublishFailure(OperationRejected):
    """A publish whose answer refused some of its events."""

    def __init__(self, operation: str, outcome: PublishOutcome) -> None:
        index, code, message = outcome.failed[0]
        detail = f"{len(outcome.failed)} of {len(outcome.failed) + len(outcome.successful)} "
        detail += f"events refused; event {index}: {message}"
        super().__init__(operation, code, detail)


class AppSyncUser(User):
    """Base class: one connection, optional subscriptions, optional scheduled publishing."""

    abstract = True
    wait_time = constant(0)
    subscribes = False
    publishes = False

    def __init__(self, environment: Any) -> None:
        super().__init__(environment)
        self.runtime: HarnessRuntime | None = None
        self.client: EventsClient | None = None
        self.http: HttpPublisher | None = None
        self.user_id = ""
        self.channels: list[str] = []
        """Subscribed channels and wildcard patterns, resubscribed after a reconnect."""
        self._sequences: dict[str, int] = {}
        self._schedule: PublishSchedule | None = None
        self._last_connect_attempt = float("-inf")
        self.skipped_publishes = 0
        """Scheduled publishes dropped because there was no connection to send them on."""

    # -- lifecycle ------------------------------------------------------------

    def on_start(self) -> None:
        try:
            self.runtime = runtime_for(self.environment)
        except HarnessError as exc:
            logger.error("cannot start a user: %s", exc)
            raise
        runtime = self.runtime
        settings = runtime.settings
        self.user_id = runtime.next_user_id()
        if self.subscribes:
            self.channels = self._pick_subscriptions(runtime)
        if self.publishes:
            self._schedule = PublishSchedule(settings.publishes_per_second, rng=runtime.rng)
            if settings.publish_via == "http":
                self.http = HttpPublisher(
                    runtime.target.endpoints,
                    runtime.authorizer,
                    ca_file=runtime.target.ca_file,
                    timeout_s=settings.operation_timeout_s,
                )
        self._ensure_connected()

    def on_stop(self) -> None:
        client, self.client = self.client, None
        if client is not None:
            deadline = time.monotonic() + self._settings.operation_timeout_s
            for sub_id, channel in list(client.subscriptions.items()):
                if time.monotonic() >= deadline or client.lost is not None:
                    break
                self._timed("unsubscribe", self._name(channel), partial(client.unsubscribe, sub_id))
            client.close()
        if self.http is not None:
            self.http.close()

    @task
    def step(self) -> None:
        """One scheduled publish, or an idle second for a pure subscriber."""
        if not self._ensure_connected():
            if self._schedule is not None:
                self.skipped_publishes += self._schedule.skip_missed()
            gevent.sleep(IDLE_STEP_S)
            return
        if self._schedule is None:
            gevent.sleep(IDLE_STEP_S)
            return
        slot = self._schedule.next_slot()
        delay = slot.monotonic_s - time.monotonic()
        if delay > 0:
            gevent.sleep(delay)
        self._publish(slot)

    # -- connection -------------------------------------------------------------

    @property
    def _settings(self) -> HarnessSettings:
        assert self.runtime is not None
        return self.runtime.settings

    def _needs_socket(self) -> bool:
        return self.subscribes or self._settings.publish_via == "ws"

    def _ensure_connected(self) -> bool:
        """Connect (again) and resubscribe when there is no open connection.

        Attempts are at least :data:`RECONNECT_PAUSE_S` apart.
        """
        if not self._needs_socket():
            return True
        if self.client is not None and self.client.lost is None:
            return True
        now = time.monotonic()
        if now - self._last_connect_attempt < RECONNECT_PAUSE_S:
            return False
        self._last_connect_attempt = now
        self.client = None
        assert self.runtime is not None
        runtime = self.runtime
        client = EventsClient(
            runtime.target.endpoints,
            runtime.authorizer,
            ClientOptions(
                connect_timeout_s=self._settings.connect_timeout_s,
                operation_timeout_s=self._settings.operation_timeout_s,
                ca_file=runtime.target.ca_file,
                client_id=self.user_id,
            ),
            on_data=self._on_data,
        )
        if not self._timed("connect", REALTIME_PATH, client.connect):
            return False
        self.client = client
        if self._schedule is not None:
            # Slots that passed while there was no connection are dropped, not sent
            # in a burst now (which would also bend the latency figures).
            self.skipped_publishes += self._schedule.skip_missed()
        for channel in self.channels:
            self._timed("subscribe", self._name(channel), partial(client.subscribe, channel))
        return client.lost is None

    def _pick_subscriptions(self, runtime: HarnessRuntime) -> list[str]:
        settings = runtime.settings
        count = min(settings.subscriptions_per_user, len(runtime.all_channels))
        picked = runtime.rng.sample(runtime.all_channels, count)
        wildcards = list(dict.fromkeys(t.wildcard for t in settings.channels if t.wildcard))
        for index in range(settings.wildcard_subscriptions):
            picked.append(wildcards[index % len(wildcards)])
        return picked

    # -- publishing -------------------------------------------------------------

    def _publish(self, slot: Slot) -> None:
        assert self.runtime is not None
        settings = self.runtime.settings
        channel = self.runtime.rng.choice(self.runtime.all_channels)
        events = [self._event(channel, slot) for _ in range(settings.events_per_publish)]
        publish = self._publisher()
        request_type = "http_publish" if self.http is not None else "publish"

        def call() -> None:
            outcome = publish(channel, events)
            if outcome.failed:
                raise PartialPublishFailure(request_type, outcome)

        self._timed(request_type, self._name(channel), call, started=slot.monotonic_s)

    def _publisher(self) -> Callable[[str, list[str]], PublishOutcome]:
        if self.http is not None:
            return self.http.publish
        assert self.client is not None
        return self.client.publish

    def _event(self, channel: str, slot: Slot) -> str:
        seq = self._sequences.get(channel, 0) + 1
        self._sequences[channel] = seq
        assert self.runtime is not None
        settings = self.runtime.settings
        stamp = TraceStamp(settings.run_id, self.user_id, channel, seq, slot.wall_ns)
        return make_event(stamp, settings.payload_bytes)

    # -- receiving -------------------------------------------------------------

    def _on_data(self, sub_id: str, event: str, received_ns: int) -> None:
        stamp = read_event(event)
        assert self.runtime is not None
        if stamp is None or stamp.run != self.runtime.settings.run_id:
            return
        self.environment.events.request.fire(
            request_type="deliver",
            name=self._name(stamp.channel),
            response_time=(received_ns - stamp.intended_ns) / 1e6,
            response_length=len(event),
            exception=None,
            context={"user": self.user_id, "seq": stamp.seq, "publisher": stamp.publisher},
        )

    # -- reporting -------------------------------------------------------------

    def _name(self, channel: str) -> str:
        assert self.runtime is not None
        return self.runtime.template_of.get(channel, channel)

    def _timed(
        self,
        request_type: str,
        name: str,
        call: Callable[[], Any],
        *,
        started: float | None = None,
    ) -> bool:
        """Run ``call`` and fire one request event timed from ``started`` (default: now)."""
        start = time.monotonic() if started is None else started
        exception: Exception | None = None
        try:
            call()
        except HarnessError as exc:
            exception = exc
            if not isinstance(exc, ClientError):  # e.g. credentials that stopped refreshing
                logger.error("%s %s: %s", request_type, name, exc)
        self.environment.events.request.fire(
            request_type=request_type,
            name=name,
            response_time=(time.monotonic() - start) * 1000.0,
            response_length=0,
            exception=exception,
            context={"user": self.user_id},
        )
        return exception is None


class Subscriber(AppSyncUser):
    """Connects and subscribes to ``--subscriptions-per-user`` channels (plus wildcards)."""

    weight = 3
    subscribes = True


class Publisher(AppSyncUser):
    """Publishes ``--publish-rate`` events per second, over ``--publish-via``."""

    weight = 1
    publishes = True


class PubSubUser(AppSyncUser):
    """Subscribes and publishes on the same connection."""

    weight = 1
    subscribes = True
    publishes = True
