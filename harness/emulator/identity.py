"""Authorizing as the emulator's documented test identity (``harness.emulator.defaults``).

A client of the emulator that was given no credentials of its own (the load
test against the embedded emulator, ``python -m harness.diagnose`` without
``--host``) takes them from here: the test API key, the test IAM key pair, a
JWT minted with the test secret for Cognito and OIDC, the test Lambda token.
Whatever was given wins.
"""

from __future__ import annotations

import time

from harness.emulator import defaults
from harness.signing import AuthMode, Authorizer, CredentialSource, make_authorizer
from harness.signing.authorizers import TokenSource
from harness.signing.jwt import mint_hs256

EMULATOR_TOKEN_LIFETIME_S = 3600


class EmulatorToken:
    """A JWT for the emulator's Cognito/OIDC modes, minted again before it expires."""

    def __init__(self, secret: str = defaults.DEFAULT_JWT_SECRET) -> None:
        self._secret = secret
        self._token = ""
        self._expires = 0.0

    def __call__(self) -> str:
        now = time.time()
        if now > self._expires - 60:
            self._expires = now + EMULATOR_TOKEN_LIFETIME_S
            claims = {"sub": "harness", "exp": int(self._expires)}
            self._token = mint_hs256(self._secret, claims)
        return self._token


def emulator_credentials() -> CredentialSource:
    """The emulator's test IAM key pair."""
    return CredentialSource.static(
        defaults.DEFAULT_ACCESS_KEY_ID, defaults.DEFAULT_SECRET_ACCESS_KEY
    )


def emulator_authorizer(
    mode: AuthMode,
    http_host: str,
    *,
    api_key: str = "",
    token: TokenSource = "",
    region: str | None = None,
    credentials: CredentialSource | None = None,
    sigv4_engine: str = "fast",
) -> Authorizer:
    """The authorizer for ``mode`` against an emulator started without credentials of its
    own: each setting left empty is the emulator's test value."""
    if not token:
        token = defaults.DEFAULT_LAMBDA_TOKEN if mode is AuthMode.AWS_LAMBDA else EmulatorToken()
    if mode is AuthMode.AWS_IAM and credentials is None:
        credentials = emulator_credentials()
    return make_authorizer(
        mode,
        http_host,
        api_key=api_key or defaults.DEFAULT_API_KEY,
        token=token,
        region=region or defaults.DEFAULT_REGION,
        credentials=credentials,
        sigv4_engine=sigv4_engine,
    )
