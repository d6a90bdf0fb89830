"""SigV4 for AppSync Events: the virtual request, two signing engines, and the math.

Every IAM operation signs the same kind of virtual request (protocol
docs/protocol.md#sigv4): ``POST https://<HTTP host>/event``, empty query, service
``appsync``, the headers the client lists in ``SignedHeaders``, and a body
that is ``{}`` for connect, ``{"channel":...}`` for subscribe and
``{"channel":...,"events":[...]}`` for publish.

Two engines produce the headers:

- :class:`BotocoreSigner` (the reference): botocore's ``AWSRequest`` and
  ``SigV4Auth``; about 56 us a signature.
- :class:`FastSigner`: the same algorithm with the derived signing key cached
  per (secret, day, region, service); about 9 us. Tests prove its output
  byte-identical to botocore's.

The verifier (:mod:`harness.signing.verify`) uses the same functions below to
rebuild what a client should have signed.
"""

from __future__ import annotations

import calendar
import hashlib
import hmac
import logging
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Protocol

from harness.errors import AuthorizationRejected
from harness.signing.credentials import Credentials

ALGORITHM = "AWS4-HMAC-SHA256"
SERVICE = "appsync"
CANONICAL_URI = "/event"
"""The canonical URI of every Events SigV4 request; ``/event/connect`` is the 6.8.0 bug
(docs/protocol.md#amplify-680)."""
AMZ_DATE_FORMAT = "%Y%m%dT%H%M%SZ"
_AMZ_DATE = re.compile(r"(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z")
_SIGNATURE = re.compile(r"[0-9a-f]{64}")
_AUTHORIZATION_PARTS = ("Credential", "SignedHeaders", "Signature")

UNSIGNED_HEADERS = frozenset(
    {
        "baggage",
        "connection",
        "expect",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "traceparent",
        "tracestate",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "user-agent",
        "x-amzn-trace-id",
    }
)
"""Headers botocore never signs (its ``SIGNED_HEADERS_BLACKLIST``); a test keeps them equal."""

IAM_CONSTANT_HEADERS: Mapping[str, str] = {
    "accept": "application/json, text/javascript",
    "content-encoding": "amz-1.0",
    "content-type": "application/json; charset=UTF-8",
}
"""The constant headers every IAM auth object carries (docs/protocol.md#auth-objects)."""


def _utf8(text: str) -> bytes:
    """UTF-8, with lone surrogates passed through: a verifier hashes what a client
    sent, and a lone surrogate there must fail the signature check, not the server."""
    return text.encode("utf-8", "surrogatepass")


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def amz_date(epoch_seconds: float) -> str:
    """``YYYYMMDDTHHMMSSZ`` in UTC for a Unix time."""
    return time.strftime(AMZ_DATE_FORMAT, time.gmtime(epoch_seconds))


def parse_amz_date(value: str) -> float:
    """The Unix time of an ``x-amz-date`` value (``YYYYMMDDTHHMMSSZ``); ``ValueError`` when
    malformed. Parsed by hand: ``time.strptime`` costs ~6 us on every verified message."""
    match = _AMZ_DATE.fullmatch(value)
    if match is None:
        raise ValueError(f"x-amz-date must be YYYYMMDDTHHMMSSZ, not {value[:20]!r}")
    year, month, day, hour, minute, second = (int(part) for part in match.groups())
    if not (1 <= month <= 12 and 1 <= day <= 31 and hour < 24 and minute < 60 and second < 61):
        raise ValueError(f"x-amz-date {value!r} is not a valid date and time")
    return float(calendar.timegm((year, month, day, hour, minute, second, 0, 0, 0)))


def canonical_header_value(value: str) -> str:
    """Trim and fold inner runs of white space, as SigV4 (and botocore) does."""
    return " ".join(value.split())


def canonical_request(
    headers: Mapping[str, str],
    signed_headers: Sequence[str],
    payload_hash: str,
    *,
    method: str = "POST",
    uri: str = CANONICAL_URI,
) -> str:
    """The canonical request (empty query string); Events always uses ``POST /event``.

    ``headers`` must have lower-case keys; ``signed_headers`` are the names in
    the order they are listed.
    """
    lines = "".join(f"{name}:{canonical_header_value(headers[name])}\n" for name in signed_headers)
    return f"{method}\n{uri}\n\n{lines}\n{';'.join(signed_headers)}\n{payload_hash}"


def credential_scope(date_stamp: str, region: str, service: str = SERVICE) -> str:
    return f"{date_stamp}/{region}/{service}/aws4_request"


def string_to_sign(amz_datetime: str, scope: str, canonical: str) -> str:
    return f"{ALGORITHM}\n{amz_datetime}\n{scope}\n{sha256_hex(_utf8(canonical))}"


@lru_cache(maxsize=256)
def signing_key(secret_key: str, date_stamp: str, region: str, service: str) -> bytes:
    """The derived SigV4 key; cached, as it changes once a day per credential."""
    key = ("AWS4" + secret_key).encode("utf-8")
    for part in (date_stamp, region, service, "aws4_request"):
        key = hmac.new(key, _utf8(part), hashlib.sha256).digest()
    return key


def signature(key: bytes, to_sign: str) -> str:
    return hmac.new(key, _utf8(to_sign), hashlib.sha256).hexdigest()


@dataclass(frozen=True, slots=True)
class ParsedAuthorization:
    """The parts of a SigV4 ``Authorization`` header value."""

    access_key: str
    date_stamp: str
    region: str
    service: str
    terminator: str
    signed_headers: tuple[str, ...]
    signature: str


def parse_authorization(value: str) -> ParsedAuthorization:
    """Parse ``AWS4-HMAC-SHA256 Credential=.../aws4_request, SignedHeaders=..., Signature=...``.

    Raises :class:`AuthorizationRejected` (``BadRequestException``) naming the
    missing or malformed part; the value itself is never quoted.
    """
    algorithm, _, rest = value.strip().partition(" ")
    if algorithm != ALGORITHM:
        raise _bad_header(f"algorithm must be {ALGORITHM}")
    parts: dict[str, str] = {}
    for item in rest.split(","):
        name, sep, part_value = item.strip().partition("=")
        if not sep or name not in _AUTHORIZATION_PARTS:
            raise _bad_header(
                "it must be Credential=..., SignedHeaders=..., Signature=... and nothing else"
            )
        if name in parts:
            raise _bad_header(f"{name} is given twice")
        parts[name] = part_value.strip()
    missing = [name for name in _AUTHORIZATION_PARTS if name not in parts]
    if missing:
        raise _bad_header(f"it lacks {', '.join(missing)}")
    scope = parts["Credential"].split("/")
    if len(scope) != 5 or not all(scope):
        raise _bad_header("Credential must be <access key>/<date>/<region>/<service>/aws4_request")
    signed = tuple(name.strip().lower() for name in parts["SignedHeaders"].split(";"))
    if not all(signed):
        raise _bad_header("SignedHeaders has an empty name")
    sig = parts["Signature"]
    if not _SIGNATURE.fullmatch(sig):
        raise _bad_header("Signature must be 64 lower-case hex digits")
    access_key, date_stamp, region, service, terminator = scope
    return ParsedAuthorization(access_key, date_stamp, region, service, terminator, signed, sig)


def _bad_header(problem: str) -> AuthorizationRejected:
    return AuthorizationRejected(
        "BadRequestException", f"the SigV4 Authorization header is malformed: {problem}"
    )


# ---------------------------------------------------------------------------
# Engines
# ---------------------------------------------------------------------------


class SigV4Engine(Protocol):
    """Signs the virtual request: returns ``headers`` plus ``x-amz-date``,
    ``x-amz-security-token`` (with temporary credentials) and ``authorization``,
    all keys lower case."""

    def sign(
        self, headers: Mapping[str, str], body: bytes, credentials: Credentials, region: str
    ) -> dict[str, str]: ...


class FastSigner:
    """SigV4 with the derived key cached per day; output identical to botocore's."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock

    def sign(
        self, headers: Mapping[str, str], body: bytes, credentials: Credentials, region: str
    ) -> dict[str, str]:
        now = amz_date(self._clock())
        signed = {name.lower(): value for name, value in headers.items()}
        signed["x-amz-date"] = now
        if credentials.token:
            signed["x-amz-security-token"] = credentials.token
        names = sorted(name for name in signed if name not in UNSIGNED_HEADERS)
        scope = credential_scope(now[:8], region)
        canonical = canonical_request(signed, names, sha256_hex(body))
        key = signing_key(credentials.secret_key, now[:8], region, SERVICE)
        sig = signature(key, string_to_sign(now, scope, canonical))
        signed["authorization"] = (
            f"{ALGORITHM} Credential={credentials.access_key}/{scope}, "
            f"SignedHeaders={';'.join(names)}, Signature={sig}"
        )
        return signed


class _DropDebugRecords(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno > logging.DEBUG


_BOTOCORE_AUTH_FILTER = _DropDebugRecords()


class BotocoreSigner:
    """The reference engine: botocore's ``SigV4Auth`` over an ``AWSRequest``.

    botocore reads its own clock (``botocore.auth.get_current_datetime``).
    botocore logs the canonical request (session token included) and the
    signature at DEBUG level; those records are dropped, so running Locust
    with ``--loglevel DEBUG`` leaks no secret.
    """

    def __init__(self) -> None:
        botocore_auth_logger = logging.getLogger("botocore.auth")
        if _BOTOCORE_AUTH_FILTER not in botocore_auth_logger.filters:
            botocore_auth_logger.addFilter(_BOTOCORE_AUTH_FILTER)

    def sign(
        self, headers: Mapping[str, str], body: bytes, credentials: Credentials, region: str
    ) -> dict[str, str]:
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest
        from botocore.credentials import ReadOnlyCredentials

        host = next(value for name, value in headers.items() if name.lower() == "host")
        request = AWSRequest(
            method="POST", url=f"https://{host}{CANONICAL_URI}", data=body, headers=dict(headers)
        )
        frozen = ReadOnlyCredentials(
            credentials.access_key, credentials.secret_key, credentials.token
        )
        SigV4Auth(frozen, SERVICE, region).add_auth(request)
        return {name.lower(): value for name, value in request.headers.items()}


ENGINES: Mapping[str, Callable[[], SigV4Engine]] = {
    "botocore": BotocoreSigner,
    "fast": FastSigner,
}
"""Signing engines by the name the ``--iam-signer`` option takes."""
