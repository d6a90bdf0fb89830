"""What subscribe and publish do, shared by the WebSocket and HTTP paths.

Errors a client gets back are :class:`OperationRefused`, carrying the AppSync
``errorType`` and message. Where the service's type is not documented
(docs/protocol.md#errors, #open-questions), these are the choices, each taken from
the Kotlin SDK's mapping or the GraphQL real-time equivalent:

========================================  ===============================  ======
case                                      errorType                        HTTP
========================================  ===============================  ======
bad id, bad channel, bad events           BadRequestException              400
0 or over 5 events on the WebSocket       InvalidInputError                -
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

import dataclasses
import logging
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from harness.emulator.broker import Broker
from harness.emulator.faults import FaultKind, FaultSet
from harness.emulator.handlers.context import Caller
from harness.emulator.handlers.namespace import HANDLER_ERROR, NamespaceHandlers
from harness.emulator.identity_pool import IdentityPool
from harness.emulator.quotas import bucket
from harness.emulator.refusals import OperationRefused
from harness.emulator.settings import EmulatorSettings
from harness.emulator.stats import EmulatorStats
from harness.errors import AuthorizationRejected, CredentialsExpired, MessageValidationError
from harness.protocol import (
    Channel,
    ChannelPattern,
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
from harness.signing.sigv4 import ALGORITHM, parse_authorization
from harness.signing.wire import lower_keys

logger = logging.getLogger(__name__)

INVALID_CHANNEL = "Invalid Channel Format"
EVENT_TOO_LARGE = "Transformed event is larger than 240KB"


@dataclass(frozen=True, slots=True)
class PublishOutcome:
    """An accepted publish: its answer, and what :meth:`Operations.broadcast` sends out
    once ``delay_s`` (the handler's latency) has passed."""

    successful: tuple[PublishResult, ...]
    failed: tuple[PublishFailure, ...]
    channel: Channel
    broadcast: tuple[str, ...]
    delay_s: float = 0.0


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
        handlers: NamespaceHandlers,
        *,
        identity_pool: IdentityPool | None = None,
    ) -> None:
        self._settings = settings
        self._verifier = verifier
        self._broker = broker
        self._stats = stats
        self._faults = faults
        self._handlers = handlers
        self._identity_pool = identity_pool
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
            mode = self._verifier.verify(headers, modes, operation, bodies)
        except AuthorizationRejected as exc:
            self._stats.auth_failures[exc.error_type] += 1
            if isinstance(exc, CredentialsExpired) and self._identity_pool is not None:
                self._identity_pool.stats.expired_refusals += 1
            logger.debug("%s refused: %s", operation.value, exc.reason)
            raise OperationRefused(exc.error_type, exc.wire_message) from None
        self._stats.saw_identity(mode.value, _credential_of(mode, headers or {}))
        return mode

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
        self,
        channel_text: str,
        authorization: Mapping[str, str] | None,
        source_ip: str | None = None,
    ) -> tuple[ChannelPattern, float]:
        """Check a subscribe's channel, namespace and authorization, then run the
        namespace's ``onSubscribe``; the pattern to add, and the seconds the handler took."""
        try:
            pattern = parse_channel_pattern(channel_text)
        except MessageValidationError as exc:
            logger.debug("subscribe channel refused: %s", exc.reason)
            raise OperationRefused("BadRequestException", INVALID_CHANNEL) from None
        modes = self._modes(pattern.namespace, publish=False)
        bodies = self._candidate_bodies(authorization, channel_text, None)
        mode = self.authorize(authorization, modes, Operation.SUBSCRIBE, bodies)
        handlers = self._handlers
        if not handlers.runs(pattern.namespace, "onSubscribe"):
            return pattern, 0.0
        ran = handlers.on_subscribe(pattern, self._caller(mode, authorization, source_ip))
        return pattern, handlers.latency_s if ran else 0.0

    def publish(
        self,
        channel_text: str,
        events: Sequence[str],
        headers: Mapping[str, str] | None,
        operation: Operation,
        raw_body: bytes | None = None,
        *,
        request_bytes: int = 0,
        source_ip: str | None = None,
    ) -> PublishOutcome:
        """Validate and authorize one publish (WebSocket, or HTTP with its ``raw_body``,
        which is what HTTP SigV4 signs) of ``request_bytes`` on the wire, and run the
        namespace's ``onPublish``; :meth:`broadcast` then sends the outcome out."""
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
            # The Kotlin SDK maps a WebSocket publish of too many events to InvalidInputError.
            count = exc.field == "events" and operation is Operation.PUBLISH
            error_type = "InvalidInputError" if count else "BadRequestException"
            raise OperationRefused(error_type, f"{exc.field} {exc.reason}") from None
        bodies = (
            (raw_body,)
            if raw_body is not None
            else self._candidate_bodies(headers, channel_text, events)
        )
        mode = self.authorize(headers, modes, operation, bodies)
        if self._inbound is not None and not self._inbound.take(len(events)):
            self._stats.events_throttled += len(events)
            raise OperationRefused(
                "LimitExceededError",
                f"Rate exceeded: at most {self._inbound.rate:g} inbound events per second",
            )
        ids = [str(uuid.uuid4()) for _ in events]
        handled = None
        if self._handlers.runs(channel.namespace, "onPublish"):
            caller = self._caller(mode, headers, source_ip)
            handled = self._handlers.on_publish(channel, ids, events, caller)
        if handled is None:
            return self._outcome(channel, ids, tuple(enumerate(events)), {})
        outcome = self._outcome(channel, ids, handled.broadcast, handled.failed)
        return dataclasses.replace(outcome, delay_s=self._handlers.latency_s)

    def _caller(
        self, mode: AuthMode, headers: Mapping[str, str] | None, source_ip: str | None
    ) -> Caller:
        """Who a handler sees in ``ctx.identity``: for IAM credentials the identity pool
        issued, their Cognito identity too."""
        headers = headers or {}
        cognito = None
        if mode is AuthMode.AWS_IAM and self._identity_pool is not None:
            authorization = lower_keys(headers).get("authorization", "")
            if authorization.startswith(ALGORITHM):
                access_key = parse_authorization(authorization).access_key
                cognito = self._identity_pool.identity_of(access_key)
        return Caller(mode, headers, source_ip, cognito)

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

    def _outcome(
        self,
        channel: Channel,
        ids: Sequence[str],
        broadcast: Sequence[tuple[int | None, str]],
        handler_failed: Mapping[int, str],
    ) -> PublishOutcome:
        """The answer to a publish: every event ``successful`` (one a handler filtered
        too, as AppSync lists it) unless a handler failed it or, after the handler, it is
        over 240 KB; ``broadcast`` pairs each event to send with its published index."""
        failed = {
            index: PublishFailure(ids[index], index, HANDLER_ERROR, message)
            for index, message in handler_failed.items()
        }
        accepted: list[str] = []
        for index, event in broadcast:
            if not event_too_large(event):
                accepted.append(event)
            elif index is not None:
                failed[index] = PublishFailure(
                    ids[index], index, "EventTooLargeException", EVENT_TOO_LARGE
                )
        successful = tuple(
            PublishResult(identifier, index)
            for index, identifier in enumerate(ids)
            if index not in failed
        )
        self._stats.events_published += len(accepted)
        self._stats.events_failed += len(failed)
        return PublishOutcome(
            successful, tuple(failed[index] for index in sorted(failed)), channel, tuple(accepted)
        )

    def broadcast(self, outcome: PublishOutcome) -> None:
        """Fan an accepted publish's events out to the subscribers."""
        self._broker.fan_out(outcome.channel, outcome.broadcast)


def _credential_of(mode: AuthMode, headers: Mapping[str, str]) -> str:
    """What tells one caller from another in ``mode``: the API key, the IAM access key
    id, or the token (``headers`` as sent: lower-case names, or an HTTP request's)."""
    if mode is AuthMode.API_KEY:
        return headers.get("x-api-key") or headers.get("X-Api-Key") or ""
    authorization = headers.get("authorization") or headers.get("Authorization") or ""
    if mode is AuthMode.AWS_IAM:
        return authorization.partition("Credential=")[2].partition("/")[0]
    return authorization
