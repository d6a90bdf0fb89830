"""The emulator's settings: credentials, namespaces and their auth modes, timings, faults.

A namespace spec is ``NAME[:publish=MODES][:subscribe=MODES]`` with MODES a
comma- or ``+``-separated list of auth modes. As AppSync models them
(docs/protocol.md#channels), the API has connection auth modes and default publish
and subscribe modes; a namespace without its own modes uses the API's defaults, and
defaults that are not given are the connection modes.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from harness.emulator import defaults
from harness.emulator.faults import FaultSpec
from harness.emulator.handlers.namespace import HandlerSpec
from harness.emulator.identity_pool import DEFAULT_CREDENTIALS_TTL_S
from harness.emulator.quotas import Quotas
from harness.errors import ConfigurationError
from harness.protocol import (
    DEFAULT_CONNECTION_TIMEOUT_MS,
    DEFAULT_KEEPALIVE_INTERVAL_S,
    MAX_CONNECTION_DURATION_S,
)
from harness.signing import AuthMode, IamKey, VerifierConfig
from harness.signing.verify import IamKeyChain, IamKeyLookup

_NAMESPACE_NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,48}[A-Za-z0-9])?")
IDENTITY_POOL_ID = re.compile(r"[\w-]+:[0-9a-f-]+")
"""An identity pool id, ``REGION:GUID`` (the pattern of botocore's service model)."""
DEFAULT_MAX_QUEUED_FRAMES = 50_000
DEFAULT_HANDLER_TIME_LIMIT_MS = 1000.0
_JWT_MODES = (AuthMode.AMAZON_COGNITO_USER_POOLS, AuthMode.OPENID_CONNECT)


@dataclass(frozen=True)
class NamespaceSettings:
    """A channel namespace; ``None`` modes mean the API's defaults."""

    name: str
    publish_modes: tuple[AuthMode, ...] | None = None
    subscribe_modes: tuple[AuthMode, ...] | None = None

    @classmethod
    def parse(cls, text: str, *, option: str = "--namespace") -> NamespaceSettings:
        name, *parts = text.strip().split(":")
        if not _NAMESPACE_NAME.fullmatch(name):
            raise ConfigurationError(
                option,
                f"namespace name {name!r} must be 1 to 50 letters, digits or '-', "
                "not starting or ending with '-'",
            )
        modes: dict[str, tuple[AuthMode, ...]] = {}
        for part in parts:
            key, equals, value = part.partition("=")
            key = key.strip().lower()
            if not equals or key not in ("publish", "subscribe"):
                raise ConfigurationError(
                    option, f"expected publish=MODES or subscribe=MODES, got {part!r} in {text!r}"
                )
            if key in modes:
                raise ConfigurationError(option, f"{key}= is given twice in {text!r}")
            modes[key] = AuthMode.parse_list(value, option=option)
        return cls(name, modes.get("publish"), modes.get("subscribe"))


@dataclass(frozen=True)
class EmulatorSettings:
    """Everything the emulator needs to start. Build with :meth:`with_credentials`
    or directly; :func:`harness.emulator.cli.parse_settings` reads the command line."""

    host: str = "127.0.0.1"
    port: int = 0
    tls: bool = False
    api_keys: tuple[str, ...] = field(default=(), repr=False)
    iam_keys: Mapping[str, IamKey] = field(default_factory=dict, repr=False)
    jwt_secret: str | None = field(default=None, repr=False)
    lambda_tokens: tuple[str, ...] = field(default=(), repr=False)
    region: str = defaults.DEFAULT_REGION
    namespaces: tuple[NamespaceSettings, ...] = (NamespaceSettings(defaults.DEFAULT_NAMESPACE),)
    connection_auth: tuple[AuthMode, ...] | None = None
    default_publish_auth: tuple[AuthMode, ...] | None = None
    default_subscribe_auth: tuple[AuthMode, ...] | None = None
    lenient_signed_bodies: bool = False
    """Also accept a WebSocket publish signed over the compact body where AppSync
    requires the HTML-escaped one (events holding ``<``, ``>`` or ``&``)."""
    keepalive_interval_s: float = DEFAULT_KEEPALIVE_INTERVAL_S
    connection_timeout_ms: int = DEFAULT_CONNECTION_TIMEOUT_MS
    max_connection_duration_s: float = MAX_CONNECTION_DURATION_S
    faults: tuple[FaultSpec, ...] = ()
    seed: int | None = None
    max_queued_frames: int = DEFAULT_MAX_QUEUED_FRAMES
    quotas: Quotas = field(default_factory=Quotas)
    handlers: tuple[HandlerSpec, ...] = ()
    """Namespace handler files (docs/emulator.md#handlers)."""
    handler_time_limit_ms: float = DEFAULT_HANDLER_TIME_LIMIT_MS
    handler_latency_ms: float = 0.0
    identity_pool_id: str = defaults.DEFAULT_IDENTITY_POOL_ID
    """The Cognito identity pool served on its own port (docs/emulator.md#cognito-identity)."""
    identity_pool_port: int = 0
    identity_credentials_ttl_s: float = DEFAULT_CREDENTIALS_TTL_S

    @classmethod
    def with_default_credentials(cls, **overrides: object) -> EmulatorSettings:
        """Settings holding the documented test credentials of :mod:`.defaults`."""
        return cls(
            api_keys=(defaults.DEFAULT_API_KEY,),
            iam_keys={defaults.DEFAULT_ACCESS_KEY_ID: IamKey(defaults.DEFAULT_SECRET_ACCESS_KEY)},
            jwt_secret=defaults.DEFAULT_JWT_SECRET,
            lambda_tokens=(defaults.DEFAULT_LAMBDA_TOKEN,),
            **overrides,  # type: ignore[arg-type]
        )

    def configured_modes(self) -> tuple[AuthMode, ...]:
        """The auth modes some credential was given for."""
        modes: list[AuthMode] = []
        if self.api_keys:
            modes.append(AuthMode.API_KEY)
        if self.iam_keys:
            modes.append(AuthMode.AWS_IAM)
        if self.jwt_secret:
            modes.extend(_JWT_MODES)
        if self.lambda_tokens:
            modes.append(AuthMode.AWS_LAMBDA)
        return tuple(modes)

    @property
    def connection_modes(self) -> tuple[AuthMode, ...]:
        return self.connection_auth or self.configured_modes()

    def operation_modes(
        self, namespace: NamespaceSettings, *, publish: bool
    ) -> tuple[AuthMode, ...]:
        """The modes a publish or subscribe in ``namespace`` accepts: the namespace's own,
        else the API's default for the operation, else the connection modes."""
        own = namespace.publish_modes if publish else namespace.subscribe_modes
        default = self.default_publish_auth if publish else self.default_subscribe_auth
        return own or default or self.connection_modes

    def namespace(self, name: str) -> NamespaceSettings | None:
        for namespace in self.namespaces:
            if namespace.name == name:
                return namespace
        return None

    def validate(self) -> None:
        """Raise :class:`ConfigurationError` naming the first setting that cannot work."""
        if not 0 <= self.port <= 65535:
            raise ConfigurationError("--port", f"must be 0 to 65535, not {self.port}")
        self._check_identity_pool()
        if not self.configured_modes():
            raise ConfigurationError(
                "--api-key",
                "no credentials: give at least one of --api-key, --iam, "
                "--jwt-secret, --lambda-token (or none, for the default test credentials)",
            )
        for option, value in (
            ("--keepalive-interval-s", self.keepalive_interval_s),
            ("--connection-timeout-ms", self.connection_timeout_ms),
            ("--max-connection-duration-s", self.max_connection_duration_s),
        ):
            if not (math.isfinite(value) and value > 0):
                raise ConfigurationError(option, f"must be a positive finite number, not {value}")
        if self.max_queued_frames <= 0:
            raise ConfigurationError("--max-queued-frames", "must be positive")
        if not self.namespaces:
            raise ConfigurationError("--namespace", "at least one namespace is needed")
        names = [namespace.name for namespace in self.namespaces]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ConfigurationError("--namespace", f"given twice: {', '.join(duplicates)}")
        self._check_handlers(names)
        configured = set(self.configured_modes())
        self._check_modes("--connection-auth", self.connection_modes, configured)
        for option, default in (
            ("--default-publish-auth", self.default_publish_auth),
            ("--default-subscribe-auth", self.default_subscribe_auth),
        ):
            if default:
                self._check_modes(option, default, configured)
        for namespace in self.namespaces:
            for modes in (namespace.publish_modes, namespace.subscribe_modes):
                if modes:
                    self._check_modes("--namespace", modes, configured)

    def _check_identity_pool(self) -> None:
        if not (
            len(self.identity_pool_id) <= 55 and IDENTITY_POOL_ID.fullmatch(self.identity_pool_id)
        ):
            raise ConfigurationError(
                "--identity-pool-id",
                f"must be REGION:GUID (at most 55 characters), not {self.identity_pool_id!r}",
            )
        if not 0 <= self.identity_pool_port <= 65535:
            raise ConfigurationError(
                "--identity-pool-port", f"must be 0 to 65535, not {self.identity_pool_port}"
            )
        ttl = self.identity_credentials_ttl_s
        if not (math.isfinite(ttl) and ttl > 0):
            raise ConfigurationError(
                "--identity-credentials-ttl-s", f"must be a positive finite number, not {ttl}"
            )

    def _check_handlers(self, namespaces: list[str]) -> None:
        if not (math.isfinite(self.handler_time_limit_ms) and self.handler_time_limit_ms > 0):
            raise ConfigurationError(
                "--handler-time-limit-ms", f"must be positive, not {self.handler_time_limit_ms}"
            )
        if not (math.isfinite(self.handler_latency_ms) and self.handler_latency_ms >= 0):
            raise ConfigurationError(
                "--handler-latency-ms", f"must be 0 or more, not {self.handler_latency_ms}"
            )
        seen: set[str] = set()
        for spec in self.handlers:
            if spec.namespace not in namespaces:
                raise ConfigurationError(
                    "--handlers",
                    f"namespace {spec.namespace!r} is not one of this API's "
                    f"({', '.join(namespaces)}; see --namespace)",
                )
            if spec.namespace in seen:
                raise ConfigurationError("--handlers", f"{spec.namespace!r} is given twice")
            seen.add(spec.namespace)

    @staticmethod
    def _check_modes(option: str, modes: tuple[AuthMode, ...], configured: set[AuthMode]) -> None:
        missing = [mode.value for mode in modes if mode not in configured]
        if missing:
            raise ConfigurationError(
                option,
                f"no credentials are configured for {', '.join(missing)} "
                "(see --api-key, --iam, --jwt-secret, --lambda-token)",
            )

    def verifier_config(
        self, hosts: frozenset[str], issued_keys: IamKeyLookup | None = None
    ) -> VerifierConfig:
        """What the verifier accepts; ``issued_keys``, credentials issued while the
        emulator runs (its identity pool), consulted after the configured keys."""
        configured = dict(self.iam_keys)
        return VerifierConfig(
            region=self.region,
            api_keys=frozenset(self.api_keys),
            iam_keys=configured if issued_keys is None else IamKeyChain((configured, issued_keys)),
            jwt_secrets=(self.jwt_secret,) if self.jwt_secret else (),
            lambda_tokens=frozenset(self.lambda_tokens),
            hosts=hosts,
        )
