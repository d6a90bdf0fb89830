"""What subscribe and publish do, shared by the WebSocket and HTTP paths.

Errors a client gets back are :class:`OperationRefused`, carrying the AppSync
``errorType`` and message. Where the service's type is not documented
(docs/protocol.md#errors, #open-questions), these are the choices, each taken from
the Kotlin SDK's mapping or the GraphQL real-time equivalent:

========================================  ===============================  ======
case                                      errorType                        HTTP
========================================  ===============================  ======
bad id, bad channel, bad events           BadRequestException              400
signature mismatch                        BadRequestException              400
bad or missing credentials, wrong mode    UnauthorizedException            401
namespace does not exist                  ResourceNotFound                 404
duplicate subscription id                 DuplicatedOperationError         -
more than 200 subscriptions               MaxSubscriptionsReachedError     -
over 25 publishes/s, or a throttle fault  LimitExceededError               429
over the API's inbound-events quota       LimitExceededError               429
a request over the request-bytes quota    PayloadTooLargeException         413
========================================  ===============================  ======
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from harness.emulator.broker import Broker
from harness.emulator.faults import FaultKind, FaultSet
from harness.emulator.quotas import bucket
from harness.emulator.settings import EmulatorSettings
from harness.emulator.stats import EmulatorStats
from harness.errors import AuthorizationRejected, HarnessError, MessageValidationError
from harness.protocol import (
    Channel,
    ChannelPattern,
    ErrorDetail,
    PublishFailure,
    PublishResult,
    event_too_large,
    parse_channel,
    parse_channel_pattern,
    validate_events,
    validate_operation_id,
)
from harness.signing import (
    AuthMode,
    AuthVerifier,
    Operation,
    candidate_bodies,
    decode_subprotocol,
)
from harness.signing.sigv4 import ALGORITHM

logger = logging.getLogger(__name__)

INVALID_CHANNEL = "Invalid Channel Format"
EVENT_TOO_LARGE = "Transformed event is larger than 240KB"
_STATUS_BY_TYPE = {
    "UnauthorizedException": 401,
    "ResourceNotFound": 404,
    "LimitExceededError": 429,
    "PayloadTooLargeException": 413,
}


class OperationRefused(HarnessError):
    """An operation the emulator answers with an error (``*_error``, or an HTTP error).

    ``message`` is the text sent to the client. For a signature mismatch it echoes
    the canonical request, which may hold the client's session token, so it is
    kept out of ``str()`` and ``repr()``, as in :class:`AuthorizationRejected`.
    """

    def __init__(self, error_type: str, message: str) -> None:
        self.error_type = error_type
        self.message = message
        super().__init__(error_type)

    def __repr__(self) -> str:
        return f"OperationRefused(error_type={self.error_type!r})"

    @property
    def detail(self) -> ErrorDetail:
        return ErrorDetail(self.error_type, self.message)

    @property
    def http_status(self) -> int:
        return _STATUS_BY_TYPE.get(self.error_type, 400)


@dataclass(frozen=True, slots=True)
class PublishOutcome:
    successful: tuple[PublishResult, ...]
    failed: tuple[PublishFailure, ...]


def check_id(op_id: str) -> None:
    try:
        validate_operation_id(op_id)
    except MessageValidationError as exc:
        raise OperationRefused("BadRequestException", f"Invalid id: {exc.reason}") from None


class Operations:
    """Authorization, validation and publishing against one emulator's state."""

    def __init__(
        self,
        settings: EmulatorSettings,
        verifier: AuthVerifier,
        broker: Broker,
        stats: EmulatorStats,
        faults: FaultSet,
    ) -> None:
        self._settings = settings
        self._verifier = verifier
        self._broker = broker
        self._stats = stats
        self._faults = faults
        self._inbound = bucket(settings.quotas.inbound_events)

    def authorize(
        self,
        headers: Mapping[str, str] | None,
        modes: Sequence[AuthMode],
        operation: Operation,
        bodies: Sequence[bytes],
    ) -> AuthMode:
        """The accepting mode, or :class:`OperationRefused` with AppSync's answer
        (docs/protocol.md#sigv4, #errors)."""
        try:
            return self._verifier.verify(headers, modes, operation, bodies)
        except AuthorizationRejected as exc:
            self._stats.auth_failures[exc.error_type] += 1
            logger.debug("%s refused: %s", operation.value, exc.reason)
            raise OperationRefused(exc.error_type, exc.wire_message) from None

    def authorize_connect(
        self, subprotocol_token: str | None, upgrade_headers: Mapping[str, str]
    ) -> AuthMode:
        """Check a connect's auth: the ``header-`` subprotocol when offered, else the
        upgrade request's own headers, as the Swift and Kotlin SDKs send them
        (docs/protocol.md#upgrade-headers)."""
        try:
            headers = (
                decode_subprotocol(subprotocol_token)
                if subprotocol_token is not None
                else upgrade_headers
            )
        except AuthorizationRejected as exc:
            self._stats.auth_failures[exc.error_type] += 1
            raise OperationRefused(exc.error_type, exc.wire_message) from None
        return self.authorize(headers, self._settings.connection_modes, Operation.CONNECT, (b"{}",))

    def _modes(self, namespace_name: str, publish: bool) -> tuple[AuthMode, ...]:
        namespace = self._settings.namespace(namespace_name)
        if namespace is None:
            raise OperationRefused("ResourceNotFound", "Namespace not found")
        return self._settings.operation_modes(namespace, publish=publish)

    def authorize_subscribe(
        self, channel_text: str, authorization: Mapping[str, str] | None
    ) -> ChannelPattern:
        """Check a subscribe's channel, namespace and authorization; the pattern to add."""
        try:
            pattern = parse_channel_pattern(channel_text)
        except MessageValidationError as exc:
            logger.debug("subscribe channel refused: %s", exc.reason)
            raise OperationRefused("BadRequestException", INVALID_CHANNEL) from None
        modes = self._modes(pattern.namespace, publish=False)
        bodies = self._candidate_bodies(authorization, channel_text, None)
        self.authorize(authorization, modes, Operation.SUBSCRIBE, bodies)
        return pattern

    def publish(
        self,
        channel_text: str,
        events: Sequence[str],
        headers: Mapping[str, str] | None,
        operation: Operation,
        raw_body: bytes | None = None,
        *,
        request_bytes: int = 0,
    ) -> PublishOutcome:
        """Validate, authorize and fan out one publish (WebSocket, or HTTP with its
        ``raw_body``, which is what HTTP SigV4 signs) of ``request_bytes`` on the wire."""
        limit = self._settings.quotas.request_bytes
        if limit is not None and request_bytes > limit:
            self._stats.requests_too_large += 1
            raise OperationRefused(
                "PayloadTooLargeException", f"Request payload is larger than {limit} bytes"
            )
        if self._faults.fires(FaultKind.THROTTLE):
            self._stats.publishes_throttled += 1
            raise OperationRefused("LimitExceededError", "Rate exceeded (injected fault)")
        channel = self._parse_publish_channel(channel_text)
        modes = self._modes(channel.namespace, publish=True)
        try:
            validate_events(events)
        except MessageValidationError as exc:
            raise OperationRefused("BadRequestException", f"{exc.field} {exc.reason}") from None
        bodies = (
            (raw_body,)
            if raw_body is not None
            else self._candidate_bodies(headers, channel_text, events)
        )
        self.authorize(headers, modes, operation, bodies)
        if self._inbound is not None and not self._inbound.take(len(events)):
            self._stats.events_throttled += len(events)
            raise OperationRefused(
                "LimitExceededError",
                f"Rate exceeded: at most {self._inbound.rate:g} inbound events per second",
            )
        return self._accept(channel, events)

    def _candidate_bodies(
        self, headers: Mapping[str, str] | None, channel: str, events: Sequence[str] | None
    ) -> tuple[bytes, ...]:
        """The bodies an IAM signature may cover. Only IAM reads them, so the JSON is
        built only for a SigV4 authorization; other modes get a placeholder."""
        if headers is not None and any(
            name.lower() == "authorization" and value.startswith(ALGORITHM)
            for name, value in headers.items()
        ):
            lenient = self._settings.lenient_signed_bodies
            return candidate_bodies(channel, events, compact_accepted=lenient)
        return (b"",)

    @staticmethod
    def _parse_publish_channel(channel_text: str) -> Channel:
        try:
            return parse_channel(channel_text)
        except MessageValidationError as exc:
            logger.debug("publish channel refused: %s", exc.reason)
            raise OperationRefused("BadRequestException", INVALID_CHANNEL) from None

    def _accept(self, channel: Channel, events: Sequence[str]) -> PublishOutcome:
        successful: list[PublishResult] = []
        failed: list[PublishFailure] = []
        accepted: list[str] = []
        for index, event in enumerate(events):
            identifier = str(uuid.uuid4())
            if event_too_large(event):
                failed.append(
                    PublishFailure(identifier, index, "EventTooLargeException", EVENT_TOO_LARGE)
                )
            else:
                successful.append(PublishResult(identifier, index))
                accepted.append(event)
        self._stats.events_published += len(accepted)
        self._stats.events_failed += len(failed)
        self._broker.fan_out(channel, accepted)
        return PublishOutcome(tuple(successful), tuple(failed))
