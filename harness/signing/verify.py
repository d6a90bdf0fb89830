"""Server-side verification of AppSync Events authorization, used by the emulator.

:meth:`AuthVerifier.verify` takes a header map (the decoded ``header-``
subprotocol or upgrade headers for connect, a message's ``authorization`` for
subscribe and publish, the request headers for HTTP publish), the modes the
operation allows, and the bodies the client may have signed, and returns the
mode that accepted it or raises :class:`AuthorizationRejected`.

SigV4 is checked as docs/protocol.md#sigv4 describes: the client's
``SignedHeaders`` are honoured, the canonical URI is ``/event``, the body is
rebuilt from the parsed message (:func:`~harness.signing.wire.candidate_bodies`),
the credential scope must name this region and ``appsync``, ``x-amz-date`` must
be within five minutes of the server clock, the access key (and its session
token) must be known and, for temporary credentials, not expired, and signatures
and tokens are compared in constant time. Keys come from an :class:`IamKeyLookup`:
a mapping, or a registry consulted live (the emulator's identity pool issues
credentials while it runs). A
signature that does not match yields ``BadRequestException`` with AppSync's
text and the canonical request and string-to-sign the server expected (docs/protocol.md#errors).
"""

from __future__ import annotations

import hmac
import logging
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from harness.errors import AuthorizationRejected, CredentialsExpired
from harness.signing import jwt
from harness.signing.sigv4 import (
    ALGORITHM,
    SERVICE,
    amz_date,
    canonical_request,
    credential_scope,
    parse_amz_date,
    parse_authorization,
    sha256_hex,
    signature,
    signing_key,
    string_to_sign,
)
from harness.signing.wire import AuthMode, Operation, lower_keys

logger = logging.getLogger(__name__)

MAX_CLOCK_SKEW_S = 300.0
NOT_AUTHORIZED = "You are not authorized to make this call."
INVALID_TOKEN = "The security token included in the request is invalid."
EXPIRED_TOKEN = "The security token included in the request is expired"
"""AWS's ExpiredToken text (STS, and the services that check its credentials)."""
SIGNATURE_MISMATCH = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your AWS Secret Access Key and signing method. "
    "Consult the service documentation for details."
)


@dataclass(frozen=True, slots=True)
class IamKey:
    """A known IAM credential: its secret and, for temporary credentials, its session
    token and the time (epoch seconds) from which it is refused as expired."""

    secret_key: str = field(repr=False)
    session_token: str | None = field(default=None, repr=False)
    expires_at: float | None = None


class IamKeyLookup(Protocol):
    """Where the verifier finds an access key id's credential: a ``Mapping``, or a
    registry that changes while the verifier runs."""

    def get(self, access_key: str, /) -> IamKey | None: ...


@dataclass(frozen=True)
class IamKeyChain:
    """Several lookups, asked in order (configured keys, then issued ones)."""

    lookups: tuple[IamKeyLookup, ...]

    def get(self, access_key: str, /) -> IamKey | None:
        for lookup in self.lookups:
            key = lookup.get(access_key)
            if key is not None:
                return key
        return None


_NO_KEYS: Mapping[str, IamKey] = {}


@dataclass(frozen=True)
class VerifierConfig:
    """What the verifier accepts. ``hosts``: the values ``host`` may take, compared
    case-insensitively (``None``: any)."""

    region: str = "us-east-1"
    api_keys: frozenset[str] = field(default_factory=frozenset, repr=False)
    iam_keys: IamKeyLookup = field(default_factory=lambda: _NO_KEYS, repr=False)
    jwt_secrets: tuple[str, ...] = field(default=(), repr=False)
    lambda_tokens: frozenset[str] = field(default_factory=frozenset, repr=False)
    hosts: frozenset[str] | None = None
    max_clock_skew_s: float = MAX_CLOCK_SKEW_S


class AuthVerifier:
    """Checks authorization against a :class:`VerifierConfig` and a clock."""

    def __init__(self, config: VerifierConfig, clock: Callable[[], float] = time.time) -> None:
        self.config = config
        self._clock = clock
        self._hosts = None if config.hosts is None else frozenset(h.lower() for h in config.hosts)

    def verify(
        self,
        headers: Mapping[str, str] | None,
        allowed_modes: Collection[AuthMode],
        operation: Operation,
        bodies: Sequence[bytes],
    ) -> AuthMode:
        """The mode that authorizes this request, or :class:`AuthorizationRejected`.

        Each allowed mode whose credential is present is tried; IAM's
        signature errors are final (``BadRequestException``), other failures
        give ``UnauthorizedException`` with the most specific reason found.
        """
        if not bodies:
            raise ValueError("verify() needs at least one candidate body")
        lowered = lower_keys(headers or {})
        self._check_host(lowered, operation)
        authorization = lowered.get("authorization", "")
        is_sigv4 = authorization.startswith(ALGORITHM)
        reasons: list[str] = []
        for mode in allowed_modes:
            reason = self._try_mode(mode, lowered, authorization, is_sigv4, bodies)
            if reason is None:
                return mode
            if reason:
                reasons.append(f"{mode.value}: {reason}")
        if not reasons:
            modes = ", ".join(mode.value for mode in allowed_modes) or "none"
            reasons.append(f"no credential for the allowed auth modes ({modes}) was sent")
        reason = "; ".join(reasons)
        logger.debug("%s refused: %s", operation.value, reason)
        raise AuthorizationRejected("UnauthorizedException", reason, wire_message=NOT_AUTHORIZED)

    def _check_host(self, headers: Mapping[str, str], operation: Operation) -> None:
        host = headers.get("host")
        if host is None:
            if operation is Operation.CONNECT:
                raise AuthorizationRejected(
                    "UnauthorizedException",
                    "connect authorization has no 'host'",
                    wire_message=NOT_AUTHORIZED,
                )
            return
        if self._hosts is not None and host.lower() not in self._hosts:
            raise AuthorizationRejected(
                "UnauthorizedException",
                f"host {host[:80]!r} is not this API's HTTP host",
                wire_message=NOT_AUTHORIZED,
            )

    def _try_mode(
        self,
        mode: AuthMode,
        headers: Mapping[str, str],
        authorization: str,
        is_sigv4: bool,
        bodies: Sequence[bytes],
    ) -> str | None:
        """``None`` if ``mode`` accepts, ``""`` if its credential is absent, else why not."""
        if mode is AuthMode.API_KEY:
            key = headers.get("x-api-key")
            if key is None:
                return ""
            return None if _known(key, self.config.api_keys) else "the API key is not valid"
        if mode is AuthMode.AWS_IAM:
            if not is_sigv4:
                return ""
            self._verify_sigv4(headers, authorization, bodies)
            return None
        if not authorization or is_sigv4:
            return ""
        if mode is AuthMode.AWS_LAMBDA:
            if _known(authorization, self.config.lambda_tokens):
                return None
            return "the Lambda authorizer denied the token"
        if not self.config.jwt_secrets:
            return "no JWT issuer is configured"
        try:
            jwt.verify_hs256(authorization, self.config.jwt_secrets, self._clock())
        except AuthorizationRejected as exc:
            return exc.reason
        return None

    # -- SigV4 ----------------------------------------------------------------

    def _verify_sigv4(
        self, headers: Mapping[str, str], authorization: str, bodies: Sequence[bytes]
    ) -> None:
        parsed = parse_authorization(authorization)
        signed = parsed.signed_headers
        for required in ("host", "x-amz-date"):
            if required not in signed:
                raise _bad_request(f"'{required}' must be among the signed headers")
        missing = [name for name in signed if name not in headers]
        if missing:
            raise _bad_request(
                f"signed header(s) {', '.join(missing)[:200]} are not in the request"
            )
        request_date = headers["x-amz-date"]
        self._check_scope(
            parsed.date_stamp, parsed.region, parsed.service, parsed.terminator, request_date
        )
        key = self._lookup_key(parsed.access_key, headers.get("x-amz-security-token"))
        scope = credential_scope(parsed.date_stamp, parsed.region, parsed.service)
        derived = signing_key(key.secret_key, parsed.date_stamp, parsed.region, parsed.service)
        expected: list[tuple[str, str]] = []
        for body in bodies:
            canonical = canonical_request(headers, signed, sha256_hex(body))
            to_sign = string_to_sign(request_date, scope, canonical)
            if hmac.compare_digest(signature(derived, to_sign), parsed.signature):
                return
            expected.append((canonical, to_sign))
        canonical, to_sign = expected[0]
        raise AuthorizationRejected(
            "BadRequestException",
            "the SigV4 signature does not match (canonical URI /event, "
            f"signed headers {';'.join(signed)}, body sha256 {sha256_hex(bodies[0])})",
            wire_message=(
                f"{SIGNATURE_MISMATCH}\n\nThe Canonical String for this request should have been\n"
                f"'{canonical}'\n\nThe String-to-Sign should have been\n'{to_sign}'\n"
            ),
        )

    def _check_scope(
        self, date_stamp: str, region: str, service: str, terminator: str, request_date: str
    ) -> None:
        if region != self.config.region:
            raise _bad_request(f"Credential should be scoped to a valid region, not '{region}'.")
        if service != SERVICE:
            raise _bad_request(f"Credential should be scoped to correct service: '{SERVICE}'.")
        if terminator != "aws4_request":
            raise _bad_request(
                "Credential should be scoped with a valid terminator: 'aws4_request'."
            )
        try:
            signed_at = parse_amz_date(request_date)
        except ValueError:
            raise _bad_request("x-amz-date must be YYYYMMDDTHHMMSSZ") from None
        if request_date[:8] != date_stamp:
            raise _bad_request("Date in Credential scope does not match YYYYMMDD from x-amz-date.")
        now = self._clock()
        skew = self.config.max_clock_skew_s
        if signed_at < now - skew:
            raise _bad_request(
                f"Signature expired: {request_date} is now earlier than "
                f"{amz_date(now - skew)} ({amz_date(now)} - {skew / 60:g} min.)"
            )
        if signed_at > now + skew:
            raise _bad_request(
                f"Signature not yet current: {request_date} is still later than "
                f"{amz_date(now + skew)} ({amz_date(now)} + {skew / 60:g} min.)"
            )

    def _lookup_key(self, access_key: str, session_token: str | None) -> IamKey:
        key = self.config.iam_keys.get(access_key)
        if key is None:
            raise _unauthorized("the access key id is not known to this API")
        if key.session_token is None:
            if session_token is not None:
                raise _unauthorized("a session token was sent for long-term credentials")
        elif session_token is None or not hmac.compare_digest(
            session_token.encode("utf-8", "surrogatepass"),
            key.session_token.encode("utf-8", "surrogatepass"),
        ):
            raise _unauthorized("the session token is missing or does not match the access key id")
        if key.expires_at is not None and self._clock() >= key.expires_at:
            raise CredentialsExpired(
                "UnauthorizedException",
                "the temporary credentials have expired",
                wire_message=EXPIRED_TOKEN,
            )
        return key


def _known(value: str, accepted: Collection[str]) -> bool:
    """Constant-time membership test, so timing does not reveal how close a guess was."""
    encoded = value.encode("utf-8", "surrogatepass")  # a client's lone surrogate is no match
    found = False
    for candidate in accepted:
        found |= hmac.compare_digest(encoded, candidate.encode("utf-8", "surrogatepass"))
    return found


def _bad_request(reason: str) -> AuthorizationRejected:
    return AuthorizationRejected("BadRequestException", reason)


def _unauthorized(reason: str) -> AuthorizationRejected:
    return AuthorizationRejected("UnauthorizedException", reason, wire_message=INVALID_TOKEN)
