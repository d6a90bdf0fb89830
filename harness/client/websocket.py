"""The gevent-friendly AppSync Events WebSocket client (docs/protocol.md#connecting, #messages).

websockets' sans-I/O :class:`~websockets.client.ClientProtocol` does the
WebSocket framing; this module drives it over one gevent socket. Measured on a
2-core machine (``bench/bench_client.py``), that costs one file descriptor and
about a third of the memory of ``websockets.sync.client``, which needs a
thread-like background reader and a socket pair per connection.

One :class:`EventsClient` is one connection. Its calls block the calling
greenlet until the server answers or the operation's timeout passes. Reading
dispatches every frame: ``data`` goes to the ``on_data`` callback with the wall
time its bytes were read, answers resolve the pending-operation table. On a
plain ``ws://`` connection the reading is a callback of the gevent hub on the
socket's readability, with no greenlet of its own (a greenlet per connection
cost memory, and two switches and a failed ``recv`` per read); whole text
frames are read by :class:`FastFrames`. A greenlet reader with websockets'
parser takes over at the first other frame (a close, a ping), and does all
the reading of a ``wss://`` connection. Any frame counts as liveness; silence longer than
``connectionTimeoutMs`` (docs/protocol.md#keep-alive) ends the connection as
``KeepAliveTimeout``. A timer watches for that silence, re-armed only when it
fires, so a read costs no timeout of its own (docs/performance.md).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from types import MappingProxyType
from typing import Any
from urllib.parse import urlsplit

import gevent
import orjson
from gevent import socket as gsocket
from gevent import ssl as gssl
from gevent.event import AsyncResult, Event
from gevent.lock import Semaphore
from websockets.client import ClientProtocol
from websockets.exceptions import InvalidHandshake, InvalidStatus
from websockets.frames import Frame, Opcode
from websockets.http11 import Response
from websockets.protocol import Protocol, State
from websockets.typing import Subprotocol
from websockets.uri import parse_uri

from harness.errors import (
    ClientError,
    ConnectionLost,
    HandshakeFailed,
    OperationRejected,
    OperationTimeout,
)
from harness.protocol import Endpoints, compact_json
from harness.signing import Authorizer

logger = logging.getLogger(__name__)

DataHandler = Callable[[str, str, int], None]
"""``on_data(subscription_id, event_json, received_wall_ns)``. On ``ws://`` it is called
from the gevent hub's readability callback: it must not block (no sleep, no socket call,
no waiting on a greenlet); record, count, or hand the work to a greenlet."""
LossHandler = Callable[[ConnectionLost], None]
BroadcastErrorHandler = Callable[["EventsClient", str, str], None]
"""``on_broadcast_error(client, subscription_id, error_type)``, called as
:data:`DataHandler` is: it must not block either. One per process, in
:class:`ClientOptions`: a callback of each connection's own would cost every idle
connection a few hundred bytes for a message that rarely comes."""

USER_AGENT = "appsync-events-harness"
CLIENT_ID_HEADER = "x-harness-client-id"
READ_CHUNK_BYTES = 65536
FRAMES_BETWEEN_YIELDS = 64
"""A reader that never blocks starves other greenlets (docs/architecture.md#the-gevent-loop);
yield this often."""
CLOSE_TIMEOUT_S = 2.0
DETAIL_LIMIT = 200


def server_detail(message: object) -> str:
    """A server's error text cut to its first line.

    AppSync's signature-mismatch text continues with the canonical request it
    expected (docs/protocol.md#errors), which may hold a session token; the first line never does.
    """
    text = str(message or "").strip().splitlines()
    first = text[0] if text else ""
    return first if len(first) <= DETAIL_LIMIT else first[: DETAIL_LIMIT - 3] + "..."


@dataclass(frozen=True, slots=True)
class ClientOptions:
    """Per-connection settings; times in seconds."""

    connect_timeout_s: float = 15.0
    """TCP + TLS + upgrade + ``connection_ack``; amplify-js uses 15 s
    (docs/protocol.md#keep-alive)."""
    operation_timeout_s: float = 10.0
    ca_file: str | None = None
    """PEM bundle to trust for ``wss://``; the system store when ``None``."""
    client_id: str | None = None
    """Sent as ``x-harness-client-id`` so the emulator can group attempts per client."""
    max_message_bytes: int = 4 * 1024 * 1024
    on_broadcast_error: BroadcastErrorHandler | None = None


@dataclass(frozen=True, slots=True)
class PublishOutcome:
    """A ``publish_success``: per-event results by index (docs/protocol.md#messages)."""

    successful: tuple[int, ...]
    failed: tuple[tuple[int, str, str], ...]
    """``(index, code, message first line)`` of every refused event."""


class ClientState(Enum):
    NEW = "new"
    CONNECTING = "connecting"
    OPEN = "open"
    CLOSED = "closed"


NOTHING_COUNTED: Mapping[str, int] = MappingProxyType({})
"""The read-only empty tally :class:`ClientCounters` share until their first count."""


@dataclass(slots=True)
class ClientCounters:
    """What a connection saw besides answers to its own operations."""

    data_received: int = 0
    keepalives: int = 0
    broadcast_errors: int = 0
    late_answers: int = 0
    """Answers whose operation had already timed out."""
    stray_data: int = 0
    """``data`` for a subscription id this client does not hold (e.g. after unsubscribe)."""
    data_after_unsubscribe: Mapping[str, int] = field(default_factory=lambda: NOTHING_COUNTED)
    """Per subscription id: ``data`` that arrived after its ``unsubscribe_success``."""
    unexpected: Mapping[str, int] = field(default_factory=lambda: NOTHING_COUNTED)

    # The two tallies are almost always empty: an empty dict of each per connection was
    # 128 B of the 16 KB an idle connection may cost (docs/performance.md#idle-connections).

    def count_late_data(self, sub_id: str) -> None:
        self.data_after_unsubscribe = _counted(self.data_after_unsubscribe, sub_id)

    def count_unexpected(self, kind: str) -> None:
        self.unexpected = _counted(self.unexpected, kind)


def _counted(tally: Mapping[str, int], key: str) -> dict[str, int]:
    """``tally`` with one more ``key``: counted in place once it is a dict of its own."""
    counts = tally if isinstance(tally, dict) else {}
    counts[key] = counts.get(key, 0) + 1
    return counts


@dataclass(slots=True)
class _Pending:
    operation: str
    channel: str | None = None
    result: AsyncResult = field(default_factory=AsyncResult)


class EventsClient:
    """One AppSync Events WebSocket connection, driven from gevent greenlets."""

    def __init__(
        self,
        endpoints: Endpoints,
        authorizer: Authorizer,
        options: ClientOptions | None = None,
        *,
        on_data: DataHandler | None = None,
        on_lost: LossHandler | None = None,
    ) -> None:
        self.endpoints = endpoints
        self.authorizer = authorizer
        self.options = options or ClientOptions()
        self.on_data = on_data
        self.on_lost = on_lost
        self.state = ClientState.NEW
        self.connection_timeout_ms: int | None = None
        self.subscriptions: dict[str, str] = {}
        """Acknowledged subscriptions: id to channel (or wildcard pattern)."""
        self.unsubscribed: dict[str, str] = {}
        """Subscriptions ended by ``unsubscribe_success``: id to channel."""
        self.counters = ClientCounters()
        self.lost: ConnectionLost | None = None
        self._pending: dict[str, _Pending] = {}
        self._abandoned_subscribes: dict[str, str] = {}
        """Subscribes that timed out, by id: adopted if their success still arrives."""
        self._ids = itertools.count(1)
        self._sock: Any = None
        self._protocol: ClientProtocol | None = None
        self._send_lock = Semaphore()
        self._reader: gevent.Greenlet[Any, Any] | None = None
        self._watcher: Any = None
        """The hub's readability watcher while the hub reads (plain ``ws://``)."""
        self._fast: FastFrames | None = None
        self._ended: Event | None = None
        """Made by ``close`` to wait for the server's close (most connections never need one)."""
        self._closing = False
        self._last_read_s = 0.0
        """Monotonic time of the last read: what the keep-alive watchdog checks."""
        self._watchdog: Any = None

    # -- public operations -------------------------------------------------

    @property
    def pending_operations(self) -> int:
        return len(self._pending)

    def pending(self) -> list[tuple[str, str, str | None]]:
        """Operations still waiting for an answer: (id, operation, channel)."""
        return [(key, entry.operation, entry.channel) for key, entry in self._pending.items()]

    @property
    def closed(self) -> bool:
        return self.state is ClientState.CLOSED

    @property
    def socket_open(self) -> bool:
        """Whether this client still holds an open socket (a leak once it is closed)."""
        return self._sock is not None and self._sock.fileno() != -1

    def connect(self) -> None:
        """Open the socket, upgrade with the auth subprotocol (docs/protocol.md#subprotocol), send
        ``connection_init`` and wait for ``connection_ack`` (docs/protocol.md#keep-alive)."""
        if self.state is not ClientState.NEW:
            raise RuntimeError(f"connect() on a {self.state.value} client")
        self.state = ClientState.CONNECTING
        timeout_s = self.options.connect_timeout_s
        deadline = time.monotonic() + timeout_s
        # Filed before the upgrade: a connection_error may share the 101's read.
        pending = self._register(_ACK_KEY, "connect")
        try:
            with gevent.Timeout(timeout_s, False):
                self._open_socket()
                self._upgrade()
            protocol = self._protocol
            if protocol is not None and protocol.state is State.OPEN:
                if self.connection_timeout_ms is None:
                    # Until the ack the wait below keeps the deadline; from the ack on
                    # the reader applies connectionTimeoutMs (_on_connection_ack).
                    self._sock.settimeout(None)
                self._start_reading()
            if not pending.result.ready():
                if self._reader is None and self._watcher is None:
                    raise OperationTimeout("connect", timeout_s)
                self._send_text('{"type":"connection_init"}', "connect")
            remaining_s = max(0.0, deadline - time.monotonic())
            # Named after the configured timeout, so every timed-out connect reads alike.
            self._await(_ACK_KEY, pending, remaining_s, reported_timeout_s=timeout_s)
        except BaseException:
            self._abort()
            self.lost = None  # the connect's own error is the report, not a loss
            raise
        self.state = ClientState.OPEN

    def subscribe(self, channel: str) -> str:
        """Subscribe to ``channel`` (a channel or wildcard pattern); returns the
        subscription id once ``subscribe_success`` arrived."""
        sub_id = f"s{next(self._ids)}"
        message = {
            "type": "subscribe",
            "id": sub_id,
            "channel": channel,
            "authorization": self.authorizer.message_authorization(channel),
        }
        self._request(sub_id, compact_json(message), "subscribe", channel=channel)
        return sub_id

    def unsubscribe(self, sub_id: str) -> None:
        """Unsubscribe an acknowledged subscription; waits for ``unsubscribe_success``."""
        if sub_id not in self.subscriptions:
            raise KeyError(f"no acknowledged subscription {sub_id!r}")
        self._request(sub_id, compact_json({"type": "unsubscribe", "id": sub_id}), "unsubscribe")

    def publish(self, channel: str, events: Sequence[str]) -> PublishOutcome:
        """Publish 1-5 JSON-encoded events over the WebSocket (docs/protocol.md#messages); waits
        for the answer."""
        pub_id = f"p{next(self._ids)}"
        message = {
            "type": "publish",
            "id": pub_id,
            "channel": channel,
            "events": list(events),
            "authorization": self.authorizer.message_authorization(channel, events),
        }
        answer = self._request(pub_id, compact_json(message), "publish")
        return publish_outcome(answer)

    def close(self) -> None:
        """Close with 1000 and wait (bounded) for the server's close; idempotent."""
        if self.state is ClientState.CLOSED:
            return
        self._closing = True
        protocol = self._protocol
        if protocol is not None and protocol.state is State.OPEN and self._sock is not None:
            try:
                with self._send_lock:
                    protocol.send_close(1000)
                    self._flush(protocol)
                reading = self._reader is not None or self._watcher is not None
                if reading and not self.closed:
                    self._ended = self._ended or Event()
                    self._ended.wait(timeout=CLOSE_TIMEOUT_S)
            except OSError:
                pass
        self._abort()

    # -- internals -----------------------------------------------------------

    def _open_socket(self) -> None:
        parts = urlsplit(self.endpoints.realtime_url)
        secure = parts.scheme == "wss"
        host = parts.hostname or ""
        port = parts.port or (443 if secure else 80)
        try:
            sock = gsocket.create_connection((host, port), timeout=self.options.connect_timeout_s)
            sock.setsockopt(gsocket.IPPROTO_TCP, gsocket.TCP_NODELAY, 1)
            if secure:
                context = gssl.create_default_context(cafile=self.options.ca_file)
                sock = context.wrap_socket(sock, server_hostname=host)
        except gssl.SSLError as exc:
            raise HandshakeFailed("TlsError", type(exc).__name__ + ": " + str(exc.reason)) from exc
        except OSError as exc:
            raise HandshakeFailed("NetworkError", f"{type(exc).__name__}: {exc}") from exc
        self._sock = sock

    def _upgrade(self) -> None:
        protocol = ClientProtocol(
            parse_uri(self.endpoints.realtime_url),
            subprotocols=[Subprotocol(p) for p in self.authorizer.connect_subprotocols()],
            max_size=self.options.max_message_bytes,
        )
        request = protocol.connect()
        request.headers["User-Agent"] = USER_AGENT
        if self.options.client_id:
            request.headers[CLIENT_ID_HEADER] = self.options.client_id
        protocol.send_request(request)
        self._protocol = protocol
        try:
            self._flush(protocol)
            while True:
                data = self._sock.recv(READ_CHUNK_BYTES)
                if not data:
                    protocol.receive_eof()
                else:
                    protocol.receive_data(data)
                events = protocol.events_received()
                if events or not data:
                    break
        except OSError as exc:
            raise HandshakeFailed("NetworkError", f"{type(exc).__name__}: {exc}") from exc
        if protocol.handshake_exc is not None:
            raise _handshake_error(protocol.handshake_exc)
        if not events or not isinstance(events[0], Response):
            raise HandshakeFailed("NetworkError", "the server closed during the upgrade")
        if not protocol.reader.buffer:
            # The handshake's parser (a generator) holds the 101 response and its headers
            # for the connection's life, 2 KiB each; from here on only frames are parsed,
            # by websockets' frame parser, started afresh at this frame boundary.
            protocol.parser = Protocol.parse(protocol)
            next(protocol.parser)
            protocol.reader.buffer = bytearray()  # not the one that grew to hold the 101
        # Only the handshake reads these. The offered subprotocols hold the signed auth
        # object: a credential not kept for the connection's life, and 350 B less of it.
        protocol.available_subprotocols = None
        protocol.key = ""
        self._handle_frames([e for e in events[1:] if isinstance(e, Frame)], time.time_ns())

    def _request(
        self,
        key: str,
        frame: str,
        operation: str,
        timeout_s: float | None = None,
        *,
        channel: str | None = None,
    ) -> Any:
        """Send ``frame`` and wait for the answer filed under ``key``."""
        if self.lost is not None:
            raise ConnectionLost(operation, self.lost.error_type, self.lost.detail)
        if self._protocol is None or self._protocol.state is not State.OPEN:
            raise ConnectionLost(operation, "ConnectionClosed", "the client is not connected")
        pending = self._register(key, operation, channel)
        try:
            self._send_text(frame, operation)
        except BaseException:
            self._pending.pop(key, None)
            raise
        return self._await(key, pending, timeout_s)

    def _register(self, key: str, operation: str, channel: str | None = None) -> _Pending:
        pending = _Pending(operation, channel)
        self._pending[key] = pending
        return pending

    def _await(
        self,
        key: str,
        pending: _Pending,
        timeout_s: float | None,
        *,
        reported_timeout_s: float | None = None,
    ) -> Any:
        timeout = self.options.operation_timeout_s if timeout_s is None else timeout_s
        try:
            return pending.result.get(timeout=timeout)
        except gevent.Timeout:
            if pending.operation == "subscribe" and pending.channel is not None:
                self._abandoned_subscribes[key] = pending.channel
            raise OperationTimeout(pending.operation, reported_timeout_s or timeout) from None
        finally:
            if self._pending.get(key) is pending:
                del self._pending[key]

    def _send_text(self, frame: str, operation: str) -> None:
        protocol = self._protocol
        assert protocol is not None
        try:
            with self._send_lock:
                protocol.send_text(frame.encode("utf-8"))
                self._flush(protocol)
        except OSError as exc:
            raise ConnectionLost(operation, "NetworkError", type(exc).__name__) from exc

    def _flush(self, protocol: ClientProtocol) -> None:
        chunks = protocol.data_to_send()
        payload = b"".join(chunks)
        if payload:
            self._sock.sendall(payload)

    def _start_reading(self) -> None:
        protocol = self._protocol
        assert protocol is not None
        if isinstance(self._sock, gssl.SSLSocket) or protocol.reader.buffer:
            self._reader = gevent.spawn(self._read_loop)
            return
        self._fast = FastFrames(self.options.max_message_bytes)
        watcher = gevent.get_hub().loop.io(self._sock.fileno(), 1)
        self._watcher = watcher
        watcher.start(self._on_readable)

    def _on_readable(self) -> None:
        """The hub's reader: one non-blocking read, its whole text frames dispatched.
        Anything else goes to a greenlet reader with websockets' parser; so does EOF."""
        fast = self._fast
        assert fast is not None
        try:
            data = self._sock._sock.recv(READ_CHUNK_BYTES)  # gevent's non-blocking socket
        except BlockingIOError:
            return
        except OSError as exc:
            self._stop_watching()
            self._connection_ended(ConnectionLost("connection", "NetworkError", type(exc).__name__))
            return
        received_ns = time.time_ns()
        self._last_read_s = time.monotonic()
        for payload in fast.feed(data) if data else ():
            self._handle_message(payload, received_ns)
        if not data or fast.rest is not None:
            self._stop_watching()
            self._reader = gevent.spawn(self._read_loop, fast.rest or b"")

    def _stop_watching(self) -> None:
        if self._watcher is not None:
            self._watcher.close()
            self._watcher = None

    def _read_loop(self, first: bytes | None = None) -> None:
        """The greenlet reader; ``first``: what the hub's reader read and left to it
        (``b""``: the end of the stream)."""
        protocol = self._protocol
        assert protocol is not None
        loss: ConnectionLost | None = None
        recv = self._sock.recv
        # Whole text frames go through FastFrames; the first frame it leaves (a close,
        # a ping, a fragment, one too large) and everything after goes to websockets.
        fresh = first is None and not protocol.reader.buffer
        fast = FastFrames(self.options.max_message_bytes) if fresh else None
        try:
            while protocol.state is not State.CLOSED:
                data, first = (recv(READ_CHUNK_BYTES), None) if first is None else (first, None)
                # One arrival time per read: every frame in it arrived together.
                received_ns = time.time_ns()
                self._last_read_s = time.monotonic()
                if fast is not None and data:
                    payloads = fast.feed(data)
                    if payloads:
                        self._handle_payloads(payloads, received_ns)
                    if fast.rest is None:
                        continue
                    data, fast = fast.rest, None
                if data:
                    protocol.receive_data(data)
                else:
                    protocol.receive_eof()
                frames = [e for e in protocol.events_received() if isinstance(e, Frame)]
                if frames:
                    self._handle_frames(frames, received_ns)
                if protocol.writes:
                    with self._send_lock:
                        self._flush(protocol)
                if not data:
                    break
        except (TimeoutError, _Silence):
            loss = self._silence()
        except OSError as exc:
            loss = ConnectionLost("connection", "NetworkError", type(exc).__name__)
        if loss is None:
            loss = _closed(protocol)
        self._connection_ended(loss)

    def _handle_frames(self, frames: list[Frame], received_ns: int) -> None:
        self._handle_payloads(
            [f.data for f in frames if f.opcode is Opcode.TEXT or f.opcode is Opcode.BINARY],
            received_ns,
        )

    def _handle_payloads(self, payloads: list[Any], received_ns: int) -> None:
        for handled, payload in enumerate(payloads, 1):
            self._handle_message(payload, received_ns)
            if handled % FRAMES_BETWEEN_YIELDS == 0:
                gevent.sleep(0)

    def _handle_message(self, payload: bytes | bytearray | memoryview, received_ns: int) -> None:
        try:
            message = _loads(payload)
            kind = message["type"]
        except (ValueError, TypeError, KeyError):
            self.counters.count_unexpected("<not a message>")
            return
        if kind == "data":
            self._handle_data(message, received_ns)
        elif kind == "ka":
            self.counters.keepalives += 1
        elif kind == "connection_ack":
            self._on_connection_ack(message)
            self._resolve(_ACK_KEY, message)
        elif kind == "connection_error":
            self._reject(_ACK_KEY, message)
        elif kind in _SUCCESS_TYPES:
            self._resolve(message.get("id"), message)
        elif kind in _ERROR_TYPES:
            self._reject(message.get("id"), message)
        elif kind == "broadcast_error":
            self.counters.broadcast_errors += 1
            report = self.options.on_broadcast_error
            if report is not None:
                report(self, str(message.get("id")), first_error(message)[0])
        else:
            self.counters.count_unexpected(str(kind))

    def _handle_data(self, message: dict[str, Any], received_ns: int) -> None:
        self.counters.data_received += 1
        sub_id = message.get("id")
        if sub_id not in self.subscriptions:
            self.counters.stray_data += 1
            if sub_id in self.unsubscribed:
                self.counters.count_late_data(sub_id)
            return
        if self.on_data is not None:
            self.on_data(sub_id, message.get("event", ""), received_ns)

    def _on_connection_ack(self, message: dict[str, Any]) -> None:
        """Start the keep-alive watchdog for ``connectionTimeoutMs``
        (docs/protocol.md#keep-alive): any frame resets it, silence ends the connection.

        Set here, in the reader, so its very next ``recv`` waits without a deadline."""
        timeout_ms = message.get("connectionTimeoutMs")
        self.connection_timeout_ms = 0
        if self._sock is not None:
            self._sock.settimeout(None)
        if isinstance(timeout_ms, int) and not isinstance(timeout_ms, bool) and timeout_ms > 0:
            self.connection_timeout_ms = timeout_ms
            self._last_read_s = time.monotonic()
            self._arm_watchdog(timeout_ms / 1000.0)

    def _arm_watchdog(self, delay_s: float) -> None:
        timer = gevent.get_hub().loop.timer(delay_s)
        self._watchdog = timer
        timer.start(self._check_silence)

    def _check_silence(self) -> None:
        """The watchdog fired (in the hub): re-arm for the rest of the allowed silence,
        or end the reader with :class:`_Silence`."""
        self._watchdog.close()
        self._watchdog = None
        reader = self._reader
        if self._watcher is None and (reader is None or reader.dead):
            return
        allowed_s = (self.connection_timeout_ms or 0) / 1000.0
        left_s = self._last_read_s + allowed_s - time.monotonic()
        if left_s > 0:
            self._arm_watchdog(left_s)
        elif self._watcher is not None:
            self._stop_watching()
            self._connection_ended(self._silence())
        elif reader is not None:
            reader.kill(_Silence(), block=False)

    def _silence(self) -> ConnectionLost:
        return ConnectionLost(
            "connection",
            "KeepAliveTimeout",
            f"nothing received for {self.connection_timeout_ms} ms",
        )

    def _stop_watchdog(self) -> None:
        if self._watchdog is not None:
            self._watchdog.close()
            self._watchdog = None

    def _resolve(self, key: object, message: dict[str, Any]) -> None:
        pending = self._pending.pop(key, None) if isinstance(key, str) else None
        if pending is None:
            self.counters.late_answers += 1
            channel = self._abandoned_subscribes.pop(key, None) if isinstance(key, str) else None
            if channel is not None and message.get("type") == "subscribe_success":
                # The server holds it although we gave up waiting: adopt it, so its
                # data is delivered and close-time cleanup unsubscribes it.
                self.subscriptions[key] = channel  # type: ignore[index]
            return
        # Bookkeeping here, not in the waiting greenlet: a ``data`` in the same
        # read as the ``subscribe_success`` must already find its subscription.
        if pending.operation == "subscribe" and pending.channel is not None:
            self.subscriptions[key] = pending.channel  # type: ignore[index]
        elif pending.operation == "unsubscribe":
            channel = self.subscriptions.pop(key, None)  # type: ignore[call-overload]
            if channel is not None:
                self.unsubscribed[key] = channel  # type: ignore[index]
        pending.result.set(message)

    def _reject(self, key: object, message: dict[str, Any]) -> None:
        pending = self._pending.pop(key, None) if isinstance(key, str) else None
        if pending is None:
            if key is None and message.get("type") == "error":
                error_type, detail = first_error(message)
                self._fail_all(lambda op: OperationRejected(op, error_type, detail))
            else:
                self.counters.late_answers += 1
            return
        pending.result.set_exception(_rejection(pending.operation, message))

    def _fail_all(self, make_error: Callable[[str], ClientError]) -> None:
        pending, self._pending = self._pending, {}
        for entry in pending.values():
            entry.result.set_exception(make_error(entry.operation))

    def _connection_ended(self, loss: ConnectionLost) -> None:
        # Only an established connection can be lost: a refused connect (the server
        # closes right after its connection_error) is connect()'s error alone.
        was_open = self.state is ClientState.OPEN
        if not self._closing:
            self.lost = loss
        self._fail_all(
            lambda op: ConnectionLost(op, loss.error_type, loss.detail, close_code=loss.close_code)
        )
        self._stop_watchdog()
        self._close_socket()
        self.state = ClientState.CLOSED
        if self._ended is not None:
            self._ended.set()
        if not self._closing and was_open and self.on_lost is not None:
            self.on_lost(loss)

    def _abort(self) -> None:
        self._closing = True
        reader = self._reader
        if reader is not None and not reader.dead and reader is not gevent.getcurrent():
            reader.kill(block=False)
        self._stop_watching()
        self._stop_watchdog()
        self._close_socket()
        self._fail_all(lambda op: ConnectionLost(op, "ConnectionClosed", "closed by the client"))
        self.state = ClientState.CLOSED

    def _close_socket(self) -> None:
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.close()


class FastFrames:
    """Reads whole, unmasked text frames from a server, the only kind AppSync sends
    while a connection is up, at a fraction of the cost of websockets' general parser
    (docs/performance.md).

    :meth:`feed` returns the payloads of the complete frames read so far. At the first
    frame of another kind (a close, a ping, a fragment, binary, reserved bits, a masked
    frame, one larger than ``max_bytes``, invalid UTF-8) it stops for good and leaves the bytes from
    that frame on in :attr:`rest`, for websockets' parser, which then sees the
    connection from a frame boundary on and applies the protocol's rules."""

    __slots__ = ("buffer", "max_bytes", "rest")

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.buffer = b""
        self.rest: bytes | None = None

    def feed(self, data: bytes) -> list[bytes]:
        view = self.buffer + data if self.buffer else data
        size = len(view)
        payloads: list[bytes] = []
        at = 0
        while size - at >= 2:
            first, second = view[at], view[at + 1]
            length = second & 0x7F
            start = at + 2
            if length == 126:
                start += 2
                if size < start:
                    break
                length = int.from_bytes(view[at + 2 : start], "big")
            elif length == 127:
                start += 8
                if size < start:
                    break
                length = int.from_bytes(view[at + 2 : start], "big")
            if first != 0x81 or second & 0x80 or length > self.max_bytes:
                self.rest = view[at:]  # not a whole unmasked text frame: websockets' part
                self.buffer = b""
                return payloads
            end = start + length
            if end > size:
                break
            payload = view[start:end]
            try:
                payload.decode("utf-8")
            except UnicodeDecodeError:  # websockets closes with 1007
                self.rest = view[at:]
                self.buffer = b""
                return payloads
            payloads.append(payload)
            at = end
        self.buffer = view[at:]
        return payloads


class _Silence(Exception):
    """Thrown into the reader when nothing arrived for ``connectionTimeoutMs``."""


def _loads(payload: bytes | bytearray | memoryview) -> Any:
    """A message's JSON; orjson first (a hot path), ``json`` for what it refuses
    (integers past 64 bits)."""
    try:
        return orjson.loads(payload)
    except orjson.JSONDecodeError:
        return json.loads(bytes(payload).decode("utf-8"))


_ACK_KEY = "connection_init"
_SUCCESS_TYPES = frozenset({"subscribe_success", "unsubscribe_success", "publish_success"})
_ERROR_TYPES = frozenset({"subscribe_error", "unsubscribe_error", "publish_error", "error"})


def first_error(message: dict[str, Any], default_type: str = "UnknownError") -> tuple[str, str]:
    """``(errorType, first line of message)`` of an answer's first ``errors`` entry
    (docs/protocol.md#errors)."""
    errors = message.get("errors")
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        first = errors[0]
        return str(first.get("errorType") or default_type), server_detail(first.get("message"))
    return default_type, ""


def _rejection(operation: str, message: dict[str, Any]) -> OperationRejected:
    error_type, detail = first_error(message)
    return OperationRejected(operation, error_type, detail)


def _closed(protocol: ClientProtocol) -> ConnectionLost:
    """The loss of a closed connection: the server's close, or our own (a frame over
    ``max_message_bytes`` makes websockets close with 1009)."""
    if protocol.close_rcvd is not None:
        code, reason = protocol.close_rcvd.code, server_detail(protocol.close_rcvd.reason)
    elif protocol.close_sent is not None:
        code = protocol.close_sent.code
        reason = f"closed by the client: {server_detail(protocol.close_sent.reason)}"
    else:
        code, reason = None, ""
    return ConnectionLost("connection", "ConnectionClosed", reason, close_code=code)


def _handshake_error(exc: Exception) -> HandshakeFailed:
    if isinstance(exc, InvalidStatus):
        status = exc.response.status_code
        try:
            answer = json.loads(exc.response.body or b"")
        except ValueError:
            answer = None
        if isinstance(answer, dict):
            error_type, detail = first_error(answer, f"HTTP{status}")
        else:
            error_type = f"HTTP{status}"
            detail = server_detail((exc.response.body or b"").decode("utf-8", "replace"))
        return HandshakeFailed(error_type, detail, status=status)
    if isinstance(exc, InvalidHandshake):
        return HandshakeFailed("InvalidHandshake", server_detail(exc))
    return HandshakeFailed("NetworkError", type(exc).__name__)


def publish_outcome(answer: dict[str, Any]) -> PublishOutcome:
    """The per-event results of a ``publish_success`` or an HTTP publish answer
    (docs/protocol.md#messages, #http-publish)."""
    successful = tuple(
        entry["index"]
        for entry in answer.get("successful") or ()
        if isinstance(entry, dict) and isinstance(entry.get("index"), int)
    )
    failed = tuple(
        (
            int(entry["index"]) if isinstance(entry.get("index"), int) else -1,
            str(entry.get("code") or entry.get("errorType") or "UnknownError"),
            server_detail(entry.get("message")),
        )
        for entry in answer.get("failed") or ()
        if isinstance(entry, dict)
    )
    return PublishOutcome(successful, failed)
