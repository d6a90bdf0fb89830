"""The admin statistics count what really happened (``GET /_emulator/stats``)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import pytest
from support.emulator import LiveEmulator, WsClient
from websockets.exceptions import InvalidStatus

from harness.protocol import (
    MAX_EVENT_BYTES,
    SUBPROTOCOL,
    ConnectionErrorMessage,
    PublishSuccess,
)
from harness.signing import encode_subprotocol


def test_stats_count_connections_subscriptions_and_deliveries(
    start_emulator: Callable[..., LiveEmulator],
) -> None:
    live = start_emulator()
    stats = live.stats()
    assert stats["uptime_s"] > 0
    assert stats["connections"] == {
        "open": 0,
        "accepted": 0,
        "closed": 0,
        "attempts": 0,
        "disconnects": {},
    }
    with live.clients(3) as (first, second, publisher):
        first.subscribe("exact", "/default/room/a")
        second.subscribe("wild", "/default/room/*")
        second.subscribe("other", "/default/elsewhere")
        publisher.publish("p1", "/default/room/a", ["1", "2"])
        assert isinstance(publisher.recv(), PublishSuccess)
        publisher.publish("p2", "/default/room/b", ["3"])
        assert isinstance(publisher.recv(), PublishSuccess)
        assert live.http_publish("/default/quiet", ["4"])[0] == 200
        first.recv_all(0.2)
        stats = live.stats()
        assert stats["connections"]["open"] == 3
        assert stats["connections"]["accepted"] == 3
        assert stats["subscriptions"] == {"live": 3, "total": 3}
        assert stats["publishes"] == {
            "ws": 2,
            "http": 1,
            "throttled": 0,
            "events": 4,
            "events_failed": 0,
        }
        assert stats["channels"] == {
            "/default/room/a": {"published": 2, "delivered": 4, "dropped": 0},
            "/default/room/b": {"published": 1, "delivered": 1, "dropped": 0},
            "/default/quiet": {"published": 1, "delivered": 0, "dropped": 0},
        }
        assert stats["deliveries"]["sent"] == 5
    stats = live.wait_for(lambda s: s["connections"]["open"] == 0)
    assert stats["connections"]["closed"] == 3
    assert stats["subscriptions"]["live"] == 0


def test_connection_attempts_carry_timestamps_and_client_ids(
    start_emulator: Callable[..., LiveEmulator],
) -> None:
    live = start_emulator()
    authorizer = live.authorizer()
    before = time.time()
    for attempt in range(3):
        client = WsClient(
            live.open(authorizer.connect_subprotocols(), path=f"?client_id=user-{attempt}"),
            authorizer,
        )
        client.close()
    WsClient(
        live.open(authorizer.connect_subprotocols(), headers={"x-harness-client-id": "by-header"}),
        authorizer,
    ).close()
    attempts = live.stats()["connection_attempts"]
    assert [a["client_id"] for a in attempts] == ["user-0", "user-1", "user-2", "by-header"]
    assert [a["seq"] for a in attempts] == [1, 2, 3, 4]
    assert all(a["outcome"] == "accepted" and a["remote"] == "127.0.0.1" for a in attempts)
    times = [a["time"] for a in attempts]
    monotonic = [a["monotonic"] for a in attempts]
    assert before - 1 <= times[0] and times == sorted(times) and times[-1] <= time.time() + 1
    assert monotonic == sorted(monotonic)
    later = live.stats_since(2)
    assert [a["seq"] for a in later["connection_attempts"]] == [3, 4]


def test_reset_zeroes_counters_but_keeps_connections(
    start_emulator: Callable[..., LiveEmulator],
) -> None:
    live = start_emulator()
    client = live.client()
    client.subscribe("s", "/default/r")
    live.reset_stats()
    stats = live.stats()
    assert 0 <= stats["uptime_s"] < 5
    assert stats["connections"]["open"] == 1
    assert stats["subscriptions"]["live"] == 1
    assert stats["connections"]["accepted"] == 0
    assert stats["connection_attempts"] == []
    WsClient(live.open(live.authorizer().connect_subprotocols()), None).close()
    assert [attempt["seq"] for attempt in live.stats()["connection_attempts"]] == [1]
    client.close()
    live.wait_for(lambda s: s["connections"]["closed"] == 2)


def test_bad_attempts_since_is_a_clear_error(emulator: LiveEmulator) -> None:
    status, body = emulator.request("GET", "/_emulator/stats?attempts_since=soon")
    assert status == 400
    assert "attempts_since" in body["error"]


def test_refusals_rejections_and_keepalives_are_counted(
    start_emulator: Callable[..., LiveEmulator],
) -> None:
    live = start_emulator("--keepalive-interval-s", "0.2")
    # Handshakes: one without the event subprotocol, one with a bad API key, one whose
    # header- value is not base64.
    with pytest.raises(InvalidStatus):
        live.open(["graphql-ws"])
    for token in (
        encode_subprotocol({"host": live.http_host, "x-api-key": "da2-wrong"}),
        "header-%%%not-base64%%%",
    ):
        refused = WsClient(live.open([SUBPROTOCOL, token]), None)
        assert isinstance(refused.recv(), ConnectionErrorMessage)
        refused.close()
    client = live.client()
    client.send("not json")  # a frame rejected
    client.recv()
    client.subscribe("s", "/nowhere/x")  # ResourceNotFound
    client.publish("p", "/default/big", ['"small"', json.dumps("x" * MAX_EVENT_BYTES)])
    assert isinstance(client.recv(), PublishSuccess)
    kas = [client.recv(2, skip_ka=False) for _ in range(2)]
    assert all(message.TYPE == "ka" for message in kas)
    stats = live.stats()
    outcomes = [attempt["outcome"] for attempt in stats["connection_attempts"]]
    assert outcomes == ["bad_request", "rejected", "rejected", "accepted"]
    assert stats["auth_failures"] == {"UnauthorizedException": 2}
    assert stats["errors_sent"] == {
        "UnauthorizedException": 2,
        "BadRequestException": 1,
        "ResourceNotFound": 1,
    }
    assert stats["frames_rejected"] == 1
    assert stats["publishes"]["events"] == 1 and stats["publishes"]["events_failed"] == 1
    assert stats["keepalives_sent"] >= 2
    client.close()
