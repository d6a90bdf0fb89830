"""Service limits and validation on a live emulator, with AppSync's error types
(docs/protocol.md#messages, #errors, #http-publish, #channels)."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from support.emulator import LiveEmulator

from harness.emulator.operations import EVENT_TOO_LARGE, INVALID_CHANNEL
from harness.protocol import (
    MAX_EVENT_BYTES,
    Data,
    PublishError,
    PublishSuccess,
    SubscribeError,
    SubscribeSuccess,
)


def error_of(message: object) -> tuple[str, str]:
    errors = message.errors  # type: ignore[attr-defined]
    assert len(errors) == 1
    return errors[0].error_type, errors[0].message


def sized_event(size: int) -> str:
    """A JSON string event of exactly ``size`` UTF-8 bytes."""
    return json.dumps("x" * (size - 2))


def test_more_than_five_events_or_none_is_invalid_input(emulator: LiveEmulator) -> None:
    """InvalidInputError over the WebSocket, as the Kotlin SDK expects; 400 over HTTP."""
    client = emulator.client()
    for events in (["1"] * 6, []):
        client.publish("p", "/default/limits", events)
        answer = client.recv()
        assert isinstance(answer, PublishError) and answer.id == "p"
        assert error_of(answer) == (
            "InvalidInputError",
            f"events must hold 1 to 5 events, not {len(events)}",
        )
        status, body = emulator.http_publish("/default/limits", events)
        assert status == 400 and body["errors"][0]["errorType"] == "BadRequestException"
    client.publish("p", "/default/limits", ["1"] * 5)
    assert isinstance(client.recv(), PublishSuccess)
    client.close()


def test_event_that_is_not_json_is_a_bad_request(emulator: LiveEmulator) -> None:
    client = emulator.client()
    client.publish("p", "/default/limits", ['{"ok":1}', "{not json"])
    answer = client.recv()
    assert isinstance(answer, PublishError)
    assert error_of(answer)[0] == "BadRequestException"
    assert "events[1]" in error_of(answer)[1]
    client.close()


def test_oversized_event_fails_alone_with_event_too_large(emulator: LiveEmulator) -> None:
    """Over 240 KB is reported per event in ``failed``; the others are delivered
    (docs/protocol.md#http-publish)."""
    fits, too_big = sized_event(MAX_EVENT_BYTES), sized_event(MAX_EVENT_BYTES + 1)
    with emulator.clients(2) as (subscriber, publisher):
        subscriber.subscribe("s", "/default/big")
        publisher.publish("p", "/default/big", ['"small"', too_big, fits])
        answer = publisher.recv()
        assert isinstance(answer, PublishSuccess)
        assert [entry.index for entry in answer.successful] == [0, 2]
        assert [(f.index, f.code, f.message) for f in answer.failed] == [
            (1, "EventTooLargeException", EVENT_TOO_LARGE)
        ]
        delivered = [m.event for m in subscriber.recv_all() if isinstance(m, Data)]
        assert delivered == ['"small"', fits]
        status, body = emulator.http_publish("/default/big", [too_big])
        assert status == 200
        assert body["successful"] == []
        assert body["failed"][0]["code"] == "EventTooLargeException"
        assert body["failed"][0]["index"] == 0
        assert set(body["failed"][0]) == {"code", "identifier", "index", "message"}


def test_multibyte_characters_count_as_utf8_bytes(emulator: LiveEmulator) -> None:
    event = json.dumps("\u20ac" * ((MAX_EVENT_BYTES - 2) // 3 + 1), ensure_ascii=False)
    assert len(event) < MAX_EVENT_BYTES < len(event.encode())
    status, body = emulator.http_publish("/default/big", [event])
    assert status == 200 and body["failed"][0]["code"] == "EventTooLargeException"


def test_two_hundred_subscriptions_per_connection(emulator: LiveEmulator) -> None:
    client = emulator.client()
    for number in range(200):
        client.send(
            {
                "type": "subscribe",
                "id": f"s{number}",
                "channel": f"/default/many/c{number}",
                "authorization": client.auth(f"/default/many/c{number}"),
            }
        )
    answers = [client.recv() for _ in range(200)]
    assert all(isinstance(answer, SubscribeSuccess) for answer in answers)
    answer = client.subscribe("one-more", "/default/many/extra")
    assert isinstance(answer, SubscribeError) and answer.id == "one-more"
    assert error_of(answer)[0] == "MaxSubscriptionsReachedError"
    client.unsubscribe("s0")
    assert client.subscribe("one-more", "/default/many/extra") == SubscribeSuccess("one-more")
    client.close()


def test_duplicate_subscription_id_is_refused(emulator: LiveEmulator) -> None:
    with emulator.clients(2) as (client, publisher):
        assert client.subscribe("dup", "/default/first") == SubscribeSuccess("dup")
        answer = client.subscribe("dup", "/default/second")
        assert isinstance(answer, SubscribeError)
        assert error_of(answer)[0] == "DuplicatedOperationError"
        publisher.publish("p", "/default/first", ['"still the first"'])
        publisher.recv()
        assert client.recv() == Data("dup", '"still the first"')


def test_unknown_namespace_is_resource_not_found(emulator: LiveEmulator) -> None:
    client = emulator.client()
    answer = client.subscribe("s", "/nowhere/x")
    assert isinstance(answer, SubscribeError)
    assert error_of(answer) == ("ResourceNotFound", "Namespace not found")
    client.publish("p", "/nowhere/x", ["1"])
    answer = client.recv()
    assert isinstance(answer, PublishError)
    assert error_of(answer)[0] == "ResourceNotFound"
    status, body = emulator.http_publish("/nowhere/x", ["1"])
    assert (status, body["errors"][0]["errorType"]) == (404, "ResourceNotFound")
    client.close()


@pytest.mark.parametrize(
    "channel",
    [
        "/default/*",
        "/default/a/b/c/d/e",
        "/default/under_score",
        "/default/-dash",
        "/default/" + "x" * 51,
        "//default",
        "",
    ],
)
def test_publish_to_a_wildcard_or_malformed_channel_is_invalid(
    emulator: LiveEmulator, channel: str
) -> None:
    client = emulator.client()
    client.publish("p", channel, ["1"])
    answer = client.recv()
    assert isinstance(answer, PublishError)
    assert error_of(answer) == ("BadRequestException", INVALID_CHANNEL)
    status, body = emulator.http_publish(channel, ["1"])
    assert (status, body["errors"][0]["message"]) == (400, INVALID_CHANNEL)
    client.close()


@pytest.mark.parametrize(
    "channel", ["/default/a*", "/*", "*", "/default/*/x", "/default/a/b/c/d/e/f", "/default/a b"]
)
def test_subscribe_to_a_malformed_channel_is_invalid(emulator: LiveEmulator, channel: str) -> None:
    client = emulator.client()
    answer = client.subscribe("s", channel)
    assert isinstance(answer, SubscribeError)
    assert error_of(answer) == ("BadRequestException", INVALID_CHANNEL)
    client.close()


def test_five_segments_and_a_wildcard_after_four_are_accepted(emulator: LiveEmulator) -> None:
    client = emulator.client()
    assert client.subscribe("five", "/default/a/b/c/d") == SubscribeSuccess("five")
    assert client.subscribe("wild", "/default/a/b/c/d/*") == SubscribeSuccess("wild")
    client.close()


@pytest.mark.parametrize(
    "op_id", ["", "has space", "x" * 129, "semi;colon", "unicod\u00e9", "lone\ud800surrogate"]
)
def test_malformed_ids_are_refused(emulator: LiveEmulator, op_id: str) -> None:
    client = emulator.client()
    answer = client.subscribe(op_id, "/default/ids")
    assert isinstance(answer, SubscribeError) and answer.id == op_id
    assert error_of(answer)[0] == "BadRequestException"
    assert error_of(answer)[1].startswith("Invalid id: must be 1 to 128 characters")
    client.publish(op_id, "/default/ids", ["1"])
    answer = client.recv()
    assert isinstance(answer, PublishError) and answer.id == op_id
    client.close()


def test_longest_id_and_every_allowed_character(emulator: LiveEmulator) -> None:
    client = emulator.client()
    for op_id in ("a" * 128, "Az09-_+"):
        assert client.subscribe(op_id, "/default/ids") == SubscribeSuccess(op_id)
    client.close()


def test_a_client_that_stops_reading_is_disconnected(
    start_emulator: Callable[..., LiveEmulator],
) -> None:
    """Fan-out never waits on a slow reader: past ``--max-queued-frames`` it is cut off
    (close code 1013, or a reset when even the close frame cannot be delivered)."""
    live = start_emulator("--max-queued-frames", "5")
    stalled = live.client()
    stalled.subscribe("s", "/default/flood")
    events = [sized_event(200_000)] * 5
    for _ in range(200):  # about 1 MB a request; socket buffers hold a few dozen
        assert live.http_publish("/default/flood", events)[0] == 200
        if live.stats()["connections"]["disconnects"].get("slow"):
            break
    stats = live.wait_for(lambda s: s["connections"]["open"] == 0, timeout=10)
    assert stats["connections"]["disconnects"] == {"slow": 1}
    assert stats["deliveries"]["overflowed"] == 1
    assert stalled.closed_with(timeout=10) in (1013, None)
    with live.clients(1) as (healthy,):
        assert healthy.subscribe("s", "/default/flood") == SubscribeSuccess("s")


@pytest.mark.parametrize(("limit", "overflows"), [(5, False), (4, True)])
def test_the_queued_frames_limit_is_exact(
    start_emulator: Callable[..., LiveEmulator], limit: int, overflows: bool
) -> None:
    """One fan-out queues all its frames before the flush runs: 5 events fit a limit
    of 5 and overflow a limit of 4."""
    live = start_emulator("--max-queued-frames", str(limit))
    subscriber = live.client()
    subscriber.subscribe("s", "/default/queue")
    events = [f'"{number}"' for number in range(5)]
    assert live.http_publish("/default/queue", events)[0] == 200
    if overflows:
        assert subscriber.closed_with() == 1013
        assert live.stats()["deliveries"]["overflowed"] == 1
    else:
        assert [m.event for m in subscriber.recv_all()] == events  # type: ignore[attr-defined]
        subscriber.close()
