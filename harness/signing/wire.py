"""Auth modes and the wire forms of authorization: signed bodies, the ``header-``
subprotocol, and redaction for logs.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from enum import StrEnum

from harness.errors import AuthorizationRejected, ConfigurationError

SUBPROTOCOL_PREFIX = "header-"
SENSITIVE_HEADERS = frozenset({"authorization", "x-api-key", "x-amz-security-token"})
REDACTED = "<redacted>"


class AuthMode(StrEnum):
    """The five AppSync authorization modes, by their AWS names."""

    API_KEY = "API_KEY"
    AWS_IAM = "AWS_IAM"
    AMAZON_COGNITO_USER_POOLS = "AMAZON_COGNITO_USER_POOLS"
    OPENID_CONNECT = "OPENID_CONNECT"
    AWS_LAMBDA = "AWS_LAMBDA"

    @classmethod
    def parse(cls, text: str, *, option: str = "--auth-mode") -> AuthMode:
        """Case-insensitive, ``-`` accepted for ``_``; a bad value names ``option``."""
        name = text.strip().upper().replace("-", "_")
        try:
            return cls(name)
        except ValueError:
            choices = ", ".join(mode.value for mode in cls)
            raise ConfigurationError(
                option, f"unknown auth mode {text!r}; choose one of {choices}"
            ) from None

    @classmethod
    def parse_list(cls, text: str, *, option: str) -> tuple[AuthMode, ...]:
        """A comma- or ``+``-separated list of modes, e.g. ``API_KEY,AWS_IAM``."""
        names = [name for name in text.replace("+", ",").split(",") if name.strip()]
        if not names:
            raise ConfigurationError(option, "needs at least one auth mode")
        return tuple(dict.fromkeys(cls.parse(name, option=option) for name in names))


class Operation(StrEnum):
    """What is being authorized."""

    CONNECT = "connect"
    SUBSCRIBE = "subscribe"
    PUBLISH = "publish"
    HTTP_PUBLISH = "http_publish"


# ---------------------------------------------------------------------------
# Signed bodies (docs/protocol.md#sigv4)
# ---------------------------------------------------------------------------


def _escape_lone_surrogates(error: UnicodeError) -> tuple[str, int]:
    # JSON.stringify writes a lone surrogate as a \uXXXX escape; mirror it so a
    # body with one still serialises the way JavaScript clients sign it.
    assert isinstance(error, UnicodeEncodeError)
    bad = error.object[error.start : error.end]
    return "".join(f"\\u{ord(char):04x}" for char in bad), error.end


JSON_SURROGATE_ERRORS = "harness-json-surrogates"
"""The codec error handler that writes lone surrogates as ``\\uXXXX`` escapes, as
``JSON.stringify`` does; for ``str.encode("utf-8", JSON_SURROGATE_ERRORS)``."""
codecs.register_error(JSON_SURROGATE_ERRORS, _escape_lone_surrogates)

_NEEDS_HTML_ESCAPE = re.compile(rb"[<>&]|\xe2\x80[\xa8\xa9]")  # U+2028/2029 in UTF-8
_HTML_ESCAPES = str.maketrans(
    {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}
)


def signing_body(
    channel: str | None = None, events: Sequence[str] | None = None, *, html_escape: bool = False
) -> bytes:
    """The body an IAM client signs: ``{}`` (connect), ``{"channel":…}`` (subscribe) or
    ``{"channel":…,"events":[…]}`` (publish): compact, ``channel`` first, ``/`` and
    non-ASCII unescaped, as ``JSON.stringify`` writes it (docs/protocol.md#sigv4).

    ``html_escape`` gives the variant with ``<``, ``>`` and ``&`` (and U+2028, U+2029)
    escaped as ``\\u003c``…, the form Go and Gson encoders produce, and the only one AppSync
    accepts for a WebSocket publish whose events hold them (:func:`candidate_bodies`).
    """
    if channel is None:
        return b"{}"
    document: dict[str, object] = {"channel": channel}
    if events is not None:
        document["events"] = list(events)
    text = json.dumps(document, separators=(",", ":"), ensure_ascii=False)
    if html_escape:
        text = text.translate(_HTML_ESCAPES)
    return text.encode("utf-8", JSON_SURROGATE_ERRORS)


def candidate_bodies(
    channel: str | None, events: Sequence[str] | None, *, compact_accepted: bool = False
) -> tuple[bytes, ...]:
    """The bodies a verifier accepts for a WebSocket operation.

    AppSync rebuilds the body from the message with ``<``, ``>`` and ``&`` escaped: an
    IAM WebSocket publish whose events hold them and that was signed over the compact
    form is refused (aws-appsync-community#400, docs/protocol.md#sigv4), so a body
    holding them is accepted only HTML-escaped. ``compact_accepted`` (the emulator's
    lenient mode) accepts the compact form too, first."""
    compact = signing_body(channel, events)
    if not _NEEDS_HTML_ESCAPE.search(compact):
        return (compact,)
    escaped = signing_body(channel, events, html_escape=True)
    return (compact, escaped) if compact_accepted else (escaped,)


# ---------------------------------------------------------------------------
# The header- subprotocol (docs/protocol.md#subprotocol)
# ---------------------------------------------------------------------------


def b64url_encode(raw: bytes) -> str:
    """RFC 4648 base64url without padding (the ``header-`` subprotocol, JWT parts)."""
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def b64url_decode(text: str) -> bytes:
    """Decode base64url with or without padding; ``binascii.Error``/``ValueError`` if invalid."""
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def encode_subprotocol(headers: Mapping[str, str]) -> str:
    """``header-`` + base64url (no padding) of the compact JSON auth object."""
    raw = json.dumps(dict(headers), separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return SUBPROTOCOL_PREFIX + b64url_encode(raw)


def decode_subprotocol(token: str) -> dict[str, str]:
    """The auth object in a ``header-`` subprotocol token.

    Lenient (docs/protocol.md#subprotocol): padded or not, URL-safe or standard
    alphabet. Raises :class:`AuthorizationRejected` (``UnauthorizedException``)
    when the token is not base64 of a JSON object of strings.
    """
    if not token.startswith(SUBPROTOCOL_PREFIX):
        raise _bad_subprotocol(f"it does not start with {SUBPROTOCOL_PREFIX!r}")
    encoded = token[len(SUBPROTOCOL_PREFIX) :].replace("+", "-").replace("/", "_").rstrip("=")
    try:
        raw = b64url_decode(encoded)
        document = json.loads(raw.decode("utf-8"))
    except (binascii.Error, ValueError, RecursionError) as exc:
        raise _bad_subprotocol("it is not base64url-encoded UTF-8 JSON") from exc
    if not isinstance(document, dict) or not all(isinstance(v, str) for v in document.values()):
        raise _bad_subprotocol("it must hold a JSON object of string values")
    return document


def _bad_subprotocol(problem: str) -> AuthorizationRejected:
    return AuthorizationRejected(
        "UnauthorizedException",
        f"the {SUBPROTOCOL_PREFIX}subprotocol is invalid: {problem}",
        wire_message="You are not authorized to make this call.",
    )


# ---------------------------------------------------------------------------
# Header maps
# ---------------------------------------------------------------------------


def lower_keys(headers: Mapping[str, str]) -> dict[str, str]:
    """Header names are matched case-insensitively (docs/protocol.md#auth-objects)."""
    return {name.lower(): value for name, value in headers.items()}


def redact(
    headers: Mapping[str, str], sensitive: Iterable[str] = SENSITIVE_HEADERS
) -> dict[str, str]:
    """A copy fit for logs: keys, signatures and tokens replaced by ``<redacted>``."""
    hidden = {name.lower() for name in sensitive}
    return {name: REDACTED if name.lower() in hidden else value for name, value in headers.items()}
