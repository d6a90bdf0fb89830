"""Message dataclasses, named after their wire ``type`` (docs/protocol.md#messages), and
:func:`encode` / :func:`decode`.

Decoding checks structure (JSON object, known type, required fields with the right
JSON types) and tolerates unknown extra fields, because real clients send a legacy
``payload`` object. The protocol *rules* live in :mod:`harness.protocol.rules` and
:mod:`harness.protocol.channels`, so a server can still answer a subscribe whose
channel is bad with a ``subscribe_error`` carrying its id.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import orjson

from harness.errors import MessageDecodeError
from harness.protocol._text import clip, short, strict_json
from harness.protocol.constants import DEFAULT_CONNECTION_TIMEOUT_MS

Authorization = Mapping[str, str]
"""A header map: the connect auth object or a message's ``authorization``
(docs/protocol.md#auth-objects)."""


@dataclass(frozen=True, slots=True)
class ErrorDetail:
    """One entry of an ``errors`` array: ``{"errorType", "message", "errorCode"?}``
    (docs/protocol.md#errors)."""

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
    ``message`` (docs/protocol.md#http-publish), e.g. ``EventTooLargeException``."""

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


Sender = Literal["client", "server"]
"""Which side of the connection sends a message type."""


class Message:
    """Base of every message; ``TYPE`` is the wire ``type`` and ``SENDER`` who sends it."""

    TYPE: ClassVar[str]
    SENDER: ClassVar[Sender]
    __slots__ = ()


# Client to server ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ConnectionInit(Message):
    TYPE: ClassVar[str] = "connection_init"
    SENDER: ClassVar[Sender] = "client"


@dataclass(frozen=True, slots=True)
class Subscribe(Message):
    TYPE: ClassVar[str] = "subscribe"
    SENDER: ClassVar[Sender] = "client"
    id: str
    channel: str
    authorization: Authorization | None = None


@dataclass(frozen=True, slots=True)
class Unsubscribe(Message):
    TYPE: ClassVar[str] = "unsubscribe"
    SENDER: ClassVar[Sender] = "client"
    id: str


@dataclass(frozen=True, slots=True)
class Publish(Message):
    """A WebSocket publish; ``events`` are JSON texts, one event each
    (docs/protocol.md#messages)."""

    TYPE: ClassVar[str] = "publish"
    SENDER: ClassVar[Sender] = "client"
    id: str
    channel: str
    events: tuple[str, ...]
    authorization: Authorization | None = None


# Server to client ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ConnectionAck(Message):
    """``connectionTimeoutMs`` is a top-level field for Events (docs/protocol.md#keep-alive)."""

    TYPE: ClassVar[str] = "connection_ack"
    SENDER: ClassVar[Sender] = "server"
    connection_timeout_ms: int = DEFAULT_CONNECTION_TIMEOUT_MS


@dataclass(frozen=True, slots=True)
class KeepAlive(Message):
    TYPE: ClassVar[str] = "ka"
    SENDER: ClassVar[Sender] = "server"


@dataclass(frozen=True, slots=True)
class ConnectionErrorMessage(Message):
    """``connection_error`` (named so as not to shadow the builtin ``ConnectionError``)."""

    TYPE: ClassVar[str] = "connection_error"
    SENDER: ClassVar[Sender] = "server"
    errors: tuple[ErrorDetail, ...]


@dataclass(frozen=True, slots=True)
class SubscribeSuccess(Message):
    TYPE: ClassVar[str] = "subscribe_success"
    SENDER: ClassVar[Sender] = "server"
    id: str


@dataclass(frozen=True, slots=True)
class SubscribeError(Message):
    TYPE: ClassVar[str] = "subscribe_error"
    SENDER: ClassVar[Sender] = "server"
    id: str
    errors: tuple[ErrorDetail, ...]


@dataclass(frozen=True, slots=True)
class Data(Message):
    """One delivered event; ``event`` is a JSON *string* holding one event
    (docs/protocol.md#messages)."""

    TYPE: ClassVar[str] = "data"
    SENDER: ClassVar[Sender] = "server"
    id: str
    event: str


@dataclass(frozen=True, slots=True)
class BroadcastError(Message):
    TYPE: ClassVar[str] = "broadcast_error"
    SENDER: ClassVar[Sender] = "server"
    id: str
    errors: tuple[ErrorDetail, ...]


@dataclass(frozen=True, slots=True)
class UnsubscribeSuccess(Message):
    TYPE: ClassVar[str] = "unsubscribe_success"
    SENDER: ClassVar[Sender] = "server"
    id: str


@dataclass(frozen=True, slots=True)
class UnsubscribeError(Message):
    TYPE: ClassVar[str] = "unsubscribe_error"
    SENDER: ClassVar[Sender] = "server"
    id: str
    errors: tuple[ErrorDetail, ...]


@dataclass(frozen=True, slots=True)
class PublishSuccess(Message):
    TYPE: ClassVar[str] = "publish_success"
    SENDER: ClassVar[Sender] = "server"
    id: str
    successful: tuple[PublishResult, ...] = ()
    failed: tuple[PublishFailure, ...] = ()


@dataclass(frozen=True, slots=True)
class PublishError(Message):
    TYPE: ClassVar[str] = "publish_error"
    SENDER: ClassVar[Sender] = "server"
    id: str
    errors: tuple[ErrorDetail, ...]


@dataclass(frozen=True, slots=True)
class ErrorMessage(Message):
    """The generic ``error`` message; its ``id`` is optional (docs/protocol.md#messages)."""

    TYPE: ClassVar[str] = "error"
    SENDER: ClassVar[Sender] = "server"
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
    """JSON the way ``JSON.stringify`` writes it: no spaces, ``/`` and non-ASCII unescaped.

    orjson writes the same text several times faster (every publish is encoded here);
    what it refuses (integers past 64 bits, lone surrogates) goes to ``json``."""
    try:
        return orjson.dumps(value).decode("utf-8")
    except (orjson.JSONEncodeError, UnicodeDecodeError):
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


def decode(frame: str | bytes, *, sender: Sender | None = None) -> Message:
    """Decode a text frame into a message.

    ``frame`` must be text: AppSync Events never sends binary frames, so
    ``bytes`` is rejected. With ``sender`` given, a message type that this side
    never sends is rejected too (a server receiving ``data``, say). Unknown
    extra fields are ignored. Raises :class:`MessageDecodeError`.
    """
    return from_wire(parse_frame(frame), sender=sender)


def parse_frame(frame: str | bytes) -> object:
    """The JSON value of a text frame, the first step of :func:`decode`; a server
    uses it to read a bad message's ``id`` before answering it."""
    if not isinstance(frame, str):
        raise MessageDecodeError(
            "binary frames are not part of the protocol; expected a text frame"
        )
    try:
        return strict_json.decode(frame)
    except (ValueError, RecursionError) as exc:
        raise MessageDecodeError(f"frame is not JSON ({short(exc)})") from exc


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
        raise MessageDecodeError(f"unknown message type {clip(message_type)!r}", field="type")
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

    def _get(self, name: str, entry: tuple[str, dict[str, Any]] | None) -> tuple[str, Any]:
        """The field's display name and value; ``entry`` is (path, object) for a nested one."""
        path, source = (name, self._obj) if entry is None else (f"{entry[0]}.{name}", entry[1])
        if name not in source:
            raise self._fail(path, "missing")
        return path, source[name]

    def string(self, name: str, entry: tuple[str, dict[str, Any]] | None = None) -> str:
        path, value = self._get(name, entry)
        if not isinstance(value, str):
            raise self._fail(path, f"must be a string, not {_json_kind(value)}")
        return value

    def optional_string(self, name: str) -> str | None:
        value = self._obj.get(name)
        if value is not None and not isinstance(value, str):
            raise self._fail(name, f"must be a string, not {_json_kind(value)}")
        return value

    def integer(self, name: str, entry: tuple[str, dict[str, Any]] | None = None) -> int:
        path, value = self._get(name, entry)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self._fail(path, f"must be an integer, not {_json_kind(value)}")
        return value

    def string_list(self, name: str) -> tuple[str, ...]:
        path, value = self._get(name, None)
        if not isinstance(value, list):
            raise self._fail(path, f"must be an array of strings, not {_json_kind(value)}")
        for index, item in enumerate(value):
            if not isinstance(item, str):
                raise self._fail(f"{name}[{index}]", f"must be a string, not {_json_kind(item)}")
        return tuple(value)

    def objects(self, name: str, *, required: bool = True) -> list[tuple[str, dict[str, Any]]]:
        """The entries of an array of objects, each with its path (``errors[0]``)."""
        if not required and name not in self._obj:
            return []
        path, value = self._get(name, None)
        if not isinstance(value, list):
            raise self._fail(path, f"must be an array of objects, not {_json_kind(value)}")
        for index, item in enumerate(value):
            if not isinstance(item, dict):
                raise self._fail(f"{name}[{index}]", f"must be an object, not {_json_kind(item)}")
        return [(f"{name}[{index}]", item) for index, item in enumerate(value)]

    def authorization(self) -> Authorization | None:
        value = self._obj.get("authorization")
        if value is None:
            return None
        if not isinstance(value, dict):
            raise self._fail("authorization", f"must be an object, not {_json_kind(value)}")
        for key, item in value.items():
            if not isinstance(item, str):
                raise self._fail(
                    f"authorization.{clip(key)}", f"must be a string, not {_json_kind(item)}"
                )
        return value

    def errors(self) -> tuple[ErrorDetail, ...]:
        details = []
        for where, entry in self.objects("errors"):
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
        """``failed`` entries; the live service names the fields ``code`` and ``message``
        (docs/protocol.md#http-publish), the Swift SDK ``errorCode`` and ``errorMessage``: both are
        read."""
        failures = []
        for entry in self.objects("failed", required=False):
            fields = entry[1]
            code = fields.get("code", fields.get("errorCode"))
            message = fields.get("message", fields.get("errorMessage"))
            failures.append(
                PublishFailure(
                    identifier=self.string("identifier", entry),
                    index=self.integer("index", entry),
                    code="" if code is None else str(code),
                    message="" if message is None else str(message),
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
