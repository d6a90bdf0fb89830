"""Every message path of the emulator, driven over loopback (docs/protocol.md#keep-alive,
#messages, #http-publish)."""

from __future__ import annotations

import json

from support.emulator import LiveEmulator

from harness.protocol import (
    Data,
    PublishSuccess,
    SubscribeSuccess,
    UnsubscribeSuccess,
)


def test_connection_init_is_acknowledged_with_top_level_timeout(emulator: LiveEmulator) -> None:
    client = emulator.client(init=False)
    client.send({"type": "connection_init"})
    raw = client.recv_raw()
    assert json.loads(raw) == {"type": "connection_ack", "connectionTimeoutMs": 300000}
    client.close()


def test_subscribe_publish_deliver_unsubscribe(emulator: LiveEmulator) -> None:
    with emulator.clients(2) as (subscriber, publisher):
        assert subscriber.subscribe("sub-1", "/default/room") == SubscribeSuccess("sub-1")
        publisher.publish("pub-1", "/default/room", ['{"n":1}', '"two"'])
        ack = publisher.recv()
        assert isinstance(ack, PublishSuccess) and ack.id == "pub-1"
        assert [entry.index for entry in ack.successful] == [0, 1]
        assert ack.failed == ()
        assert subscriber.recv() == Data("sub-1", '{"n":1}')
        assert subscriber.recv() == Data("sub-1", '"two"')
        assert subscriber.unsubscribe("sub-1") == UnsubscribeSuccess("sub-1")
        publisher.publish("pub-2", "/default/room", ['{"n":3}'])
        assert isinstance(publisher.recv(), PublishSuccess)
        assert subscriber.recv_all() == []


def test_wildcard_subscription_receives_deeper_channels_only(emulator: LiveEmulator) -> None:
    with emulator.clients(2) as (subscriber, publisher):
        assert subscriber.subscribe("all", "/default/*") == SubscribeSuccess("all")
        assert subscriber.subscribe("exact", "/default/a") == SubscribeSuccess("exact")
        for number, channel in enumerate(("/default/a", "/default/a/b/c", "/default")):
            publisher.publish(f"p{number}", channel, [json.dumps(channel)])
            assert isinstance(publisher.recv(), PublishSuccess)
        received = subscriber.recv_all()
        assert sorted((m.id, m.event) for m in received if isinstance(m, Data)) == [
            ("all", '"/default/a"'),
            ("all", '"/default/a/b/c"'),
            ("exact", '"/default/a"'),
        ]
        assert len(received) == 3


def test_one_data_message_per_event_per_matching_subscription(emulator: LiveEmulator) -> None:
    with emulator.clients(3) as (first, second, publisher):
        first.subscribe("s", "/default/fan")
        second.subscribe("s", "/default/fan")
        events = [json.dumps({"i": i}) for i in range(5)]
        publisher.publish("p", "/default/fan", events)
        assert isinstance(publisher.recv(), PublishSuccess)
        for subscriber in (first, second):
            assert [m.event for m in subscriber.recv_all() if isinstance(m, Data)] == events


def test_events_keep_their_exact_json_text(emulator: LiveEmulator) -> None:
    """The event string is relayed as sent: spacing, unicode, a lone surrogate escape,
    and a lone surrogate itself (legal in a JSON text, not in UTF-8)."""
    texts = [
        '{ "spaced" : [1, 2] }',
        '"caf\u00e9 \u2603 \U0001f600"',
        '"\\ud800"',
        '"\ud800"',
        "12.50",
        "null",
    ]
    with emulator.clients(2) as (subscriber, publisher):
        subscriber.subscribe("s", "/default/text")
        publisher.publish("p", "/default/text", texts[:3])
        publisher.publish("q", "/default/text", texts[3:])
        publisher.recv_all()
        frames = [subscriber.recv_raw() for _ in texts]
        assert [json.loads(frame)["event"] for frame in frames] == texts
        # Written as JSON.stringify writes it: non-ASCII raw, a lone surrogate escaped.
        assert '"event":"\\"caf\u00e9 \u2603 \U0001f600\\""}' in frames[1]
        assert frames[3].endswith('"event":"\\"\\ud800\\""}')


def test_operations_work_without_connection_init(emulator: LiveEmulator) -> None:
    """The Swift SDK never sends connection_init (docs/protocol.md#keep-alive); the emulator does
    not require it."""
    with emulator.clients(1) as (publisher,):
        subscriber = emulator.client(init=False)
        assert subscriber.subscribe("s", "/default/noinit") == SubscribeSuccess("s")
        publisher.publish("p", "/default/noinit", ['"x"'])
        assert subscriber.recv() == Data("s", '"x"')
        subscriber.close()


def test_publisher_receives_its_own_event_when_subscribed(emulator: LiveEmulator) -> None:
    client = emulator.client()
    client.subscribe("mine", "/default/echo")
    client.publish("p", "/default/echo", ['"self"'])
    received = client.recv_all()
    assert Data("mine", '"self"') in received
    assert any(isinstance(m, PublishSuccess) for m in received)
    client.close()


def test_unsubscribe_unknown_id_is_an_unknown_operation(emulator: LiveEmulator) -> None:
    client = emulator.client()
    answer = client.unsubscribe("never-subscribed")
    assert answer.TYPE == "unsubscribe_error"
    assert answer.errors[0].error_type == "UnknownOperationError"  # type: ignore[attr-defined]
    assert answer.errors[0].message == "Unknown operation id never-subscribed"  # type: ignore[attr-defined]
    client.close()


def test_subscription_id_can_be_reused_after_unsubscribe(emulator: LiveEmulator) -> None:
    client = emulator.client()
    assert client.subscribe("again", "/default/one") == SubscribeSuccess("again")
    assert client.unsubscribe("again") == UnsubscribeSuccess("again")
    assert client.subscribe("again", "/default/two") == SubscribeSuccess("again")
    client.close()


def test_closing_a_connection_removes_its_subscriptions(emulator: LiveEmulator) -> None:
    before = emulator.stats()["subscriptions"]["live"]
    client = emulator.client()
    for number in range(3):
        client.subscribe(f"s{number}", f"/default/gone-{number}")
    emulator.wait_for(lambda stats: stats["subscriptions"]["live"] >= before + 3)
    client.close()
    emulator.wait_for(lambda stats: stats["subscriptions"]["live"] == before)


def test_keepalive_arrives_every_interval(start_emulator) -> None:  # type: ignore[no-untyped-def]
    live = start_emulator("--keepalive-interval-s", "0.2")
    client = live.client()
    kinds = [client.recv(2, skip_ka=False).TYPE for _ in range(3)]
    assert kinds == ["ka", "ka", "ka"]
    assert client.recv_raw(2) == '{"type":"ka"}'
    client.close()


def test_http_publish_reaches_websocket_subscribers(emulator: LiveEmulator) -> None:
    with emulator.clients(1) as (subscriber,):
        subscriber.subscribe("s", "/default/http")
        status, answer = emulator.http_publish("/default/http", ['{"via":"http"}', "2"])
        assert status == 200
        assert answer["failed"] == []
        assert [entry["index"] for entry in answer["successful"]] == [0, 1]
        assert all(len(entry["identifier"]) == 36 for entry in answer["successful"])
        assert [m.event for m in subscriber.recv_all()] == ['{"via":"http"}', "2"]  # type: ignore[attr-defined]


def test_frames_at_every_websocket_length_boundary_arrive_intact(emulator: LiveEmulator) -> None:
    """The emulator frames data messages itself (RFC 6455 §5.2: 7-bit, 16-bit and 64-bit
    lengths); a frame of ``{"type":"data","id":"s","event":<event>}`` is ``n + 39`` bytes
    for an event ``"x" * n`` as a JSON string."""
    totals = (125, 126, 127, 65_535, 65_536, 65_537)
    events = [json.dumps("x" * (total - 39)) for total in totals]
    with emulator.clients(2) as (subscriber, publisher):
        subscriber.subscribe("s", "/default/frames")
        for start in (0, 3):
            publisher.publish(f"p{start}", "/default/frames", events[start : start + 3])
            assert isinstance(publisher.recv(), PublishSuccess)
        frames = [subscriber.recv_raw() for _ in totals]
        assert [len(frame.encode()) for frame in frames] == list(totals)
        assert [json.loads(frame)["event"] for frame in frames] == events
