"""Why a signature was refused (``harness.signing.mismatch``), from the emulator's own
answers to wrongly signed requests: the text AppSync sends is parsed, compared with
what the client signed, and the one differing line is named with its usual cause.

The wrong clients are botocore signing as aws-amplify 6.8.0 did (the connect over
``/event/connect``, a subscribe over ``[null]``), one signing with a wrong secret, and
one whose session token differs; no secret shows in the explanation."""

from __future__ import annotations

from support.emulator import LiveEmulator
from support.signed_requests import botocore_headers, connect_with, only_error

from harness.protocol import SubscribeError
from harness.signing import AuthMode
from harness.signing.mismatch import (
    SigningText,
    compare,
    explain,
    parse_expected,
    signed_text,
)
from harness.signing.sigv4 import canonical_request, sha256_hex, string_to_sign
from harness.signing.verify import SIGNATURE_MISMATCH

SUBSCRIBE_BODY = b'{"channel":"/default/why"}'


def refused_connect(emulator: LiveEmulator, headers: dict[str, str]) -> SigningText:
    error_type, message = only_error(connect_with(emulator, headers))
    assert error_type == "BadRequestException" and message.startswith(SIGNATURE_MISMATCH)
    expected = parse_expected(message)
    assert expected is not None, message
    return expected


def test_a_connect_signed_over_event_connect_is_named_by_its_uri(emulator: LiveEmulator) -> None:
    headers = botocore_headers(emulator.http_host, b"{}", path="/event/connect")
    expected = refused_connect(emulator, headers)
    signed = signed_text(headers, b"{}", uri="/event/connect")
    (difference,) = compare(signed, expected)
    assert difference.part == "canonical URI"
    assert (difference.signed, difference.expected) == ("/event/connect", "/event")
    assert "aws-amplify 6.8.0" in difference.meaning and "/event" in difference.meaning
    text = explain([difference])
    assert text.startswith("1 difference from what AppSync expects:\ncanonical URI:")
    # What the harness signs over /event is what AppSync expects, line for line.
    assert signed_text(headers, b"{}").canonical_request == expected.canonical_request


def test_a_subscribe_signed_over_null_is_named_by_its_payload_hash(
    emulator: LiveEmulator,
) -> None:
    client = emulator.client(AuthMode.AWS_IAM)
    headers = botocore_headers(emulator.http_host, b"[null]")
    client.send(
        {"type": "subscribe", "id": "s", "channel": "/default/why", "authorization": headers}
    )
    answer = client.recv()
    client.close()
    assert isinstance(answer, SubscribeError)
    expected = parse_expected(only_error(answer)[1])
    assert expected is not None
    (difference,) = compare(signed_text(headers, b"[null]"), expected)
    assert difference.part == "payload hash"
    assert (difference.signed, difference.expected) == (
        sha256_hex(b"[null]"),
        sha256_hex(SUBSCRIBE_BODY),
    )
    assert difference.meaning.startswith("the body signed was [null] (aws-amplify 6.8.0")


def test_a_wrong_secret_leaves_only_the_key(emulator: LiveEmulator) -> None:
    headers = botocore_headers(emulator.http_host, b"{}", secret_key="not-the-secret")
    expected = refused_connect(emulator, headers)
    (difference,) = compare(signed_text(headers, b"{}"), expected)
    assert difference.part == "signature"
    assert "wrong secret access key" in difference.meaning
    assert "not-the-secret" not in explain([difference])


def test_a_differing_session_token_is_named_without_showing_it() -> None:
    """Two canonical requests that differ only in the session token (and so in the hash
    of the string-to-sign): the token line is named, neither value is shown."""
    token_of = {"signed": "FwoGZXIvYXdzEXAMPLEtokenONE", "expected": "FwoGZXIvYXdzEXAMPLEtokenTWO"}
    texts = {}
    for side, token in token_of.items():
        headers = {"host": "api.example.com", "x-amz-date": "20261204T120000Z",
                   "x-amz-security-token": token}  # fmt: skip
        canonical = canonical_request(headers, sorted(headers), sha256_hex(b"{}"))
        scope = "20261204/eu-west-1/appsync/aws4_request"
        texts[side] = SigningText(
            canonical, string_to_sign(headers["x-amz-date"], scope, canonical)
        )
    (difference,) = compare(texts["signed"], texts["expected"])
    assert difference.part == "header x-amz-security-token"
    text = explain([difference])
    assert "27 characters, not shown" in text
    assert not any(token in text for token in token_of.values())


def test_the_date_and_scope_of_the_string_to_sign_are_compared() -> None:
    headers = {"host": "api.example.com", "x-amz-date": "20261204T120000Z"}
    canonical = canonical_request(headers, sorted(headers), sha256_hex(b"{}"))
    signed = SigningText(
        canonical,
        string_to_sign("20261204T120000Z", "20261204/us-east-1/appsync/aws4_request", canonical),
    )
    expected = SigningText(
        canonical,
        string_to_sign("20261204T120000Z", "20261204/eu-west-1/appsync/aws4_request", canonical),
    )
    (difference,) = compare(signed, expected)
    assert difference.part == "credential scope" and "region" in difference.meaning


def test_text_without_the_expected_request_parses_to_nothing() -> None:
    assert parse_expected(SIGNATURE_MISMATCH) is None
    assert parse_expected("UnauthorizedException: You are not authorized") is None


def test_a_realtime_host_and_an_extra_signed_header_are_both_named() -> None:
    """The realtime host signed instead of the API's, and one header more signed: each
    line is named, in the canonical request's order."""

    def text(headers: dict[str, str]) -> SigningText:
        canonical = canonical_request(headers, sorted(headers), sha256_hex(b"{}"))
        scope = "20261204/eu-west-1/appsync/aws4_request"
        return SigningText(canonical, string_to_sign("20261204T120000Z", scope, canonical))

    api = {"host": "x.appsync-api.eu-west-1.amazonaws.com", "x-amz-date": "20261204T120000Z"}
    realtime = {**api, "host": "x.appsync-realtime-api.eu-west-1.amazonaws.com", "x-extra": "1"}
    parts = [difference.part for difference in compare(text(realtime), text(api))]
    assert parts == ["header host", "signed headers", "header x-extra"]
    by_part = {d.part: d for d in compare(text(realtime), text(api))}
    assert "API's HTTP host" in by_part["header host"].meaning
    assert by_part["header x-extra"].expected is None
    assert "one side only" in by_part["header x-extra"].meaning
