"""Client-side authorization, one interface for the five auth modes.

An :class:`Authorizer` produces:

- :meth:`~Authorizer.connect_headers`: the connect auth object
  (docs/protocol.md#auth-objects), which :func:`~harness.signing.wire.encode_subprotocol`
  turns into the ``header-`` subprotocol (see :meth:`~Authorizer.connect_subprotocols`);
- :meth:`~Authorizer.message_authorization`: the ``authorization`` object of a
  subscribe (``events=None``) or WebSocket publish;
- :meth:`~Authorizer.http_headers`: the headers of an HTTP publish of ``body``.

``host`` is always the API's *HTTP* host (docs/protocol.md#endpoints). IAM signs each call afresh.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence

from harness.errors import ConfigurationError, SigningError
from harness.signing.credentials import CredentialSource
from harness.signing.sigv4 import ENGINES, IAM_CONSTANT_HEADERS, SigV4Engine
from harness.signing.wire import AuthMode, encode_subprotocol, redact, signing_body

logger = logging.getLogger(__name__)

REALTIME_SUBPROTOCOL = "aws-appsync-event-ws"
HTTP_CONTENT_TYPE = "application/json"

TokenSource = str | Callable[[], str]
"""A bearer token, or a callable returning the current one (for tokens that refresh)."""


class Authorizer(ABC):
    """Produces the authorization of one Event API for one auth mode."""

    mode: AuthMode
    signs_body = False
    """Whether the authorization depends on the body (IAM); the others skip building it."""

    def __init__(self, host: str) -> None:
        if not host:
            raise ConfigurationError("--host", "the API's HTTP host is needed for authorization")
        self.host = host

    @abstractmethod
    def _auth_headers(self, body: bytes) -> dict[str, str]:
        """The mode's headers, without ``host``, authorizing ``body``."""

    def connect_headers(self) -> dict[str, str]:
        """The auth object of a WebSocket connect (signed over ``{}`` for IAM)."""
        return self._with_host(self._auth_headers(signing_body()))

    def connect_subprotocols(self) -> list[str]:
        """``["aws-appsync-event-ws", "header-<base64url>"]``, the documented connect
        (docs/protocol.md#subprotocol)."""
        headers = self.connect_headers()
        logger.debug("connect authorization for %s: %s", self.mode.value, redact(headers))
        return [REALTIME_SUBPROTOCOL, encode_subprotocol(headers)]

    def message_authorization(
        self, channel: str, events: Sequence[str] | None = None
    ) -> dict[str, str]:
        """The ``authorization`` of a subscribe (no ``events``) or a WebSocket publish,
        signed over the body AppSync rebuilds, HTML-escaped
        (:func:`~harness.signing.wire.candidate_bodies`)."""
        body = signing_body(channel, events, html_escape=True) if self.signs_body else b""
        return self._with_host(self._auth_headers(body))

    def http_headers(self, body: bytes) -> dict[str, str]:
        """Headers for ``POST /event`` carrying exactly ``body`` (signed over it for IAM)."""
        headers = self._auth_headers(body)
        headers.setdefault("content-type", HTTP_CONTENT_TYPE)
        return self._with_host(headers)

    def _with_host(self, headers: dict[str, str]) -> dict[str, str]:
        return {"host": self.host, **headers}


class ApiKeyAuthorizer(Authorizer):
    mode = AuthMode.API_KEY

    def __init__(self, host: str, api_key: str) -> None:
        super().__init__(host)
        if not api_key:
            raise ConfigurationError("--api-key", "is required for API_KEY authorization")
        self._api_key = api_key

    def _auth_headers(self, body: bytes) -> dict[str, str]:
        return {"x-api-key": self._api_key}


class TokenAuthorizer(Authorizer):
    """Cognito User Pools, OpenID Connect and Lambda: an ``Authorization`` token
    (docs/protocol.md#auth-objects)."""

    TOKEN_MODES = (AuthMode.AMAZON_COGNITO_USER_POOLS, AuthMode.OPENID_CONNECT, AuthMode.AWS_LAMBDA)

    def __init__(self, mode: AuthMode, host: str, token: TokenSource) -> None:
        super().__init__(host)
        if mode not in self.TOKEN_MODES:
            raise ConfigurationError("--auth-mode", f"{mode.value} does not use a bearer token")
        if not token:
            raise ConfigurationError("--auth-token", f"is required for {mode.value} authorization")
        self.mode = mode
        self._token = token

    def _auth_headers(self, body: bytes) -> dict[str, str]:
        token = self._token() if callable(self._token) else self._token
        if not token:
            raise SigningError(f"the {self.mode.value} token source returned no token")
        return {"authorization": token}


class IamAuthorizer(Authorizer):
    """SigV4 over ``POST https://<host>/event`` (docs/protocol.md#sigv4), fresh credentials each
    call."""

    mode = AuthMode.AWS_IAM
    signs_body = True

    def __init__(
        self,
        host: str,
        region: str,
        credentials: CredentialSource,
        engine: SigV4Engine | str = "botocore",
    ) -> None:
        super().__init__(host)
        if not region:
            raise ConfigurationError("--region", "is required for AWS_IAM signing")
        if isinstance(engine, str):
            if engine not in ENGINES:
                raise ConfigurationError(
                    "--iam-signer",
                    f"unknown engine {engine!r}; choose one of {', '.join(ENGINES)}",
                )
            engine = ENGINES[engine]()
        self.region = region
        self._credentials = credentials
        self._engine = engine

    def _auth_headers(self, body: bytes) -> dict[str, str]:
        headers = {**IAM_CONSTANT_HEADERS, "host": self.host}
        signed = self._engine.sign(headers, body, self._credentials.current(), self.region)
        del signed["host"]
        return signed


class PerOperationAuthorizer(Authorizer):
    """One auth mode to connect, another to subscribe, another to publish, as AppSync
    allows (connection auth modes, default publish and subscribe modes per API or
    namespace; Amplify's per-call ``authMode``)."""

    def __init__(self, connect: Authorizer, subscribe: Authorizer, publish: Authorizer) -> None:
        super().__init__(connect.host)
        self.mode = connect.mode
        self.signs_body = publish.signs_body
        self.connect, self.subscribe, self.publish = connect, subscribe, publish

    def _auth_headers(self, body: bytes) -> dict[str, str]:
        raise NotImplementedError("each operation goes to its own authorizer")

    def connect_headers(self) -> dict[str, str]:
        return self.connect.connect_headers()

    def message_authorization(
        self, channel: str, events: Sequence[str] | None = None
    ) -> dict[str, str]:
        chosen = self.subscribe if events is None else self.publish
        return chosen.message_authorization(channel, events)

    def http_headers(self, body: bytes) -> dict[str, str]:
        return self.publish.http_headers(body)


def make_authorizer(
    mode: AuthMode,
    host: str,
    *,
    api_key: str | None = None,
    token: TokenSource | None = None,
    region: str | None = None,
    credentials: CredentialSource | None = None,
    sigv4_engine: str = "botocore",
) -> Authorizer:
    """The authorizer for ``mode``; a missing setting raises :class:`ConfigurationError`
    naming its option."""
    if mode is AuthMode.API_KEY:
        return ApiKeyAuthorizer(host, api_key or "")
    if mode is AuthMode.AWS_IAM:
        return IamAuthorizer(
            host, region or "", credentials or CredentialSource.from_chain(), sigv4_engine
        )
    return TokenAuthorizer(mode, host, token or "")
