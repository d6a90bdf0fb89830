"""The per-API quotas (``--quota``): each hit by a bounded loopback loop against an
emulator whose quota is set low, with the answer clients get and the counter the
admin stats keep; and their parsing and token buckets, with a clock the test moves."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import pytest
from support.emulator import LiveEmulator
from websockets.exceptions import InvalidStatus

from harness.emulator.quotas import OUTBOUND_UNIT_BYTES, Quotas, RateBucket, outbound_units
from harness.errors import ConfigurationError
from harness.protocol import Data, PublishError, PublishSuccess, SubscribeError, SubscribeSuccess

Start = Callable[..., LiveEmulator]
CHANNEL = "/default/quota"


def error_of(message: object) -> tuple[str, str]:
    (error,) = message.errors  # type: ignore[attr-defined]
    return error.error_type, error.message


def quotas(emulator: LiveEmulator) -> dict[str, int]:
    counters = emulator.stats()["quotas"]
    return {name: value for name, value in counters.items() if name != "limits"}


def test_connects_past_the_connect_rate_are_refused_with_429(start_emulator: Start) -> None:
    emulator = start_emulator("--quota", "connect-rate=5")
    accepted, refused = [], 0
    started = time.monotonic()
    for _ in range(30):
        try:
            accepted.append(emulator.open(emulator.authorizer().connect_subprotocols()))
        except InvalidStatus as exc:
            assert exc.response.status_code == 429
            body = json.loads(exc.response.body)
            assert body["errors"][0]["errorType"] == "LimitExceededError"
            refused += 1
    elapsed = time.monotonic() - started
    for socket in accepted:
        socket.close()
    # A second's worth at once, then five a second.
    assert 5 <= len(accepted) <= 5 + 5 * elapsed + 1, (len(accepted), elapsed)
    assert refused == 30 - len(accepted) > 0
    stats = emulator.stats()
    assert stats["quotas"]["connects_throttled"] == refused
    outcomes = [attempt["outcome"] for attempt in stats["connection_attempts"]]
    assert outcomes.count("throttled") == refused and outcomes.count("accepted") == len(accepted)
    assert stats["quotas"]["limits"]["connect_rate"] == 5


def test_events_past_the_inbound_quota_are_refused_per_request(start_emulator: Start) -> None:
    emulator = start_emulator("--quota", "inbound-events=10")
    events = ['{"n":1}'] * 5
    statuses = []
    started = time.monotonic()
    for _ in range(8):
        status, body = emulator.http_publish(CHANNEL, events)
        statuses.append(status)
        if status != 200:
            assert (status, body["errors"][0]["errorType"]) == (429, "LimitExceededError")
    elapsed = time.monotonic() - started
    accepted_events = 5 * statuses.count(200)
    assert 10 <= accepted_events <= 10 + 10 * elapsed + 5, (statuses, elapsed)
    refused = statuses.count(429)
    assert refused == 8 - statuses.count(200) > 0
    # Over the WebSocket the same quota answers a publish_error.
    client = emulator.client()
    answers = []
    for number in range(4):
        client.publish(f"p{number}", CHANNEL, events)
        answers.append(client.recv())
    client.close()
    throttled = [a for a in answers if isinstance(a, PublishError)]
    assert throttled and all(error_of(a)[0] == "LimitExceededError" for a in throttled)
    counted = quotas(emulator)["events_throttled"]
    assert counted == 5 * (refused + len(throttled))


def test_deliveries_past_the_outbound_quota_are_dropped_and_counted(
    start_emulator: Start,
) -> None:
    emulator = start_emulator("--quota", "outbound-messages=20")
    subscribers = [emulator.client() for _ in range(10)]
    for number, client in enumerate(subscribers):
        assert isinstance(client.subscribe(f"s{number}", CHANNEL), SubscribeSuccess)
    status, _ = emulator.http_publish(CHANNEL, ['{"n":1}'] * 5)  # 50 deliveries offered
    assert status == 200
    received = 0
    for client in subscribers:
        received += sum(isinstance(m, Data) for m in client.recv_all())
        client.close()
    stats = emulator.stats()
    dropped = stats["quotas"]["deliveries_throttled"]
    assert 20 <= received < 50 and received + dropped == 50, (received, dropped)
    assert stats["deliveries"]["sent"] == received
    assert stats["channels"][CHANNEL]["dropped"] == dropped


def test_a_request_over_the_size_cap_is_refused_with_413(start_emulator: Start) -> None:
    emulator = start_emulator("--quota", "request-bytes=2000")
    big = [json.dumps("x" * 2500)]
    status, body = emulator.http_publish(CHANNEL, big)
    assert (status, body["errors"][0]["errorType"]) == (413, "PayloadTooLargeException")
    client = emulator.client()
    client.publish("big", CHANNEL, big)
    answer = client.recv()
    assert isinstance(answer, PublishError)
    assert error_of(answer) == (
        "PayloadTooLargeException",
        "Request payload is larger than 2000 bytes",
    )
    small = [json.dumps("x" * 500)]
    client.publish("small", CHANNEL, small)
    assert isinstance(client.recv(), PublishSuccess)
    client.close()
    assert emulator.http_publish(CHANNEL, small)[0] == 200
    assert quotas(emulator)["requests_too_large"] == 2


def test_the_subscriptions_per_connection_quota_can_be_changed_or_lifted(
    start_emulator: Start,
) -> None:
    emulator = start_emulator("--quota", "subscriptions-per-connection=3")
    client = emulator.client()
    for number in range(3):
        assert isinstance(client.subscribe(f"s{number}", f"{CHANNEL}-{number}"), SubscribeSuccess)
    refused = client.subscribe("s3", f"{CHANNEL}-3")
    assert isinstance(refused, SubscribeError)
    assert error_of(refused) == (
        "MaxSubscriptionsReachedError",
        "Max number of subscriptions (3) reached",
    )
    client.close()
    unlimited = start_emulator("--quota", "subscriptions-per-connection=off").client()
    for number in range(205):
        answer = unlimited.subscribe(f"s{number}", f"{CHANNEL}/{number}")
        assert isinstance(answer, SubscribeSuccess), (number, answer)
    unlimited.close()


def test_the_defaults_are_aws_quotas() -> None:
    assert Quotas().describe() == {
        "connect_rate": 2000,
        "inbound_events": 10_000,
        "outbound_messages": 1_000_000,
        "request_bytes": 1_258_291,
        "subscriptions_per_connection": 200,
    }
    parsed = Quotas.parse(["connect-rate=off,inbound-events=50", "request-bytes=1e6"])
    assert parsed.connect_rate is None and parsed.inbound_events == 50
    assert parsed.request_bytes == 1_000_000 and parsed.outbound_messages == 1_000_000


@pytest.mark.parametrize(
    ("spec", "error"),
    [
        ("connect-rate", "expected NAME=LIMIT or NAME=off"),
        ("rate=5", "NAME one of connect-rate, inbound-events"),
        ("inbound-events=0", "inbound-events must be a positive number or off, not '0'"),
        ("request-bytes=lots", "not 'lots'"),
        ("outbound-messages=inf", "not 'inf'"),
    ],
)
def test_a_bad_quota_is_named(spec: str, error: str) -> None:
    with pytest.raises(ConfigurationError, match="--quota") as raised:
        Quotas.parse([spec])
    assert error in str(raised.value)


def test_a_bucket_holds_one_seconds_worth_and_refills_at_its_rate() -> None:
    now = [100.0]
    bucket = RateBucket(4, clock=lambda: now[0])
    assert [bucket.take() for _ in range(5)] == [True] * 4 + [False]
    now[0] += 0.5  # two tokens back
    assert bucket.take_up_to(5) == 2
    now[0] += 10  # never more than a second's worth
    assert bucket.take_up_to(10) == 4
    now[0] += 1
    assert bucket.take_up_to(3, each=2) == 2  # 4 tokens: two items of 2


def test_outbound_messages_count_in_five_kilobyte_units() -> None:
    assert outbound_units(1) == 1
    assert outbound_units(OUTBOUND_UNIT_BYTES) == 1
    assert outbound_units(OUTBOUND_UNIT_BYTES + 1) == 2
    assert outbound_units(240 * 1024) == 48
