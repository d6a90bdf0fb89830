"""What a run talks to: a real Event API given by ``--host``, or the embedded emulator.

:class:`Target` holds the endpoints and builds the authorizer every user of a
process shares (an IAM signer caches its signing key per day, so sharing it
saves work). Against the embedded emulator, credentials that were not given
come from its documented test defaults (``harness.emulator.defaults``).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from harness.emulator import defaults
from harness.emulator.process import EmulatorProcess
from harness.loadtest.settings import DEFAULT_EMULATOR_BIND, HarnessSettings
from harness.protocol import Endpoints
from harness.signing import AuthMode, Authorizer, CredentialSource, make_authorizer
from harness.signing.jwt import mint_hs256

logger = logging.getLogger(__name__)

EMULATOR_TOKEN_LIFETIME_S = 3600
EMBEDDED_EMULATOR_LOG_LEVEL = ("--log-level", "WARNING")


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


@dataclass(frozen=True)
class Target:
    """The Event API of a run and how to authorize against it."""

    endpoints: Endpoints
    embedded: bool
    ca_file: str | None = None

    @classmethod
    def from_settings(cls, settings: HarnessSettings, host: str) -> Target:
        """``host`` is the HTTP URL Locust runs against (the emulator's when embedded)."""
        return cls(Endpoints.from_http_url(host), settings.embedded, settings.ca_file)

    def authorizer(self, settings: HarnessSettings) -> Authorizer:
        """The authorizer for ``settings.auth_mode``; raises ConfigurationError / SigningError."""
        mode = settings.auth_mode
        token: str | EmulatorToken = settings.auth_token
        credentials = None
        if mode is AuthMode.AWS_IAM:
            credentials = self._credentials(settings)
        if self.embedded and not token:
            token = (
                defaults.DEFAULT_LAMBDA_TOKEN if mode is AuthMode.AWS_LAMBDA else EmulatorToken()
            )
        region = settings.region or self.endpoints.region
        if self.embedded and not region:
            region = defaults.DEFAULT_REGION
        return make_authorizer(
            mode,
            self.endpoints.http_host,
            api_key=settings.api_key or (defaults.DEFAULT_API_KEY if self.embedded else None),
            token=token,
            region=region,
            credentials=credentials,
            sigv4_engine=settings.iam_signer,
        )

    def _credentials(self, settings: HarnessSettings) -> CredentialSource:
        if self.embedded and not settings.aws_profile:
            return CredentialSource.static(
                defaults.DEFAULT_ACCESS_KEY_ID, defaults.DEFAULT_SECRET_ACCESS_KEY
            )
        return CredentialSource.from_chain(settings.aws_profile)


def start_embedded_emulator(settings: HarnessSettings) -> EmulatorProcess:
    """Start ``python -m harness.emulator`` with ``--emulator-args`` on ``--emulator-bind``
    (by default a free port of 127.0.0.1)."""
    bind = settings.emulator_bind or DEFAULT_EMULATOR_BIND
    address = ("--host", bind.host, "--port", str(bind.port))  # last: --emulator-bind wins
    emulator = EmulatorProcess.start(
        [*EMBEDDED_EMULATOR_LOG_LEVEL, *settings.emulator_args, *address]
    )
    logger.info("embedded AppSync Events emulator at %s", emulator.info.http_url)
    if not bind.loopback:
        logger.warning(
            "the embedded emulator listens on %s, reachable from the network: it is a test "
            "server that accepts well-known test credentials (docs/emulator.md) and anyone "
            "who reaches it can use its admin API; keep it on a private network",
            bind.host,
        )
    return emulator
