"""The checks one captured AppSync Events request gets, the way AppSync would judge it.

Every request: its ``host`` is the API's HTTP host (also on the realtime socket,
whose URL has another). Then by what it carries:

- SigV4 (``authorization: AWS4-HMAC-SHA256 ...``): the header parses; ``host`` and
  ``x-amz-date`` are signed and every signed header was sent; the scope names
  ``appsync``, the API's region and the date of ``x-amz-date``; it was signed
  within five minutes of being sent; and, given the secret key of the identity
  that signed it, which request the signature was computed over
  (:mod:`harness.signing.variants`), compared line by line with the one AppSync
  expects, or the one AppSync's error text says it expected
  (:mod:`harness.signing.mismatch`).
- ``x-api-key``: compared with ``--api-key`` when given.
- a token: a JWT's ``exp`` and ``nbf`` against when it was sent (its signature is
  only for its issuer to check); any other token is a Lambda authorizer's to judge.

What cannot be checked without a secret is reported as *unchecked*, never as fine.
No secret appears in a finding.
"""

from __future__ import annotations

import hmac
import time
from dataclasses import dataclass, field
from enum import StrEnum
from urllib.parse import urlsplit

from harness.errors import AuthorizationRejected, MessageValidationError
from harness.protocol import Endpoints
from harness.signing import Credentials, Operation
from harness.signing.jwt import looks_like_jwt, unverified_claims
from harness.signing.mismatch import compare, explain, parse_expected
from harness.signing.sigv4 import ALGORITHM, SERVICE, parse_amz_date, parse_authorization
from harness.signing.variants import SignedRequest, expected_text, find_signed
from harness.signing.verify import MAX_CLOCK_SKEW_S
from harness.signing.wire import lower_keys

REALTIME_HOST_PART = ".appsync-realtime-api."
HTTP_HOST_PART = ".appsync-api."


class Verdict(StrEnum):
    OK = "ok"
    FAULT = "fault"
    UNCHECKED = "unchecked"
    """Not judged: a secret or a fact about the API is missing."""
    SKIPPED = "skipped"
    """Not tried (a live step whose predecessor failed)."""


@dataclass(frozen=True)
class Finding:
    verdict: Verdict
    check: str
    """What was checked: ``host``, ``signature``, ``scope``, ``date``, ``API key``..."""
    text: str


@dataclass(frozen=True)
class CapturedRequest:
    """A request an AppSync Events client sent, as recorded."""

    request: SignedRequest
    url: str
    where: str
    """Where it was found, for the report: ``entry 4``, ``entry 4, message 2``, ``live``."""
    sent_at: float | None = None
    """Unix time it was sent, when recorded."""
    answer: str | None = None
    """The server's error text, when it refused the request and it was recorded."""


@dataclass(frozen=True)
class ApiFacts:
    """What requests are checked against; ``None``: not known, so not checked."""

    http_host: str | None = None
    """The API's HTTP host; by default derived from each request's URL."""
    region: str | None = None
    credentials: Credentials | None = field(default=None, repr=False)
    api_key: str | None = field(default=None, repr=False)
    max_clock_skew_s: float = MAX_CLOCK_SKEW_S


def check(captured: CapturedRequest, api: ApiFacts) -> list[Finding]:
    """Every finding about one request, its host first."""
    headers = lower_keys(captured.request.headers)
    findings = _host(captured, headers, api)
    authorization = headers.get("authorization", "")
    if authorization.startswith(ALGORITHM):
        findings += _sigv4(captured, headers, api)
    elif "x-api-key" in headers:
        findings.append(_api_key(headers["x-api-key"], api))
    elif authorization:
        findings.append(_token(authorization, captured.sent_at))
    else:
        findings.append(
            Finding(
                Verdict.FAULT,
                "credential",
                "neither x-api-key nor authorization was sent: every request carries the "
                "credential of one auth mode",
            )
        )
    return findings


def recorded_refusal(captured: CapturedRequest) -> Finding | None:
    """The server's recorded refusal of a captured request, a fault whatever the checks
    found; None when none was recorded."""
    if captured.answer is None:
        return None
    lines = captured.answer.strip().splitlines()
    said = f": {lines[0]}" if lines else " (no error text was recorded)"
    return Finding(Verdict.FAULT, "answer", f"the server refused it{said}")


def api_host_of(url: str) -> str:
    """The API's HTTP host for a request sent to ``url`` (the realtime host's twin)."""
    netloc = urlsplit(url).netloc.rsplit("@", 1)[-1].lower()
    return netloc.replace(REALTIME_HOST_PART, HTTP_HOST_PART, 1)


def _region_of(url: str) -> str | None:
    """The region of a standard AppSync host; None for a custom domain."""
    try:
        return Endpoints.from_http_url(f"https://{api_host_of(url)}").region
    except MessageValidationError:
        return None


# -- host --------------------------------------------------------------------------------


def _host(captured: CapturedRequest, headers: dict[str, str], api: ApiFacts) -> list[Finding]:
    expected = (api.http_host or api_host_of(captured.url)).lower()
    host = headers.get("host")
    if host is None:
        if captured.request.operation is Operation.CONNECT:
            return [Finding(Verdict.FAULT, "host", "the connect's auth object has no host")]
        return []
    if host.lower() == expected:
        return [Finding(Verdict.OK, "host", f"{host} is the API's HTTP host")]
    hint = (
        ": the realtime host is only the WebSocket URL's; auth objects carry the HTTP host"
        if REALTIME_HOST_PART in host
        else ""
    )
    return [
        Finding(Verdict.FAULT, "host", f"{host!r} is not the API's HTTP host {expected!r}{hint}")
    ]


# -- API key and tokens ------------------------------------------------------------------


def _api_key(key: str, api: ApiFacts) -> Finding:
    if not key:
        return Finding(Verdict.FAULT, "API key", "x-api-key is empty")
    if api.api_key is None:
        return Finding(Verdict.UNCHECKED, "API key", "sent; not compared (no --api-key given)")
    if hmac.compare_digest(key.encode("utf-8", "surrogatepass"), api.api_key.encode("utf-8")):
        return Finding(Verdict.OK, "API key", "the key given with --api-key")
    return Finding(
        Verdict.FAULT, "API key", "x-api-key is not the key given with --api-key (neither is shown)"
    )


def _token(token: str, sent_at: float | None) -> Finding:
    if not looks_like_jwt(token):
        return Finding(
            Verdict.UNCHECKED,
            "token",
            "an opaque token (AWS_LAMBDA): only the API's authorizer function can judge it",
        )
    claims = unverified_claims(token)
    if claims is None:
        return Finding(Verdict.FAULT, "token", "it has a JWT's three parts but no JSON claims")
    when = sent_at if sent_at is not None else time.time()
    expires, not_before = _number(claims.get("exp")), _number(claims.get("nbf"))
    if expires is None:
        return Finding(Verdict.FAULT, "token", "the JWT has no numeric exp claim")
    if when > expires:
        return Finding(
            Verdict.FAULT,
            "token",
            f"the JWT expired at {_utc(expires)}, {when - expires:.0f} s before the request: "
            "refresh tokens before they expire (also for a reconnect)",
        )
    if not_before is not None and when < not_before:
        return Finding(Verdict.FAULT, "token", f"the JWT is not valid before {_utc(not_before)}")
    issuer = claims.get("iss")
    origin = f" from {issuer}" if isinstance(issuer, str) else ""
    return Finding(
        Verdict.UNCHECKED,
        "token",
        f"a JWT{origin}, current when sent (expires {_utc(expires)}); its signature is for "
        "the API's issuer to check",
    )


def _number(value: object) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None


def _utc(epoch: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(epoch))


# -- SigV4 -------------------------------------------------------------------------------


def _sigv4(captured: CapturedRequest, headers: dict[str, str], api: ApiFacts) -> list[Finding]:
    try:
        parsed = parse_authorization(headers["authorization"])
    except AuthorizationRejected as exc:
        return [Finding(Verdict.FAULT, "authorization", exc.reason)]
    findings = []
    for required in ("host", "x-amz-date"):
        if required not in parsed.signed_headers:
            findings.append(Finding(Verdict.FAULT, "signed headers", f"{required} must be signed"))
    missing = [name for name in parsed.signed_headers if name not in headers]
    if missing:
        findings.append(
            Finding(
                Verdict.FAULT,
                "signed headers",
                f"signed but not sent: {', '.join(missing)}; send every header you sign",
            )
        )
    region = api.region or _region_of(captured.url)
    findings += _scope(parsed.region, parsed.service, parsed.terminator, region)
    findings += _date(headers.get("x-amz-date", ""), parsed.date_stamp, captured.sent_at, api)
    findings.append(_signature(captured, headers, parsed.access_key, api))
    return findings


def _scope(region: str, service: str, terminator: str, api_region: str | None) -> list[Finding]:
    findings = []
    if service != SERVICE:
        findings.append(
            Finding(Verdict.FAULT, "scope", f"signed for the service {service!r}, not {SERVICE!r}")
        )
    if terminator != "aws4_request":
        findings.append(Finding(Verdict.FAULT, "scope", "the scope must end with aws4_request"))
    if api_region is None:
        findings.append(
            Finding(
                Verdict.UNCHECKED,
                "region",
                f"signed for {region}; the API's region is not known (give --region)",
            )
        )
    elif region != api_region:
        findings.append(
            Finding(Verdict.FAULT, "region", f"signed for {region}, but the API is in {api_region}")
        )
    else:
        findings.append(Finding(Verdict.OK, "region", f"signed for {region}, the API's region"))
    return findings


def _date(amz_date: str, date_stamp: str, sent_at: float | None, api: ApiFacts) -> list[Finding]:
    try:
        signed_at = parse_amz_date(amz_date)
    except ValueError as exc:
        return [Finding(Verdict.FAULT, "date", str(exc))]
    if amz_date[:8] != date_stamp:
        return [Finding(Verdict.FAULT, "date", "the scope's date is not the date of x-amz-date")]
    if sent_at is None:
        return [Finding(Verdict.UNCHECKED, "date", "when it was sent is not recorded")]
    skew = signed_at - sent_at
    if abs(skew) <= api.max_clock_skew_s:
        return [Finding(Verdict.OK, "date", f"x-amz-date is {_skew(skew)}")]
    return [
        Finding(
            Verdict.FAULT,
            "date",
            f"x-amz-date is {_skew(skew)}; AppSync allows {api.max_clock_skew_s / 60:g} min: "
            "a clock that is off, or an authorization signed once and sent again later "
            "(sign each request, a reconnect's too)",
        )
    ]


def _skew(skew: float) -> str:
    if abs(skew) < 1:
        return "within a second of the time it was sent"
    return f"{abs(skew):.0f} s {'after' if skew > 0 else 'before'} the time it was sent"


def _signature(
    captured: CapturedRequest, headers: dict[str, str], access_key: str, api: ApiFacts
) -> Finding:
    credentials = api.credentials
    if credentials is None:
        return Finding(
            Verdict.UNCHECKED,
            "signature",
            "not checked without the secret key: give the credentials the client signed "
            "with (--aws-profile or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY)",
        )
    if credentials.access_key != access_key:
        return Finding(
            Verdict.UNCHECKED,
            "signature",
            f"signed with access key …{access_key[-4:]}, but the credentials given are "
            f"for …{credentials.access_key[-4:]}",
        )
    sent_token = headers.get("x-amz-security-token")
    if (sent_token or None) != credentials.token:
        return Finding(
            Verdict.FAULT,
            "session token",
            "x-amz-security-token is not the session token of the credentials given "
            "(neither is shown): temporary credentials sign and send their own token",
        )
    request = captured.request
    server = parse_expected(captured.answer or "")
    variant = find_signed(request, credentials.secret_key)
    if variant is None:
        text = (
            "no known variant reproduces it with the given secret key: the client signed "
            "with another secret, or the request changed after it was signed"
        )
        if server is not None:
            text += "\n" + explain(compare(expected_text(request), server))
        return Finding(Verdict.FAULT, "signature", text)
    if server is None and variant.accepted:
        return Finding(Verdict.OK, "signature", f"computed over {variant.describe()}")
    expected = server or expected_text(request)
    return Finding(
        Verdict.FAULT,
        "signature",
        f"computed over {variant.describe()}\n" + explain(compare(variant.text, expected)),
    )
