"""Authorizing as the emulator's documented test identity (``harness.emulator.defaults``).

A client of the emulator that was given no credentials of its own (the load
test against the embedded emulator, ``python -m harness.diagnose`` without
``--host``) takes them from here: the test API key, the test IAM key pair, a
JWT minted with the test secret for Cognito and OIDC, the test Lambda token.
Whatever was given wins. :func:`signer_for` makes that choice, or the real API's,
for both.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from harness.emulator import defaults
from harness.signing import AuthMode, Authorizer, CredentialSource, make_authorizer
from harness.signing.authorizers import TokenSource
from harness.signing.jwt import mint_hs256

EMULATOR_TOKEN_LIFETIME_S = 3600


class EmulatorToken:
    """A JWT for the emulator's Cognito/OIDC modes, minted again before it expires."""

    def __init__(self, secret: str = defaults.DEFAULT_JWT_SECRET, subject: str = "harness") -> None:
        self._secret = secret
        self._subject = subject
        self._token = ""
        self._expires = 0.0

    def __call__(self) -> str:
        now = time.time()
        if now > self._expires - 60:
            self._expires = now + EMULATOR_TOKEN_LIFETIME_S
            claims = {"sub": self._subject, "exp": int(self._expires)}
            self._token = mint_hs256(self._secret, claims)
        return self._token


def emulator_credentials() -> CredentialSource:
    """The emulator's test IAM key pair."""
    return CredentialSource.static(
        defaults.DEFAULT_ACCESS_KEY_ID, defaults.DEFAULT_SECRET_ACCESS_KEY
    )


@dataclass(frozen=True)
class Signer:
    """How a client authorizes against its target."""

    authorizer: Authorizer
    credentials: CredentialSource | None
    """The IAM credential source it signs with; None for the other modes."""


def signer_for(
    mode: AuthMode,
    http_host: str,
    *,
    embedded: bool,
    api_key: str = "",
    token: TokenSource = "",
    region: str | None = None,
    aws_profile: str | None = None,
    sigv4_engine: str = "fast",
) -> Signer:
    """The authorizer for ``mode``: against an ``embedded`` emulator started without
    credentials of its own, each setting left empty is its test value (an
    ``aws_profile`` still wins for IAM); against a real API, IAM credentials come from
    botocore's chain (or ``aws_profile``). A missing setting raises
    :class:`~harness.errors.ConfigurationError` naming its option."""
    credentials = None
    if mode is AuthMode.AWS_IAM:
        if aws_profile or not embedded:
            credentials = CredentialSource.from_chain(aws_profile or None)
        else:
            credentials = emulator_credentials()
    if embedded:
        api_key = api_key or defaults.DEFAULT_API_KEY
        region = region or defaults.DEFAULT_REGION
        if not token:
            lambda_mode = mode is AuthMode.AWS_LAMBDA
            token = defaults.DEFAULT_LAMBDA_TOKEN if lambda_mode else EmulatorToken()
    authorizer = make_authorizer(
        mode,
        http_host,
        api_key=api_key,
        token=token,
        region=region,
        credentials=credentials,
        sigv4_engine=sigv4_engine,
    )
    return Signer(authorizer, credentials)


def emulator_authorizer(mode: AuthMode, http_host: str) -> Authorizer:
    """The authorizer for ``mode`` with the emulator's test identity."""
    return signer_for(mode, http_host, embedded=True).authorizer
