"""The admin statistics count what really happened (``GET /_emulator/stats``)."""

from __future__ import annotations

import time
from collections.abc import Callable

from emulator_support import LiveEmulator, WsClient

from harness.protocol import PublishSuccess


def test_stats_count_connections_subscriptions_and_deliveries(
    start_emulator: Callable[..., LiveEmulator],
) -> None:
    live = start_emulator()
    stats = live.stats()
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
    assert stats["connections"]["open"] == 1
    assert stats["subscriptions"]["live"] == 1
    assert stats["connections"]["accepted"] == 0
    assert stats["connection_attempts"] == []
    client.close()
    live.wait_for(lambda s: s["connections"]["closed"] == 1)


def test_bad_attempts_since_is_a_clear_error(emulator: LiveEmulator) -> None:
    status, body = emulator.request("GET", "/_emulator/stats?attempts_since=soon")
    assert status == 400
    assert "attempts_since" in body["error"]
