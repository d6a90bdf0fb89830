"""The AppSync Events WebSocket protocol, sans I/O.

Message dataclasses are named after their wire ``type`` (protocol reference
§3); :func:`encode` and :func:`decode` turn them into frames and back. Decoding
checks structure (JSON object, known type, required fields with the right JSON
types) and tolerates unknown extra fields, because real clients send a legacy
``payload`` object. The protocol *rules* (channel syntax, operation ids, event
batches) are separate checks, so a server can still answer a subscribe whose
channel is bad with a ``subscribe_error`` carrying its id.

Channels (§6) are parsed into :class:`Channel` (a concrete path) or
:class:`ChannelPattern` (a subscription, possibly a trailing-``*`` wildcard);
:class:`SubscriptionIndex` is the matcher a broker fans out with.

Endpoints (§1): :class:`Endpoints` derives the realtime URL and the region from
the HTTP endpoint the way the official clients do.

Nothing here opens a socket or reads a clock.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, Literal, TypeVar
from urllib.parse import urlsplit

from harness.errors import MessageDecodeError, MessageValidationError

SUBPROTOCOL = "aws-appsync-event-ws"
"""The WebSocket subprotocol every client offers and the server selects (§2.1)."""

HTTP_PATH = "/event"
REALTIME_PATH = "/event/realtime"

DEFAULT_CONNECTION_TIMEOUT_MS = 300_000
"""``connectionTimeoutMs`` of the ``connection_ack`` (§2.5)."""
DEFAULT_KEEPALIVE_INTERVAL_S = 60.0
MAX_CONNECTION_DURATION_S = 24 * 3600

MAX_EVENTS_PER_REQUEST = 5
MAX_EVENT_BYTES = 240 * 1024
"""Per-event size limit, "240 KB" (§6); AWS quotas count KB as 1,024 bytes."""
MAX_SUBSCRIPTIONS_PER_CONNECTION = 200
MAX_PUBLISHES_PER_SECOND_PER_CONNECTION = 25
MAX_CHANNEL_SEGMENTS = 5
MAX_SEGMENT_CHARS = 50

# ---------------------------------------------------------------------------
# Messages
# ---------------------------------------------------------------------------

Authorization = Mapping[str, str]
"""A header map: the connect auth object or a message's ``authorization`` (§2.3)."""


@dataclass(frozen=True, slots=True)
class ErrorDetail:
    """One entry of an ``errors`` array: ``{"errorType", "message", "errorCode"?}`` (§4)."""

    error_type: str
    message: str
    error_code: int | None = None

    def to_wire(self) -> dict[str, Any]:
        wire: dict[str, Any] = {"errorType": self.error_type, "message": self.message}
        if self.error_code is not None:
            wire["errorCode"] = self.error_code
        return wire


@dataclass(frozen=True, slots=True)
class PublishResult:
    """A ``successful`` entry of a publish answer: server ``identifier`` and event ``index``."""

    identifier: str
    index: int

    def to_wire(self) -> dict[str, Any]:
        return {"identifier": self.identifier, "index": self.index}


@dataclass(frozen=True, slots=True)
class PublishFailure:
    """A ``failed`` entry of a publish answer; the live service names the fields ``code`` and
    ``message`` (§5), e.g. ``EventTooLargeException``."""

    identifier: str
    index: int
    code: str
    message: str

    def to_wire(self) -> dict[str, Any]:
        return {
            "identifier": self.identifier,
            "index": self.index,
            "code": self.code,
            "message": self.message,
        }


class Message:
    """Base of every message; ``TYPE`` is the wire ``type`` and ``SENDER`` who sends it."""

    TYPE: ClassVar[str]
    SENDER: ClassVar[Literal["client", "server"]]
    __slots__ = ()


# Client to server ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ConnectionInit(Message):
    TYPE: ClassVar[str] = "connection_init"
    SENDER: ClassVar[Literal["client", "server"]] = "client"


@dataclass(frozen=True, slots=True)
class Subscribe(Message):
    TYPE: ClassVar[str] = "subscribe"
    SENDER: ClassVar[Literal["client", "server"]] = "client"
    id: str
    channel: str
    authorization: Authorization | None = None


@dataclass(frozen=True, slots=True)
class Unsubscribe(Message):
    TYPE: ClassVar[str] = "unsubscribe"
    SENDER: ClassVar[Literal["client", "server"]] = "client"
    id: str


@dataclass(frozen=True, slots=True)
class Publish(Message):
    """A WebSocket publish; ``events`` are JSON texts, one event each (§3)."""

    TYPE: ClassVar[str] = "publish"
    SENDER: ClassVar[Literal["client", "server"]] = "client"
    id: str
    channel: str
    events: tuple[str, ...]
    authorization: Authorization | None = None


# Server to client ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ConnectionAck(Message):
    """``connectionTimeoutMs`` is a top-level field for Events (§2.5)."""

    TYPE: ClassVar[str] = "connection_ack"
    SENDER: ClassVar[Literal["client", "server"]] = "server"
    connection_timeout_ms: int = DEFAULT_CONNECTION_TIMEOUT_MS


@dataclass(frozen=True, slots=True)
class KeepAlive(Message):
    TYPE: ClassVar[str] = "ka"
    SENDER: ClassVar[Literal["client", "server"]] = "server"


@dataclass(frozen=True, slots=True)
class ConnectionErrorMessage(Message):
    """``connection_error`` (named so as not to shadow the builtin ``ConnectionError``)."""

    TYPE: ClassVar[str] = "connection_error"
    SENDER: ClassVar[Literal["client", "server"]] = "server"
    errors: tuple[ErrorDetail, ...]


@dataclass(frozen=True, slots=True)
class SubscribeSuccess(Message):
    TYPE: ClassVar[str] = "subscribe_success"
    SENDER: ClassVar[Literal["client", "server"]] = "server"
    id: str


@dataclass(frozen=True, slots=True)
class SubscribeError(Message):
    TYPE: ClassVar[str] = "subscribe_error"
    SENDER: ClassVar[Literal["client", "server"]] = "server"
    id: str
    errors: tuple[ErrorDetail, ...]


@dataclass(frozen=True, slots=True)
class Data(Message):
    """One delivered event; ``event`` is a JSON *string* holding one event (§3)."""

    TYPE: ClassVar[str] = "data"
    SENDER: ClassVar[Literal["client", "server"]] = "server"
    id: str
    event: str


@dataclass(frozen=True, slots=True)
class BroadcastError(Message):
    TYPE: ClassVar[str] = "broadcast_error"
    SENDER: ClassVar[Literal["client", "server"]] = "server"
    id: str
    errors: tuple[ErrorDetail, ...]


@dataclass(frozen=True, slots=True)
class UnsubscribeSuccess(Message):
    TYPE: ClassVar[str] = "unsubscribe_success"
    SENDER: ClassVar[Literal["client", "server"]] = "server"
    id: str


@dataclass(frozen=True, slots=True)
class UnsubscribeError(Message):
    TYPE: ClassVar[str] = "unsubscribe_error"
    SENDER: ClassVar[Literal["client", "server"]] = "server"
    id: str
    errors: tuple[ErrorDetail, ...]


@dataclass(frozen=True, slots=True)
class PublishSuccess(Message):
    TYPE: ClassVar[str] = "publish_success"
    SENDER: ClassVar[Literal["client", "server"]] = "server"
    id: str
    successful: tuple[PublishResult, ...] = ()
    failed: tuple[PublishFailure, ...] = ()


@dataclass(frozen=True, slots=True)
class PublishError(Message):
    TYPE: ClassVar[str] = "publish_error"
    SENDER: ClassVar[Literal["client", "server"]] = "server"
    id: str
    errors: tuple[ErrorDetail, ...]


@dataclass(frozen=True, slots=True)
class ErrorMessage(Message):
    """The generic ``error`` message; its ``id`` is optional (§3)."""

    TYPE: ClassVar[str] = "error"
    SENDER: ClassVar[Literal["client", "server"]] = "server"
    errors: tuple[ErrorDetail, ...]
    id: str | None = None


MESSAGE_TYPES: Mapping[str, type[Message]] = {
    cls.TYPE: cls
    for cls in (
        ConnectionInit,
        Subscribe,
        Unsubscribe,
        Publish,
        ConnectionAck,
        KeepAlive,
        ConnectionErrorMessage,
        SubscribeSuccess,
        SubscribeError,
        Data,
        BroadcastError,
        UnsubscribeSuccess,
        UnsubscribeError,
        PublishSuccess,
        PublishError,
        ErrorMessage,
    )
}
"""Every message class by its wire ``type``."""

# ---------------------------------------------------------------------------
# Encoding
# ---------------------------------------------------------------------------


def compact_json(value: object) -> str:
    """JSON the way ``JSON.stringify`` writes it: no spaces, ``/`` and non-ASCII unescaped."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def to_wire(message: Message) -> dict[str, Any]:
    """The JSON object of ``message``, ``type`` first, wire field names."""
    wire: dict[str, Any] = {"type": message.TYPE}
    match message:
        case Subscribe(id=op_id, channel=channel, authorization=auth):
            wire.update(id=op_id, channel=channel)
            if auth is not None:
                wire["authorization"] = dict(auth)
        case Publish(id=op_id, channel=channel, events=events, authorization=auth):
            wire.update(id=op_id, channel=channel, events=list(events))
            if auth is not None:
                wire["authorization"] = dict(auth)
        case ConnectionAck(connection_timeout_ms=timeout_ms):
            wire["connectionTimeoutMs"] = timeout_ms
        case Data(id=op_id, event=event):
            wire.update(id=op_id, event=event)
        case PublishSuccess(id=op_id, successful=successful, failed=failed):
            wire["id"] = op_id
            wire["successful"] = [entry.to_wire() for entry in successful]
            wire["failed"] = [entry.to_wire() for entry in failed]
        case ErrorMessage(id=op_id, errors=errors):
            if op_id is not None:
                wire["id"] = op_id
            wire["errors"] = [error.to_wire() for error in errors]
        case _:
            op_id = getattr(message, "id", None)
            if op_id is not None:
                wire["id"] = op_id
            details = getattr(message, "errors", None)
            if details is not None:
                wire["errors"] = [error.to_wire() for error in details]
    return wire


def encode(message: Message) -> str:
    """The text frame for ``message`` (compact JSON)."""
    return compact_json(to_wire(message))


# ---------------------------------------------------------------------------
# Decoding
# ---------------------------------------------------------------------------

Sender = Literal["client", "server"]


def decode(frame: str | bytes, *, sender: Sender | None = None) -> Message:
    """Decode a text frame into a message.

    ``frame`` must be text: AppSync Events never sends binary frames, so
    ``bytes`` is rejected. With ``sender`` given, a message type that this side
    never sends is rejected too (a server receiving ``data``, say). Unknown
    extra fields are ignored. Raises :class:`MessageDecodeError`.
    """
    if not isinstance(frame, str):
        raise MessageDecodeError(
            "binary frames are not part of the protocol; expected a text frame"
        )
    try:
        obj = _strict_json.decode(frame)
    except (ValueError, RecursionError) as exc:
        raise MessageDecodeError(f"frame is not JSON ({_short(exc)})") from exc
    return from_wire(obj, sender=sender)


def from_wire(obj: object, *, sender: Sender | None = None) -> Message:
    """Build a message from an already parsed JSON value (see :func:`decode`)."""
    if not isinstance(obj, dict):
        raise MessageDecodeError(f"frame must be a JSON object, not {_json_kind(obj)}")
    message_type = obj.get("type")
    if message_type is None:
        raise MessageDecodeError("missing", field="type")
    if not isinstance(message_type, str):
        raise MessageDecodeError(f"must be a string, not {_json_kind(message_type)}", field="type")
    cls = MESSAGE_TYPES.get(message_type)
    if cls is None:
        raise MessageDecodeError(f"unknown message type {_clip(message_type)!r}", field="type")
    if sender is not None and sender != cls.SENDER:
        raise MessageDecodeError(
            f"a {sender} does not send {message_type!r} messages", message_type=message_type
        )
    reader = _FieldReader(obj, message_type)
    return _DECODERS[message_type](reader)


class _FieldReader:
    """Typed access to the fields of one wire object, with errors naming the field."""

    __slots__ = ("_obj", "_type")

    def __init__(self, obj: dict[str, Any], message_type: str) -> None:
        self._obj = obj
        self._type = message_type

    def _fail(self, name: str, reason: str) -> MessageDecodeError:
        return MessageDecodeError(reason, field=name, message_type=self._type)

    def _get(self, name: str, obj: dict[str, Any] | None = None) -> Any:
        source = self._obj if obj is None else obj
        if name not in source:
            raise self._fail(name, "missing")
        return source[name]

    def string(self, name: str, obj: dict[str, Any] | None = None) -> str:
        value = self._get(name, obj)
        if not isinstance(value, str):
            raise self._fail(name, f"must be a string, not {_json_kind(value)}")
        return value

    def optional_string(self, name: str) -> str | None:
        value = self._obj.get(name)
        if value is not None and not isinstance(value, str):
            raise self._fail(name, f"must be a string, not {_json_kind(value)}")
        return value

    def integer(self, name: str, obj: dict[str, Any] | None = None) -> int:
        value = self._get(name, obj)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self._fail(name, f"must be an integer, not {_json_kind(value)}")
        return value

    def string_list(self, name: str) -> tuple[str, ...]:
        value = self._get(name)
        if not isinstance(value, list):
            raise self._fail(name, f"must be an array of strings, not {_json_kind(value)}")
        for index, item in enumerate(value):
            if not isinstance(item, str):
                raise self._fail(f"{name}[{index}]", f"must be a string, not {_json_kind(item)}")
        return tuple(value)

    def objects(self, name: str, *, required: bool = True) -> list[dict[str, Any]]:
        if not required and name not in self._obj:
            return []
        value = self._get(name)
        if not isinstance(value, list):
            raise self._fail(name, f"must be an array of objects, not {_json_kind(value)}")
        for index, item in enumerate(value):
            if not isinstance(item, dict):
                raise self._fail(f"{name}[{index}]", f"must be an object, not {_json_kind(item)}")
        return value

    def authorization(self) -> Authorization | None:
        value = self._obj.get("authorization")
        if value is None:
            return None
        if not isinstance(value, dict):
            raise self._fail("authorization", f"must be an object, not {_json_kind(value)}")
        for key, item in value.items():
            if not isinstance(item, str):
                raise self._fail(
                    f"authorization.{_clip(key)}", f"must be a string, not {_json_kind(item)}"
                )
        return value

    def errors(self) -> tuple[ErrorDetail, ...]:
        details = []
        for index, entry in enumerate(self.objects("errors")):
            where = f"errors[{index}]"
            error_type = entry.get("errorType")
            message = entry.get("message", "")
            code = entry.get("errorCode")
            if not isinstance(error_type, str):
                raise self._fail(f"{where}.errorType", "must be a string")
            if not isinstance(message, str):
                raise self._fail(f"{where}.message", "must be a string")
            if code is not None and (isinstance(code, bool) or not isinstance(code, int)):
                raise self._fail(f"{where}.errorCode", "must be an integer")
            details.append(ErrorDetail(error_type, message, code))
        return tuple(details)

    def publish_results(self) -> tuple[PublishResult, ...]:
        return tuple(
            PublishResult(self.string("identifier", entry), self.integer("index", entry))
            for entry in self.objects("successful", required=False)
        )

    def publish_failures(self) -> tuple[PublishFailure, ...]:
        failures = []
        for entry in self.objects("failed", required=False):
            code = entry.get("code", entry.get("errorCode", ""))
            message = entry.get("message", entry.get("errorMessage", ""))
            failures.append(
                PublishFailure(
                    identifier=self.string("identifier", entry),
                    index=self.integer("index", entry),
                    code=str(code),
                    message=message if isinstance(message, str) else str(message),
                )
            )
        return tuple(failures)


_DECODERS: Mapping[str, Callable[[_FieldReader], Message]] = {
    "connection_init": lambda r: ConnectionInit(),
    "subscribe": lambda r: Subscribe(r.string("id"), r.string("channel"), r.authorization()),
    "unsubscribe": lambda r: Unsubscribe(r.string("id")),
    "publish": lambda r: Publish(
        r.string("id"), r.string("channel"), r.string_list("events"), r.authorization()
    ),
    "connection_ack": lambda r: ConnectionAck(r.integer("connectionTimeoutMs")),
    "ka": lambda r: KeepAlive(),
    "connection_error": lambda r: ConnectionErrorMessage(r.errors()),
    "subscribe_success": lambda r: SubscribeSuccess(r.string("id")),
    "subscribe_error": lambda r: SubscribeError(r.string("id"), r.errors()),
    "data": lambda r: Data(r.string("id"), r.string("event")),
    "broadcast_error": lambda r: BroadcastError(r.string("id"), r.errors()),
    "unsubscribe_success": lambda r: UnsubscribeSuccess(r.string("id")),
    "unsubscribe_error": lambda r: UnsubscribeError(r.string("id"), r.errors()),
    "publish_success": lambda r: PublishSuccess(
        r.string("id"), r.publish_results(), r.publish_failures()
    ),
    "publish_error": lambda r: PublishError(r.string("id"), r.errors()),
    "error": lambda r: ErrorMessage(r.errors(), r.optional_string("id")),
}


def _reject_constant(name: str) -> object:
    raise ValueError(f"{name} is not JSON")


_strict_json = json.JSONDecoder(parse_constant=_reject_constant)
"""Python's decoder, minus the NaN and Infinity it accepts and JSON does not."""
_event_json = json.JSONDecoder(parse_constant=_reject_constant, parse_int=len)
"""For validating events: numbers of any length are JSON, but ``int()`` refuses
over 4,300 digits, and the value is not needed."""


def _json_kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def _clip(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


def _short(exc: BaseException) -> str:
    return _clip(str(exc), 80)


# ---------------------------------------------------------------------------
# Rules: operation ids, events, channels (§3, §6)
# ---------------------------------------------------------------------------

_OPERATION_ID = re.compile(r"[A-Za-z0-9_+\-]{1,128}")
_SEGMENT = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,48}[A-Za-z0-9])?")
WILDCARD = "*"


def validate_operation_id(op_id: str) -> str:
    """Check an operation id against ``[a-zA-Z0-9-_+]{1,128}`` (§3); returns it."""
    if not _OPERATION_ID.fullmatch(op_id):
        raise MessageValidationError(
            "id", "must be 1 to 128 characters of letters, digits, '-', '_' or '+'"
        )
    return op_id


def validate_events(events: Sequence[str]) -> None:
    """Check a publish batch: 1 to 5 events, each a string holding valid JSON (§3).

    The 240 KB size limit is *not* checked here: AppSync reports an oversized
    event per event in ``failed`` (§5); see :func:`event_too_large`.
    """
    if not 1 <= len(events) <= MAX_EVENTS_PER_REQUEST:
        raise MessageValidationError(
            "events", f"must hold 1 to {MAX_EVENTS_PER_REQUEST} events, not {len(events)}"
        )
    for index, event in enumerate(events):
        if not isinstance(event, str):
            raise MessageValidationError(f"events[{index}]", "must be a string of JSON")
        try:
            _event_json.decode(event)
        except (ValueError, RecursionError) as exc:
            raise MessageValidationError(
                f"events[{index}]", f"is not valid JSON ({_short(exc)})"
            ) from exc


def event_too_large(event: str) -> bool:
    """True when ``event`` is over the 240 KB per-event limit (UTF-8 bytes)."""
    # Cheap bound first: a str of n code points is at most 4n UTF-8 bytes.
    if len(event) * 4 <= MAX_EVENT_BYTES:
        return False
    return len(event.encode("utf-8", "surrogatepass")) > MAX_EVENT_BYTES


@dataclass(frozen=True, slots=True)
class Channel:
    """A concrete channel path; ``segments[0]`` is the namespace.

    Leading and trailing ``/`` are optional on the wire, so ``default/a`` and
    ``/default/a/`` are the same channel; ``path`` is the normalised form.
    """

    segments: tuple[str, ...]

    @property
    def namespace(self) -> str:
        return self.segments[0]

    @property
    def path(self) -> str:
        return "/" + "/".join(self.segments)

    def __str__(self) -> str:
        return self.path


@dataclass(frozen=True, slots=True)
class ChannelPattern:
    """What a subscription listens to: a channel, or a prefix ending in ``*``.

    A wildcard matches every channel that has ``prefix`` as its leading
    segments and at least one more: ``/default/*`` matches ``/default/a`` and
    ``/default/a/b`` (§6, the AWS tutorial), but not ``/default`` itself
    (UNCONFIRMED in the reference; chosen because ``*`` stands for a segment).
    """

    prefix: tuple[str, ...]
    wildcard: bool

    @property
    def namespace(self) -> str:
        return self.prefix[0]

    @property
    def path(self) -> str:
        return "/" + "/".join(self.prefix + ((WILDCARD,) if self.wildcard else ()))

    def matches(self, channel: Channel) -> bool:
        segments = channel.segments
        if not self.wildcard:
            return segments == self.prefix
        return len(segments) > len(self.prefix) and segments[: len(self.prefix)] == self.prefix

    def __str__(self) -> str:
        return self.path


def _split_channel(text: str) -> list[str]:
    if not isinstance(text, str):
        raise MessageValidationError("channel", "must be a string")
    body = text[1:] if text.startswith("/") else text
    body = body[:-1] if body.endswith("/") else body
    return body.split("/")


def _check_segment(segment: str) -> None:
    if not segment:
        raise MessageValidationError("channel", "has an empty segment")
    if len(segment) > MAX_SEGMENT_CHARS:
        raise MessageValidationError(
            "channel", f"segment is longer than {MAX_SEGMENT_CHARS} characters"
        )
    if not _SEGMENT.fullmatch(segment):
        raise MessageValidationError(
            "channel",
            f"segment {_clip(segment)!r} must be letters, digits and '-', "
            "and must not start or end with '-'",
        )


def parse_channel(text: str) -> Channel:
    """Parse a publish channel: 1 to 5 segments of ``[A-Za-z0-9-]`` (§6); no wildcard.

    Raises :class:`MessageValidationError` (``BadRequestException``, "Invalid
    Channel Format" on the wire) naming what is wrong.
    """
    segments = _split_channel(text)
    if len(segments) > MAX_CHANNEL_SEGMENTS:
        raise MessageValidationError(
            "channel", f"has {len(segments)} segments; at most {MAX_CHANNEL_SEGMENTS} are allowed"
        )
    if segments[-1] == WILDCARD:
        raise MessageValidationError("channel", "a wildcard channel can only be subscribed to")
    for segment in segments:
        _check_segment(segment)
    return Channel(tuple(segments))


def parse_channel_pattern(text: str) -> ChannelPattern:
    """Parse a subscribe channel: a channel, or one followed by a trailing ``*`` segment.

    The ``*`` must be a whole last segment (``/default/*``, not ``/default/a*``)
    and at least the namespace must precede it. Whether ``*`` counts toward
    the five segments is UNCONFIRMED (§6); it does not count here, the lenient
    reading.
    """
    segments = _split_channel(text)
    wildcard = segments[-1] == WILDCARD
    prefix = segments[:-1] if wildcard else segments
    if not prefix:
        raise MessageValidationError("channel", "a wildcard needs a namespace before it")
    if len(prefix) > MAX_CHANNEL_SEGMENTS:
        raise MessageValidationError(
            "channel", f"has {len(prefix)} segments; at most {MAX_CHANNEL_SEGMENTS} are allowed"
        )
    for segment in prefix:
        if WILDCARD in segment:
            raise MessageValidationError("channel", "'*' is only allowed as the whole last segment")
        _check_segment(segment)
    return ChannelPattern(tuple(prefix), wildcard)


# ---------------------------------------------------------------------------
# Fan-out
# ---------------------------------------------------------------------------

K = TypeVar("K")


@dataclass
class SubscriptionIndex(Generic[K]):
    """Subscribers by pattern, for fan-out: ``matching(channel)`` in O(channel depth).

    Exact patterns are found with one lookup of the full path, wildcards with
    one lookup per proper prefix of it (at most five), whatever the number of
    subscriptions. Keys are opaque (a (connection, subscription id) pair, say);
    a key may be added under several patterns.
    """

    _exact: dict[tuple[str, ...], dict[K, None]] = field(default_factory=dict)
    _wildcard: dict[tuple[str, ...], dict[K, None]] = field(default_factory=dict)
    _size: int = 0

    def _table(self, pattern: ChannelPattern) -> dict[tuple[str, ...], dict[K, None]]:
        return self._wildcard if pattern.wildcard else self._exact

    def add(self, pattern: ChannelPattern, key: K) -> None:
        keys = self._table(pattern).setdefault(pattern.prefix, {})
        if key not in keys:
            keys[key] = None
            self._size += 1

    def remove(self, pattern: ChannelPattern, key: K) -> bool:
        """Remove ``key`` from ``pattern``; returns whether it was there."""
        table = self._table(pattern)
        keys = table.get(pattern.prefix)
        if keys is None or key not in keys:
            return False
        del keys[key]
        if not keys:
            del table[pattern.prefix]
        self._size -= 1
        return True

    def matching(self, channel: Channel) -> Iterator[K]:
        """Every key whose pattern matches ``channel``: exact ones, then wildcards
        from the deepest prefix up. A key subscribed under two matching patterns
        is yielded once per pattern, as AppSync delivers once per subscription."""
        segments = channel.segments
        exact = self._exact.get(segments)
        if exact:
            yield from exact
        if self._wildcard:
            for depth in range(len(segments) - 1, 0, -1):
                keys = self._wildcard.get(segments[:depth])
                if keys:
                    yield from keys

    def __len__(self) -> int:
        return self._size


# ---------------------------------------------------------------------------
# Endpoints (§1)
# ---------------------------------------------------------------------------

_STANDARD_HOST = re.compile(
    r"(?P<api_id>\w{26})\.appsync-api\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(?P<cn>\.cn)?"
)


@dataclass(frozen=True, slots=True)
class Endpoints:
    """The HTTP and realtime URLs of one Event API, and the host that auth objects carry.

    ``http_host`` (with a port when the URL has one) is what goes into every
    ``host`` auth field, even on the realtime socket (§1).
    """

    http_url: str
    realtime_url: str
    http_host: str
    region: str | None

    @classmethod
    def from_http_url(cls, url: str) -> Endpoints:
        """Derive the endpoints from the HTTP endpoint, as amplify-js does (§1).

        ``https://<id>.appsync-api.<region>.amazonaws.com[/event]`` becomes
        ``wss://<id>.appsync-realtime-api.<region>.amazonaws.com/event/realtime``;
        any other host is a custom domain (or the emulator) serving both
        paths. ``http://`` maps to ``ws://``. The path may be omitted.
        """
        parts = urlsplit(url.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise MessageValidationError(
                "host", f"must be an http(s) URL such as https://<api>/event, not {_clip(url)!r}"
            )
        if parts.path not in ("", "/", HTTP_PATH, HTTP_PATH + "/"):
            raise MessageValidationError(
                "host", f"path must be {HTTP_PATH!r} (or empty), not {_clip(parts.path)!r}"
            )
        if parts.query or parts.fragment:
            raise MessageValidationError("host", "must not have a query or fragment")
        host = parts.netloc.rsplit("@", 1)[-1].lower()
        standard = _STANDARD_HOST.fullmatch(parts.hostname.lower())
        realtime_host = (
            host.replace(".appsync-api.", ".appsync-realtime-api.", 1) if standard else host
        )
        ws_scheme = "wss" if parts.scheme == "https" else "ws"
        return cls(
            http_url=f"{parts.scheme}://{host}{HTTP_PATH}",
            realtime_url=f"{ws_scheme}://{realtime_host}{REALTIME_PATH}",
            http_host=host,
            region=standard.group("region") if standard else None,
        )
