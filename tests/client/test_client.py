"""The load client (``harness.client.websocket.EventsClient``) against real emulator processes.

Nothing is mocked: every test drives a real ``python -m harness.emulator`` over
loopback, either the shared session ``emulator`` (default credentials; a test that
adds a fault clears it in a ``finally``) or one started for the test with its own
options. The client runs on gevent (``conftest`` imports locust first, which
monkey-patches), so its reader greenlet runs whenever a test blocks.

Where a test checks that an error's ``detail`` is "the server's first line", the
server's text is read independently over a raw WebSocket (``emulator_support``)
and cut to its first line here.

Timeouts are short (fractions of a second); timing checks use lower bounds and
generous upper bounds; every wait is bounded.
"""

from __future__ import annotations

import json
import socket
import struct
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import gevent
import pytest
from support.client import (
    EVENT_TOO_LARGE_TEXT,
    INVALID_CHANNEL_TEXT,
    SESSION_TOKEN,
    WRONG_SECRET_KEY,
    ScriptedPeer,
    TemporaryIam,
    channel,
    first_line,
    free_port,
    scripted_server,
    server_close_frame,
    server_frame,
    silent_port,
    target_on,
)
from support.emulator import WAIT_S, LiveEmulator, WsClient, wait_until

from harness.client.websocket import (
    CLOSE_TIMEOUT_S,
    DETAIL_LIMIT,
    ClientOptions,
    ClientState,
    EventsClient,
    PublishOutcome,
    server_detail,
)
from harness.errors import (
    ClientError,
    ConnectionLost,
    HandshakeFailed,
    OperationRejected,
    OperationTimeout,
)
from harness.protocol import Endpoints
from harness.signing import AuthMode, Authorizer, make_authorizer

StartEmulator = Callable[..., LiveEmulator]

FAST = ClientOptions(connect_timeout_s=3.0, operation_timeout_s=2.0)


# -- helpers --------------------------------------------------------------------------


@dataclass(frozen=True)
class Delivery:
    sub_id: str
    event: str
    received_ns: int


class Inbox:
    """An ``on_data`` callback that records every delivery."""

    def __init__(self) -> None:
        self.items: list[Delivery] = []

    def __call__(self, sub_id: str, event: str, received_ns: int) -> None:
        self.items.append(Delivery(sub_id, event, received_ns))

    def wait(self, count: int, timeout: float = WAIT_S) -> list[Delivery]:
        wait_until(lambda: len(self.items) >= count, timeout, f"{count} deliveries")
        return list(self.items)

    def events_for(self, sub_id: str) -> list[str]:
        return [item.event for item in self.items if item.sub_id == sub_id]


class Losses:
    """An ``on_lost`` callback that records every call."""

    def __init__(self) -> None:
        self.items: list[ConnectionLost] = []

    def __call__(self, loss: ConnectionLost) -> None:
        self.items.append(loss)

    def wait(self, timeout: float = WAIT_S) -> ConnectionLost:
        wait_until(lambda: self.items, timeout, "on_lost")
        return self.items[0]


@contextmanager
def connected(
    live: LiveEmulator,
    mode: AuthMode = AuthMode.API_KEY,
    options: ClientOptions = FAST,
    *,
    authorizer: Authorizer | None = None,
    inbox: Inbox | None = None,
    losses: Losses | None = None,
) -> Iterator[EventsClient]:
    """A connected client, closed at the end whatever happens."""
    client = EventsClient(
        live.endpoints,
        authorizer or live.authorizer(mode),
        options,
        on_data=inbox,
        on_lost=losses,
    )
    try:
        client.connect()
        yield client
    finally:
        client.close()


def open_connections(live: LiveEmulator) -> int:
    return int(live.stats()["connections"]["open"])


def wait_for_open(live: LiveEmulator, count: int) -> dict[str, Any]:
    return live.wait_for(lambda stats: stats["connections"]["open"] == count, WAIT_S)


def server_error(message: str) -> dict[str, Any]:
    """The first ``errors`` entry of a raw server frame."""
    decoded = json.loads(message)
    errors = decoded["errors"]
    assert isinstance(errors, list) and errors, decoded
    return dict(errors[0])


def raw_connect_error(live: LiveEmulator, authorizer: Authorizer) -> dict[str, Any]:
    """What the emulator answers a raw connect with ``authorizer``: its first error entry."""
    ws = live.open(authorizer.connect_subprotocols())
    try:
        raw = WsClient(ws, authorizer)
        frame = raw.recv_raw()
        assert json.loads(frame)["type"] == "connection_error", frame
        return server_error(frame)
    finally:
        ws.close()


def raw_operation_error(
    live: LiveEmulator, path: str, events: list[str] | None = None
) -> dict[str, Any]:
    """Send one subscribe to ``path`` (a publish of ``events``, if given) on a raw
    API-key connection; the answer's first error."""
    raw = live.client(AuthMode.API_KEY)
    frame: dict[str, Any] = {
        "type": "subscribe" if events is None else "publish",
        "id": "raw1",
        "channel": path,
    }
    if events is not None:
        frame["events"] = events
    frame["authorization"] = raw.auth(path, events)
    try:
        raw.send(frame)
        answer = raw.recv_raw()
        decoded = json.loads(answer)
        assert decoded["type"].endswith("_error"), answer
        return server_error(answer)
    finally:
        raw.close()


def assert_rejected(exc: ClientError, operation: str, error_type: str, server_message: str) -> None:
    """``exc`` is exactly an OperationRejected of ``operation`` with ``error_type`` and,
    as its detail, the first line of the server's message."""
    assert type(exc) is OperationRejected, repr(exc)
    assert exc.operation == operation
    assert exc.error_type == error_type
    assert exc.detail == first_line(server_message)
    assert error_type in str(exc)


# -- every auth mode, end to end ---------------------------------------------------------


@pytest.mark.parametrize("mode", list(AuthMode), ids=lambda mode: mode.value)
def test_every_mode_subscribes_publishes_receives_and_closes(
    emulator: LiveEmulator, mode: AuthMode
) -> None:
    base = emulator.stats()
    base_open = base["connections"]["open"]
    base_live = base["subscriptions"]["live"]
    inbox, losses = Inbox(), Losses()
    path = channel()
    # Exact text: inner spaces, non-ASCII, HTML-ish characters and a bare string survive.
    events = ['{"text": "h\\u00e9llo <b>&amp;</b>",  "n": [1, 2.5]}', '"just a string"', "42"]
    client = EventsClient(
        emulator.endpoints, emulator.authorizer(mode), FAST, on_data=inbox, on_lost=losses
    )
    assert client.state is ClientState.NEW
    try:
        client.connect()
        assert client.state is ClientState.OPEN
        # the emulator's default (docs/protocol.md#keep-alive)
        assert client.connection_timeout_ms == 300_000
        wait_for_open(emulator, base_open + 1)

        sub_id = client.subscribe(path)
        other_id = client.subscribe(channel())  # left subscribed: close() must drop it
        assert sub_id != other_id
        assert client.subscriptions == {sub_id: path, other_id: client.subscriptions[other_id]}
        emulator.wait_for(lambda stats: stats["subscriptions"]["live"] == base_live + 2)

        before_ns = time.time_ns()
        outcome = client.publish(path, events)
        assert outcome == PublishOutcome(successful=(0, 1, 2), failed=())
        received = inbox.wait(len(events))
        after_ns = time.time_ns()
        assert [item.event for item in received] == events
        assert {item.sub_id for item in received} == {sub_id}
        for item in received:
            assert before_ns <= item.received_ns <= after_ns
        assert client.counters.data_received == len(events)
        assert client.counters.stray_data == 0

        client.unsubscribe(sub_id)
        assert sub_id not in client.subscriptions
        emulator.wait_for(lambda stats: stats["subscriptions"]["live"] == base_live + 1)
    finally:
        client.close()
    assert client.state is ClientState.CLOSED
    assert client.lost is None
    assert losses.items == []
    assert client.pending_operations == 0
    after = emulator.wait_for(
        lambda stats: (
            stats["connections"]["open"] == base_open
            and stats["subscriptions"]["live"] == base_live
        ),
        WAIT_S,
    )
    assert after["connections"]["closed"] == base["connections"]["closed"] + 1
    assert after["subscriptions"]["live"] == 0
    assert after["connections"]["open"] == 0


def test_iam_only_namespace_works_with_iam(emulator: LiveEmulator) -> None:
    inbox = Inbox()
    path = channel("iamonly")
    with connected(emulator, AuthMode.AWS_IAM, inbox=inbox) as client:
        sub_id = client.subscribe(path)
        assert client.publish(path, ['{"iam":true}']).successful == (0,)
        assert inbox.wait(1) == [Delivery(sub_id, '{"iam":true}', inbox.items[0].received_ns)]


def test_a_mode_the_namespace_does_not_allow_is_rejected(emulator: LiveEmulator) -> None:
    path = channel("iamonly")
    with connected(emulator, AuthMode.API_KEY) as client:
        with pytest.raises(OperationRejected) as caught:
            client.subscribe(path)
        assert caught.value.operation == "subscribe"
        assert caught.value.error_type == "UnauthorizedException"
        assert client.subscriptions == {}
        with pytest.raises(OperationRejected) as caught:
            client.publish(path, ["1"])
        assert caught.value.operation == "publish"
        assert caught.value.error_type == "UnauthorizedException"


# -- fan-out -----------------------------------------------------------------------------


def test_wildcard_subscription_receives_deeper_channels_only(emulator: LiveEmulator) -> None:
    inbox = Inbox()
    parent = channel()
    with connected(emulator, inbox=inbox) as client:
        sub_id = client.subscribe(parent + "/*")
        assert client.subscriptions[sub_id] == parent + "/*"
        # The parent first: were it delivered, it would arrive before the others.
        client.publish(parent, ['{"where":"parent"}'])
        client.publish(parent + "/a", ['{"where":"a"}'])
        client.publish(parent + "/a/b/c", ['{"where":"a/b/c"}'])
        received = inbox.wait(2)
        gevent.sleep(0.1)  # a stray parent delivery would be in by now
        assert [item.event for item in inbox.items] == ['{"where":"a"}', '{"where":"a/b/c"}']
        assert {item.sub_id for item in received} == {sub_id}


def test_a_batch_of_five_arrives_as_five_data_messages_in_order(emulator: LiveEmulator) -> None:
    inbox = Inbox()
    path = channel()
    events = [json.dumps({"seq": index, "pad": "x" * index}) for index in range(5)]
    with connected(emulator, inbox=inbox) as client:
        sub_id = client.subscribe(path)
        assert client.publish(path, events) == PublishOutcome((0, 1, 2, 3, 4), ())
        inbox.wait(5)
        gevent.sleep(0.05)
        assert inbox.events_for(sub_id) == events
        assert client.counters.data_received == 5


def test_two_subscriptions_to_one_channel_each_get_every_event(emulator: LiveEmulator) -> None:
    inbox = Inbox()
    path = channel()
    with connected(emulator, inbox=inbox) as client:
        first = client.subscribe(path)
        second = client.subscribe(path)
        client.publish(path, ["1", "2"])
        inbox.wait(4)
        assert inbox.events_for(first) == ["1", "2"]
        assert inbox.events_for(second) == ["1", "2"]


def test_events_from_another_connection_arrive(emulator: LiveEmulator) -> None:
    inbox = Inbox()
    path = channel()
    with (
        connected(emulator, inbox=inbox) as subscriber,
        connected(emulator, AuthMode.AWS_LAMBDA) as publisher,
    ):
        sub_id = subscriber.subscribe(path)
        publisher.publish(path, ['{"from":"elsewhere"}'])
        assert [(d.sub_id, d.event) for d in inbox.wait(1)] == [(sub_id, '{"from":"elsewhere"}')]
        assert publisher.counters.data_received == 0


def test_connection_timeout_ms_is_read_from_connection_ack(start_emulator: StartEmulator) -> None:
    live = start_emulator("--connection-timeout-ms", "12345")
    with connected(live) as client:
        assert client.connection_timeout_ms == 12345


def test_keepalives_are_counted_and_keep_the_connection(start_emulator: StartEmulator) -> None:
    live = start_emulator("--keepalive-interval-s", "0.1", "--connection-timeout-ms", "400")
    losses = Losses()
    with connected(live, losses=losses) as client:
        gevent.sleep(0.9)  # more than twice the timeout: only the ka messages keep it
        assert losses.items == []
        assert client.lost is None
        assert client.counters.keepalives >= 3
        path = channel()
        client.subscribe(path)
        assert client.publish(path, ["1"]).successful == (0,)


# -- errors ------------------------------------------------------------------------------


def test_wrong_api_key_is_rejected_on_connect(emulator: LiveEmulator) -> None:
    authorizer = make_authorizer(AuthMode.API_KEY, emulator.http_host, api_key="da2-wrongkey000")
    expected = raw_connect_error(emulator, authorizer)
    assert expected["errorType"] == "UnauthorizedException"
    base_open = open_connections(emulator)
    losses = Losses()
    client = EventsClient(emulator.endpoints, authorizer, FAST, on_lost=losses)
    with pytest.raises(OperationRejected) as caught:
        client.connect()
    assert_rejected(caught.value, "connect", "UnauthorizedException", expected["message"])
    assert "da2-wrongkey000" not in str(caught.value) + repr(caught.value)
    assert client.state is ClientState.CLOSED
    gevent.sleep(0.1)
    assert losses.items == [], "a refused connect is not a lost connection"
    assert client.lost is None
    client.close()  # harmless after a failed connect
    wait_for_open(emulator, base_open)


def test_a_second_connect_is_refused_locally(emulator: LiveEmulator) -> None:
    with connected(emulator) as client, pytest.raises(RuntimeError):
        client.connect()


def test_subscribe_to_an_invalid_channel_is_rejected(emulator: LiveEmulator) -> None:
    bad = "/default/not a channel!"
    expected = raw_operation_error(emulator, bad)
    with connected(emulator) as client:
        with pytest.raises(OperationRejected) as caught:
            client.subscribe(bad)
        assert_rejected(caught.value, "subscribe", "BadRequestException", expected["message"])
        assert caught.value.detail == INVALID_CHANNEL_TEXT
        assert client.subscriptions == {}
        assert client.pending_operations == 0
        # The connection is still good.
        path = channel()
        sub_id = client.subscribe(path)
        assert client.subscriptions == {sub_id: path}


def test_subscribe_to_an_unknown_namespace_is_rejected(emulator: LiveEmulator) -> None:
    with connected(emulator) as client:
        with pytest.raises(OperationRejected) as caught:
            client.subscribe(channel("nosuchnamespace"))
        assert caught.value.operation == "subscribe"
        assert caught.value.error_type == "ResourceNotFound"
        assert caught.value.detail == "Namespace not found"


def test_unsubscribe_of_an_unknown_id_is_refused_locally(emulator: LiveEmulator) -> None:
    with connected(emulator) as client, pytest.raises(KeyError):
        client.unsubscribe("s999")


def test_publish_of_six_events_is_rejected(emulator: LiveEmulator) -> None:
    path = channel()
    events = [str(index) for index in range(6)]
    expected = raw_operation_error(emulator, path, events)
    inbox = Inbox()
    with connected(emulator, inbox=inbox) as client:
        client.subscribe(path)
        with pytest.raises(OperationRejected) as caught:
            client.publish(path, events)
        assert_rejected(caught.value, "publish", "InvalidInputError", expected["message"])
        assert client.pending_operations == 0
        assert client.publish(path, ["7"]).successful == (0,)
        assert [item.event for item in inbox.wait(1)] == ["7"], "none of the six was delivered"


@pytest.mark.parametrize("bad", ["/default/*", "/default/has space", "/default/a/b/c/d/e/f"])
def test_publish_to_a_bad_channel_is_rejected(emulator: LiveEmulator, bad: str) -> None:
    expected = raw_operation_error(emulator, bad, ["1"])
    with connected(emulator) as client:
        with pytest.raises(OperationRejected) as caught:
            client.publish(bad, ["1"])
        assert_rejected(caught.value, "publish", "BadRequestException", expected["message"])
        assert caught.value.detail == INVALID_CHANNEL_TEXT


def assert_mismatch_without_secrets(exc: ClientError, operation: str, server_text: str) -> None:
    # The server's text carries the canonical request with the session token; the
    # client's error keeps only its first line.
    assert SESSION_TOKEN in server_text
    assert "Canonical String" in server_text
    assert_rejected(exc, operation, "BadRequestException", server_text)
    assert exc.detail.startswith("The request signature we calculated does not match")
    for text in (str(exc), repr(exc), exc.detail):
        assert SESSION_TOKEN not in text
        assert "Canonical String" not in text
        assert "String-to-Sign" not in text
        assert WRONG_SECRET_KEY not in text
        assert "\n" not in text


def test_iam_wrong_secret_on_connect_gives_only_the_first_line(
    temporary_iam: TemporaryIam,
) -> None:
    live, right, wrong = temporary_iam
    expected = raw_connect_error(live, wrong)
    assert expected["errorType"] == "BadRequestException"
    client = EventsClient(live.endpoints, wrong, FAST)
    with pytest.raises(OperationRejected) as caught:
        client.connect()
    assert_mismatch_without_secrets(caught.value, "connect", expected["message"])
    # The right secret connects (so the refusal above was the signature only).
    with connected(live, authorizer=right):
        pass


def test_iam_wrong_secret_on_subscribe_and_publish_gives_only_the_first_line(
    temporary_iam: TemporaryIam,
) -> None:
    live, right, wrong = temporary_iam
    path = channel()
    with connected(live, authorizer=right) as client:
        # Per-message authorization comes from the client's authorizer: swap in the bad one.
        client.authorizer = wrong
        raw = WsClient(live.open(right.connect_subprotocols()), wrong)
        try:
            assert raw.init().TYPE == "connection_ack"
            raw.send(
                {
                    "type": "publish",
                    "id": "raw1",
                    "channel": path,
                    "events": ["1"],
                    "authorization": wrong.message_authorization(path, ["1"]),
                }
            )
            server_text = server_error(raw.recv_raw())["message"]
        finally:
            raw.close()
        with pytest.raises(OperationRejected) as caught:
            client.subscribe(path)
        assert_mismatch_without_secrets(caught.value, "subscribe", server_text)
        with pytest.raises(OperationRejected) as caught:
            client.publish(path, ["1"])
        assert_mismatch_without_secrets(caught.value, "publish", server_text)
        client.authorizer = right
        assert client.publish(path, ["1"]).successful == (0,)


def test_an_event_over_240_kb_is_a_failed_entry(emulator: LiveEmulator) -> None:
    inbox = Inbox()
    path = channel()
    too_large = json.dumps("x" * (245_760 + 10))
    with connected(emulator, inbox=inbox) as client:
        sub_id = client.subscribe(path)
        outcome = client.publish(path, ['{"small":1}', too_large, '{"small":2}'])
        assert outcome.successful == (0, 2)
        assert outcome.failed == ((1, "EventTooLargeException", EVENT_TOO_LARGE_TEXT),)
        inbox.wait(2)
        gevent.sleep(0.05)
        assert inbox.events_for(sub_id) == ['{"small":1}', '{"small":2}']


# -- timeouts ----------------------------------------------------------------------------


@pytest.mark.parametrize("ack", ["publish", "subscribe"])
def test_a_delayed_answer_times_out_and_counts_as_late(emulator: LiveEmulator, ack: str) -> None:
    timeout_s = 0.3
    path = channel()
    with connected(emulator, options=ClientOptions(operation_timeout_s=timeout_s)) as client:
        emulator.add_fault(f"delay-acks:delay=700ms,ack={ack}")
        try:
            started = time.monotonic()
            with pytest.raises(OperationTimeout) as caught:
                if ack == "publish":
                    client.publish(path, ["1"])
                else:
                    client.subscribe(path)
            elapsed = time.monotonic() - started
        finally:
            emulator.clear_faults()
        assert type(caught.value) is OperationTimeout
        assert caught.value.operation == ack
        assert caught.value.error_type == "Timeout"
        assert caught.value.timeout_s == timeout_s
        assert timeout_s * 0.9 <= elapsed < timeout_s + 0.35
        assert client.pending_operations == 0
        assert client.counters.late_answers == 0
        wait_until(lambda: client.counters.late_answers == 1, what="the late answer")
        if ack == "subscribe":
            # The server holds the subscription after all: the client adopts it, so
            # its data arrives and close-time cleanup unsubscribes it.
            assert list(client.subscriptions.values()) == [path]
        else:
            assert client.subscriptions == {}
        # The connection still works once the fault is gone.
        assert client.publish(path, ["2"]).successful == (0,)
        assert client.lost is None


def test_a_connect_without_connection_ack_times_out(emulator: LiveEmulator) -> None:
    base_open = open_connections(emulator)
    timeout_s = 0.4
    client = EventsClient(
        emulator.endpoints,
        emulator.authorizer(),
        ClientOptions(connect_timeout_s=timeout_s, operation_timeout_s=timeout_s),
    )
    emulator.add_fault("delay-acks:delay=1500ms,ack=connection")
    try:
        started = time.monotonic()
        with pytest.raises(OperationTimeout) as caught:
            client.connect()
        elapsed = time.monotonic() - started
    finally:
        emulator.clear_faults()
    assert caught.value.operation == "connect"
    assert caught.value.error_type == "Timeout"
    assert timeout_s * 0.9 <= elapsed < timeout_s + 0.4
    assert client.state is ClientState.CLOSED
    assert client.lost is None
    wait_for_open(emulator, base_open)  # the client gave the connection up


def test_a_server_that_never_answers_the_upgrade_times_out() -> None:
    """A listener that accepts TCP and says nothing (no emulator can be made to do
    this): the connect still ends within connect_timeout_s."""
    timeout_s = 0.4
    with silent_port() as port:
        client = EventsClient(*target_on(port), ClientOptions(connect_timeout_s=timeout_s))
        started = time.monotonic()
        with pytest.raises(OperationTimeout) as caught:
            client.connect()
        elapsed = time.monotonic() - started
    assert caught.value.operation == "connect"
    assert timeout_s * 0.9 <= elapsed < timeout_s + 0.4
    assert client.state is ClientState.CLOSED


# -- losing the connection ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "close_code"), [("disconnect-all", None), ("disconnect-all:code=1012", 1012)]
)
def test_disconnect_all_loses_the_connection(
    emulator: LiveEmulator, spec: str, close_code: int | None
) -> None:
    losses = Losses()
    path = channel()
    client = EventsClient(
        emulator.endpoints,
        emulator.authorizer(),
        ClientOptions(operation_timeout_s=2.0),
        on_lost=losses,
    )
    try:
        client.connect()
        client.subscribe(path)
        # A publish held open by a delayed ack is pending when the connection goes.
        emulator.add_fault("delay-acks:delay=5s,ack=publish")
        try:
            pending = gevent.spawn(client.publish, path, ["1"])
            wait_until(lambda: client.pending_operations == 1, what="the pending publish")
            emulator.add_fault(spec)
            loss = losses.wait()
            pending.join(WAIT_S)
        finally:
            emulator.clear_faults()
        assert pending.ready()
        assert isinstance(pending.exception, ConnectionLost), repr(pending.exception)
        assert pending.exception.operation == "publish"
        assert pending.exception.error_type == loss.error_type
        assert pending.exception.close_code == close_code

        assert isinstance(loss, ConnectionLost)
        assert loss.operation == "connection"
        assert loss.close_code == close_code
        if close_code is None:
            assert loss.error_type in ("ConnectionClosed", "NetworkError")
        else:
            assert loss.error_type == "ConnectionClosed"
        assert client.lost is loss
        assert client.state is ClientState.CLOSED
        assert client.pending_operations == 0

        for operation, call in [
            ("subscribe", lambda: client.subscribe(path)),
            ("publish", lambda: client.publish(path, ["2"])),
        ]:
            with pytest.raises(ConnectionLost) as caught:
                call()
            assert caught.value.operation == operation
            assert caught.value.error_type == loss.error_type
    finally:
        client.close()
    gevent.sleep(0.1)
    assert len(losses.items) == 1, "on_lost is called once, and not again by close()"
    assert client.lost is losses.items[0]
    wait_for_open(emulator, 0)


def test_silence_past_connection_timeout_is_a_keepalive_timeout(
    start_emulator: StartEmulator,
) -> None:
    live = start_emulator("--connection-timeout-ms", "300", "--fault", "withhold-ka")
    losses = Losses()
    # connect_timeout_s is well above connectionTimeoutMs: the watchdog must use the
    # latter (docs/protocol.md#keep-alive) from the connection_ack on.
    options = ClientOptions(connect_timeout_s=2.0, operation_timeout_s=1.0)
    client = EventsClient(live.endpoints, live.authorizer(), options, on_lost=losses)
    try:
        client.connect()
        assert client.connection_timeout_ms == 300
        connected_at = time.monotonic()
        loss = losses.wait()
        silent_for = time.monotonic() - connected_at
    finally:
        client.close()
    assert loss.operation == "connection"
    assert loss.error_type == "KeepAliveTimeout"
    assert "300 ms" in loss.detail
    assert 0.25 <= silent_for < 1.0, f"lost after {silent_for:.2f} s of silence, not ~0.3 s"
    assert client.lost is loss
    assert client.state is ClientState.CLOSED
    assert len(losses.items) == 1
    with pytest.raises(ConnectionLost) as caught:
        client.subscribe(channel())
    assert caught.value.error_type == "KeepAliveTimeout"
    wait_for_open(live, 0)


def test_an_idle_connection_outlives_the_connect_timeout(emulator: LiveEmulator) -> None:
    """connect_timeout_s bounds the connect only (docs/protocol.md#keep-alive: TCP + TLS + upgrade
    + ack); once connected, only silence longer than connectionTimeoutMs (300 s here) is a loss."""
    losses = Losses()
    options = ClientOptions(connect_timeout_s=0.3, operation_timeout_s=1.0)
    with connected(emulator, options=options, losses=losses) as client:
        assert client.connection_timeout_ms == 300_000
        gevent.sleep(0.8)
        assert losses.items == [], f"lost while idle: {losses.items}"
        assert client.lost is None
        path = channel()
        client.subscribe(path)
        assert client.publish(path, ["1"]).successful == (0,)


def test_the_server_closing_at_the_maximum_duration_is_a_loss(
    start_emulator: StartEmulator,
) -> None:
    live = start_emulator("--max-connection-duration-s", "0.3")
    losses = Losses()
    client = EventsClient(live.endpoints, live.authorizer(), FAST, on_lost=losses)
    try:
        client.connect()
        loss = losses.wait()
    finally:
        client.close()
    assert loss.error_type == "ConnectionClosed"
    assert loss.close_code == 1000
    assert client.lost is loss


def test_a_normal_close_is_not_a_loss_and_is_idempotent(emulator: LiveEmulator) -> None:
    base_open = open_connections(emulator)
    losses = Losses()
    client = EventsClient(emulator.endpoints, emulator.authorizer(), FAST, on_lost=losses)
    client.connect()
    client.subscribe(channel())
    started = time.monotonic()
    client.close()
    assert time.monotonic() - started < 1.0, "the server answers the close at once"
    client.close()
    client.close()
    assert client.state is ClientState.CLOSED
    gevent.sleep(0.1)
    assert losses.items == []
    assert client.lost is None
    with pytest.raises(ConnectionLost) as caught:
        client.publish(channel(), ["1"])
    assert caught.value.operation == "publish"
    assert caught.value.error_type == "ConnectionClosed"
    stats = wait_for_open(emulator, base_open)
    assert stats["subscriptions"]["live"] == 0


def test_close_fails_a_pending_operation_without_a_loss(emulator: LiveEmulator) -> None:
    losses = Losses()
    path = channel()
    client = EventsClient(emulator.endpoints, emulator.authorizer(), FAST, on_lost=losses)
    client.connect()
    emulator.add_fault("delay-acks:delay=3s,ack=publish")
    try:
        pending = gevent.spawn(client.publish, path, ["1"])
        wait_until(lambda: client.pending_operations == 1, what="the pending publish")
        client.close()
        pending.join(WAIT_S)
    finally:
        emulator.clear_faults()
    assert isinstance(pending.exception, ConnectionLost), repr(pending.exception)
    assert pending.exception.operation == "publish"
    assert pending.exception.error_type == "ConnectionClosed"
    assert losses.items == []
    assert client.lost is None


def test_a_message_over_max_message_bytes_ends_the_connection(emulator: LiveEmulator) -> None:
    """The client refuses (close 1009) a frame over its own limit: a loss, reported once."""
    losses = Losses()
    path = channel()
    options = ClientOptions(max_message_bytes=1000, operation_timeout_s=2.0)
    with connected(emulator, options=options, losses=losses) as client:
        client.subscribe(path)
        # The data frame (over 2,000 bytes) comes before publish_success: the publish is
        # still pending when the connection ends.
        with pytest.raises(ConnectionLost) as caught:
            client.publish(path, [json.dumps("y" * 2000)])
        assert caught.value.operation == "publish"
        loss = losses.wait()
        assert client.lost is loss
        assert client.state is ClientState.CLOSED
    assert len(losses.items) == 1
    wait_for_open(emulator, 0)


def test_close_before_connect(emulator: LiveEmulator) -> None:
    client = EventsClient(emulator.endpoints, emulator.authorizer(), FAST)
    client.close()
    assert client.state is ClientState.CLOSED
    with pytest.raises(ConnectionLost):
        client.subscribe(channel())


# -- handshake failures ------------------------------------------------------------------


def test_a_refused_handshake_carries_the_http_status(emulator: LiveEmulator) -> None:
    client_id = "refused-" + uuid.uuid4().hex[:8]
    since = emulator.stats()["connections"]["attempts"]
    client = EventsClient(
        emulator.endpoints, emulator.authorizer(), ClientOptions(client_id=client_id)
    )
    emulator.add_fault("refuse:status=429")
    try:
        with pytest.raises(HandshakeFailed) as caught:
            client.connect()
    finally:
        emulator.clear_faults()
    assert type(caught.value) is HandshakeFailed
    assert caught.value.status == 429
    assert caught.value.operation == "connect"
    assert caught.value.error_type == "TooManyRequestsException"
    assert "\n" not in caught.value.detail
    assert client.state is ClientState.CLOSED
    attempts = emulator.stats_since(since)["connection_attempts"]
    assert [(a["client_id"], a["outcome"]) for a in attempts] == [(client_id, "refused")]


def test_a_refused_handshake_names_the_servers_error_type(emulator: LiveEmulator) -> None:
    """The emulator answers a refused upgrade with ``{"errors":[{"errorType":...,
    "message":...}]}``, the shape of every AppSync error (docs/protocol.md#errors, #http-publish).
    ClientError's contract
    (harness/errors.py): ``error_type`` is the AppSync errorType when the server named
    one, and ``detail`` the first line of the server's message, as HttpPublisher does
    for the same body."""
    emulator.add_fault("refuse:status=429")
    try:
        raw_status, raw_body = emulator.request("GET", "/event/realtime")
        client = EventsClient(emulator.endpoints, emulator.authorizer(), FAST)
        with pytest.raises(HandshakeFailed) as caught:
            client.connect()
    finally:
        emulator.clear_faults()
    assert raw_status == 429
    expected = raw_body["errors"][0]
    assert caught.value.status == 429
    assert caught.value.error_type == expected["errorType"]  # TooManyRequestsException
    assert caught.value.detail == first_line(expected["message"])


def test_a_closed_port_is_a_network_error() -> None:
    port = free_port()
    client = EventsClient(*target_on(port), FAST)
    started = time.monotonic()
    with pytest.raises(HandshakeFailed) as caught:
        client.connect()
    assert time.monotonic() - started < 1.0
    assert type(caught.value) is HandshakeFailed
    assert caught.value.operation == "connect"
    assert caught.value.error_type == "NetworkError"
    assert caught.value.status is None
    assert "ConnectionRefusedError" in caught.value.detail
    assert client.state is ClientState.CLOSED


def test_tls_works_with_the_emulators_ca_and_fails_without(
    start_emulator: StartEmulator,
) -> None:
    live = start_emulator("--tls")
    ca_cert = live.process.info.ca_cert
    assert ca_cert is not None
    assert live.endpoints.realtime_url.startswith("wss://")

    inbox = Inbox()
    path = channel()
    with connected(
        live, AuthMode.AWS_IAM, ClientOptions(ca_file=ca_cert, operation_timeout_s=2), inbox=inbox
    ) as client:
        sub_id = client.subscribe(path)
        assert client.publish(path, ['{"tls":true}']).successful == (0,)
        assert [(d.sub_id, d.event) for d in inbox.wait(1)] == [(sub_id, '{"tls":true}')]

    untrusting = EventsClient(live.endpoints, live.authorizer(), FAST)
    with pytest.raises(HandshakeFailed) as caught:
        untrusting.connect()
    assert caught.value.error_type == "TlsError"
    assert caught.value.operation == "connect"
    assert caught.value.status is None
    assert "CERTIFICATE_VERIFY_FAILED" in caught.value.detail
    assert untrusting.state is ClientState.CLOSED
    wait_for_open(live, 0)


def test_plain_websocket_to_a_tls_emulator_fails_cleanly(start_emulator: StartEmulator) -> None:
    live = start_emulator("--tls")
    plain = Endpoints.from_http_url(live.endpoints.http_url.replace("https://", "http://"))
    client = EventsClient(plain, live.authorizer(), ClientOptions(connect_timeout_s=1.0))
    with pytest.raises(ClientError) as caught:
        client.connect()
    assert isinstance(caught.value, HandshakeFailed | OperationTimeout), repr(caught.value)
    assert caught.value.operation == "connect"
    assert client.state is ClientState.CLOSED


# -- stray data ----------------------------------------------------------------------------


def test_no_data_reaches_on_data_after_unsubscribe(emulator: LiveEmulator) -> None:
    inbox = Inbox()
    path = channel()
    with connected(emulator, inbox=inbox) as client:
        gone = client.subscribe(path)
        kept = client.subscribe(path)  # a marker: its delivery shows the publish went out
        client.publish(path, ["1"])
        inbox.wait(2)
        client.unsubscribe(gone)
        client.publish(path, ["2"])
        client.publish(path, ["3"])
        wait_until(lambda: inbox.events_for(kept) == ["1", "2", "3"], what="the marker")
        gevent.sleep(0.05)
        assert inbox.events_for(gone) == ["1"]
        assert client.counters.data_received == 4  # the server stopped sending too
        assert client.counters.stray_data == 0


def test_data_for_a_subscription_the_client_does_not_hold_is_stray(
    emulator: LiveEmulator,
) -> None:
    """A subscribe that timed out is live on the server but not held by the client:
    its data is counted as stray and never reaches on_data."""
    inbox = Inbox()
    path = channel()
    options = ClientOptions(operation_timeout_s=0.2)
    with connected(emulator, options=options, inbox=inbox) as client:
        emulator.add_fault("delay-acks:delay=400ms,ack=subscribe")
        try:
            with pytest.raises(OperationTimeout):
                client.subscribe(path)
        finally:
            emulator.clear_faults()
        kept = client.subscribe(path)
        client.publish(path, ["1", "2"])
        wait_until(lambda: inbox.events_for(kept) == ["1", "2"], what="the held subscription")
        wait_until(lambda: client.counters.stray_data == 2, what="two stray deliveries")
        assert {item.sub_id for item in inbox.items} == {kept}
        assert client.counters.data_received == 4


# -- the connection-attempt log ------------------------------------------------------------


def test_client_id_appears_in_the_connection_attempt_log(emulator: LiveEmulator) -> None:
    client_id = "load-client-" + uuid.uuid4().hex[:8]
    since = emulator.stats()["connections"]["attempts"]
    with connected(emulator, options=ClientOptions(client_id=client_id)):
        pass
    rejected = EventsClient(
        emulator.endpoints,
        make_authorizer(AuthMode.API_KEY, emulator.http_host, api_key="da2-wrong"),
        ClientOptions(client_id=client_id + "-bad"),
    )
    with pytest.raises(OperationRejected):
        rejected.connect()
    with connected(emulator):  # no client_id
        pass
    attempts = emulator.stats_since(since)["connection_attempts"]
    assert [(a["client_id"], a["outcome"]) for a in attempts] == [
        (client_id, "accepted"),
        (client_id + "-bad", "rejected"),
        (None, "accepted"),
    ]
    assert all(a["remote"] == "127.0.0.1" for a in attempts)


# -- what no emulator does: a scripted server -----------------------------------------------
#
# AppSync and the emulator never send these, or never in one write; a one-connection
# server of the test's own (client_support.scripted_server) does.

REFUSAL_TEXT = "You are not authorized to make this call.\nsecond line"
REFUSAL = {
    "type": "connection_error",
    "errors": [{"errorType": "UnauthorizedException", "message": REFUSAL_TEXT}],
}


def answer_close(peer: ScriptedPeer) -> None:
    """Wait for the client's close frame and answer it, so its close() need not wait."""
    if peer.wait_for_client_frame():
        peer.send(server_close_frame())


@contextmanager
def connected_to_script(
    script: Callable[[ScriptedPeer], None],
    options: ClientOptions = FAST,
    *,
    losses: Losses | None = None,
) -> Iterator[EventsClient]:
    """A client connected to a scripted server running ``script``, closed at the end
    whatever happens (before the server is joined)."""
    with scripted_server(script) as port:
        client = EventsClient(*target_on(port), options, on_lost=losses)
        try:
            client.connect()
            yield client
        finally:
            client.close()


def test_the_connect_timeout_bounds_a_slow_upgrade_and_the_ack_together() -> None:
    """connect_timeout_s bounds TCP + upgrade + connection_ack together
    (docs/protocol.md#keep-alive): an upgrade
    that takes most of it leaves only the rest for the ack."""
    timeout_s = 0.8

    def slow_upgrade_then_no_ack(peer: ScriptedPeer) -> None:
        request = peer.upgrade_request()
        gevent.sleep(0.5)
        peer.send(peer.switching_protocols(request))
        while peer.wait_for_client_frame():  # connection_init, never acknowledged
            pass

    with scripted_server(slow_upgrade_then_no_ack) as port:
        client = EventsClient(*target_on(port), ClientOptions(connect_timeout_s=timeout_s))
        started = time.monotonic()
        with pytest.raises(OperationTimeout) as caught:
            client.connect()
        elapsed = time.monotonic() - started
    assert caught.value.operation == "connect"
    assert timeout_s * 0.9 <= elapsed < timeout_s + 0.25, f"gave up after {elapsed:.2f} s"
    assert client.state is ClientState.CLOSED


def test_a_connect_timeout_reports_the_connect_timeout(emulator: LiveEmulator) -> None:
    """The error names the configured connect_timeout_s, as every OperationTimeout names
    its operation's timeout; the text is the same for every connect that timed out, so
    Locust's failure table keeps one row for them."""
    timeout_s = 0.4
    options = ClientOptions(connect_timeout_s=timeout_s, operation_timeout_s=timeout_s)
    errors: list[OperationTimeout] = []
    emulator.add_fault("delay-acks:delay=1500ms,ack=connection")
    try:
        for _ in range(2):
            client = EventsClient(emulator.endpoints, emulator.authorizer(), options)
            with pytest.raises(OperationTimeout) as caught:
                client.connect()
            errors.append(caught.value)
    finally:
        emulator.clear_faults()
    assert [error.timeout_s for error in errors] == [timeout_s, timeout_s]
    assert (
        str(errors[0])
        == str(errors[1])
        == f"connect failed: Timeout: no answer within {timeout_s:g} s"
    )


def test_a_connection_error_in_the_same_read_as_the_101_refuses_the_connect() -> None:
    def refuse_with_the_upgrade(peer: ScriptedPeer) -> None:
        request = peer.upgrade_request()
        peer.send(peer.switching_protocols(request) + server_frame(REFUSAL))
        while peer.wait_for_client_frame():
            pass

    losses = Losses()
    with scripted_server(refuse_with_the_upgrade) as port:
        client = EventsClient(*target_on(port), FAST, on_lost=losses)
        started = time.monotonic()
        with pytest.raises(OperationRejected) as caught:
            client.connect()
        elapsed = time.monotonic() - started
    assert_rejected(
        caught.value, "connect", "UnauthorizedException", REFUSAL["errors"][0]["message"]
    )
    assert elapsed < 1.0, "refused at once, not after the connect timeout"
    assert client.state is ClientState.CLOSED
    assert client.lost is None
    assert losses.items == []


def test_a_refused_connect_is_not_a_loss_when_the_server_closes_right_behind_it() -> None:
    """The connection_error, the close frame and the end of the stream in one read: the
    reader sees the connection end before connect() sees the refusal. Still the refusal is
    connect()'s error alone, not a lost connection."""

    def refuse_and_close(peer: ScriptedPeer) -> None:
        peer.accept_upgrade()
        peer.wait_for_client_frame()  # connection_init
        peer.send(server_frame(REFUSAL) + server_close_frame())
        peer.connection.shutdown(socket.SHUT_WR)
        while peer.wait_for_client_frame():
            pass

    losses = Losses()
    with scripted_server(refuse_and_close) as port:
        client = EventsClient(*target_on(port), FAST, on_lost=losses)
        with pytest.raises(OperationRejected) as caught:
            client.connect()
    assert caught.value.error_type == "UnauthorizedException"
    assert client.state is ClientState.CLOSED
    gevent.sleep(0.05)
    assert client.lost is None
    assert losses.items == []


def test_messages_appsync_never_sends_are_counted_and_keep_the_connection() -> None:
    """Frames that are no message, unknown types, a broadcast_error and a ka are counted;
    none ends the connection. connectionTimeoutMs 0 in the ack means no watchdog."""
    broadcast_error = {
        "type": "broadcast_error",
        "id": "s1",
        "errors": [{"errorType": "BroadcastError", "message": "m"}],
    }
    odd = ["[]", '"text"', "not json", "{}", '{"type":"mystery"}', '{"type":"ka"}']

    def odd_server(peer: ScriptedPeer) -> None:
        peer.accept_connection(connection_timeout_ms=0)
        peer.send(b"".join(server_frame(text) for text in odd) + server_frame(broadcast_error))
        answer_close(peer)

    losses = Losses()
    with connected_to_script(odd_server, losses=losses) as client:
        wait_until(lambda: client.counters.broadcast_errors == 1, what="the broadcast_error")
        gevent.sleep(0.2)
        assert client.connection_timeout_ms == 0
        assert client.counters.unexpected == {"<not a message>": 4, "mystery": 1}
        assert client.counters.keepalives == 1
        assert client.counters.data_received == 0
        assert client.state is ClientState.OPEN
        assert client.lost is None
    assert losses.items == []


def test_an_error_without_an_id_fails_every_pending_operation() -> None:
    """A generic ``error`` names no operation (docs/protocol.md#messages): every operation waiting
    for an answer fails with it at once, rather than waiting out its timeout."""
    error = {
        "type": "error",
        "errors": [{"errorType": "BadRequestException", "message": "Invalid JSON\ndetails"}],
    }

    def server(peer: ScriptedPeer) -> None:
        peer.accept_connection()
        peer.wait_for_client_frame()  # the publish
        peer.send(server_frame(error))
        answer_close(peer)

    options = ClientOptions(connect_timeout_s=2.0, operation_timeout_s=1.0)
    with connected_to_script(server, options) as client:
        started = time.monotonic()
        with pytest.raises(OperationRejected) as caught:
            client.publish("/default/x", ["1"])
        assert time.monotonic() - started < 0.5
        assert_rejected(caught.value, "publish", "BadRequestException", "Invalid JSON")
        assert client.pending_operations == 0
        assert client.counters.late_answers == 0
        assert client.lost is None


# -- server texts ------------------------------------------------------------------------


def test_server_detail_keeps_one_short_line() -> None:
    assert server_detail("first line\nsecond line") == "first line"
    assert server_detail("  padded  \n") == "padded"
    assert server_detail(None) == ""
    assert server_detail("") == ""
    exact = "y" * DETAIL_LIMIT
    assert server_detail(exact) == exact
    cut = server_detail("x" * (DETAIL_LIMIT + 50) + "\nmore")
    assert len(cut) == DETAIL_LIMIT
    assert cut == "x" * (DETAIL_LIMIT - 3) + "..."


def test_a_connection_reset_is_a_network_error() -> None:
    def ack_then_reset(peer: ScriptedPeer) -> None:
        peer.accept_connection()
        gevent.sleep(0.1)  # the client has read the ack
        # Closing with a zero linger time sends a TCP reset instead of a FIN.
        peer.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))

    losses = Losses()
    with connected_to_script(ack_then_reset, losses=losses) as client:
        loss = losses.wait()
    assert loss.operation == "connection"
    assert loss.error_type == "NetworkError"
    assert loss.detail == "ConnectionResetError"
    assert loss.close_code is None
    assert client.lost is loss
    assert client.state is ClientState.CLOSED


def test_a_late_refusal_counts_as_late_and_is_not_adopted() -> None:
    """The emulator never delays an error; this server refuses a subscribe after the
    client gave up waiting. Only a late subscribe_success is adopted."""

    def refuse_late(peer: ScriptedPeer) -> None:
        peer.accept_connection()
        subscribe = peer.wait_for_client_frame()
        assert subscribe, "the client sent no subscribe"
        gevent.sleep(0.5)
        peer.send(
            server_frame(
                {
                    "type": "subscribe_error",
                    "id": "s1",
                    "errors": [{"errorType": "UnauthorizedException", "message": "m"}],
                }
            )
        )
        answer_close(peer)

    options = ClientOptions(connect_timeout_s=2.0, operation_timeout_s=0.3)
    with connected_to_script(refuse_late, options) as client:
        with pytest.raises(OperationTimeout):
            client.subscribe("/default/late")
        assert client.counters.late_answers == 0
        wait_until(lambda: client.counters.late_answers == 1, what="the late subscribe_error")
        assert client.subscriptions == {}
        assert client.lost is None


def test_close_fails_a_pending_operation_when_the_server_never_answers_the_close() -> None:
    """close() waits (CLOSE_TIMEOUT_S at most) for the server's close, then gives the
    connection up: an operation still waiting fails then, not when its own timeout runs
    out."""

    def ack_then_ignore_everything(peer: ScriptedPeer) -> None:
        peer.accept_connection()
        while peer.wait_for_client_frame():  # the publish, the close: no answers
            pass

    options = ClientOptions(connect_timeout_s=2.0, operation_timeout_s=10.0)
    with scripted_server(ack_then_ignore_everything) as port:
        client = EventsClient(*target_on(port), options)
        client.connect()
        pending = gevent.spawn(client.publish, "/default/x", ["1"])
        wait_until(lambda: client.pending_operations == 1, what="the pending publish")
        started = time.monotonic()
        client.close()
        pending.join(WAIT_S)
        elapsed = time.monotonic() - started
    assert isinstance(pending.exception, ConnectionLost), repr(pending.exception)
    assert pending.exception.operation == "publish"
    assert pending.exception.error_type == "ConnectionClosed"
    assert CLOSE_TIMEOUT_S * 0.9 <= elapsed < CLOSE_TIMEOUT_S + 0.5, f"closed in {elapsed:.2f} s"
    assert client.state is ClientState.CLOSED
    assert client.lost is None
