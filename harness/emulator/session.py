"""One WebSocket connection: its outbox, its subscriptions, and the messages it
handles (docs/protocol.md#keep-alive, #messages).

Frames to the client go through an outbox that a loop callback flushes, many
frames per system call, so a fan-out never waits on a slow reader; a reader that
falls more than ``--max-queued-frames`` behind is disconnected (close code 1013).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import WSMsgType, web

from harness.emulator.broker import Broker, Subscription
from harness.emulator.faults import AckKind, FaultKind, FaultSet
from harness.emulator.operations import Operations, PublishOutcome, check_id
from harness.emulator.refusals import OperationRefused
from harness.emulator.stats import EmulatorStats
from harness.errors import MessageDecodeError
from harness.protocol import (
    MAX_EVENT_BYTES,
    MAX_EVENTS_PER_REQUEST,
    MAX_PUBLISHES_PER_SECOND_PER_CONNECTION,
    MAX_SUBSCRIPTIONS_PER_CONNECTION,
    ConnectionAck,
    ConnectionInit,
    ErrorDetail,
    ErrorMessage,
    Message,
    Publish,
    PublishError,
    PublishSuccess,
    Subscribe,
    SubscribeError,
    SubscribeSuccess,
    Unsubscribe,
    UnsubscribeError,
    UnsubscribeSuccess,
    encode,
    from_wire,
    parse_frame,
)
from harness.signing import Operation
from harness.signing.wire import JSON_SURROGATE_ERRORS

logger = logging.getLogger(__name__)

KEEPALIVE_FRAME = b'{"type":"ka"}'
MAX_FRAME_BYTES = 2 * MAX_EVENTS_PER_REQUEST * MAX_EVENT_BYTES + 65536
"""The largest frame answered: 5 events of 240 KB, doubled for JSON escaping, plus room."""
READ_LIMIT_BYTES = 4 * MAX_FRAME_BYTES
"""Frames up to this size are read whole before being refused (close code 1009); a
larger one is cut off while it arrives."""
MESSAGE_TOO_BIG = 1009
WRITE_BATCH_BYTES = 256 * 1024
WRITE_BUFFER_HIGH_BYTES = 256 * 1024
MIN_FLUSH_RETRY_S = 0.001
MAX_FLUSH_RETRY_S = 0.05
CLOSE_TIMEOUT_S = 2.0
SLOW_CONSUMER_CLOSE_CODE = 1013  # "try again later"
_CLIENT_TYPES = frozenset(cls.TYPE for cls in (ConnectionInit, Subscribe, Unsubscribe, Publish))
_OPERATION_ERRORS: dict[str, Callable[[str, tuple[ErrorDetail, ...]], Message]] = {
    Subscribe.TYPE: SubscribeError,
    Unsubscribe.TYPE: UnsubscribeError,
    Publish.TYPE: PublishError,
}


@dataclass(frozen=True)
class SessionContext:
    """What every connection of one emulator shares."""

    operations: Operations
    broker: Broker
    faults: FaultSet
    stats: EmulatorStats
    connection_timeout_ms: int
    max_queued_frames: int
    max_subscriptions: int | None = MAX_SUBSCRIPTIONS_PER_CONNECTION
    """The subscriptions-per-connection quota; None: no limit."""


def frame_bytes(message: Message) -> bytes:
    """A message as text-frame bytes; a lone surrogate (from a client's own bad id or
    text echoed back) is written as a JSON escape, not refused by UTF-8."""
    return encode(message).encode("utf-8", JSON_SURROGATE_ERRORS)


class Session:
    """The server side of one accepted WebSocket connection."""

    def __init__(
        self, number: int, ws: web.WebSocketResponse, request: web.Request, context: SessionContext
    ) -> None:
        self.number = number
        self.ws = ws
        self.opened_at = time.monotonic()
        self.subscriptions: dict[str, Subscription] = {}
        self._transport = request.transport
        self._remote = request.remote
        self._operations = context.operations
        self._broker = context.broker
        self._faults = context.faults
        self._stats = context.stats
        self._connection_timeout_ms = context.connection_timeout_ms
        self._max_queued_frames = context.max_queued_frames
        self._max_subscriptions = context.max_subscriptions
        self._outbox: deque[bytes] = deque()
        self._flush_pending = False
        self._flush_retry_s = MIN_FLUSH_RETRY_S
        self._publish_times: deque[float] | None = None  # made on the first publish
        self._loop = asyncio.get_running_loop()
        self.closing = False

    # -- sending ---------------------------------------------------------------

    def deliver(self, frame: bytes) -> None:
        """Queue a text frame for the client."""
        if self.closing:
            return
        if len(self._outbox) >= self._max_queued_frames:
            self._stats.deliveries_overflowed += 1
            self.close(SLOW_CONSUMER_CLOSE_CODE, "slow consumer: outbox full", cause="slow")
            return
        self._outbox.append(frame)
        if not self._flush_pending:
            self._flush_pending = True
            self._loop.call_soon(self._flush)

    def deliver_later(self, delay_s: float, frame: bytes) -> None:
        self._loop.call_later(delay_s, self.deliver, frame)

    def _after(self, delay_s: float, action: Callable[..., object], *args: object) -> None:
        """Do ``action`` now, or once a handler's service-side latency has passed."""
        if delay_s > 0:
            self._loop.call_later(delay_s, action, *args)
        else:
            action(*args)

    def send(self, message: Message) -> None:
        if isinstance(message, SubscribeError | PublishError | UnsubscribeError | ErrorMessage):
            for error in message.errors:
                self._stats.errors_sent[error.error_type] += 1
        self.deliver(frame_bytes(message))

    def _ack(self, kind: AckKind, message: Message) -> None:
        """Send an acknowledgement, late if a ``delay-acks`` fault covers it."""
        fault = self._faults.fires(
            FaultKind.DELAY_ACKS, lambda spec: spec.ack in (kind, AckKind.ALL)
        )
        if fault is not None:
            self.deliver_later(fault.spec.delay_s, frame_bytes(message))
        else:
            self.send(message)

    def _flush(self) -> None:
        """Write the queued frames, many per system call (one ``write`` per frame cost
        about two thirds of the emulator's time in a 1,000-subscriber fan-out).

        Runs as a loop callback, scheduled by the first :meth:`deliver` after a
        flush, so a fan-out's frames for one connection go out together. Frames
        are framed here (server frames are unmasked, compression is off) and
        written straight to the transport, which keeps each frame whole. While
        more than :data:`WRITE_BUFFER_HIGH_BYTES` wait in the transport, the
        client is not reading: the outbox backs up and the flush retries later.
        """
        self._flush_pending = False
        transport = self._transport
        outbox = self._outbox
        if transport is None or transport.is_closing() or self.ws.closed:
            outbox.clear()  # the connection is ending; the read loop ends too
            return
        while outbox and transport.get_write_buffer_size() <= WRITE_BUFFER_HIGH_BYTES:
            batch: list[bytes] = []
            size = 0
            while outbox and size < WRITE_BATCH_BYTES:
                frame = outbox.popleft()
                batch += (_text_frame_header(len(frame)), frame)
                size += len(frame)
            transport.write(b"".join(batch))
        if outbox:
            self._flush_pending = True
            self._loop.call_later(self._flush_retry_s, self._flush)
            self._flush_retry_s = min(self._flush_retry_s * 2, MAX_FLUSH_RETRY_S)
        else:
            self._flush_retry_s = MIN_FLUSH_RETRY_S

    # -- closing ---------------------------------------------------------------

    def close(self, code: int | None, reason: str, *, cause: str) -> asyncio.Task[None] | None:
        """End the connection: abruptly (no close frame, as a network drop) when
        ``code`` is None, else with a close frame carrying ``code``; returns the
        closing task, or None when there is nothing to wait for."""
        if self.closing:
            return None
        self.closing = True
        self._stats.disconnects[cause] += 1
        if code is None:
            self._abort()
            return None
        task = self._loop.create_task(self._close_with(code, reason))
        task.add_done_callback(_ignore_result)
        return task

    async def _close_with(self, code: int, reason: str) -> None:
        """The close handshake, bounded: a client that neither reads nor answers
        (its socket full, say) would hold ``ws.close`` forever, so it is reset."""
        try:
            await asyncio.wait_for(
                self.ws.close(code=code, message=reason.encode("utf-8")[:120]), CLOSE_TIMEOUT_S
            )
        except (TimeoutError, ConnectionError, RuntimeError):
            self._abort()

    def _abort(self) -> None:
        if self._transport is not None:
            self._transport.abort()

    # -- the connection's life ---------------------------------------------------

    async def run(self) -> None:
        """Read and answer frames until the connection ends, then forget its subscriptions."""
        try:
            async for frame in self.ws:
                if frame.type not in (WSMsgType.TEXT, WSMsgType.BINARY):
                    if frame.type is WSMsgType.ERROR:
                        logger.debug("connection %d: %s", self.number, self.ws.exception())
                elif _frame_too_large(frame.data):
                    # Read whole, then refused: a client still sending sees the 1009
                    # instead of a reset from unread data.
                    self._stats.frames_rejected += 1
                    self.close(MESSAGE_TOO_BIG, "frame too large", cause="too_large")
                else:
                    self.handle_frame(frame.data)
        finally:
            self.closing = True
            self._outbox.clear()
            for subscription in self.subscriptions.values():
                self._broker.remove(subscription)
            self.subscriptions.clear()

    def handle_frame(self, frame: str | bytes) -> None:
        """Answer one client frame; a malformed one gets an error message, never a crash."""
        obj: object = None
        try:
            obj = parse_frame(frame)
            message = from_wire(obj, sender="client")
        except MessageDecodeError as exc:
            self._stats.frames_rejected += 1
            self.send(_decode_error_reply(obj, exc))
            return
        match message:
            case ConnectionInit():
                self._ack(AckKind.CONNECTION, ConnectionAck(self._connection_timeout_ms))
            case Subscribe():
                self._subscribe(message)
            case Unsubscribe():
                self._unsubscribe(message)
            case Publish():
                self._publish(message, frame)

    def _subscribe(self, message: Subscribe) -> None:
        try:
            check_id(message.id)
            if message.id in self.subscriptions:
                raise OperationRefused(
                    "DuplicatedOperationError", f"Subscription id {message.id} is duplicated"
                )
            limit = self._max_subscriptions
            if limit is not None and len(self.subscriptions) >= limit:
                raise OperationRefused(
                    "MaxSubscriptionsReachedError", f"Max number of subscriptions ({limit}) reached"
                )
            pattern, delay_s = self._operations.authorize_subscribe(
                message.channel, message.authorization, self._remote
            )
        except OperationRefused as refused:
            self._after(refused.delay_s, self.send, SubscribeError(message.id, (refused.detail,)))
            return
        subscription = Subscription(self, message.id, pattern)
        self.subscriptions[message.id] = subscription  # its id is taken from now on
        self._after(delay_s, self._activate, subscription)

    def _activate(self, subscription: Subscription) -> None:
        """Start delivering to a subscription and acknowledge it, unless the connection
        ended or the subscription was unsubscribed while its handler ran."""
        if self.closing or self.subscriptions.get(subscription.id) is not subscription:
            return
        self._broker.add(subscription)
        self._ack(AckKind.SUBSCRIBE, SubscribeSuccess(subscription.id))

    def _unsubscribe(self, message: Unsubscribe) -> None:
        subscription = self.subscriptions.pop(message.id, None)
        if subscription is None:
            detail = ErrorDetail("UnknownOperationError", f"Unknown operation id {message.id}")
            self.send(UnsubscribeError(message.id, (detail,)))
            return
        self._broker.remove(subscription)
        self._ack(AckKind.UNSUBSCRIBE, UnsubscribeSuccess(message.id))

    def _publish(self, message: Publish, frame: str | bytes) -> None:
        self._stats.ws_publishes += 1
        try:
            check_id(message.id)
            self._check_publish_rate()
            outcome = self._operations.publish(
                message.channel,
                message.events,
                message.authorization,
                Operation.PUBLISH,
                request_bytes=_utf8_size(frame),  # only a publish has a size quota
                source_ip=self._remote,
            )
        except OperationRefused as refused:
            self._after(refused.delay_s, self.send, PublishError(message.id, (refused.detail,)))
            return
        self._after(outcome.delay_s, self._complete_publish, message.id, outcome)

    def _complete_publish(self, publish_id: str, outcome: PublishOutcome) -> None:
        """Fan the events out, then acknowledge (AppSync's order, after the handler)."""
        self._operations.broadcast(outcome)
        self._ack(AckKind.PUBLISH, PublishSuccess(publish_id, outcome.successful, outcome.failed))

    def _check_publish_rate(self) -> None:
        """At most 25 publishes in any one second on a connection (docs/protocol.md#channels)."""
        now = time.monotonic()
        times = self._publish_times
        if times is None:
            times = self._publish_times = deque(maxlen=MAX_PUBLISHES_PER_SECOND_PER_CONNECTION)
        if len(times) == times.maxlen and now - times[0] < 1.0:
            self._stats.publishes_throttled += 1
            raise OperationRefused(
                "LimitExceededError",
                f"Rate exceeded: at most {MAX_PUBLISHES_PER_SECOND_PER_CONNECTION} "
                "publishes per second per connection",
            )
        times.append(now)


def _text_frame_header(length: int) -> bytes:
    """FIN + text opcode and the payload length, unmasked (RFC 6455 §5.2)."""
    if length < 126:
        return bytes((0x81, length))
    if length < 1 << 16:
        return bytes((0x81, 126)) + length.to_bytes(2, "big")
    return bytes((0x81, 127)) + length.to_bytes(8, "big")


def _frame_too_large(data: str | bytes) -> bool:
    if len(data) * 4 <= MAX_FRAME_BYTES:  # a character is at most 4 UTF-8 bytes
        return False
    return _utf8_size(data) > MAX_FRAME_BYTES


def _utf8_size(data: str | bytes) -> int:
    """Bytes of a frame's payload on the wire; encodes only text that is not ASCII."""
    if isinstance(data, bytes) or data.isascii():
        return len(data)
    return len(data.encode("utf-8", "surrogatepass"))


def _decode_error_reply(obj: object, exc: MessageDecodeError) -> Message:
    """The answer to a frame that could not be decoded: the operation's own error
    message when its type and ``id`` can be read, else a generic ``error``
    (docs/protocol.md#messages).
    A type a client never sends is ``UnsupportedOperation``; anything else
    malformed is ``BadRequestException``."""
    if not isinstance(obj, dict):
        return ErrorMessage((ErrorDetail("BadRequestException", str(exc)),))
    message_type = obj.get("type")
    op_id = obj.get("id") if isinstance(obj.get("id"), str) else None
    unsupported = isinstance(message_type, str) and message_type not in _CLIENT_TYPES
    detail = ErrorDetail("UnsupportedOperation" if unsupported else "BadRequestException", str(exc))
    reply = _OPERATION_ERRORS.get(message_type) if isinstance(message_type, str) else None
    if op_id is not None and reply is not None:
        return reply(op_id, (detail,))
    return ErrorMessage((detail,), op_id)


def _ignore_result(task: asyncio.Task[Any]) -> None:
    if not task.cancelled():
        task.exception()
