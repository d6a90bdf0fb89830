"""HS256 JSON Web Tokens: minted for tests and the emulator's defaults, verified by
the emulator in place of Cognito User Pools and OIDC providers.

Only HS256 is accepted (never ``none``): the emulator shares one secret with
the harness instead of fetching a provider's public keys.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable, Mapping
from typing import Any

from harness.errors import AuthorizationRejected
from harness.signing.wire import b64url_decode, b64url_encode

BEARER_PREFIX = "bearer "
CLOCK_SKEW_S = 60.0


def mint_hs256(secret: str, claims: Mapping[str, Any]) -> str:
    """A compact HS256 JWT holding ``claims``."""
    header = b64url_encode(b'{"alg":"HS256","typ":"JWT"}')
    payload = b64url_encode(json.dumps(dict(claims), separators=(",", ":")).encode("utf-8"))
    signing_input = f"{header}.{payload}".encode("ascii")
    mac = hmac.new(secret.encode("utf-8"), signing_input, hashlib.sha256).digest()
    return f"{header}.{payload}.{b64url_encode(mac)}"


def looks_like_jwt(token: str) -> bool:
    return token.count(".") == 2


def unverified_claims(token: str) -> dict[str, Any] | None:
    """The claims of a JWT, read without checking its signature (for diagnosis only);
    None when ``token`` is not a JWT with a JSON object of claims."""
    if token[: len(BEARER_PREFIX)].lower() == BEARER_PREFIX:
        token = token[len(BEARER_PREFIX) :].strip()
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        claims = json.loads(b64url_decode(parts[1]))
    except (ValueError, RecursionError):
        return None
    return claims if isinstance(claims, dict) else None


def verify_hs256(token: str, secrets: Iterable[str], now: float) -> dict[str, Any]:
    """The claims of ``token`` if one of ``secrets`` signed it and it is current.

    A ``Bearer`` prefix is allowed (docs/protocol.md#auth-objects). ``exp`` is required and
    exact: a token past it is refused, as AppSync refuses an expired token (so a soak
    test longer than a token's life finds what AWS would); ``nbf`` is honoured with
    :data:`CLOCK_SKEW_S` of leeway. Raises
    :class:`AuthorizationRejected` (``UnauthorizedException``) naming the
    problem.
    """
    if token[: len(BEARER_PREFIX)].lower() == BEARER_PREFIX:
        token = token[len(BEARER_PREFIX) :].strip()
    parts = token.split(".")
    if len(parts) != 3:
        raise _rejected("the token is not a JWT (three dot-separated parts)")
    try:
        header = json.loads(b64url_decode(parts[0]))
        claims = json.loads(b64url_decode(parts[1]))
        mac = b64url_decode(parts[2])
    except (ValueError, RecursionError) as exc:
        raise _rejected("the token is not base64url-encoded JSON") from exc
    if not isinstance(header, dict) or header.get("alg") != "HS256":
        raise _rejected("the token's algorithm must be HS256")
    if not isinstance(claims, dict):
        raise _rejected("the token's claims must be a JSON object")
    signing_input = f"{parts[0]}.{parts[1]}".encode("ascii")
    if not any(
        hmac.compare_digest(
            hmac.new(s.encode("utf-8"), signing_input, hashlib.sha256).digest(), mac
        )
        for s in secrets
    ):
        raise _rejected("the token's signature is not valid")
    expires = claims.get("exp")
    if not isinstance(expires, int | float) or isinstance(expires, bool):
        raise _rejected("the token has no numeric 'exp' claim")
    if now >= expires:
        raise _rejected("Token expired")
    not_before = claims.get("nbf")
    if isinstance(not_before, int | float) and now + CLOCK_SKEW_S < not_before:
        raise _rejected("the token is not valid yet (nbf)")
    return claims


def _rejected(reason: str) -> AuthorizationRejected:
    return AuthorizationRejected(
        "UnauthorizedException", reason, wire_message="You are not authorized to make this call."
    )
