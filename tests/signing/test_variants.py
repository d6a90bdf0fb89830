"""Which request a signature was computed over (``harness.signing.variants``), for
requests signed by botocore as buggy clients sign them: the mistake is named, and
what AppSync accepts is told apart from what it refuses."""

from __future__ import annotations

import json

import pytest
from support.signed_requests import botocore_headers

from harness.emulator import defaults
from harness.signing import Operation
from harness.signing.variants import SignedRequest, expected_text, find_signed
from harness.signing.wire import signing_body

HOST = "abcdefghijklmnopqrstuvwxyz.appsync-api.us-east-1.amazonaws.com"
SECRET = defaults.DEFAULT_SECRET_ACCESS_KEY
CHANNEL = "/default/room"
EVENTS = ('{"n":1,"html":"<b> & </b>"}',)


def found(request: SignedRequest, secret: str = SECRET) -> tuple[str, ...] | None:
    variant = find_signed(request, secret)
    return None if variant is None else variant.deviations


def test_a_correctly_signed_request_of_each_kind_is_the_expected_one() -> None:
    body = json.dumps({"channel": CHANNEL, "events": list(EVENTS)}).encode()
    requests = [
        SignedRequest(Operation.CONNECT, botocore_headers(HOST, b"{}")),
        SignedRequest(Operation.SUBSCRIBE, botocore_headers(HOST, signing_body(CHANNEL)), CHANNEL),
        SignedRequest(
            Operation.PUBLISH,
            botocore_headers(HOST, signing_body(CHANNEL, EVENTS, html_escape=True)),
            CHANNEL,
            EVENTS,
        ),
        SignedRequest(Operation.HTTP_PUBLISH, botocore_headers(HOST, body), body=body),
    ]
    for request in requests:
        variant = find_signed(request, SECRET)
        assert variant is not None and variant.deviations == () and variant.accepted
        assert variant.describe() == "the request AppSync expects"
        assert variant.text == expected_text(request)


@pytest.mark.parametrize(
    ("operation", "body", "path", "named"),
    [
        (
            Operation.CONNECT,
            b"{}",
            "/event/connect",
            "/event/connect (aws-amplify 6.8.0's connect)",
        ),
        (Operation.CONNECT, b"{}", "/event/realtime", "/event/realtime (the WebSocket URL's path)"),
        (Operation.SUBSCRIBE, b"[null]", "/event", "[null] (aws-amplify 6.8.0's subscribe)"),
        (Operation.SUBSCRIBE, b"{}", "/event", "the body {} (a connect's)"),
        (Operation.CONNECT, b"", "/event", "an empty body"),
    ],
)
def test_a_known_mistake_is_named(operation: Operation, body: bytes, path: str, named: str) -> None:
    channel = CHANNEL if operation is Operation.SUBSCRIBE else None
    request = SignedRequest(operation, botocore_headers(HOST, body, path=path), channel)
    variant = find_signed(request, SECRET)
    assert variant is not None and not variant.accepted
    (deviation,) = variant.deviations
    assert deviation.endswith(named)


def test_publish_bodies_serialised_otherwise_are_named() -> None:
    spaced = json.dumps({"channel": CHANNEL, "events": list(EVENTS)}).encode()
    values = [json.loads(event) for event in EVENTS]
    as_values = json.dumps({"channel": CHANNEL, "events": values}, separators=(",", ":"))
    reordered = json.dumps({"events": list(EVENTS), "channel": CHANNEL}, separators=(",", ":"))
    cases = {
        spaced: "JSON with spaces",
        as_values.encode(): "the events as JSON values, not strings",
        reordered.encode(): "events first, then the channel",
        signing_body(CHANNEL): "the body of a subscribe (no events)",
    }
    for body, named in cases.items():
        request = SignedRequest(Operation.PUBLISH, botocore_headers(HOST, body), CHANNEL, EVENTS)
        assert found(request) == (named,), body


def test_events_holding_html_characters_signed_unescaped_are_named() -> None:
    """AppSync expects them escaped (aws-appsync-community#400)."""
    compact = signing_body(CHANNEL, EVENTS)
    assert compact != signing_body(CHANNEL, EVENTS, html_escape=True)
    request = SignedRequest(Operation.PUBLISH, botocore_headers(HOST, compact), CHANNEL, EVENTS)
    variant = find_signed(request, SECRET)
    assert variant is not None and not variant.accepted
    (deviation,) = variant.deviations
    assert deviation.startswith("the compact body, its <, > and & not escaped")


def test_a_header_signed_but_not_listed_is_named() -> None:
    headers = botocore_headers(HOST, b"{}")
    # Signed over every header, then the list in the authorization cut to two.
    authorization = headers["authorization"].replace(
        "SignedHeaders=accept;content-encoding;content-type;host;x-amz-date",
        "SignedHeaders=host;x-amz-date",
    )
    assert authorization != headers["authorization"]
    request = SignedRequest(Operation.CONNECT, {**headers, "authorization": authorization})
    assert found(request) == ("every header sent signed",)


def test_two_mistakes_at_once_are_both_named() -> None:
    request = SignedRequest(
        Operation.SUBSCRIBE, botocore_headers(HOST, b"[null]", path="/event/connect"), CHANNEL
    )
    deviations = found(request)
    assert deviations is not None and len(deviations) == 2
    assert "/event/connect" in deviations[0] and "[null]" in deviations[1]


def test_another_secret_or_an_unknown_mistake_is_no_variant() -> None:
    right = SignedRequest(Operation.CONNECT, botocore_headers(HOST, b"{}"))
    assert found(right, secret="another secret") is None
    unknown = SignedRequest(Operation.CONNECT, botocore_headers(HOST, b'{"x":1}'))
    assert found(unknown) is None
