"""Reconnect and retry policies against a live emulator: recovery after a mass
disconnect, backoff conformance (from the client's and the server's clocks), the
herd figure, publish retries, and cleanup validation.

Each test runs real Locust users (``locust_support.run_users``) against its own
emulator process; faults are injected through the emulator's admin API.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, ClassVar

import gevent
import pytest
from support.emulator import LiveEmulator
from support.locust_runs import LocustRun, run_users

from harness.loadtest.users import Publisher, PubSubUser, Subscriber
from harness.workload.tracing import read_event


@pytest.fixture
def fresh_emulator(start_emulator: Callable[..., LiveEmulator]) -> LiveEmulator:
    """An emulator of the test's own, so its stats count this test's users only."""
    return start_emulator()


def record_requests(run_types: set[str]) -> tuple[list[dict[str, Any]], Callable[..., None]]:
    """A request listener that keeps the given request types with their time and context."""
    seen: list[dict[str, Any]] = []

    def listener(request_type: str, context: dict[str, Any], **kwargs: Any) -> None:
        if request_type in run_types:
            seen.append({"type": request_type, "at": time.time(), **context, **kwargs})

    return seen, listener


class RecordsArrivals:
    """A user mixin that notes every traced event reaching it: the test's own view of
    what arrived (deliveries reach Locust's stats in batches, without per-event context)."""

    arrivals: ClassVar[list[dict[str, Any]]] = []

    def _on_data(self, client: Any, sub_id: str, event: str, received_ns: int) -> None:
        super()._on_data(client, sub_id, event, received_ns)  # type: ignore[misc]
        stamp = read_event(event)
        if stamp is not None:
            user = self.user_id  # type: ignore[attr-defined]
            arrival = {"user": user, "publisher": stamp.publisher, "seq": stamp.seq}
            RecordsArrivals.arrivals.append(arrival)


# -- recovery after a mass disconnect -------------------------------------------------------------

STORM_CHANNEL = "/default/storm"


class StampRecordingPublisher(Publisher):
    """Remembers every event the server accepted: (publisher, sequence, intended ns)."""

    built: ClassVar[list[tuple[str, int, int]]] = []

    def _acknowledged(
        self, channel: str, seqs: list[int], indexes: tuple[int, ...], slot: Any
    ) -> None:
        super()._acknowledged(channel, seqs, indexes, slot)
        for index in indexes:
            StampRecordingPublisher.built.append((self.user_id, seqs[index], slot.wall_ns))


class StormSubscriber(RecordsArrivals, Subscriber):
    reconnect_policy = "full-jitter:base=300ms,cap=2s"


def test_after_a_mass_disconnect_every_user_is_back_and_later_events_all_arrive(
    fresh_emulator: LiveEmulator,
) -> None:
    """Every connection is dropped 1 s in. Each user reconnects and resubscribes
    (one ``reconnect`` per user, resubscribes on top of the first subscribes), and
    every event intended after the last recovery reaches every subscriber."""
    import locust

    StampRecordingPublisher.built = []
    RecordsArrivals.arrivals = []
    reconnects, listener = record_requests({"reconnect"})
    locust.events.request.add_listener(listener)
    fresh_emulator.add_fault("disconnect-all:after=1s")
    try:
        run = run_users(
            fresh_emulator,
            [StormSubscriber, StampRecordingPublisher],
            users=8,
            seconds=3.5,
            channels=STORM_CHANNEL,
            publish_rate=10,
            reconnect_policy="exponential:base=200ms,cap=2s",
        )
    finally:
        locust.events.request.remove_listener(listener)
    subscribers = run.entry("subscribe", STORM_CHANNEL).num_requests // 2
    assert subscribers == 6, "6 subscribers (weight 3:1 of 8 users), each subscribed twice"
    jitter = run.policy("full-jitter:base=300ms,cap=2s")
    plain = run.policy("exponential:base=200ms,cap=2s")  # the publishers take the option
    assert (jitter["losses"], jitter["recoveries"]) == (6, 6)
    assert (plain["losses"], plain["recoveries"]) == (2, 2)
    assert jitter["conformance"] == plain["conformance"] == 1.0
    assert run.failures("reconnect") == 0 and run.requests("reconnect") == 8
    recovered_at = max(entry["at"] for entry in reconnects)
    # Events intended after the last recovery, with half a second left to arrive.
    end = max(intended for _, _, intended in StampRecordingPublisher.built) / 1e9
    expected = {
        (publisher, seq)
        for publisher, seq, intended in StampRecordingPublisher.built
        if recovered_at < intended / 1e9 < end - 0.5
    }
    assert len(expected) >= 10, "too few events after the recovery to check"
    receivers: dict[tuple[str, int], set[str]] = {}
    for entry in RecordsArrivals.arrivals:
        receivers.setdefault((entry["publisher"], entry["seq"]), set()).add(entry["user"])
    lost = {key: len(receivers.get(key, ())) for key in expected if len(receivers.get(key, ())) < 6}
    assert not lost, f"events after the recovery missing at some subscribers: {lost}"
    assert run.left_open() == (0, 0)
    summary = run.resilience()
    assert summary["server"]["open_connections"] == 0
    assert summary["cleanup"] == {
        "users_checked": 8,
        "leaks": 0,
        "by_kind": {},
        "listed": [],
    }


def test_full_jitter_spreads_the_herd_that_plain_exponential_makes(
    fresh_emulator: LiveEmulator,
) -> None:
    """Two classes of 12 subscribers lose their connections together: without jitter
    all first reconnects land in one 100 ms window (as the policy predicts); full
    jitter over 1.5 s spreads them, so its busiest window holds far fewer."""

    class Jittered(Subscriber):
        reconnect_policy = "full-jitter:base=1500ms,cap=5s"

    class Plain(Subscriber):
        reconnect_policy = "exponential:base=500ms,cap=5s"

    fresh_emulator.add_fault("disconnect-all:after=0.7s")
    run = run_users(fresh_emulator, [Jittered, Plain], users=24, seconds=3.0)
    jittered = run.policy(Jittered.reconnect_policy)["herd"]
    plain = run.policy(Plain.reconnect_policy)["herd"]
    assert plain["disconnected"] == jittered["disconnected"] == 12
    assert plain["peak_first_attempts"] == 12 and plain["predicted_peak"] == 12
    assert jittered["peak_first_attempts"] < plain["peak_first_attempts"]
    # 12 draws over 1.5 s: the policy's own busiest 100 ms holds a few, never all.
    assert jittered["predicted_peak"] < 12
    assert jittered["peak_first_attempts"] <= 8, jittered


# -- backoff conformance --------------------------------------------------------------------------


class Impatient(Subscriber):
    """Claims exponential backoff but waits only a quarter of each delay."""

    reconnect_policy = "exponential:base=400ms,cap=2s"
    backoff_sleep = staticmethod(lambda seconds: gevent.sleep(seconds / 4))


class Patient(Subscriber):
    reconnect_policy = "exponential:base=300ms,cap=2s"


def test_a_client_that_sleeps_less_than_its_policy_is_reported_from_both_sides(
    fresh_emulator: LiveEmulator,
) -> None:
    """After a mass disconnect the emulator refuses handshakes for 2 s, so each user
    makes several attempts. The impatient class's attempts come early: every one is
    out of bounds on the client's clock (failed ``backoff`` requests), and the
    emulator's own attempt log shows retries closer together than the policy
    allows. The patient class, in the same run, conforms on both."""
    fresh_emulator.add_fault("disconnect-all:after=0.5s")
    fresh_emulator.add_fault("refuse:after=0.5s,duration=2s")
    run = run_users(fresh_emulator, [Impatient, Patient], users=4, seconds=4.5)
    impatient = run.policy(Impatient.reconnect_policy)
    patient = run.policy(Patient.reconnect_policy)
    assert impatient["attempts"] >= 6 and impatient["conformance"] == 0.0
    assert patient["attempts"] >= 6 and patient["conformance"] == 1.0
    assert impatient["violations"][0]["observed_s"] < impatient["violations"][0]["low_s"]
    backoff = run.entry("backoff", Impatient.reconnect_policy)
    assert backoff.num_failures == impatient["attempts"]
    assert run.entry("backoff", Patient.reconnect_policy).num_failures == 0
    assert any("came early" in text for text in run.error_texts())
    server = run.resilience()["server"]["backoff"]
    assert server["checked"] >= 4
    early = {violation["policy"] for violation in server["violations"]}
    assert early == {Impatient.reconnect_policy}, server


def test_a_policy_with_max_attempts_gives_up_and_stays_down(fresh_emulator: LiveEmulator) -> None:
    """Handshakes refused for the rest of the run: each user retries exactly
    max-attempts times, then gives up; the failed ``reconnect`` says why."""
    fresh_emulator.add_fault("disconnect-all:after=0.3s")
    fresh_emulator.add_fault("refuse:after=0.3s")
    run = run_users(
        fresh_emulator,
        [Subscriber],
        users=3,
        seconds=2.0,
        reconnect_policy="constant:base=100ms,max-attempts=3",
    )
    row = run.policy("constant:base=100ms,max-attempts=3")
    assert row["attempts"] == 9 and row["give_ups"] == {"max attempts reached": 3}
    assert run.failures("reconnect") == 3
    assert any("GaveUp: max attempts reached after 3 retries" in t for t in run.error_texts())
    connects = run.entry("connect", "/event/realtime")
    assert connects.num_requests == 3 + 9, "one first connect and three retries per user"


def test_an_unauthorized_reconnect_is_not_retried(fresh_emulator: LiveEmulator) -> None:
    fresh_emulator.add_fault("disconnect-all:after=0.3s")
    fresh_emulator.add_fault("refuse:after=0.3s,error=UnauthorizedException")
    run = run_users(
        fresh_emulator, [Subscriber], users=3, seconds=1.5, reconnect_policy="constant:base=50ms"
    )
    row = run.policy("constant:base=50ms")
    assert row["attempts"] == 3 and row["give_ups"] == {"not retryable": 3}
    assert run.entry("connect", "/event/realtime").num_requests == 6


# -- publish retries ------------------------------------------------------------------------------


class RecordingPubSubUser(RecordsArrivals, PubSubUser):
    pass


def test_throttled_publishes_are_retried_and_keep_their_sequence_numbers(
    fresh_emulator: LiveEmulator,
) -> None:
    """Every publish is refused with LimitExceededError for 0.6 s; with a retry policy
    they all get through, and the subscriber sees each sequence number exactly once
    and in order."""
    RecordsArrivals.arrivals = []
    fresh_emulator.add_fault("throttle:after=0.3s,duration=0.6s")
    run = run_users(
        fresh_emulator,
        [RecordingPubSubUser],
        users=1,
        seconds=2.0,
        channels="/default/throttled",
        publish_rate=10,
        publish_retry_policy="constant:base=150ms",
    )
    retries = run.policy("constant:base=150ms", kind="publish")
    assert retries["attempts"] >= 4 and retries["conformance"] == 1.0
    assert run.failures("publish") == 0, run.error_texts()
    sequences = [entry["seq"] for entry in RecordsArrivals.arrivals]
    assert sequences == list(range(1, len(sequences) + 1)), sequences
    assert len(sequences) >= run.requests("publish") - 1  # the last may be in flight at stop


def test_without_a_publish_policy_a_throttled_publish_fails_once(
    fresh_emulator: LiveEmulator,
) -> None:
    fresh_emulator.add_fault("throttle:after=0.3s,duration=0.5s")
    run = run_users(
        fresh_emulator, [Publisher], users=1, seconds=1.2, channels="/default/t", publish_rate=10
    )
    assert run.failures("publish") >= 3
    assert any("LimitExceededError" in text for text in run.error_texts())
    assert run.resilience()["policies"] == []


# -- cleanup validation ---------------------------------------------------------------------------


class SkipsUnsubscribe(Subscriber):
    """Closes its connection at stop without unsubscribing first."""

    def on_stop(self) -> None:
        assert self.connection is not None and self.connection.client is not None
        self.connection.client.close()
        self.connection.check_cleanup()


class NeverCloses(Subscriber):
    """Leaves its connection open at stop."""

    def on_stop(self) -> None:
        assert self.connection is not None
        self.leaked = self.connection.client
        self.connection.check_cleanup()


def test_a_user_that_skips_unsubscribe_is_reported_with_channel_and_id(
    fresh_emulator: LiveEmulator,
) -> None:
    run = run_users(fresh_emulator, [SkipsUnsubscribe], users=1, channels="/default/leaky")
    cleanup = run.resilience()["cleanup"]
    assert cleanup["by_kind"] == {"subscription": 1}
    (leak,) = cleanup["listed"]
    assert leak["channel"] == "/default/leaky" and leak["id"] == "s1"
    assert run.entry("cleanup", "subscription").num_failures == 1
    assert any("subscription left by user" in t and "id s1" in t for t in run.error_texts())


def test_a_user_that_never_closes_leaks_on_both_sides(fresh_emulator: LiveEmulator) -> None:
    run = run_users(fresh_emulator, [NeverCloses], users=2, seconds=1.0)
    summary = run.resilience()
    assert summary["cleanup"]["by_kind"] == {"open-socket": 2, "subscription": 2}
    assert summary["server"]["open_connections"] == 2
    assert summary["server"]["live_subscriptions"] == 2


def test_a_user_stopped_mid_run_is_checked_then(fresh_emulator: LiveEmulator) -> None:
    """Locust lowers the user count mid-run: the stopped users clean up and are
    checked at once, not only at the end."""
    from support.locust_runs import local_environment, running

    environment = local_environment(fresh_emulator.process.info.http_url, [Subscriber])
    with running(environment, users=3) as runner:
        gevent.sleep(0.5)
        runner.start(1, spawn_rate=10)
        gevent.sleep(0.5)
        assert environment.stats.get("clean", "cleanup").num_requests == 2
    assert environment.stats.get("clean", "cleanup").num_requests == 3
    run = LocustRun(environment, fresh_emulator.stats())
    assert run.resilience()["cleanup"]["users_checked"] == 3


def test_reconnects_with_iam_sign_again(fresh_emulator: LiveEmulator) -> None:
    """A reconnect is authorized afresh: IAM users come back after a disconnect."""
    fresh_emulator.add_fault("disconnect-all:after=0.4s")
    run = run_users(
        fresh_emulator,
        [Subscriber],
        users=2,
        seconds=1.5,
        auth_mode="AWS_IAM",
        reconnect_policy="constant:base=200ms",
    )
    assert run.requests("reconnect") == 2 and run.failures("reconnect") == 0
    assert run.failures("connect") == 0 and run.failures("subscribe") == 0


def test_the_servers_maximum_connection_life_is_a_loss_like_any_other(
    start_emulator: Callable[..., LiveEmulator],
) -> None:
    """The emulator closes each connection after 0.6 s (AppSync: 24 h): users come
    back and resubscribe each time, and every close counts as a loss."""
    emulator = start_emulator("--max-connection-duration-s", "0.6")
    run = run_users(
        emulator, [Subscriber], users=2, seconds=2.0, reconnect_policy="constant:base=100ms"
    )
    row = run.policy("constant:base=100ms")
    assert row["losses"] >= 4 and row["recoveries"] >= 4
    assert row["conformance"] == 1.0
    assert run.failures("subscribe") == 0
    assert run.entry("subscribe", "/default/room-{1..20}").num_requests == 2 + row["recoveries"]
