"""Malformed input to a live emulator gets an error message or a clean close, never a
crash, and every other connection carries on (docs/protocol.md#connecting, #messages, #errors,
#http-publish).

Every test here runs with a *bystander*: a client on another connection, subscribed
before the test starts, that must still receive an event once the test is over.
The property-based tests at the end throw generated garbage at an emulator of
their own.
"""

from __future__ import annotations

import base64
import json
import os
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.emulator import RECV_TIMEOUT_S, LiveEmulator, WsClient
from support.emulator_checks import (
    first_ws_frame,
    raw_exchange,
    raw_websocket,
    read_first_ws_frame,
    round_trip,
    status_of,
    unique,
)
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from harness.emulator import defaults
from harness.emulator.session import MAX_FRAME_BYTES, READ_LIMIT_BYTES
from harness.protocol import (
    MESSAGE_TYPES,
    ConnectionAck,
    ConnectionErrorMessage,
    Data,
    ErrorMessage,
    Message,
    PublishError,
    SubscribeError,
    SubscribeSuccess,
    UnsubscribeError,
    decode,
)
from harness.signing import AuthMode
from harness.signing.wire import b64url_encode

SUBPROTOCOL = "aws-appsync-event-ws"
BAD_REQUEST = "BadRequestException"
UNAUTHORIZED = "UnauthorizedException"
UNSUPPORTED = "UnsupportedOperation"
SERVER_TYPES = sorted(name for name, cls in MESSAGE_TYPES.items() if cls.SENDER == "server")
CLIENT_TYPES = ("connection_init", "subscribe", "unsubscribe", "publish")
OPERATION_TYPES = ("subscribe", "unsubscribe", "publish")


# -- the bystander ------------------------------------------------------------------


@dataclass
class Bystander:
    """A subscribed client on its own connection, untouched by the test."""

    live: LiveEmulator
    client: WsClient
    channel: str = field(default_factory=lambda: f"/default/{unique('bystander')}")

    def check(self) -> None:
        assert self.live.process.process.poll() is None, self.live.process.stderr_text()
        event = json.dumps({"still": "here", "n": unique()})
        status, body = self.live.http_publish(self.channel, [event])
        assert status == 200, body
        assert self.client.recv() == Data("bystander", event)


@pytest.fixture(autouse=True)
def bystander(emulator: LiveEmulator) -> Iterator[Bystander]:
    """After each test: the emulator process is alive and another connection, opened
    before the test, still gets its events; then a fresh client round trip works."""
    watcher = Bystander(emulator, emulator.client())
    assert watcher.client.subscribe("bystander", watcher.channel) == SubscribeSuccess("bystander")
    yield watcher
    try:
        watcher.check()
        round_trip(emulator)
    finally:
        watcher.client.close()


def answer(client: WsClient, frame: dict[str, Any] | str | bytes) -> Message:
    """Send one frame; its answer, after checking the connection is still usable."""
    client.send(frame)
    reply = client.recv()
    assert isinstance(client.init(), ConnectionAck), "the connection stopped working"
    return reply


def error_types(message: Message) -> list[str]:
    return [error.error_type for error in getattr(message, "errors", ())]


# -- frames that are not messages ------------------------------------------------------


@pytest.mark.parametrize(
    "frame",
    [
        "not json",
        "",
        "{",
        '{"type":"connection_init"',
        '{"type":"connection_init"} {}',
        "\ufeff{}",
        "NaN",
        '{"type":"connection_init","n":Infinity}',
        "[" * 100_000,
        "1" * 5000,
        "{'type': 'connection_init'}",
    ],
    ids=[
        "text",
        "empty",
        "open-brace",
        "truncated",
        "trailing-data",
        "bom",
        "nan",
        "infinity",
        "deep-nesting",
        "huge-integer",
        "single-quotes",
    ],
)
def test_a_frame_that_is_not_json_gets_a_bad_request_error(
    emulator: LiveEmulator, frame: str
) -> None:
    client = emulator.client()
    reply = answer(client, frame)
    assert isinstance(reply, ErrorMessage) and reply.id is None, reply
    assert error_types(reply) == [BAD_REQUEST]
    assert "not JSON" in reply.errors[0].message
    client.close()


@pytest.mark.parametrize(
    "frame",
    [b"\x00\x01\x02", b"", b'{"type":"connection_init"}', bytes(range(256)) * 16],
    ids=["bytes", "empty", "json-as-binary", "every-byte"],
)
def test_a_binary_frame_gets_an_error_and_the_connection_stays_open(
    emulator: LiveEmulator, frame: bytes
) -> None:
    client = emulator.client()
    client.ws.send(frame, text=False)
    reply = client.recv()
    assert isinstance(reply, ErrorMessage) and error_types(reply) == [BAD_REQUEST], reply
    assert "binary" in reply.errors[0].message
    assert isinstance(client.init(), ConnectionAck)
    client.close()


def test_a_text_frame_that_is_not_utf8_is_closed_with_1007(emulator: LiveEmulator) -> None:
    client = emulator.client()
    client.ws.send(b'{"type":"connection_init","x":"\xff\xfe"}', text=True)
    assert client.closed_with() == 1007  # invalid frame payload data (RFC 6455 §7.4.1)


def test_a_frame_declared_huge_is_closed_with_1009_at_once(emulator: LiveEmulator) -> None:
    """A frame's header declares its size: one over READ_LIMIT_BYTES is refused there,
    with close code 1009 (message too big, RFC 6455 §7.4.1), without waiting for it."""
    sock, received = raw_websocket(emulator, emulator.authorizer().connect_subprotocols())
    with sock:
        length = (READ_LIMIT_BYTES + 1).to_bytes(8, "big")
        sock.sendall(bytes([0x81, 0x80 | 127]) + length + os.urandom(4))  # FIN, text, masked
        frame = read_first_ws_frame(sock, received)
    assert frame is not None, "the connection ended without a close frame"
    opcode, payload = frame
    assert opcode == 8, frame  # close
    assert int.from_bytes(payload[:2], "big") == 1009, payload


def test_the_frame_limit_counts_utf8_bytes_not_characters(emulator: LiveEmulator) -> None:
    """Two-byte characters: fewer characters than MAX_FRAME_BYTES, more bytes."""
    client = emulator.client()
    client.send("\u00e9" * (MAX_FRAME_BYTES // 2 + 1))
    assert client.closed_with(timeout=10) == 1009


def test_a_client_still_sending_an_oversized_frame_sees_1009_not_a_reset(
    emulator: LiveEmulator,
) -> None:
    """A client over a real link is still sending a frame over MAX_FRAME_BYTES; the
    emulator must let it finish before closing, or the client gets a TCP reset and
    never sees the 1009. A small send buffer stands in for the slow link."""
    host, _, port = emulator.http_host.rpartition(":")
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    sock.settimeout(RECV_TIMEOUT_S)
    sock.connect((host, int(port)))
    ws = connect(
        emulator.endpoints.realtime_url,
        sock=sock,
        subprotocols=emulator.authorizer().connect_subprotocols(),  # type: ignore[arg-type]
        proxy=None,
        compression=None,
        open_timeout=RECV_TIMEOUT_S,
        legacy=True,
    )
    client = WsClient(ws, None)
    try:
        client.send("x" * (MAX_FRAME_BYTES + 1))
        code = client.closed_with()
    except ConnectionClosed as closed:
        code = closed.rcvd.code if closed.rcvd is not None else None
    assert code == 1009, (
        "no 1009 reached the client: the emulator closed the TCP connection with the "
        "rest of the frame unread, which resets it"
    )


def test_a_frame_of_exactly_the_limit_is_read_and_answered(emulator: LiveEmulator) -> None:
    client = emulator.client()
    reply = answer(client, "x" * MAX_FRAME_BYTES)
    assert isinstance(reply, ErrorMessage) and error_types(reply) == [BAD_REQUEST]
    client.close()


@pytest.mark.parametrize(
    "frame",
    ["[]", "42", "-1.5", '"connection_init"', "null", "true", '[{"type":"connection_init"}]'],
)
def test_json_that_is_not_an_object_gets_a_bad_request_error(
    emulator: LiveEmulator, frame: str
) -> None:
    client = emulator.client()
    reply = answer(client, frame)
    assert isinstance(reply, ErrorMessage) and reply.id is None, reply
    assert error_types(reply) == [BAD_REQUEST]
    assert "must be a JSON object" in reply.errors[0].message
    client.close()


# -- message types ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("frame", "expected_id"),
    [
        ({"type": "bogus"}, None),
        ({"type": "bogus", "id": "x1"}, "x1"),
        ({"type": "start", "id": "gql-1", "payload": {}}, "gql-1"),  # GraphQL real-time
        ({"type": "Subscribe", "id": "x2", "channel": "/default/a"}, "x2"),  # case matters
        ({"type": ""}, None),
        ({"type": "x" * 5000, "id": "x3"}, "x3"),
    ],
    ids=["bogus", "bogus-with-id", "graphql-start", "wrong-case", "empty", "very-long"],
)
def test_an_unknown_type_is_an_unsupported_operation(
    emulator: LiveEmulator, frame: dict[str, Any], expected_id: str | None
) -> None:
    client = emulator.client()
    reply = answer(client, frame)
    assert isinstance(reply, ErrorMessage) and reply.id == expected_id, reply
    assert error_types(reply) == [UNSUPPORTED]
    client.close()


@pytest.mark.parametrize("message_type", SERVER_TYPES)
def test_a_server_only_type_sent_by_a_client_is_an_unsupported_operation(
    emulator: LiveEmulator, message_type: str
) -> None:
    client = emulator.client()
    frame = {"type": message_type, "id": "srv-1", "event": '{"a":1}', "errors": []}
    reply = answer(client, frame)
    assert isinstance(reply, ErrorMessage) and reply.id == "srv-1", reply
    assert error_types(reply) == [UNSUPPORTED]
    assert message_type in reply.errors[0].message
    client.close()


@pytest.mark.parametrize(
    ("frame", "expected_type", "expected_id", "named_field"),
    [
        # the id is readable: the operation's own *_error, carrying it
        ({"type": "subscribe", "id": "s1"}, "subscribe_error", "s1", "channel"),
        ({"type": "subscribe", "id": "s2", "channel": 7}, "subscribe_error", "s2", "channel"),
        ({"type": "subscribe", "id": "s3", "channel": None}, "subscribe_error", "s3", "channel"),
        (
            {"type": "subscribe", "id": "s4", "channel": "/default/a", "authorization": "k"},
            "subscribe_error",
            "s4",
            "authorization",
        ),
        (
            {"type": "subscribe", "id": "s5", "channel": "/default/a", "authorization": [1]},
            "subscribe_error",
            "s5",
            "authorization",
        ),
        (
            {
                "type": "subscribe",
                "id": "s6",
                "channel": "/default/a",
                "authorization": {"x-api-key": 5},
            },
            "subscribe_error",
            "s6",
            "authorization.x-api-key",
        ),
        (
            {"type": "publish", "id": "p1", "channel": "/default/a"},
            "publish_error",
            "p1",
            "events",
        ),
        (
            {"type": "publish", "id": "p2", "events": ['{"a":1}']},
            "publish_error",
            "p2",
            "channel",
        ),
        (
            {"type": "publish", "id": "p3", "channel": "/default/a", "events": '{"a":1}'},
            "publish_error",
            "p3",
            "events",
        ),
        (
            {"type": "publish", "id": "p4", "channel": "/default/a", "events": ['"a"', 1]},
            "publish_error",
            "p4",
            "events[1]",
        ),
        (
            {"type": "publish", "id": "p5", "channel": "/default/a", "events": {"0": "1"}},
            "publish_error",
            "p5",
            "events",
        ),
        (
            {"type": "publish", "id": "p6", "channel": ["/default/a"], "events": ["1"]},
            "publish_error",
            "p6",
            "channel",
        ),
        (
            {
                "type": "publish",
                "id": "p7",
                "channel": "/default/a",
                "events": ["1"],
                "authorization": True,
            },
            "publish_error",
            "p7",
            "authorization",
        ),
        # the id is missing or not a string: a generic error, without an id
        ({"type": "subscribe", "channel": "/default/a"}, "error", None, "id"),
        ({"type": "subscribe", "id": 5, "channel": "/default/a"}, "error", None, "id"),
        ({"type": "publish", "id": None, "channel": "/default/a"}, "error", None, "id"),
        ({"type": "publish", "id": ["p8"], "events": ["1"]}, "error", None, "id"),
        ({"type": "unsubscribe"}, "error", None, "id"),
        ({"type": "unsubscribe", "id": 7}, "error", None, "id"),
        ({"type": "unsubscribe", "id": {"id": "u1"}}, "error", None, "id"),
        # no readable type: a generic error, with the id when there is one
        ({}, "error", None, "type"),
        ({"id": "x1", "channel": "/default/a"}, "error", "x1", "type"),
        ({"type": 5, "id": "x2"}, "error", "x2", "type"),
        ({"type": ["subscribe"], "id": "x3"}, "error", "x3", "type"),
        ({"type": None}, "error", None, "type"),
    ],
)
def test_missing_and_mistyped_fields_get_the_operations_own_error(
    emulator: LiveEmulator,
    frame: dict[str, Any],
    expected_type: str,
    expected_id: str | None,
    named_field: str,
) -> None:
    client = emulator.client()
    reply = answer(client, frame)
    reply_type = reply.TYPE
    assert reply_type == expected_type, reply
    assert getattr(reply, "id", None) == expected_id, reply
    assert error_types(reply) == [BAD_REQUEST]
    assert f"'{named_field}'" in reply.errors[0].message  # type: ignore[attr-defined]
    client.close()


def test_a_storm_of_bad_frames_leaves_the_connection_and_its_subscription_working(
    emulator: LiveEmulator,
) -> None:
    with emulator.clients(2) as (victim, publisher):
        channel = f"/default/{unique()}"
        assert victim.subscribe("kept", channel) == SubscribeSuccess("kept")
        frames: list[Any] = ["nope", b"\x00", "[]", {"type": "ka"}, {"type": "publish"}] * 20
        for frame in frames:
            victim.send(frame)
        replies = [victim.recv() for _ in frames]
        assert all(isinstance(reply, ErrorMessage) for reply in replies), replies
        publisher.publish("p1", channel, ['{"after":"storm"}'])
        assert publisher.recv().TYPE == "publish_success"
        assert victim.recv() == Data("kept", '{"after":"storm"}')


# -- lone surrogates: valid JSON escapes that are not valid UTF-8 -------------------------
# "\ud800" is a legal JSON string escape, so a client can put a lone surrogate in any
# string field. It must be refused like any other bad value: an error message, the
# connection kept.


@pytest.mark.parametrize(
    ("frame", "expected"),
    [
        (
            {"type": "subscribe", "id": "\ud800", "channel": "/default/a"},
            SubscribeError("\ud800", ()),
        ),
        ({"type": "publish", "id": "\ud800"}, PublishError("\ud800", ())),
        (
            {"type": "publish", "id": "\udfff", "channel": "/default/a", "events": ["1"]},
            PublishError("\udfff", ()),
        ),
        ({"type": "unsubscribe", "id": "\udfff"}, UnsubscribeError("\udfff", ())),
        ({"type": "bogus", "id": "\ud800"}, ErrorMessage((), "\ud800")),
    ],
    ids=["subscribe", "publish-malformed", "publish", "unsubscribe", "unknown-type"],
)
def test_an_id_with_a_lone_surrogate_gets_an_error_not_a_dropped_connection(
    emulator: LiveEmulator, frame: dict[str, Any], expected: Message
) -> None:
    client = emulator.client()
    client.send(frame)  # json.dumps writes the surrogate as a \uXXXX escape
    try:
        reply = client.recv()
    except ConnectionClosed as closed:
        pytest.fail(f"the emulator dropped the connection instead of answering: {closed}")
    assert reply.TYPE == expected.TYPE, reply
    assert getattr(reply, "id", None) == getattr(expected, "id", None), reply
    assert isinstance(client.init(), ConnectionAck)
    client.close()


@pytest.mark.parametrize(
    ("operation", "authorization"),
    [
        ("subscribe", {"x-api-key": "\ud800"}),
        ("subscribe", {"authorization": "\ud800"}),
        ("subscribe", {"authorization": "eyJhbGciOiJIUzI1NiJ9.\udfff.sig"}),
        ("publish", {"x-api-key": "da2-\ud800"}),
    ],
    ids=["subscribe-api-key", "subscribe-token", "subscribe-jwt", "publish-api-key"],
)
def test_a_credential_with_a_lone_surrogate_is_refused_not_crashed(
    emulator: LiveEmulator, operation: str, authorization: dict[str, str]
) -> None:
    client = emulator.client()
    frame: dict[str, Any] = {
        "type": operation,
        "id": "op-1",
        "channel": f"/default/{unique()}",
        "authorization": {"host": emulator.http_host, **authorization},
    }
    if operation == "publish":
        frame["events"] = ['{"a":1}']
    client.send(frame)
    try:
        reply = client.recv()
    except ConnectionClosed as closed:
        pytest.fail(f"the emulator dropped the connection instead of answering: {closed}")
    reply_type = reply.TYPE
    assert reply_type == f"{operation}_error" and getattr(reply, "id", None) == "op-1", reply
    assert error_types(reply) == [UNAUTHORIZED]
    assert isinstance(client.init(), ConnectionAck)
    client.close()


def test_an_iam_signed_header_with_a_lone_surrogate_is_refused_not_crashed(
    emulator: LiveEmulator,
) -> None:
    client = emulator.client()
    channel = f"/default/{unique()}"
    authorization = emulator.authorizer(AuthMode.AWS_IAM).message_authorization(channel)
    # a signed header (docs/protocol.md#auth-objects)
    authorization["accept"] = "application/json\ud800"
    client.send(
        {"type": "subscribe", "id": "s1", "channel": channel, "authorization": authorization}
    )
    try:
        reply = client.recv()
    except ConnectionClosed as closed:
        pytest.fail(f"the emulator dropped the connection instead of answering: {closed}")
    assert isinstance(reply, SubscribeError) and reply.id == "s1", reply
    assert error_types(reply) == [BAD_REQUEST]  # the signature does not match
    client.close()


def test_a_connect_credential_with_a_lone_surrogate_gets_a_connection_error(
    emulator: LiveEmulator,
) -> None:
    document = json.dumps({"host": emulator.http_host, "x-api-key": "\ud800"})  # as \ud800
    token = "header-" + b64url_encode(document.encode("ascii"))
    client = WsClient(emulator.open([SUBPROTOCOL, token]), None)
    try:
        reply = client.recv()
    except ConnectionClosed as closed:
        pytest.fail(f"the emulator dropped the connection without a connection_error: {closed}")
    assert isinstance(reply, ConnectionErrorMessage) and error_types(reply) == [UNAUTHORIZED]
    assert client.closed_with() == 1000


def test_an_http_publish_with_a_non_utf8_api_key_is_a_401_not_a_500(
    emulator: LiveEmulator,
) -> None:
    body = json.dumps({"channel": f"/default/{unique()}", "events": ['{"a":1}']}).encode()
    headers: dict[str, Any] = {"content-type": "application/json", "x-api-key": b"da2-\xff\xfe"}
    status, document = emulator.request("POST", "/event", body, headers)
    assert status == 401, document
    assert document["errors"][0]["errorType"] == UNAUTHORIZED


def test_an_upgrade_with_a_non_utf8_api_key_header_gets_a_connection_error(
    emulator: LiveEmulator,
) -> None:
    """Auth in the upgrade request's own headers, as the Swift and Kotlin SDKs send it
    (docs/protocol.md#upgrade-headers)."""
    key = base64.b64encode(os.urandom(16))
    request = (
        b"GET /event/realtime HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\n"
        b"Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n"
        b"Sec-WebSocket-Protocol: aws-appsync-event-ws\r\nx-api-key: da2-\xff\r\n\r\n"
    ) % (emulator.http_host.encode(), key)
    response = raw_exchange(emulator, request, want_ws_frame=True)
    assert status_of(response) == 101, response[:200]
    frame = first_ws_frame(response)
    assert frame is not None, f"the connection ended without a connection_error: {response!r}"
    opcode, payload = frame
    assert opcode == 1, frame  # a text frame
    reply = decode(payload.decode("utf-8"), sender="server")
    assert isinstance(reply, ConnectionErrorMessage) and error_types(reply) == [UNAUTHORIZED]


# -- the handshake ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "token",
    [
        "header-a",  # one base64 character cannot encode anything
        "header-abcde",
        "header-!!!!",
        "header-",
        "header-" + b64url_encode(b"not json"),
        "header-" + b64url_encode(b"\xff\xfe\xfd"),  # not UTF-8
        "header-" + b64url_encode(b'{"host":'),
        "header-" + b64url_encode(b"[1,2]"),
        "header-" + b64url_encode(b'"x-api-key"'),
        "header-" + b64url_encode(b"null"),
        "header-" + b64url_encode(b"[" * 5000),
        "header-" + b64url_encode(b'{"host":5}'),
        "header-" + b64url_encode(b'{"x-api-key":["da2-x"]}'),
        "header-" + b64url_encode(b'{"x-api-key":{"k":"v"}}'),
        "header-" + b64url_encode(b'{"x-api-key":null}'),
    ],
    ids=[
        "not-base64",
        "bad-length",
        "no-alphabet",
        "empty",
        "base64-of-text",
        "base64-of-non-utf8",
        "truncated-json",
        "json-array",
        "json-string",
        "json-null",
        "json-deep-nesting",
        "number-value",
        "array-value",
        "object-value",
        "null-value",
    ],
)
def test_a_bad_header_subprotocol_gets_a_connection_error_then_a_close(
    emulator: LiveEmulator, token: str
) -> None:
    ws = emulator.open([SUBPROTOCOL, token])
    assert ws.subprotocol == SUBPROTOCOL
    client = WsClient(ws, None)
    reply = client.recv()
    assert isinstance(reply, ConnectionErrorMessage), reply
    assert [(error.error_type, error.error_code) for error in reply.errors] == [(UNAUTHORIZED, 401)]
    assert client.closed_with() == 1000


@pytest.mark.parametrize(
    "subprotocols",
    [None, ["graphql-ws"], ["graphql-transport-ws", "header-e30"], ["aws-appsync-event-ws-v2"]],
    ids=["none", "graphql-ws", "header-only", "near-miss"],
)
def test_an_upgrade_without_the_events_subprotocol_is_a_400(
    emulator: LiveEmulator, subprotocols: list[str] | None
) -> None:
    with pytest.raises(InvalidStatus) as raised:
        emulator.open(subprotocols)
    response = raised.value.response
    assert response.status_code == 400
    document = json.loads(response.body)
    assert document["errors"][0]["errorType"] == BAD_REQUEST


def test_the_events_subprotocol_is_accepted_in_either_order(emulator: LiveEmulator) -> None:
    token = emulator.authorizer().connect_subprotocols()[1]
    client = WsClient(emulator.open([token, SUBPROTOCOL]), None)
    assert isinstance(client.init(), ConnectionAck)
    client.close()


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Upgrade": "websocket", "Connection": "Upgrade"},  # no key, no version
        {"Sec-WebSocket-Protocol": SUBPROTOCOL},  # a subprotocol but no upgrade
    ],
    ids=["plain", "no-key", "no-upgrade"],
)
def test_a_plain_get_of_the_realtime_path_is_a_400(
    emulator: LiveEmulator, headers: dict[str, str]
) -> None:
    status, document = emulator.request("GET", "/event/realtime", headers=headers)
    assert status == 400, document
    assert document["errors"][0]["errorType"] == BAD_REQUEST


# -- HTTP publish (docs/protocol.md#http-publish) --------------------------------------------------


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b"not json", "not JSON"),
        (b"", "not JSON"),
        (b'{"channel":"/default/a","events":["1"]', "not JSON"),
        (b"\xff\xfe{}", "not JSON"),
        (b"[" * 100_000, "not JSON"),
        (b"[]", "JSON object"),
        (b'"x"', "JSON object"),
        (b"null", "JSON object"),
        (b"42", "JSON object"),
        (b"{}", "channel"),
        (b'{"events":["1"]}', "channel"),
        (b'{"channel":5,"events":["1"]}', "channel"),
        (b'{"channel":null,"events":["1"]}', "channel"),
        (b'{"channel":"/default/a"}', "events"),
        (b'{"channel":"/default/a","events":"1"}', "events"),
        (b'{"channel":"/default/a","events":[1]}', "events"),
        (b'{"channel":"/default/a","events":[{"a":1}]}', "events"),
        (b'{"channel":"/default/a","events":["1",null]}', "events"),
        (b'{"channel":"/default/a","events":{"0":"1"}}', "events"),
    ],
)
def test_a_malformed_http_publish_is_a_400_bad_request(
    emulator: LiveEmulator, body: bytes, problem: str
) -> None:
    headers = {"content-type": "application/json", **emulator.authorizer().http_headers(body)}
    status, document = emulator.request("POST", "/event", body, headers)
    assert status == 400, document
    assert [error["errorType"] for error in document["errors"]] == [BAD_REQUEST]
    assert problem in document["errors"][0]["message"]


def test_an_http_publish_body_over_the_limit_is_a_413(emulator: LiveEmulator) -> None:
    headers = {"content-type": "application/json"}
    status, document = emulator.request("POST", "/event", b" " * MAX_FRAME_BYTES, headers)
    assert status == 400 and document["errors"][0]["errorType"] == BAD_REQUEST, document
    status, _ = emulator.request("POST", "/event", b" " * (MAX_FRAME_BYTES + 1), headers)
    assert status == 413


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
def test_other_methods_on_the_publish_path_are_a_405(emulator: LiveEmulator, method: str) -> None:
    status, _ = emulator.request(method, "/event")
    assert status == 405


# -- property-based: garbage frames ---------------------------------------------------------

TRICKY_TEXT = st.sampled_from(
    [
        "",
        " ",
        "\x00",
        "\ud800",
        "\udfff",
        "\ud83d\ude00",
        "\u2028",
        "<>&",
        "é",
        "a" * 129,
        "x" * 3000,
        "default",
        "/default/room",
        "/default/*",
        "/*",
        "//",
        "null",
        "{}",
        "1e999",
    ]
)
JSON_TEXT = st.text(st.characters(), max_size=24) | TRICKY_TEXT  # may hold lone surrogates
JSON_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | JSON_TEXT
)


def json_containers(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Lists and objects of ``inner`` values (a named function: hypothesis checks that it
    uses its argument, which it cannot always tell of a lambda)."""
    return st.lists(inner, max_size=4) | st.dictionaries(JSON_TEXT, inner, max_size=4)


JSON_VALUES = st.recursive(JSON_SCALARS, json_containers, max_leaves=10)
IDS = (
    st.sampled_from(["s-1", "p-1", "a" * 128, "a" * 129, "", "bad id", "\ud800", "x+y_z-1"])
    | st.text(alphabet="abcXYZ019-_+", min_size=1, max_size=12)
    | JSON_TEXT
)
SEGMENTS = st.sampled_from(["default", "other", "room", "*", "", "a-b", "-x", "x" * 51]) | st.text(
    max_size=8
)
CHANNELS = (
    st.sampled_from(["/default/room", "/default/*", "/default/room/*", "/nope/a", "default/room"])
    | st.lists(SEGMENTS, min_size=0, max_size=7).map(lambda parts: "/" + "/".join(parts))
    | JSON_TEXT
)
EVENT_TEXTS = (
    st.sampled_from(
        ['{"a":1}', '"s"', "1", "null", "[]", "nope", "", "NaN", '{"a":', '"\ud800"', "[" * 2000]
    )
    | JSON_VALUES.map(json.dumps)
    | JSON_TEXT
)
HOSTILE_TEXT = (
    st.sampled_from(["\ud800", "\udfff", "da2-\udc80", "", " ", "\x00", "é", "\u2028", "a" * 300])
    | st.text(max_size=16)
    | st.text(st.characters(), max_size=16)
)
MESSAGE_FIELDS = ("type", "id", "channel", "events", "authorization")
PROBE_CHANNEL = "/default/probe"


@dataclass(frozen=True)
class Frame:
    """One frame to throw: its payload, whether it goes as a text frame, and (for a
    text frame built from a JSON value) that value."""

    payload: str | bytes
    text: bool
    value: Any = None
    is_json: bool = False

    def __repr__(self) -> str:  # what hypothesis prints for a failing example
        kind = "text" if self.text else "binary"
        return f"Frame({kind}, {self.payload[:300]!r})"

    @property
    def bad_utf8(self) -> bool:
        if not (self.text and isinstance(self.payload, bytes)):
            return False
        try:
            self.payload.decode("utf-8")
        except UnicodeDecodeError:
            return True
        return False


def json_frame(value: Any) -> Frame:
    """A text frame of ``value``; the value kept is the one the server decodes (an
    escaped surrogate pair becomes one character)."""
    payload = json.dumps(value)
    return Frame(payload, True, json.loads(payload), True)


def garbage_frames(live: LiveEmulator) -> st.SearchStrategy[Frame]:
    """Random text, random bytes (as binary or as would-be text frames), random JSON
    values, near-valid messages with fields of random types, random ``type``s, and
    authorizations (API key, SigV4) with some values replaced by hostile text."""
    valid_auth = {"host": live.http_host, "x-api-key": defaults.DEFAULT_API_KEY}
    iam_auth = live.authorizer(AuthMode.AWS_IAM).message_authorization(PROBE_CHANNEL)
    authorizations = (
        st.just(valid_auth)
        | st.dictionaries(JSON_TEXT, JSON_TEXT, max_size=3)
        | st.dictionaries(st.sampled_from(["host", "x-api-key", "authorization"]), JSON_VALUES)
        | JSON_VALUES
    )

    @st.composite
    def near_valid(draw: st.DrawFn) -> Frame:
        kind = draw(st.sampled_from(CLIENT_TYPES))
        message: dict[str, Any] = {"type": kind}
        if kind != "connection_init":
            message["id"] = draw(IDS)
        if kind in ("subscribe", "publish"):
            message["channel"] = draw(CHANNELS)
            message["authorization"] = draw(authorizations)
        if kind == "publish":
            message["events"] = draw(st.lists(EVENT_TEXTS | JSON_VALUES, max_size=6))
        for name in draw(st.lists(st.sampled_from(MESSAGE_FIELDS), max_size=3, unique=True)):
            if draw(st.booleans()):
                message.pop(name, None)
            else:
                message[name] = draw(JSON_VALUES)
        message.update(draw(st.dictionaries(JSON_TEXT, JSON_VALUES, max_size=2)))
        return json_frame(message)

    @st.composite
    def credential_probe(draw: st.DrawFn) -> Frame:
        kind = draw(st.sampled_from(["subscribe", "publish"]))
        authorization = dict(draw(st.sampled_from([valid_auth, iam_auth])))
        names = sorted({*authorization, "x-api-key", "authorization", "x-amz-security-token"})
        for name in draw(st.lists(st.sampled_from(names), min_size=1, max_size=2, unique=True)):
            authorization[name] = draw(HOSTILE_TEXT)
        message = {
            "type": kind,
            "id": draw(st.sampled_from(["cred-1", "cred-2"])),
            "channel": PROBE_CHANNEL,
            "authorization": authorization,
        }
        if kind == "publish":
            message["events"] = ['{"probe":1}']
        return json_frame(message)

    random_types = st.fixed_dictionaries(
        {"type": st.sampled_from([*CLIENT_TYPES, *SERVER_TYPES]) | JSON_TEXT | JSON_VALUES},
        optional={"id": IDS | JSON_VALUES, "channel": CHANNELS, "events": JSON_VALUES},
    ).map(json_frame)
    return st.one_of(
        st.text(max_size=300).map(lambda text: Frame(text, True)),
        st.binary(max_size=300).map(lambda raw: Frame(raw, False)),
        st.binary(max_size=40).map(lambda raw: Frame(raw, True)),
        JSON_VALUES.map(json_frame),
        near_valid(),
        random_types,
        credential_probe(),
    )


@dataclass
class Outcome:
    replies: list[Message]
    closed: bool = False
    close_code: int | None = None

    @property
    def answers(self) -> list[Message]:
        """The replies but deliveries (a garbage subscribe may have matched a garbage publish)."""
        return [reply for reply in self.replies if reply.TYPE not in ("data", "ka")]


class Thrower:
    """Throws frames at one emulator over one connection, reopening it after a close;
    or (``reuse=False``) over a new connection each time, so that an example's outcome
    does not depend on what earlier examples did (a subscription id already taken)."""

    def __init__(self, live: LiveEmulator, *, reuse: bool = True) -> None:
        self.live = live
        self.reuse = reuse
        self.client: WsClient | None = None
        self.thrown = 0

    def throw(self, frame: Frame) -> Outcome:
        """Send ``frame``, then an ``unsubscribe`` of a fresh id as a marker; what came
        back before the marker's answer, or how the connection ended."""
        if not self.reuse:
            self.close()
        if self.client is None:
            self.client = self.live.client()
        client = self.client
        self.thrown += 1
        marker = f"zz-marker-{self.thrown}"
        replies: list[Message] = []
        try:
            client.ws.send(frame.payload, text=frame.text)
            client.send({"type": "unsubscribe", "id": marker})
            while True:
                reply = client.recv()
                if isinstance(reply, UnsubscribeError) and reply.id == marker:
                    return Outcome(replies)
                replies.append(reply)
        except ConnectionClosed as closed:
            self.client = None
            code = closed.rcvd.code if closed.rcvd is not None else None
            return Outcome(replies, closed=True, close_code=code)

    def close(self) -> None:
        if self.client is not None:
            self.client.close()
            self.client = None


GARBAGE_SETTINGS = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def test_garbage_frames_never_take_the_emulator_down(
    start_emulator: Any,
) -> None:
    """The process survives every generated frame, a subscriber on another connection
    keeps receiving, and afterwards fresh clients work normally."""
    live: LiveEmulator = start_emulator("--namespace", "default", "--namespace", "other")
    thrower = Thrower(live)
    witness = Bystander(live, live.client(), f"/default/{unique('witness')}")
    assert witness.client.subscribe("bystander", witness.channel) == SubscribeSuccess("bystander")

    @GARBAGE_SETTINGS
    @given(frame=garbage_frames(live))
    def throw(frame: Frame) -> None:
        thrower.throw(frame)
        assert live.process.process.poll() is None, live.process.stderr_text()
        witness.check()

    try:
        throw()
    finally:
        thrower.close()
    assert thrower.thrown >= GARBAGE_SETTINGS.max_examples
    round_trip(live)
    round_trip(live, live.authorizer(AuthMode.AWS_IAM), namespace="other")
    http_status, document = live.http_publish(f"/other/{unique()}", ['{"ok":true}'])
    assert http_status == 200, document
    witness.client.close()


def test_every_garbage_frame_gets_one_answer_or_a_clean_close(
    start_emulator: Any,
) -> None:
    """Each frame is answered by exactly one well-formed server message and the
    connection stays open; an operation's answer carries its id when the id is a
    string; only a text frame that is not UTF-8 may end the connection, with 1007."""
    live: LiveEmulator = start_emulator()
    thrower = Thrower(live, reuse=False)

    @GARBAGE_SETTINGS
    @given(frame=garbage_frames(live))
    def throw(frame: Frame) -> None:
        outcome = thrower.throw(frame)
        assert live.process.process.poll() is None, live.process.stderr_text()
        if frame.bad_utf8:
            assert outcome.closed and outcome.close_code == 1007, outcome
            return
        assert not outcome.closed, (
            f"the connection ended (close code {outcome.close_code}) instead of an answer; "
            f"replies before: {outcome.replies}"
        )
        assert len(outcome.answers) == 1, outcome.replies
        reply = outcome.answers[0]
        value = frame.value
        if not (frame.is_json and isinstance(value, dict)):
            if not frame.text:
                assert isinstance(reply, ErrorMessage) and error_types(reply) == [BAD_REQUEST]
            return
        kind, op_id = value.get("type"), value.get("id")
        if isinstance(kind, str) and kind not in CLIENT_TYPES:
            assert isinstance(reply, ErrorMessage) and error_types(reply) == [UNSUPPORTED]
        if kind in OPERATION_TYPES and isinstance(op_id, str):
            assert reply.TYPE in (f"{kind}_success", f"{kind}_error"), reply
            assert getattr(reply, "id", None) == op_id, reply
        if kind == "connection_init":
            assert isinstance(reply, ConnectionAck), reply

    try:
        throw()
    finally:
        thrower.close()
    round_trip(live)
