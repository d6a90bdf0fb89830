"""The Locust users: subscribers, publishers, and users that do both.

This is the only module that reports requests to Locust. Request types
are ``connect``, ``subscribe``, ``publish`` (WebSocket), ``http_publish``,
``deliver`` (end-to-end, from the event's intended send time to its arrival;
added to Locust's stats in batches, :mod:`harness.loadtest.batched_stats`)
and ``unsubscribe``; names are channel templates (``/default/room-{1..20}``)
or wildcard patterns, so the stats table stays readable. A scheduled publish
whose slot came while the publisher had no connection is a ``skipped`` request
(0 ms, not a failure: like an event missed during a reconnect, it is what an
outage costs, and ``--slo skipped==0`` gates on it), so every slot of the
schedule is in the table: sent, failed or skipped. Retries add
``reconnect`` (loss to fully resubscribed, named after the policy), ``backoff``
(each retry's observed delay; a failure when it broke the policy) and, at
stop, ``cleanup`` (for every user: one row per kind of leak, or ``clean``).

Each user holds one WebSocket connection (publishers that publish over HTTP
hold none), kept up under its reconnect policy (:mod:`harness.client.reconnect`). On
stop it unsubscribes every subscription, closes, and checks what it left
behind. A user class may set its own ``reconnect_policy`` and
``publish_retry_policy`` (policy texts; ``None`` takes the option), its own values
of the per-user options (``user_options = per_user(publish_rate=30)``, with
:func:`harness.loadtest.scenario.per_user`; see
:data:`~harness.loadtest.settings.PER_USER_OPTIONS`), and a ``channel_pattern``
that keeps its users to the channels of ``--channels`` it covers, so that the
classes of a scenario can be told apart by channel template in every report.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Mapping
from functools import partial
from types import MappingProxyType
from typing import Any, ClassVar

import gevent
from locust import User, constant, task

from harness.client.http_publish import HttpPublisher
from harness.client.reconnect import ManagedConnection, wait_out_backoff
from harness.client.websocket import ClientOptions, EventsClient, PublishOutcome
from harness.config.retry import GiveUp, RetryPolicy
from harness.errors import (
    ClientError,
    ConfigurationError,
    HarnessError,
    OperationRejected,
    RetriesExhausted,
)
from harness.loadtest.batched_stats import BatchedRequests
from harness.loadtest.listeners import installed
from harness.loadtest.runtime import NO_CHANNELS, ChannelChoice, HarnessRuntime
from harness.loadtest.settings import HarnessSettings, check_user_options
from harness.loadtest.state import run_state
from harness.measure.recorders import ProcessRecorders
from harness.measure.resilience import ResilienceLedger
from harness.measure.schema import METRICS
from harness.protocol import parse_channel_pattern
from harness.workload.schedule import PublishSchedule, Slot
from harness.workload.tracing import PAD_CHARACTERS, TraceStamp, make_event, read_event

logger = logging.getLogger(__name__)

IDLE_STEP_S = 1.0
PUBLISH = "publish"
SKIPPED = "skipped"
"""The request type of a scheduled publish not sent (no connection)."""
BROADCAST_ERROR = "broadcast_error"
"""The request type of a ``broadcast_error`` the service sent a subscription."""


def report_broadcast_error(
    environment: Any, template_of: dict[str, str], client: EventsClient, sub_id: str, kind: str
) -> None:
    """A ``broadcast_error``: an event the service could not deliver to a subscription
    (rare; its event is counted as lost too). Reported as a failed ``broadcast_error``
    request of the subscription's template, so Locust's tables and summary.json name it."""
    channel = client.subscriptions.get(sub_id) or client.unsubscribed.get(sub_id, "unknown")
    environment.events.request.fire(
        request_type=BROADCAST_ERROR,
        name=template_of.get(channel, channel),
        response_time=0.0,
        response_length=0,
        exception=ClientError("deliver", kind, "broadcast_error from the service"),
        context={"client": client.options.client_id},
    )


class PartialPublishFailure(OperationRejected):
    """A publish whose answer refused some of its events."""

    def __init__(self, operation: str, outcome: PublishOutcome) -> None:
        index, code, message = outcome.failed[0]
        detail = f"{len(outcome.failed)} of {len(outcome.failed) + len(outcome.successful)} "
        detail += f"events refused; event {index}: {message}"
        super().__init__(operation, code, detail)
        self.failed_indexes = tuple(entry[0] for entry in outcome.failed)


class AppSyncUser(User):
    """Base class: one connection, optional subscriptions, optional scheduled publishing."""

    abstract = True
    wait_time = constant(0)
    subscribes = False
    publishes = False
    reconnect_policy: str | None = None
    """This class's reconnect policy (``--reconnect-policy`` syntax); None: the option's."""
    publish_retry_policy: str | None = None
    """This class's publish retry policy; None: ``--publish-retry-policy``."""
    user_options: ClassVar[Mapping[str, Any]] = MappingProxyType({})
    """This class's own values of per-user options, by field name
    (``per_user(publish_rate=30, publish_via="http")``), checked as the options are
    when the class is defined; the rest come from the run."""
    channel_pattern: str | None = None
    """A channel or ``/ns/prefix/*`` wildcard: this class publishes to and subscribes to
    only the channels of ``--channels`` it covers; None: all of them."""
    choice: ChannelChoice = NO_CHANNELS
    """The channels this user picks from, set when it starts (``channel_pattern``)."""
    backoff_sleep: Callable[[float], Any] = staticmethod(gevent.sleep)
    """How the user waits out a backoff delay (a test may make it cheat)."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Check the class's own options and channel pattern when it is defined, so a
        scenario with a typo fails as Locust imports it (ConfigurationError)."""
        super().__init_subclass__(**kwargs)
        check_user_options(cls.__name__, cls.user_options)
        if cls.channel_pattern is not None:
            try:
                parse_channel_pattern(cls.channel_pattern)
            except HarnessError as exc:
                raise ConfigurationError(
                    f"{cls.__name__}.channel_pattern", f"{cls.channel_pattern!r}: {exc}"
                ) from None

    def __init__(self, environment: Any) -> None:
        super().__init__(environment)
        self.runtime: HarnessRuntime | None = None
        self.settings: HarnessSettings | None = None
        """The run's settings with this class's own ``user_options``."""
        self.connection: ManagedConnection | None = None
        self.http: HttpPublisher | None = None
        state = run_state(environment)
        self.recorders: ProcessRecorders = state.recorders
        self.ledger: ResilienceLedger = self.recorders.resilience
        self.deliveries: BatchedRequests = state.deliveries
        self.user_id = ""
        self.channels: list[str] = []
        """Subscribed channels and wildcard patterns, resubscribed after a reconnect."""
        self._sequences: dict[str, int] = {}
        self._schedule: PublishSchedule | None = None
        self._publish_policy = RetryPolicy(None)

    # -- lifecycle ------------------------------------------------------------

    def on_start(self) -> None:
        try:
            if not installed(self.environment.events):
                raise ConfigurationError(
                    "locustfile",
                    "the harness is not installed: call harness.loadtest.install(events) "
                    "in the locustfile, after 'from locust import events'",
                )
            self.runtime = run_state(self.environment).user_runtime()
            owner = type(self).__name__
            settings = self.runtime.settings_for(owner, self.user_options)
            self.settings = settings
            self.choice = self.runtime.channels_for(self.channel_pattern, owner)
            reconnect = self._policy(self.reconnect_policy, settings.reconnect_policy, "reconnect")
            self._publish_policy = self._policy(
                self.publish_retry_policy, settings.publish_retry_policy, "publish_retry"
            )
        except HarnessError as exc:
            logger.error("cannot start a user: %s", exc)
            raise
        runtime = self.runtime
        self.user_id = runtime.next_user_id()
        if self.subscribes:
            self.channels = self._pick_subscriptions(runtime.rng)
        if self.publishes and settings.publish_via == "http":
            self.http = HttpPublisher(
                runtime.target.endpoints,
                runtime.authorizer_for(self.user_id),
                ca_file=runtime.target.ca_file,
                timeout_s=settings.operation_timeout_s,
            )
        if self.subscribes or settings.publish_via == "ws":
            self.connection = ManagedConnection(
                user_id=self.user_id,
                make_client=self._make_client,
                channels=self.channels,
                policy=reconnect,
                ledger=self.ledger,
                reporter=self,
                rng=runtime.rng,
                sleep=self.backoff_sleep,
                delivery=self.recorders.delivery,
                usage=self.recorders.usage,
            )
            self.connection.ensure()
        if self.publishes:  # its first slot comes after the first connect
            self._schedule = PublishSchedule(settings.publishes_per_second, rng=runtime.rng)
        run_state(self.environment).users_started += 1

    def on_stop(self) -> None:
        if self.connection is not None:
            self.connection.close()  # reports its cleanup
        if self.http is not None:
            self.http.close()
            if self.connection is None:  # an HTTP publisher holds no connection to leave
                self.ledger.cleanup([])
                self.report("cleanup", "clean", 0.0, None)

    @task
    def step(self) -> None:
        """One scheduled publish; for a pure subscriber, a wait for its connection's loss.

        Waits are cut short by a lost connection, so reconnecting starts at once. A
        subscriber does not wake while all is well: thousands of users waking once a
        second, in the batches they were spawned in, stalled every connection for
        milliseconds (docs/performance.md)."""
        connection = self.connection
        if connection is not None and not connection.up:
            up = connection.ensure()
            if self._schedule is not None:
                # Slots that passed without a connection are skipped, not sent in a
                # burst afterwards (which would also bend the latency figures).
                self._skip(self._schedule.skip_missed())
            if not up:
                gevent.sleep(IDLE_STEP_S)  # the policy gave up: stay down, quietly
                return
        if self._schedule is None:
            self._wait(None)
            return
        slot = self._schedule.next_slot()
        delay = slot.monotonic_s - time.monotonic()
        if delay > 0:
            self._wait(delay)
        if connection is not None and not connection.up:
            self._skip(1)  # lost while waiting: the next step reconnects
            return
        self._publish(slot)

    def _wait(self, seconds: float | None) -> None:
        """Up to ``seconds`` (``None``: no limit), or until the connection is lost."""
        if self.connection is not None:
            self.connection.wait(seconds)
        else:
            assert seconds is not None, "a user without a connection publishes on a schedule"
            gevent.sleep(seconds)

    # -- connection -------------------------------------------------------------

    @property
    def _settings(self) -> HarnessSettings:
        assert self.settings is not None
        return self.settings

    def _policy(self, own: str | None, default: RetryPolicy, attribute: str) -> RetryPolicy:
        if own is None:
            return default
        return RetryPolicy.parse(own, option=f"{type(self).__name__}.{attribute}_policy")

    def _make_client(self, client_id: str) -> EventsClient:
        assert self.runtime is not None
        runtime = self.runtime
        if runtime.broadcast_error_report is None:
            runtime.broadcast_error_report = partial(
                report_broadcast_error, self.environment, runtime.template_of
            )
        client = EventsClient(
            runtime.target.endpoints,
            runtime.authorizer_for(self.user_id),
            ClientOptions(
                connect_timeout_s=self._settings.connect_timeout_s,
                operation_timeout_s=self._settings.operation_timeout_s,
                ca_file=runtime.target.ca_file,
                client_id=client_id,
                on_broadcast_error=runtime.broadcast_error_report,
            ),
        )
        # Bound to its client: data can arrive on a connection that is still resubscribing.
        client.on_data = partial(self._on_data, client)
        return client

    def _pick_subscriptions(self, rng: random.Random) -> list[str]:
        settings, choice = self._settings, self.choice
        count = min(settings.subscriptions_per_user, len(choice.channels))
        picked: list[str] = rng.sample(choice.channels, count)
        # All of them at most: a class kept to a few channels may have fewer wildcards.
        picked += choice.wildcards[: settings.wildcard_subscriptions]
        return picked

    # -- publishing -------------------------------------------------------------

    def _publish(self, slot: Slot) -> None:
        assert self.runtime is not None
        channel = self.runtime.rng.choice(self.choice.channels)
        seqs = [self._next_seq(channel) for _ in range(self._settings.events_per_publish)]
        request_type = "http_publish" if self.http is not None else PUBLISH
        self.timed(
            request_type,
            self.name_of(channel),
            lambda: self._publish_with_retries(request_type, channel, seqs, slot),
            started=slot.monotonic_s,
            channel=channel,
        )

    def _publish_with_retries(
        self, request_type: str, channel: str, seqs: list[int], slot: Slot
    ) -> None:
        """Publish, retrying per the publish policy; retried events keep their sequence numbers.

        A partly refused publish retries only the refused events; each event the
        server accepts is recorded for the delivery accounting."""
        policy = self._publish_policy
        settings = self._settings
        episode = None
        failed_at = first_failure_wall = 0.0
        previous: float | None = None
        while True:
            events = [
                make_event(
                    TraceStamp(settings.run_id, self.user_id, channel, seq, slot.wall_ns),
                    settings.payload_bytes,
                    PAD_CHARACTERS[settings.payload_chars],
                )
                for seq in seqs
            ]
            self.recorders.usage.published(events, time.time())
            try:
                outcome = self._publisher()(channel, events)
                self._acknowledged(channel, seqs, outcome.successful, slot)
                if outcome.failed:
                    raise PartialPublishFailure(request_type, outcome)
                return
            except ClientError as exc:
                failed_at = time.monotonic()
                if episode is None:
                    assert self.runtime is not None
                    episode = policy.episode(self.runtime.rng, failed_at)
                    first_failure_wall = time.time()
                delay = episode.next_delay(exc, failed_at)
                if isinstance(delay, GiveUp):
                    if episode.attempts == 0:
                        raise
                    self.ledger.gave_up(PUBLISH, policy, delay.value)
                    raise RetriesExhausted(
                        request_type, delay.value, episode.attempts, exc
                    ) from exc
                if isinstance(exc, PartialPublishFailure):
                    seqs = [seqs[index] for index in exc.failed_indexes]
            previous = wait_out_backoff(
                delay,
                failed_at=failed_at,
                sleep=self.backoff_sleep,
                ledger=self.ledger,
                reporter=self,
                kind=PUBLISH,
                policy=policy,
                client=self.user_id,
                episode=0,
                attempt=episode.attempts,
                episode_wall_s=first_failure_wall,
                previous_s=previous,
            )
            if self.connection is not None and not self.connection.ensure():
                assert self.connection.gave_up is not None
                raise self.connection.gave_up

    def _skip(self, slots: int) -> None:
        """Report ``slots`` scheduled publishes as skipped: each a ``skipped`` request of
        the channel it would have drawn, and a ``skipped`` figure of that channel."""
        assert self.runtime is not None
        for _ in range(slots):
            channel = self.runtime.rng.choice(self.choice.channels)
            self.recorders.delivery.skipped_publish(channel)
            self.report(SKIPPED, self.name_of(channel), 0.0, None)

    def _publisher(self) -> Callable[[str, list[str]], PublishOutcome]:
        if self.http is not None:
            return self.http.publish
        assert self.connection is not None and self.connection.client is not None
        return self.connection.client.publish

    def _next_seq(self, channel: str) -> int:
        seq = self._sequences.get(channel, 0) + 1
        self._sequences[channel] = seq
        return seq

    def _acknowledged(
        self, channel: str, seqs: list[int], indexes: tuple[int, ...], slot: Slot
    ) -> None:
        for index in indexes:
            if 0 <= index < len(seqs):
                self.recorders.delivery.acknowledged(
                    self.user_id, channel, seqs[index], slot.wall_ns
                )

    # -- receiving -------------------------------------------------------------

    def _on_data(self, client: EventsClient, sub_id: str, event: str, received_ns: int) -> None:
        """One delivery (the hot path): its metered size, its latency, its sequence number,
        and a row for Locust's table, each a few appends; the counting happens off this
        path. Events of other runs are metered too: AWS bills their delivery all the same."""
        size = self.recorders.usage.delivered(event, received_ns)
        stamp = read_event(event)
        runtime = self.runtime
        assert runtime is not None
        if stamp is None or stamp.run != runtime.settings.run_id:
            return
        channel = stamp.channel
        name = runtime.template_of.get(channel, channel)
        latency_us = (received_ns - stamp.intended_ns) / 1000.0
        self.recorders.latency.record("deliver", channel, name, latency_us)
        pattern = client.subscriptions.get(sub_id, channel)
        self.recorders.delivery.arrived_event(
            self.user_id, pattern, stamp.publisher, channel, stamp.seq
        )
        self.deliveries.add(name, latency_us, size)

    # -- reporting (harness.client.reconnect.Reporter) ----------------------------------------

    def name_of(self, channel: str) -> str:
        assert self.runtime is not None
        return self.runtime.template_of.get(channel, channel)

    def timed(
        self,
        request_type: str,
        name: str,
        call: Callable[[], Any],
        *,
        started: float | None = None,
        channel: str | None = None,
    ) -> HarnessError | None:
        """Run ``call`` and report it timed from ``started`` (default: now); its error."""
        start = time.monotonic() if started is None else started
        error: HarnessError | None = None
        try:
            call()
        except HarnessError as exc:
            error = exc
            if not isinstance(exc, ClientError):  # e.g. credentials that stopped refreshing
                logger.error("%s %s: %s", request_type, name, exc)
        elapsed_ms = (time.monotonic() - start) * 1000.0
        self.report(request_type, name, elapsed_ms, error, channel=channel)
        return error

    def report(
        self,
        request_type: str,
        name: str,
        response_time_ms: float,
        error: Exception | None,
        *,
        channel: str | None = None,
    ) -> None:
        """Fire a Locust request event; a success of a latency metric also goes into the
        harness's histogram of its channel (``channel``, else the name)."""
        if error is None and request_type in METRICS:
            self.recorders.latency.record(
                request_type, channel or name, name, response_time_ms * 1000.0
            )
        self.environment.events.request.fire(
            request_type=request_type,
            name=name,
            response_time=response_time_ms,
            response_length=0,
            exception=error,
            context={"user": self.user_id},
        )


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
