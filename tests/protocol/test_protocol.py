"""The sans-I/O protocol module: encode/decode, channel, id and event rules, fan-out, endpoints.

Expected values come from docs/protocol.md (#endpoints, #messages, #channels); channel
acceptance is checked against the AWS documentation regex as an independent oracle, and
subscription fan-out against a brute-force one.
"""

import json
import re
import string
from collections import Counter
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness import protocol
from harness.errors import MessageDecodeError, MessageValidationError
from harness.protocol import (
    BroadcastError,
    Channel,
    ChannelPattern,
    ConnectionAck,
    ConnectionErrorMessage,
    ConnectionInit,
    Data,
    Endpoints,
    ErrorDetail,
    ErrorMessage,
    KeepAlive,
    Publish,
    PublishError,
    PublishFailure,
    PublishResult,
    PublishSuccess,
    Subscribe,
    SubscribeError,
    SubscribeSuccess,
    SubscriptionIndex,
    Unsubscribe,
    UnsubscribeError,
    UnsubscribeSuccess,
    decode,
    encode,
    event_too_large,
    parse_channel,
    parse_channel_pattern,
    validate_events,
    validate_operation_id,
)

BOUNDED = settings(max_examples=300, deadline=None)
SMALL = settings(max_examples=150, deadline=None)

HOST = "example1234567890000.appsync-api.us-east-1.amazonaws.com"
API_KEY_AUTH = {"x-api-key": "da2-12345678901234567890123456", "host": HOST}
SUB_ID = "ee849ef0-cf23-4cb8-9fcb-152ae4fd1e69"
PUB_ID = "6a1f1a1e-0d3b-4a8e-9d0e-3b2a1c9f0b11"
UNAUTHORIZED = ErrorDetail(
    "UnauthorizedException", "You are not authorized to make this call.", 401
)

# -- Round trips ----------------------------------------------------------------------------

EXAMPLES: list[protocol.Message] = [
    ConnectionInit(),
    Subscribe(SUB_ID, "/namespaceA/subB/subC", API_KEY_AUTH),
    Subscribe("s1", "default/*"),
    Unsubscribe(SUB_ID),
    Publish(
        PUB_ID, "/default/channel", ('{"message":"hello world"}', '{"number":42}'), API_KEY_AUTH
    ),
    Publish("p1", "/default/a", ('"héllo / <b>"',)),
    ConnectionAck(),
    ConnectionAck(12_345),
    KeepAlive(),
    ConnectionErrorMessage((UNAUTHORIZED,)),
    ConnectionErrorMessage((ErrorDetail("BadRequestException", "bad"),)),
    SubscribeSuccess(SUB_ID),
    SubscribeError(
        SUB_ID,
        (
            ErrorDetail(
                "SubscriptionProcessingError", "There was an error processing the operation"
            ),
        ),
    ),
    Data(SUB_ID, '{"some":"data"}'),
    Data("s2", '"/é<script>"'),
    BroadcastError(
        SUB_ID,
        (ErrorDetail("MessageProcessingError", "There was an error processing the message"),),
    ),
    UnsubscribeSuccess(SUB_ID),
    UnsubscribeError(
        SUB_ID, (ErrorDetail("UnknownOperationError", f"Unknown operation id {SUB_ID}"),)
    ),
    PublishSuccess(PUB_ID, successful=(PublishResult("221b6b3f", 0), PublishResult("9c1e", 1))),
    PublishSuccess(
        PUB_ID,
        successful=(PublishResult("a", 1),),
        failed=(
            PublishFailure("uuid-1", 0, "EventTooLargeException", "Transformed event is larger"),
        ),
    ),
    PublishSuccess(PUB_ID),
    PublishError(PUB_ID, (ErrorDetail("BadRequestException", "Invalid Channel Format"),)),
    ErrorMessage((ErrorDetail("UnsupportedOperation", "nope"),)),
    ErrorMessage((ErrorDetail("UnsupportedOperation", "nope", 400),), id="op-1"),
]


def _example_id(message: protocol.Message) -> str:
    return message.TYPE


def test_examples_cover_every_message_type() -> None:
    assert {type(m) for m in EXAMPLES} == set(protocol.MESSAGE_TYPES.values())
    for wire_type, cls in protocol.MESSAGE_TYPES.items():
        assert wire_type == cls.TYPE


@pytest.mark.parametrize("message", EXAMPLES, ids=_example_id)
def test_round_trip_encode_then_decode_gives_equal_message(message: protocol.Message) -> None:
    frame = encode(message)
    assert isinstance(frame, str)
    decoded = decode(frame)
    assert decoded == message
    assert type(decoded) is type(message)
    # The sender-checked decode of the right side accepts it as well.
    assert decode(frame, sender=message.SENDER) == message
    # The frame is a JSON object whose first key is the wire type.
    wire = json.loads(frame)
    assert next(iter(wire)) == "type"
    assert wire["type"] == message.TYPE


@pytest.mark.parametrize(
    ("message", "frame"),
    [
        (ConnectionAck(), '{"type":"connection_ack","connectionTimeoutMs":300000}'),
        (ConnectionInit(), '{"type":"connection_init"}'),
        (KeepAlive(), '{"type":"ka"}'),
        (Unsubscribe(SUB_ID), '{"type":"unsubscribe","id":"' + SUB_ID + '"}'),
        (SubscribeSuccess("s1"), '{"type":"subscribe_success","id":"s1"}'),
        (
            Subscribe("s1", "/default/a/b"),
            '{"type":"subscribe","id":"s1","channel":"/default/a/b"}',
        ),
        (
            Subscribe("s1", "/d/a", {"x-api-key": "k"}),
            '{"type":"subscribe","id":"s1","channel":"/d/a","authorization":{"x-api-key":"k"}}',
        ),
        (
            Publish("p1", "/default/channel", ('{"number":42}', '"hi"')),
            '{"type":"publish","id":"p1","channel":"/default/channel",'
            '"events":["{\\"number\\":42}","\\"hi\\""]}',
        ),
        (
            Data("s1", '{"some":"data"}'),
            '{"type":"data","id":"s1","event":"{\\"some\\":\\"data\\"}"}',
        ),
        (Data("s1", '"a/b é"'), '{"type":"data","id":"s1","event":"\\"a/b é\\""}'),
        (
            PublishSuccess("p1", successful=(PublishResult("221b6b3f", 0),)),
            '{"type":"publish_success","id":"p1",'
            '"successful":[{"identifier":"221b6b3f","index":0}],"failed":[]}',
        ),
        (
            ErrorMessage((ErrorDetail("E", "m"),)),
            '{"type":"error","errors":[{"errorType":"E","message":"m"}]}',
        ),
    ],
    ids=lambda value: value.TYPE if isinstance(value, protocol.Message) else "frame",
)
def test_encode_gives_exact_compact_wire_string(message: protocol.Message, frame: str) -> None:
    assert encode(message) == frame


def test_encode_keeps_data_event_a_json_string_not_an_object_or_array() -> None:
    wire = json.loads(encode(Data("s1", '{"a":1}')))
    assert wire["event"] == '{"a":1}'
    assert isinstance(wire["event"], str)


def test_encode_is_compact_and_does_not_escape_slash_or_non_ascii() -> None:
    frame = encode(Publish("p1", "/default/a", ('"é/ü<>😀"',)))
    assert " " not in frame
    assert "\\/" not in frame
    assert "\\u" not in frame
    assert "é/ü<>😀" in frame


def test_encode_connection_error_matches_reference_object() -> None:
    reference = (
        '{"type":"connection_error","errors":[{"errorType":"UnauthorizedException",'
        '"errorCode":401,"message":"You are not authorized to make this call."}]}'
    )
    assert json.loads(encode(ConnectionErrorMessage((UNAUTHORIZED,)))) == json.loads(reference)


def test_encode_omits_absent_optional_fields() -> None:
    assert "authorization" not in json.loads(encode(Subscribe("s1", "/d/a")))
    assert "id" not in json.loads(encode(ErrorMessage((ErrorDetail("E", "m"),))))
    assert (
        "errorCode" not in json.loads(encode(ErrorMessage((ErrorDetail("E", "m"),))))["errors"][0]
    )


# -- Real-world frames (docs/protocol.md#messages, #http-publish) ----------------------------------


def test_decode_reference_subscribe_example() -> None:
    frame = (
        '{"type":"subscribe","id":"ee849ef0-cf23-4cb8-9fcb-152ae4fd1e69",'
        '"channel":"/namespaceA/subB/subC","authorization":{"x-api-key":'
        '"da2-12345678901234567890123456","host":"' + HOST + '"}}'
    )
    assert decode(frame) == Subscribe(SUB_ID, "/namespaceA/subB/subC", API_KEY_AUTH)


def test_decode_reference_publish_example() -> None:
    frame = (
        '{"type":"publish","id":"6a1f1a1e-0d3b-4a8e-9d0e-3b2a1c9f0b11","channel":"/default/channel",'
        '"events":["{\\"message\\":\\"hello world\\"}","{\\"number\\":42}"],'
        '"authorization":{"x-api-key":"da2-12345678901234567890123456"}}'
    )
    message = decode(frame, sender="client")
    assert message == Publish(
        PUB_ID,
        "/default/channel",
        ('{"message":"hello world"}', '{"number":42}'),
        {"x-api-key": "da2-12345678901234567890123456"},
    )
    assert isinstance(message, Publish)
    assert message.events == ('{"message":"hello world"}', '{"number":42}')


def test_decode_tolerates_amplify_legacy_payload_and_extra_fields() -> None:
    auth = {"x-api-key": "da2-1", "host": HOST}
    subscribe = {
        "type": "subscribe",
        "id": "sub-1",
        "channel": "/default/a",
        "authorization": auth,
        "payload": {"channel": "/default/a", "extensions": {"authorization": auth}},
        "somethingNew": [1, {"x": None}],
    }
    assert decode(json.dumps(subscribe), sender="client") == Subscribe("sub-1", "/default/a", auth)
    publish = {
        "id": "pub-1",
        "type": "publish",
        "channel": "/default/a",
        "events": ['{"a":1}'],
        "authorization": auth,
        "payload": {"channel": "/default/a", "events": ['{"a":1}'], "extensions": {}},
    }
    assert decode(json.dumps(publish)) == Publish("pub-1", "/default/a", ('{"a":1}',), auth)


def test_decode_data_message_quoted_in_amplify_pr() -> None:
    frame = '{"id":"abc","type":"data","event":"{\\"some\\":\\"data\\"}"}'
    message = decode(frame, sender="server")
    assert message == Data("abc", '{"some":"data"}')


def test_decode_rejects_documented_array_form_of_data_event() -> None:
    frame = '{"type":"data","id":"abc","event":["\\"my event content\\""]}'
    with pytest.raises(MessageDecodeError) as info:
        decode(frame)
    assert info.value.field == "event"
    assert info.value.message_type == "data"


def test_decode_live_publish_success_failed_entry_shape() -> None:
    frame = (
        '{"type":"publish_success","id":"p1","successful":[],"failed":[{"code":'
        '"EventTooLargeException","identifier":"5f3c","index":0,'
        '"message":"Transformed event is larger than 240KB"}]}'
    )
    message = decode(frame)
    assert message == PublishSuccess(
        "p1",
        successful=(),
        failed=(
            PublishFailure(
                "5f3c", 0, "EventTooLargeException", "Transformed event is larger than 240KB"
            ),
        ),
    )


def test_decode_publish_success_without_successful_or_failed_arrays() -> None:
    assert decode('{"type":"publish_success","id":"p1"}') == PublishSuccess("p1", (), ())


def test_decode_live_connection_error_with_error_code() -> None:
    frame = (
        '{"type":"connection_error","errors":[{"errorType":"UnauthorizedException",'
        '"errorCode":401,"message":"You are not authorized to make this call."}]}'
    )
    assert decode(frame) == ConnectionErrorMessage((UNAUTHORIZED,))


def test_decode_connection_error_without_error_code() -> None:
    frame = (
        '{"type":"connection_error","errors":[{"errorType":"BadRequestException",'
        '"message":"The request signature we calculated does not match"}]}'
    )
    message = decode(frame)
    assert isinstance(message, ConnectionErrorMessage)
    assert message.errors == (
        ErrorDetail("BadRequestException", "The request signature we calculated does not match"),
    )
    assert message.errors[0].error_code is None


def test_decode_error_message_with_and_without_id() -> None:
    errors = '"errors":[{"errorType":"E","message":"m"}]'
    assert decode('{"type":"error",' + errors + "}") == ErrorMessage((ErrorDetail("E", "m"),))
    assert decode('{"type":"error","id":"x",' + errors + "}") == ErrorMessage(
        (ErrorDetail("E", "m"),), "x"
    )
    assert decode('{"type":"error","id":null,' + errors + "}") == ErrorMessage(
        (ErrorDetail("E", "m"),)
    )


# -- Malformed frames ------------------------------------------------------------------------


def test_decode_rejects_binary_frame() -> None:
    with pytest.raises(MessageDecodeError) as info:
        decode(b'{"type":"ka"}')
    assert info.value.field is None
    assert "text" in info.value.reason or "binary" in info.value.reason


@pytest.mark.parametrize(
    ("frame", "reason_part"),
    [
        *[
            (text, "JSON")
            for text in ["", "{", "not json", '{"type":"ka"', "{'type':'ka'}", "\x00"]
        ],
        # Python's json module accepts NaN and Infinity; JSON (and JSON.parse) does not.
        ('{"type":"ka","x":NaN}', "JSON"),
        ('{"type":"ka","x":Infinity}', "JSON"),
        ('{"type":"ka","x":[-Infinity]}', "JSON"),
        *[(text, "object") for text in ['["ka"]', "42", '"ka"', "null", "true", "1.5", "[]"]],
    ],
)
def test_decode_rejects_frames_that_are_not_a_json_object(frame: str, reason_part: str) -> None:
    with pytest.raises(MessageDecodeError) as info:
        decode(frame)
    assert info.value.field is None
    assert reason_part in info.value.reason


@pytest.mark.parametrize(
    ("frame", "reason_part"),
    [
        ('{"id":"x"}', "missing"),
        ('{"type":null}', "missing"),
        ('{"type":5}', "string"),
        ('{"type":["ka"]}', "string"),
        ('{"type":"start_ack"}', "start_ack"),
        ('{"type":""}', "unknown"),
        ('{"type":"KA"}', "KA"),
    ],
)
def test_decode_reports_bad_type_field(frame: str, reason_part: str) -> None:
    with pytest.raises(MessageDecodeError) as info:
        decode(frame)
    assert info.value.field == "type"
    assert reason_part in info.value.reason


REQUIRED_FIELDS: dict[str, tuple[str, ...]] = {
    "connection_init": (),
    "subscribe": ("id", "channel"),
    "unsubscribe": ("id",),
    "publish": ("id", "channel", "events"),
    "connection_ack": ("connectionTimeoutMs",),
    "ka": (),
    "connection_error": ("errors",),
    "subscribe_success": ("id",),
    "subscribe_error": ("id", "errors"),
    "data": ("id", "event"),
    "broadcast_error": ("id", "errors"),
    "unsubscribe_success": ("id",),
    "unsubscribe_error": ("id", "errors"),
    "publish_success": ("id",),
    "publish_error": ("id", "errors"),
    "error": ("errors",),
}
OPTIONAL_FIELDS = {"authorization", "successful", "failed"}


def _full_wire(message_type: str) -> dict[str, Any]:
    """The wire object of the richest example of ``message_type`` (every optional field set)."""
    candidates = [protocol.to_wire(m) for m in EXAMPLES if message_type == m.TYPE]
    return max(candidates, key=len)


def test_required_field_table_matches_the_wire_shapes() -> None:
    assert set(REQUIRED_FIELDS) == set(protocol.MESSAGE_TYPES)
    for message_type, required in REQUIRED_FIELDS.items():
        fields = set(_full_wire(message_type)) - {"type"}
        optional = OPTIONAL_FIELDS | ({"id"} if message_type == "error" else set())
        assert fields - optional == set(required), message_type


@pytest.mark.parametrize(
    ("message_type", "missing"),
    [(t, f) for t, fields in REQUIRED_FIELDS.items() for f in fields],
)
def test_decode_reports_each_missing_required_field(message_type: str, missing: str) -> None:
    wire = _full_wire(message_type)
    del wire[missing]
    with pytest.raises(MessageDecodeError) as info:
        decode(json.dumps(wire))
    assert info.value.field == missing
    assert info.value.message_type == message_type
    assert info.value.reason == "missing"
    assert missing in str(info.value)


@pytest.mark.parametrize(
    ("message_type", "optional"),
    [("subscribe", "authorization"), ("publish", "authorization"), ("error", "id")],
)
def test_decode_accepts_optional_fields_absent(message_type: str, optional: str) -> None:
    wire = _full_wire(message_type)
    del wire[optional]
    assert protocol.to_wire(decode(json.dumps(wire))) == wire


WRONG_TYPES: list[tuple[dict[str, Any], str]] = [
    ({"type": "subscribe", "id": 5, "channel": "/d/a"}, "id"),
    ({"type": "subscribe", "id": None, "channel": "/d/a"}, "id"),
    ({"type": "subscribe", "id": "s", "channel": ["/d/a"]}, "channel"),
    ({"type": "subscribe", "id": "s", "channel": "/d/a", "authorization": []}, "authorization"),
    ({"type": "subscribe", "id": "s", "channel": "/d/a", "authorization": "k"}, "authorization"),
    (
        {"type": "subscribe", "id": "s", "channel": "/d/a", "authorization": {"host": 5}},
        "authorization.host",
    ),
    ({"type": "unsubscribe", "id": True}, "id"),
    ({"type": "publish", "id": "p", "channel": "/d/a", "events": '{"a":1}'}, "events"),
    ({"type": "publish", "id": "p", "channel": "/d/a", "events": {"0": "1"}}, "events"),
    ({"type": "publish", "id": "p", "channel": "/d/a", "events": [1]}, "events[0]"),
    ({"type": "publish", "id": "p", "channel": "/d/a", "events": ["1", {"a": 1}]}, "events[1]"),
    ({"type": "publish", "id": "p", "channel": 7, "events": ["1"]}, "channel"),
    (
        {"type": "publish", "id": "p", "channel": "/d/a", "events": ["1"], "authorization": [1]},
        "authorization",
    ),
    (
        {
            "type": "publish",
            "id": "p",
            "channel": "/d/a",
            "events": ["1"],
            "authorization": {"x-api-key": ["k"]},
        },
        "authorization.x-api-key",
    ),
    ({"type": "connection_ack", "connectionTimeoutMs": "300000"}, "connectionTimeoutMs"),
    ({"type": "connection_ack", "connectionTimeoutMs": True}, "connectionTimeoutMs"),
    ({"type": "connection_ack", "connectionTimeoutMs": 1.5}, "connectionTimeoutMs"),
    ({"type": "connection_ack", "connectionTimeoutMs": None}, "connectionTimeoutMs"),
    ({"type": "data", "id": "s", "event": {"a": 1}}, "event"),
    ({"type": "data", "id": "s", "event": 42}, "event"),
    ({"type": "data", "id": 1, "event": "1"}, "id"),
    ({"type": "subscribe_success", "id": ["s"]}, "id"),
    ({"type": "subscribe_error", "id": "s", "errors": "boom"}, "errors"),
    ({"type": "subscribe_error", "id": "s", "errors": {"errorType": "E"}}, "errors"),
    ({"type": "subscribe_error", "id": "s", "errors": [1]}, "errors[0]"),
    ({"type": "broadcast_error", "id": "s", "errors": [{"message": "m"}]}, "errors[0].errorType"),
    ({"type": "publish_error", "id": "s", "errors": [{"errorType": 5}]}, "errors[0].errorType"),
    (
        {"type": "unsubscribe_error", "id": "s", "errors": [{"errorType": "E", "message": 5}]},
        "errors[0].message",
    ),
    (
        {"type": "connection_error", "errors": [{"errorType": "E", "errorCode": "401"}]},
        "errors[0].errorCode",
    ),
    (
        {"type": "connection_error", "errors": [{"errorType": "E", "errorCode": True}]},
        "errors[0].errorCode",
    ),
    (
        {
            "type": "connection_error",
            "errors": [{"errorType": "E"}, {"errorType": "E", "errorCode": 1.5}],
        },
        "errors[1].errorCode",
    ),
    ({"type": "error", "id": 5, "errors": []}, "id"),
    ({"type": "error", "errors": None}, "errors"),
    ({"type": "publish_success", "id": "p", "successful": {}}, "successful"),
    ({"type": "publish_success", "id": "p", "successful": ["x"]}, "successful[0]"),
    ({"type": "publish_success", "id": "p", "failed": 0}, "failed"),
    ({"type": "publish_success", "id": "p", "failed": [None]}, "failed[0]"),
    ({"type": "publish_success", "id": 3}, "id"),
]


@pytest.mark.parametrize(
    ("wire", "field"), WRONG_TYPES, ids=lambda v: v if isinstance(v, str) else ""
)
def test_decode_reports_each_field_of_the_wrong_json_type(wire: dict[str, Any], field: str) -> None:
    with pytest.raises(MessageDecodeError) as info:
        decode(json.dumps(wire))
    assert info.value.field == field
    assert info.value.message_type == wire["type"]
    assert info.value.reason
    assert field in str(info.value)


@pytest.mark.parametrize(
    ("entries", "name"),
    [
        ('"successful":[{"index":0}]', "successful[0].identifier"),
        ('"successful":[{"identifier":"a","index":0},{"identifier":"b"}]', "successful[1].index"),
        ('"successful":[{"identifier":"a","index":"0"}]', "successful[0].index"),
        ('"successful":[{"identifier":"a","index":true}]', "successful[0].index"),
        ('"failed":[{"identifier":"a","code":"C","message":"m"}]', "failed[0].index"),
        ('"failed":[{"identifier":5,"index":0}]', "failed[0].identifier"),
    ],
)
def test_decode_reports_bad_publish_result_entries(entries: str, name: str) -> None:
    with pytest.raises(MessageDecodeError) as info:
        decode('{"type":"publish_success","id":"p",' + entries + "}")
    assert info.value.field == name
    assert info.value.message_type == "publish_success"


def test_failed_entries_read_both_field_spellings_and_null() -> None:
    message = decode(
        '{"type":"publish_success","id":"p","successful":[],"failed":['
        '{"identifier":"a","index":0,"code":null,"message":null},'
        '{"identifier":"b","index":1,"errorCode":"LimitExceededError","errorMessage":"slow"}]}'
    )
    assert isinstance(message, PublishSuccess)
    assert message.failed == (
        PublishFailure("a", 0, "", ""),
        PublishFailure("b", 1, "LimitExceededError", "slow"),
    )


CLIENT_TYPES = sorted(t for t, c in protocol.MESSAGE_TYPES.items() if c.SENDER == "client")
SERVER_TYPES = sorted(t for t, c in protocol.MESSAGE_TYPES.items() if c.SENDER == "server")


def test_senders_are_the_documented_ones() -> None:
    assert CLIENT_TYPES == ["connection_init", "publish", "subscribe", "unsubscribe"]
    assert len(SERVER_TYPES) == 12


def test_decode_rejects_data_sent_by_a_client() -> None:
    frame = encode(Data("s1", '{"a":1}'))
    with pytest.raises(MessageDecodeError) as info:
        decode(frame, sender="client")
    assert info.value.message_type == "data"
    assert decode(frame, sender="server") == Data("s1", '{"a":1}')


def test_decode_rejects_subscribe_sent_by_a_server() -> None:
    frame = encode(Subscribe("s1", "/default/a"))
    with pytest.raises(MessageDecodeError) as info:
        decode(frame, sender="server")
    assert info.value.message_type == "subscribe"
    assert decode(frame, sender="client") == Subscribe("s1", "/default/a")


@pytest.mark.parametrize("message", EXAMPLES, ids=_example_id)
def test_decode_rejects_every_type_from_the_wrong_sender(message: protocol.Message) -> None:
    wrong = "server" if message.SENDER == "client" else "client"
    with pytest.raises(MessageDecodeError) as info:
        decode(encode(message), sender=wrong)
    assert info.value.message_type == message.TYPE


def test_decode_checks_sender_before_fields() -> None:
    # A server receiving a malformed 'data' frame learns it is the wrong direction.
    with pytest.raises(MessageDecodeError) as info:
        decode('{"type":"data"}', sender="client")
    assert info.value.field is None
    assert info.value.message_type == "data"


# -- Property-based decoding -----------------------------------------------------------------

JSON_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)
FIELD_NAMES = [
    "type",
    "id",
    "channel",
    "events",
    "event",
    "authorization",
    "connectionTimeoutMs",
    "errors",
    "successful",
    "failed",
    "payload",
    "errorType",
    "message",
    "errorCode",
    "identifier",
    "index",
    "code",
    "host",
]
KEYS = st.sampled_from(FIELD_NAMES) | st.text(max_size=8)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(KEYS, children, max_size=5),
    max_leaves=12,
)


def _decode_or_decode_error(frame: str) -> protocol.Message | None:
    try:
        message = decode(frame)
    except MessageDecodeError as exc:
        assert isinstance(exc.reason, str)
        assert exc.reason
        return None
    assert isinstance(message, protocol.Message)
    return message


@BOUNDED
@given(st.text(max_size=60))
def test_decode_of_arbitrary_text_raises_only_decode_error(frame: str) -> None:
    _decode_or_decode_error(frame)


@BOUNDED
@given(JSON_VALUES)
def test_decode_of_arbitrary_json_raises_only_decode_error(value: object) -> None:
    frame = json.dumps(value)
    message = _decode_or_decode_error(frame)
    if not isinstance(value, dict):
        assert message is None


@BOUNDED
@given(
    st.sampled_from(sorted(protocol.MESSAGE_TYPES)),
    st.dictionaries(KEYS, JSON_VALUES, max_size=8),
)
def test_decode_of_random_fields_with_a_valid_type_raises_only_decode_error(
    message_type: str, fields: dict[str, Any]
) -> None:
    wire = {**fields, "type": message_type}
    message = _decode_or_decode_error(json.dumps(wire))
    if message is not None:
        assert type(message) is protocol.MESSAGE_TYPES[message_type]
        # Whatever was accepted re-encodes to a frame that decodes to the same message.
        assert decode(encode(message)) == message


@BOUNDED
@given(
    st.sampled_from(sorted(protocol.MESSAGE_TYPES)),
    st.dictionaries(st.sampled_from(FIELD_NAMES[1:]), JSON_VALUES, max_size=6),
)
def test_from_wire_of_random_fields_over_valid_examples_raises_only_decode_error(
    message_type: str, overrides: dict[str, Any]
) -> None:
    wire = {**_full_wire(message_type), **overrides}
    try:
        message = protocol.from_wire(wire)
    except MessageDecodeError as exc:
        assert exc.message_type == message_type
        return
    assert decode(encode(message)) == message


OP_ID_ALPHABET = string.ascii_letters + string.digits + "_+-"
OP_IDS = st.text(alphabet=OP_ID_ALPHABET, min_size=1, max_size=128)
ANY_TEXT = st.text(max_size=40) | st.text(alphabet='/<>é"\\ ü😀\u2028', max_size=10)
AUTHS = st.none() | st.dictionaries(st.text(max_size=12), ANY_TEXT, max_size=4)


@BOUNDED
@given(
    st.one_of(
        st.builds(Subscribe, OP_IDS, ANY_TEXT, AUTHS),
        st.builds(
            Publish,
            OP_IDS,
            ANY_TEXT,
            st.lists(ANY_TEXT, min_size=0, max_size=6).map(tuple),
            AUTHS,
        ),
        st.builds(Data, OP_IDS, ANY_TEXT),
    )
)
def test_round_trip_of_generated_subscribe_publish_data(message: protocol.Message) -> None:
    frame = encode(message)
    assert decode(frame) == message
    # "/" is never escaped: once escaped backslashes are dropped, no backslash precedes "/".
    assert "\\/" not in frame.replace("\\\\", "")
    if isinstance(message, Data):
        assert json.loads(frame)["event"] == message.event


# -- Channels --------------------------------------------------------------------------------

DOC_CHANNEL_REGEX = (
    r"^\/?[A-Za-z0-9](?:[A-Za-z0-9-]{0,48}[A-Za-z0-9])?"
    r"(?:\/[A-Za-z0-9](?:[A-Za-z0-9-]{0,48}[A-Za-z0-9])?){0,4}\/?$"
)
# JavaScript's '$' (no m flag) is end of input; Python's also matches before a final
# "\n", so drop the anchors and use fullmatch to keep the documented meaning.
_DOC_CHANNEL = re.compile(DOC_CHANNEL_REGEX[1:-1])


def oracle_channel(text: str) -> bool:
    return _DOC_CHANNEL.fullmatch(text) is not None


def oracle_pattern(text: str) -> bool:
    """A channel, or a channel without trailing '/' followed by a whole '*' segment."""
    if oracle_channel(text):
        return True
    match = re.fullmatch(r"(.*)/\*/?", text, re.DOTALL)
    return bool(match) and oracle_channel(match[1]) and not match[1].endswith("/")


def normalised(text: str) -> str:
    return "/" + text.removeprefix("/").removesuffix("/")


SEGMENT_CHARS = "aZ09-"
VALID_SEGMENT = st.one_of(
    st.sampled_from("aZ09"),
    st.builds(
        lambda first, middle, last: first + middle + last,
        st.sampled_from("aZ09"),
        st.text(alphabet=SEGMENT_CHARS, max_size=48),
        st.sampled_from("aZ09"),
    ),
    st.integers(min_value=46, max_value=50).map(
        lambda n: "Z" + "-9" * ((n - 2) // 2) + "a" * (n % 2) + "0"
    ),
)
NEAR_SEGMENT = st.one_of(
    st.builds(
        lambda lead, body, trail: ("-" if lead else "") + body + ("-" if trail else ""),
        st.booleans(),
        st.text(alphabet=SEGMENT_CHARS, max_size=55),
        st.booleans(),
    ),
    st.integers(min_value=51, max_value=55).map(lambda n: "a" * n),
    st.sampled_from(["", "*", "a*", "a_b", "a.b"]),
)


def _join(lead: bool, segments: list[str], trail: bool) -> str:
    return ("/" if lead else "") + "/".join(segments) + ("/" if trail else "")


def _channels(segment: st.SearchStrategy[str], max_segments: int) -> st.SearchStrategy[str]:
    """``max_segments`` is reached often: lists of a drawn length, not short-biased lists."""
    return st.builds(
        lambda lead, segments, star, trail: _join(
            lead, [*segments, *(["*"] if star else [])], trail
        ),
        st.booleans(),
        st.integers(min_value=0, max_value=max_segments).flatmap(
            lambda n: st.lists(segment, min_size=n, max_size=n)
        ),
        st.sampled_from([False, False, True]),
        st.booleans(),
    )


VALID_CHANNELS = _channels(VALID_SEGMENT, 6)
NEAR_VALID_CHANNELS = _channels(st.one_of(VALID_SEGMENT, VALID_SEGMENT, NEAR_SEGMENT), 7)
RANDOM_CHANNEL_TEXT = st.text(alphabet="ab-Z09/*_ .\n", max_size=70)
CHANNEL_TEXTS = RANDOM_CHANNEL_TEXT | VALID_CHANNELS | NEAR_VALID_CHANNELS


@BOUNDED
@given(CHANNEL_TEXTS)
def test_parse_channel_accepts_exactly_what_the_doc_regex_accepts(text: str) -> None:
    if oracle_channel(text):
        channel = parse_channel(text)
        assert channel.path == normalised(text)
        assert channel.segments == tuple(normalised(text)[1:].split("/"))
        assert channel.namespace == channel.segments[0]
        assert str(channel) == channel.path
        assert parse_channel(channel.path) == channel
    else:
        with pytest.raises(MessageValidationError) as info:
            parse_channel(text)
        assert info.value.field == "channel"
        assert info.value.error_type == "BadRequestException"


@BOUNDED
@given(CHANNEL_TEXTS)
def test_parse_channel_pattern_accepts_channels_and_trailing_wildcards(text: str) -> None:
    if oracle_pattern(text):
        pattern = parse_channel_pattern(text)
        assert pattern.wildcard == (not oracle_channel(text))
        assert pattern.path == normalised(text)
        assert parse_channel_pattern(pattern.path) == pattern
    else:
        with pytest.raises(MessageValidationError) as info:
            parse_channel_pattern(text)
        assert info.value.field == "channel"


def test_channel_oracle_boundaries() -> None:
    # Guards the oracle itself at the 50/51-char and 5/6-segment edges and on a final newline.
    assert oracle_channel("/" + "a" * 50)
    assert not oracle_channel("/" + "a" * 51)
    assert oracle_channel("/a/b/c/d/e/")
    assert not oracle_channel("/a/b/c/d/e/f")
    assert not oracle_channel("a\n")


@pytest.mark.parametrize(
    ("text", "path"),
    [
        ("default/a", "/default/a"),
        ("/default/a", "/default/a"),
        ("/default/a/", "/default/a"),
        ("default/a/", "/default/a"),
        ("default", "/default"),
        ("/A-1/b-2/c/d/e", "/A-1/b-2/c/d/e"),
        ("/" + "x" * 50, "/" + "x" * 50),
    ],
)
def test_parse_channel_normalises_leading_and_trailing_slash(text: str, path: str) -> None:
    assert parse_channel(text).path == path


def test_parse_channel_examples_are_the_same_channel() -> None:
    assert parse_channel("default/a") == parse_channel("/default/a/") == Channel(("default", "a"))
    assert parse_channel("default/a").path == "/default/a" == parse_channel("/default/a/").path


@pytest.mark.parametrize(
    "text",
    [
        "",
        "/",
        "//",
        "/default//a",
        "//default/a",
        "/default/a//",
        "/-a",
        "/a-",
        "/a_b",
        "/a b",
        "/a.b",
        "/a/b/c/d/e/f",
        "/" + "x" * 51,
        "/é",
        "/default/a\n",
        "/default/*",
        "default/*",
        "/*",
        "*",
        "/default/a*",
        "/default/*/x",
    ],
)
def test_parse_channel_rejects(text: str) -> None:
    with pytest.raises(MessageValidationError) as info:
        parse_channel(text)
    assert info.value.field == "channel"


@pytest.mark.parametrize("text", ["/default/*", "default/a/*/"])
def test_parse_channel_says_a_wildcard_is_subscribe_only(text: str) -> None:
    with pytest.raises(MessageValidationError) as info:
        parse_channel(text)
    assert "wildcard" in info.value.reason
    assert parse_channel_pattern(text).wildcard is True


@pytest.mark.parametrize(
    ("text", "prefix", "wildcard"),
    [
        ("/default/*", ("default",), True),
        ("default/*", ("default",), True),
        ("/default/*/", ("default",), True),
        ("/default/a/*", ("default", "a"), True),
        ("/a/b/c/d/e/*", ("a", "b", "c", "d", "e"), True),
        ("/default/a", ("default", "a"), False),
        ("default", ("default",), False),
    ],
)
def test_parse_channel_pattern_accepts(text: str, prefix: tuple[str, ...], wildcard: bool) -> None:
    pattern = parse_channel_pattern(text)
    assert pattern == ChannelPattern(prefix, wildcard)
    assert pattern.namespace == prefix[0]
    assert pattern.path == "/" + "/".join(prefix) + ("/*" if wildcard else "")


@pytest.mark.parametrize(
    "text",
    ["/*", "*", "*/", "/default/a*", "/default/*/x", "/default/**", "/*/a", "/default//*", ""],
)
def test_parse_channel_pattern_rejects(text: str) -> None:
    with pytest.raises(MessageValidationError) as info:
        parse_channel_pattern(text)
    assert info.value.field == "channel"


# -- Wildcard matching and the subscription index -------------------------------------------


def _ch(path: str) -> Channel:
    return parse_channel(path)


def _pat(path: str) -> ChannelPattern:
    return parse_channel_pattern(path)


def test_wildcard_matches_every_deeper_channel_under_its_prefix() -> None:
    pattern = _pat("/default/*")
    assert pattern.matches(_ch("/default/a"))
    assert pattern.matches(_ch("/default/a/b"))
    assert pattern.matches(_ch("/default/a/b/c/d"))
    assert not pattern.matches(_ch("/default"))
    assert not pattern.matches(_ch("/other/a"))
    assert not pattern.matches(_ch("/defaults/a"))
    assert not pattern.matches(_ch("/Default/a"))


def test_deeper_wildcard_matches_only_below_its_prefix() -> None:
    pattern = _pat("/default/a/*")
    assert pattern.matches(_ch("/default/a/b"))
    assert not pattern.matches(_ch("/default/a"))
    assert not pattern.matches(_ch("/default/b/c"))


def test_exact_pattern_matches_only_itself_case_sensitively() -> None:
    pattern = _pat("/default/a")
    assert pattern.matches(_ch("default/a/"))
    assert not pattern.matches(_ch("/default/A"))
    assert not pattern.matches(_ch("/Default/a"))
    assert not pattern.matches(_ch("/default/a/b"))
    assert not pattern.matches(_ch("/default"))


def oracle_matches(pattern: ChannelPattern, channel: Channel) -> bool:
    """Independent of ChannelPattern.matches: compare normalised path strings."""
    if not pattern.wildcard:
        return channel.path == pattern.path
    stem = pattern.path[:-1]  # "/default/*" -> "/default/"
    return channel.path.startswith(stem) and len(channel.path) > len(stem)


SMALL_SEGMENTS = st.sampled_from(["a", "b", "B"])
PATHS = st.lists(SMALL_SEGMENTS, min_size=1, max_size=5).map(lambda s: "/" + "/".join(s))
CHANNELS = PATHS.map(parse_channel)
PATTERNS = st.builds(
    lambda path, wildcard: parse_channel_pattern(path + ("/*" if wildcard else "")),
    PATHS,
    st.booleans(),
)
OPERATIONS = st.lists(
    st.tuples(st.sampled_from(["add", "add", "remove"]), PATTERNS, st.integers(0, 4)),
    max_size=40,
)


@BOUNDED
@given(PATTERNS, CHANNELS)
def test_pattern_matches_agrees_with_path_oracle(pattern: ChannelPattern, channel: Channel) -> None:
    assert pattern.matches(channel) == oracle_matches(pattern, channel)


@SMALL
@given(OPERATIONS, st.lists(CHANNELS, min_size=1, max_size=6))
def test_subscription_index_matches_brute_force_oracle(
    operations: list[tuple[str, ChannelPattern, int]], channels: list[Channel]
) -> None:
    index: SubscriptionIndex[int] = SubscriptionIndex()
    model: set[tuple[ChannelPattern, int]] = set()
    for action, pattern, key in operations:
        if action == "add":
            index.add(pattern, key)
            model.add((pattern, key))
        else:
            assert index.remove(pattern, key) == ((pattern, key) in model)
            model.discard((pattern, key))
        assert len(index) == len(model)
    for channel in channels:
        expected = Counter(key for pattern, key in model if oracle_matches(pattern, channel))
        assert Counter(index.matching(channel)) == expected


def test_subscription_index_yields_a_key_once_per_matching_pattern() -> None:
    index: SubscriptionIndex[str] = SubscriptionIndex()
    index.add(_pat("/default/a"), "conn-1")
    index.add(_pat("/default/*"), "conn-1")
    index.add(_pat("/default/*"), "conn-2")
    index.add(_pat("/other/*"), "conn-3")
    assert len(index) == 4
    assert Counter(index.matching(_ch("/default/a"))) == Counter({"conn-1": 2, "conn-2": 1})
    assert Counter(index.matching(_ch("/default/b/c"))) == Counter({"conn-1": 1, "conn-2": 1})
    assert list(index.matching(_ch("/default"))) == []


def test_subscription_index_len_tracks_adds_and_removes() -> None:
    index: SubscriptionIndex[str] = SubscriptionIndex()
    exact, wild = _pat("/d/a"), _pat("/d/*")
    assert len(index) == 0
    index.add(exact, "k")
    index.add(exact, "k")  # idempotent
    assert len(index) == 1
    index.add(wild, "k")
    assert len(index) == 2
    assert index.remove(exact, "k") is True
    assert index.remove(exact, "k") is False
    assert index.remove(_pat("/d/b"), "k") is False
    assert len(index) == 1
    assert list(index.matching(_ch("/d/a"))) == ["k"]
    assert index.remove(wild, "k") is True
    assert len(index) == 0
    assert list(index.matching(_ch("/d/a"))) == []


# -- Operation ids and events ----------------------------------------------------------------


@BOUNDED
@given(OP_IDS)
def test_validate_operation_id_accepts_the_documented_alphabet(op_id: str) -> None:
    assert validate_operation_id(op_id) == op_id


@pytest.mark.parametrize("op_id", ["a", "A-z_0+9", "x" * 128, SUB_ID])
def test_validate_operation_id_accepts_examples(op_id: str) -> None:
    assert validate_operation_id(op_id) == op_id


@pytest.mark.parametrize(
    "op_id", ["", "x" * 129, "a/b", "a b", "a.b", "é", "abc\n", "\nabc", "a=b", "a\x00"]
)
def test_validate_operation_id_rejects(op_id: str) -> None:
    with pytest.raises(MessageValidationError) as info:
        validate_operation_id(op_id)
    assert info.value.field == "id"


@BOUNDED
@given(
    st.text(alphabet=OP_ID_ALPHABET, max_size=60),
    st.characters().filter(lambda c: c not in OP_ID_ALPHABET),
    st.text(alphabet=OP_ID_ALPHABET, max_size=60),
)
def test_validate_operation_id_rejects_any_foreign_character(
    head: str, bad: str, tail: str
) -> None:
    with pytest.raises(MessageValidationError):
        validate_operation_id(head + bad + tail)


@pytest.mark.parametrize("count", [1, 5])
def test_validate_events_accepts_one_to_five(count: int) -> None:
    validate_events(['{"a":1}'] * count)


@pytest.mark.parametrize("count", [0, 6])
def test_validate_events_rejects_zero_or_six(count: int) -> None:
    with pytest.raises(MessageValidationError) as info:
        validate_events(["1"] * count)
    assert info.value.field == "events"


@pytest.mark.parametrize("event", ['"hello"', "42", "null", '{"a":1}', "[1,2]", " true ", '"é/"'])
def test_validate_events_accepts_json_texts(event: str) -> None:
    validate_events([event])


@pytest.mark.parametrize("event", ["{", "undefined", "", "hello", "{'a':1}", '{"a":1}x'])
def test_validate_events_rejects_non_json(event: str) -> None:
    with pytest.raises(MessageValidationError) as info:
        validate_events(['"ok"', event])
    assert info.value.field == "events[1]"


@pytest.mark.parametrize("event", ["NaN", "Infinity", "-Infinity", '{"a":NaN}'])
def test_validate_events_rejects_non_json_number_constants(event: str) -> None:
    # JSON (RFC 8259, JSON.parse) has no NaN/Infinity; Python's json.loads accepts them.
    with pytest.raises(MessageValidationError) as info:
        validate_events([event])
    assert info.value.field == "events[0]"


def test_validate_events_accepts_long_json_numbers() -> None:
    # Valid JSON that JSON.parse accepts; Python's int() refuses more than 4300 digits.
    validate_events(["1" * 5000, '{"n":' + "9" * 5000 + "}"])


def test_validate_events_rejects_non_string_event() -> None:
    with pytest.raises(MessageValidationError) as info:
        validate_events(['"ok"', {"a": 1}])  # type: ignore[list-item]
    assert info.value.field == "events[1]"


LIMIT = 240 * 1024


@pytest.mark.parametrize(
    ("unit", "width"),
    [("a", 1), ("é", 2), ("€", 3), ("😀", 4)],
)
def test_event_too_large_counts_utf8_bytes_at_the_limit(unit: str, width: int) -> None:
    assert len(unit.encode("utf-8")) == width
    at_limit = unit * (LIMIT // width)
    assert len(at_limit.encode("utf-8")) == LIMIT
    assert event_too_large(at_limit) is False
    assert event_too_large(at_limit + "a") is True


def test_event_too_large_multibyte_over_limit_with_few_code_points() -> None:
    # 81,921 code points of 3 bytes: far under 240 Ki characters, but over 240 KiB.
    assert event_too_large("€" * (LIMIT // 3 + 1)) is True
    assert event_too_large("a" * (LIMIT - 1)) is False
    assert event_too_large("") is False


# -- Endpoints -------------------------------------------------------------------------------

API_ID = "abcdefghijklmnopqrstuvwx12"


def test_endpoints_standard_host() -> None:
    assert len(API_ID) == 26
    endpoints = Endpoints.from_http_url(
        f"https://{API_ID}.appsync-api.us-east-1.amazonaws.com/event"
    )
    assert endpoints == Endpoints(
        http_url=f"https://{API_ID}.appsync-api.us-east-1.amazonaws.com/event",
        realtime_url=f"wss://{API_ID}.appsync-realtime-api.us-east-1.amazonaws.com/event/realtime",
        http_host=f"{API_ID}.appsync-api.us-east-1.amazonaws.com",
        region="us-east-1",
    )


def test_endpoints_standard_host_without_path() -> None:
    endpoints = Endpoints.from_http_url(f"https://{API_ID}.appsync-api.eu-west-3.amazonaws.com")
    assert endpoints.realtime_url == (
        f"wss://{API_ID}.appsync-realtime-api.eu-west-3.amazonaws.com/event/realtime"
    )
    assert endpoints.http_url == f"https://{API_ID}.appsync-api.eu-west-3.amazonaws.com/event"
    assert endpoints.region == "eu-west-3"


def test_endpoints_china_region() -> None:
    endpoints = Endpoints.from_http_url(
        f"https://{API_ID}.appsync-api.cn-north-1.amazonaws.com.cn/event"
    )
    assert endpoints.realtime_url == (
        f"wss://{API_ID}.appsync-realtime-api.cn-north-1.amazonaws.com.cn/event/realtime"
    )
    assert endpoints.http_host == f"{API_ID}.appsync-api.cn-north-1.amazonaws.com.cn"
    assert endpoints.region == "cn-north-1"


def test_endpoints_custom_domain() -> None:
    endpoints = Endpoints.from_http_url("https://api.example.com/event")
    assert endpoints == Endpoints(
        http_url="https://api.example.com/event",
        realtime_url="wss://api.example.com/event/realtime",
        http_host="api.example.com",
        region=None,
    )


def test_endpoints_host_with_short_api_id_is_a_custom_domain() -> None:
    endpoints = Endpoints.from_http_url("https://short.appsync-api.us-east-1.amazonaws.com/event")
    assert endpoints.region is None
    assert (
        endpoints.realtime_url == "wss://short.appsync-api.us-east-1.amazonaws.com/event/realtime"
    )


def test_endpoints_local_emulator_over_plain_http() -> None:
    endpoints = Endpoints.from_http_url("http://127.0.0.1:8080")
    assert endpoints == Endpoints(
        http_url="http://127.0.0.1:8080/event",
        realtime_url="ws://127.0.0.1:8080/event/realtime",
        http_host="127.0.0.1:8080",
        region=None,
    )


@pytest.mark.parametrize(
    "url",
    [
        "ftp://x",
        "not a url",
        "",
        "https://h/other",
        "https://h/event/realtime",
        "https://h/event?x=1",
        "https://h/event#frag",
        "https:///event",
        "wss://h/event/realtime",
    ],
)
def test_endpoints_reject_bad_urls(url: str) -> None:
    with pytest.raises(MessageValidationError) as info:
        Endpoints.from_http_url(url)
    assert info.value.field == "host"
