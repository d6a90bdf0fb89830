"""What a SigV4 signature was computed over: the request AppSync expects, or one of the
known wrong ones.

A signature can be checked without the server: given what a client sent (its
auth object or HTTP headers, the channel and events, the body) and the secret key
it signed with, :func:`find_signed` signs again over the request AppSync expects
and over the variants clients are known to get wrong, and returns the one whose
signature is the client's. The variants, each alone or two at once:

- the canonical URI: ``/event/connect`` (aws-amplify 6.8.0's connect), the
  WebSocket URL's path ``/event/realtime``, or ``/``;
- the body: ``[null]`` (6.8.0's subscribe), ``{}`` or nothing where a channel belongs,
  JSON with spaces, the events as objects rather than strings, the events before
  the channel, a publish signed as its subscribe, and, for events holding ``<``,
  ``>`` or ``&``, the compact body AppSync refuses there (it expects them escaped,
  ``\\u003c``: aws-appsync-community#400);
- the signed headers: every header sent, or the listed ones with one more or one
  fewer (``x-amz-security-token`` above all).
"""

from __future__ import annotations

import hmac
import itertools
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

from harness.signing.mismatch import SigningText, signed_text
from harness.signing.sigv4 import (
    CANONICAL_URI,
    UNSIGNED_HEADERS,
    parse_authorization,
    signature,
    signing_key,
)
from harness.signing.wire import Operation, candidate_bodies, lower_keys, signing_body

MAX_DEVIATIONS = 2
"""Variants combine at most this many mistakes."""
WRONG_URIS = (
    ("/event/connect", "the canonical URI /event/connect (aws-amplify 6.8.0's connect)"),
    ("/event/realtime", "the canonical URI /event/realtime (the WebSocket URL's path)"),
    ("/", "the canonical URI /"),
)


@dataclass(frozen=True)
class SignedRequest:
    """What a client sent, as far as its signature goes."""

    operation: Operation
    headers: Mapping[str, str]
    """The auth object (WebSocket) or the HTTP headers, ``authorization`` included."""
    channel: str | None = None
    events: Sequence[str] | None = None
    body: bytes = b""
    """The HTTP body sent (HTTP publish only; a WebSocket body is rebuilt from the message)."""

    def expected_body(self) -> bytes:
        """The body AppSync hashes for this request."""
        if self.operation is Operation.HTTP_PUBLISH:
            return self.body
        if self.operation is Operation.CONNECT:
            return signing_body()
        return candidate_bodies(self.channel, self.events)[0]


@dataclass(frozen=True)
class SignedVariant:
    """A request a signature was found to be computed over."""

    deviations: tuple[str, ...]
    """How it differs from the request AppSync expects; empty when it is that one."""
    accepted: bool
    """Whether AppSync accepts a signature over it (the expected or the HTML-escaped body)."""
    text: SigningText

    def describe(self) -> str:
        if not self.deviations:
            return "the request AppSync expects"
        return " and ".join(self.deviations)


def expected_text(request: SignedRequest) -> SigningText:
    """What AppSync computes for ``request``: its ``SignedHeaders``, ``/event``, the
    expected body."""
    return signed_text(request.headers, request.expected_body())


def find_signed(request: SignedRequest, secret_key: str) -> SignedVariant | None:
    """The variant whose signature with ``secret_key`` is the one ``request`` carries, the
    fewest deviations first; None when none is (another key, or another mistake)."""
    sent = lower_keys(request.headers)
    parsed = parse_authorization(sent.get("authorization", ""))
    key = signing_key(secret_key, parsed.date_stamp, parsed.region, parsed.service)
    for deviations, accepted, uri, body, names in _variants(request, sent, parsed.signed_headers):
        text = signed_text(sent, body, uri=uri, names=names)
        if hmac.compare_digest(signature(key, text.string_to_sign), parsed.signature):
            return SignedVariant(deviations, accepted, text)
    return None


# -- the variants ----------------------------------------------------------------------

_Choice = tuple[str | None, bool, object]
"""``(deviation or None, accepted, value)`` along one dimension."""


def _variants(
    request: SignedRequest, sent: Mapping[str, str], listed: Sequence[str]
) -> Iterator[tuple[tuple[str, ...], bool, str, bytes, tuple[str, ...]]]:
    uris: list[_Choice] = [(None, True, CANONICAL_URI)]
    uris += [(deviation, False, uri) for uri, deviation in WRONG_URIS]
    dimensions = (uris, _bodies(request), _header_lists(sent, tuple(listed)))
    combinations = sorted(
        itertools.product(*dimensions),
        key=lambda combination: sum(choice[0] is not None for choice in combination),
    )
    for (uri_note, uri_ok, uri), (body_note, body_ok, body), (
        names_note,
        names_ok,
        names,
    ) in combinations:
        deviations = tuple(note for note in (uri_note, body_note, names_note) if note)
        if len(deviations) > MAX_DEVIATIONS:
            break
        assert isinstance(uri, str) and isinstance(body, bytes) and isinstance(names, tuple)
        yield deviations, uri_ok and body_ok and names_ok, uri, body, names


def _bodies(request: SignedRequest) -> list[_Choice]:
    operation, channel, events = request.operation, request.channel, request.events
    if operation is Operation.HTTP_PUBLISH:
        return [
            (None, True, request.body),
            ("an empty body", False, b""),
            ("the body {}", False, b"{}"),
        ]
    if operation is Operation.CONNECT:
        return [
            (None, True, b"{}"),
            ("an empty body", False, b""),
            ("the body null", False, b"null"),
        ]
    expected = request.expected_body()
    compact = signing_body(channel, events)
    choices: list[_Choice] = [(None, True, expected)]
    if compact != expected:
        unescaped = (
            "the compact body, its <, > and & not escaped as AppSync expects "
            "(aws-appsync-community#400)"
        )
        choices.append((unescaped, False, compact))
    choices += [
        ("the body [null] (aws-amplify 6.8.0's subscribe)", False, b"[null]"),
        ("the body {} (a connect's)", False, b"{}"),
        ("an empty body", False, b""),
        ("JSON with spaces", False, _dumps(_document(channel, events), spaced=True)),
    ]
    if events is not None:
        choices += [
            ("the body of a subscribe (no events)", False, signing_body(channel)),
            (
                "events first, then the channel",
                False,
                _dumps({"events": list(events), "channel": channel}),
            ),
        ]
        parsed = _parsed_events(events)
        if parsed is not None:
            choices.append(
                (
                    "the events as JSON values, not strings",
                    False,
                    _dumps({"channel": channel, "events": parsed}),
                )
            )
    return choices


def _header_lists(sent: Mapping[str, str], listed: tuple[str, ...]) -> list[_Choice]:
    choices: list[_Choice] = [(None, True, listed)]
    every = tuple(
        sorted(name for name in sent if name != "authorization" and name not in UNSIGNED_HEADERS)
    )
    if every != listed:
        choices.append(("every header sent signed", False, every))
    for name in sorted(set(sent) - set(listed) - {"authorization"}):
        choices.append((f"{name} signed too", False, tuple(sorted((*listed, name)))))
    for name in listed:
        if name not in ("host", "x-amz-date"):
            choices.append((f"{name} not signed", False, tuple(n for n in listed if n != name)))
    return choices


def _document(channel: str | None, events: Sequence[str] | None) -> dict[str, object]:
    document: dict[str, object] = {"channel": channel}
    if events is not None:
        document["events"] = list(events)
    return document


def _dumps(document: object, *, spaced: bool = False) -> bytes:
    separators = (", ", ": ") if spaced else (",", ":")
    return json.dumps(document, separators=separators, ensure_ascii=False).encode(
        "utf-8", "surrogatepass"
    )


def _parsed_events(events: Sequence[str]) -> list[object] | None:
    try:
        return [json.loads(event) for event in events]
    except ValueError:
        return None
