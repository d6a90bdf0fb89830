"""The harness's Locust users in real Locust environments against a real emulator process."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import gevent
import pytest
from emulator_support import LiveEmulator
from locust_support import run_users

from harness.emulator import defaults
from harness.signing import AuthMode
from harness.tracing import TraceStamp, make_event, read_event
from harness.users import Publisher, PubSubUser, Subscriber

REQUEST_TYPES = ("connect", "subscribe", "publish", "deliver", "unsubscribe")


@pytest.fixture
def fresh_emulator(start_emulator: Callable[..., LiveEmulator]) -> LiveEmulator:
    """An emulator of the test's own, so its stats count this test's users only."""
    return start_emulator()


def test_publishers_and_subscribers_exchange_events_and_clean_up(
    fresh_emulator: LiveEmulator,
) -> None:
    run = run_users(
        fresh_emulator,
        [Publisher, Subscriber],
        users=4,
        seconds=1.5,
        channels="/default/pair-{1..2}",
        subscriptions_per_user=2,
        publish_rate=20,
    )
    for request_type in REQUEST_TYPES:
        assert run.requests(request_type) > 0, request_type
        assert run.failures(request_type) == 0, (request_type, run.error_texts())
    # One publisher and three subscribers of both channels: every event reaches all three.
    # All users stop at once, so at the end one publish may be in flight (never
    # acknowledged, delivered to some) or acknowledged with deliveries still on the way.
    published = run.entry("publish", "/default/pair-{1..2}").num_requests
    delivered = run.entry("deliver", "/default/pair-{1..2}").num_requests
    assert published >= 15
    assert 3 * (published - 1) <= delivered <= 3 * (published + 1)
    # What the emulator sent, the subscribers received, but for what was on the wire.
    sent = run.emulator_stats["deliveries"]["sent"]
    assert delivered <= sent <= delivered + 3
    assert run.entry("connect", "/event/realtime").num_requests == 4
    assert run.entry("subscribe", "/default/pair-{1..2}").num_requests == 6
    assert run.entry("unsubscribe", "/default/pair-{1..2}").num_requests == 6
    assert run.left_open() == (0, 0)
    assert run.emulator_stats["subscriptions"]["total"] == 6


def test_delivery_latency_is_measured_from_the_intended_send_time(
    fresh_emulator: LiveEmulator,
) -> None:
    fresh_emulator.add_fault("delay-deliveries:delay=0.25")
    run = run_users(
        fresh_emulator,
        [PubSubUser],
        users=2,
        seconds=1.5,
        channels="/default/late",
        publish_rate=10,
    )
    deliver = run.entry("deliver", "/default/late")
    assert deliver.num_requests > 0
    assert deliver.min_response_time >= 250
    assert deliver.max_response_time < 2000
    # The publish acknowledgement is not delayed by a delivery fault.
    assert run.entry("publish", "/default/late").min_response_time < 250


@pytest.mark.parametrize("mode", list(AuthMode))
def test_each_auth_mode_works_end_to_end(fresh_emulator: LiveEmulator, mode: AuthMode) -> None:
    run = run_users(
        fresh_emulator,
        [PubSubUser],
        users=2,
        seconds=1.0,
        auth_mode=mode.value.lower(),
        channels="/default/auth",
        publish_rate=10,
    )
    for request_type in REQUEST_TYPES:
        assert run.requests(request_type) > 0, (mode, request_type)
        assert run.failures(request_type) == 0, (mode, request_type, run.error_texts())
    assert run.left_open() == (0, 0)


@pytest.mark.parametrize("mode", list(AuthMode))
def test_each_auth_mode_publishes_over_http(fresh_emulator: LiveEmulator, mode: AuthMode) -> None:
    run = run_users(
        fresh_emulator,
        [PubSubUser],
        users=2,
        seconds=1.0,
        auth_mode=mode.value,
        publish_via="http",
        channels="/default/http",
        publish_rate=10,
        events_per_publish=5,
    )
    http = run.entry("http_publish", "/default/http")
    assert http.num_requests > 0 and http.num_failures == 0, run.error_texts()
    assert run.requests("publish") == 0
    # Two subscribers each get all five events of both users' publishes.
    assert run.entry("deliver", "/default/http").num_requests == 2 * 5 * http.num_requests
    assert run.emulator_stats["publishes"]["http"] == http.num_requests


def test_a_wrong_api_key_shows_up_as_failed_connects_with_the_servers_text(
    fresh_emulator: LiveEmulator,
) -> None:
    run = run_users(
        fresh_emulator,
        [PubSubUser],
        users=2,
        seconds=1.2,
        api_key="da2-not-the-right-key",
        channels="/default/denied",
    )
    connect = run.entry("connect", "/event/realtime")
    assert connect.num_requests >= 2
    assert connect.num_failures == connect.num_requests
    assert run.requests("subscribe") == run.requests("publish") == 0
    assert any(
        "UnauthorizedException" in text and "You are not authorized to make this call." in text
        for text in run.error_texts()
    ), run.error_texts()
    assert not any("da2-not-the-right-key" in text for text in run.error_texts())


def test_a_wrong_iam_secret_fails_with_the_signature_mismatch_and_leaks_nothing(
    start_emulator: Callable[..., LiveEmulator], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # The emulator knows the session token, so the refusal is the signature mismatch,
    # whose full text echoes the canonical request with the token in it (§4).
    emulator = start_emulator(
        "--iam",
        f"{defaults.DEFAULT_ACCESS_KEY_ID}:{defaults.DEFAULT_SECRET_ACCESS_KEY}"
        ":session-token-distinctive-4567",
    )
    config = tmp_path / "credentials"
    config.write_text(
        "[wrong]\naws_access_key_id = AKIAHARNESSEMULATOR1\n"
        "aws_secret_access_key = not-the-secret-distinctive-0123\n"
        "aws_session_token = session-token-distinctive-4567\n"
    )
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(config))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config) + ".absent")
    run = run_users(
        emulator,
        [Subscriber],
        users=1,
        seconds=0.5,
        auth_mode="AWS_IAM",
        aws_profile="wrong",
        channels="/default/iam",
    )
    assert run.failures("connect") == run.requests("connect") >= 1
    texts = run.error_texts()
    assert any("The request signature we calculated does not match" in text for text in texts), (
        texts
    )
    for text in texts:
        assert "Canonical String" not in text
        assert "distinctive" not in text


def test_wildcard_subscriptions_receive_every_channel_of_the_template(
    fresh_emulator: LiveEmulator,
) -> None:
    run = run_users(
        fresh_emulator,
        [Publisher, Subscriber],
        users=2,
        seconds=1.2,
        channels="/default/rooms/{1..5}",
        subscriptions_per_user=0,
        wildcard_subscriptions=1,
        publish_rate=20,
    )
    assert run.entry("subscribe", "/default/rooms/*").num_requests == 1
    published = run.entry("publish", "/default/rooms/{1..5}").num_requests
    assert published > 5
    delivered = run.entry("deliver", "/default/rooms/{1..5}").num_requests
    # At the stop, one publish may be in flight or acknowledged but not yet delivered.
    assert published - 1 <= delivered <= published + 1
    assert run.entry("unsubscribe", "/default/rooms/*").num_requests == 1


def test_users_stopped_mid_run_leave_no_connection_or_subscription(
    fresh_emulator: LiveEmulator,
) -> None:
    run = run_users(
        fresh_emulator,
        [Subscriber],
        users=10,
        seconds=0.8,
        channels="/default/many-{1..50}",
        subscriptions_per_user=20,
    )
    assert run.entry("subscribe", "/default/many-{1..50}").num_requests == 200
    assert run.entry("unsubscribe", "/default/many-{1..50}").num_requests == 200
    assert run.left_open() == (0, 0)


def test_events_of_another_run_are_not_counted_as_deliveries(
    fresh_emulator: LiveEmulator,
) -> None:
    foreign = make_event(TraceStamp("another-run", "p", "/default/shared", 1, 0))
    assert read_event(foreign) is not None

    def publish_foreign_events() -> None:
        for _ in range(5):
            gevent.sleep(0.2)
            status, _answer = fresh_emulator.http_publish("/default/shared", [foreign] * 5)
            assert status == 200

    publisher = gevent.spawn(publish_foreign_events)
    run = run_users(
        fresh_emulator,
        [PubSubUser],
        users=1,
        seconds=1.5,
        channels="/default/shared",
        run_id="this-run",
        publish_rate=10,
    )
    publisher.get(timeout=5)
    published = run.requests("publish")
    assert published > 0
    # Only the user's own events count: one subscriber, so one delivery per publish
    # (and one more if a publish was in flight when the user stopped).
    own_events = fresh_emulator.stats()["publishes"]["events"] - 25
    assert published <= run.requests("deliver") <= own_events <= published + 1


def test_a_lost_connection_is_reconnected_and_resubscribed(fresh_emulator: LiveEmulator) -> None:
    fresh_emulator.add_fault("disconnect-all:after=0.5")
    run = run_users(fresh_emulator, [Subscriber], users=2, seconds=2.5, channels="/default/again")
    assert run.entry("connect", "/event/realtime").num_requests == 4
    assert run.entry("subscribe", "/default/again").num_requests == 4
    assert run.left_open() == (0, 0)
