"""Reading another client's AppSync Events requests from a capture file.

Two forms are read:

- a HAR file, as Chrome and Firefox export their network log. Chrome records a
  WebSocket's messages in its entry's ``_webSocketMessages`` (``type`` ``send`` or
  ``receive``, ``time`` in Unix seconds, ``data``); a browser that does not leaves
  only the connect to check.
- a JSON list of captured requests, one object each, in HAR's spirit but plain::

      {"url": "wss://…/event/realtime", "time": "2026-12-05T10:00:00Z",
       "headers": {"Sec-WebSocket-Protocol": "aws-appsync-event-ws, header-…"},
       "messages": [{"type": "send", "data": "{\\"type\\":\\"subscribe\\",…}"},
                    {"type": "receive", "data": "{\\"type\\":\\"subscribe_error\\",…}"}]}
      {"url": "https://…/event", "method": "POST", "headers": {…}, "body": "{…}",
       "response": {"status": 400, "body": "{\\"errors\\":[…]}"}}

  ``headers`` is an object or HAR's list of ``{"name", "value"}``; ``time`` an ISO 8601
  string or Unix seconds; ``method`` defaults to ``GET`` with ``messages`` or a
  ``Sec-WebSocket-Protocol`` header, else ``POST``.

The AppSync Events requests in them are the realtime connect (its ``header-``
subprotocol), the ``subscribe`` and ``publish`` messages sent on it, and
``POST /event``; everything else is counted and skipped. A refusal recorded with
a request (a ``connection_error``, ``subscribe_error`` or ``publish_error`` with
its id, an HTTP error's body) is kept with it: AppSync's signature-mismatch text
names what it expected.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from harness.diagnose.answers import error_message, error_text, json_object
from harness.diagnose.checks import CapturedRequest, Finding, Verdict
from harness.errors import AuthorizationRejected, ConfigurationError
from harness.protocol.constants import HTTP_PATH, REALTIME_PATH, SUBPROTOCOL
from harness.signing import Operation, decode_subprotocol
from harness.signing.variants import SignedRequest
from harness.signing.wire import SUBPROTOCOL_PREFIX

OPTION = "--har"
ANSWER_TYPES = {"subscribe": "subscribe_error", "publish": "publish_error"}


@dataclass(frozen=True)
class Malformed:
    """An AppSync Events request that cannot be checked as sent, and why."""

    where: str
    operation: str
    finding: Finding


@dataclass
class _Exchange:
    """One request (and what came back), whichever form it was read from."""

    where: str
    url: str
    method: str
    headers: dict[str, str]
    body: str = ""
    sent_at: float | None = None
    status: int | None = None
    response: str = ""
    messages: list[tuple[str, str, float | None]] = field(default_factory=list)
    """``(send|receive, data, time)``."""


@dataclass
class CaptureFile:
    """The AppSync Events requests found in one file."""

    requests: list[CapturedRequest | Malformed]
    skipped: int
    """Requests that were not AppSync Events requests."""
    notes: list[str]
    """What could not be read (a WebSocket without recorded messages, say)."""


def read_capture_file(path: str) -> CaptureFile:
    """The requests in the HAR or JSON file at ``path``; :class:`ConfigurationError` naming
    ``--har`` when it cannot be read or holds no AppSync Events request."""
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigurationError(OPTION, f"cannot read {path}: {exc.strerror}") from None
    except ValueError as exc:
        raise ConfigurationError(OPTION, f"{path} is not JSON: {exc}") from None
    exchanges = list(_exchanges(document, path))
    found = CaptureFile([], 0, [])
    for exchange in exchanges:
        if not _collect(exchange, found):
            found.skipped += 1
    if not found.requests:
        raise ConfigurationError(
            OPTION,
            f"{path} holds no AppSync Events request (a connect to {REALTIME_PATH}, its "
            f"subscribe or publish messages, or POST {HTTP_PATH}) among {len(exchanges)} "
            "request(s)",
        )
    return found


# -- the two forms -----------------------------------------------------------------------


def _exchanges(document: Any, path: str) -> Iterator[_Exchange]:
    if isinstance(document, dict) and isinstance(document.get("log"), dict):
        entries = document["log"].get("entries")
        if not isinstance(entries, list):
            raise ConfigurationError(OPTION, f"{path}: a HAR file's log needs its entries list")
        for number, entry in enumerate(entries, 1):
            yield _from_har(entry, f"entry {number}")
    elif isinstance(document, list):
        for number, item in enumerate(document, 1):
            yield _from_plain(item, f"request {number}")
    else:
        raise ConfigurationError(
            OPTION, f"{path} is neither a HAR file (log.entries) nor a list of captured requests"
        )


def _from_har(entry: Any, where: str) -> _Exchange:
    request = _object(entry, "request", where)
    response = _part(entry, "response")
    post = _part(request, "postData")
    content = _part(response, "content")
    messages = entry.get("_webSocketMessages")
    return _Exchange(
        where=where,
        url=str(request.get("url", "")),
        method=str(request.get("method", "GET")).upper(),
        headers=_headers(request.get("headers"), where),
        body=str(post.get("text", "")),
        sent_at=_time(entry.get("startedDateTime"), where),
        status=response.get("status") if isinstance(response.get("status"), int) else None,
        response=str(content.get("text", "")),
        messages=_messages(messages if isinstance(messages, list) else [], where),
    )


def _from_plain(item: Any, where: str) -> _Exchange:
    if not isinstance(item, dict):
        raise ConfigurationError(OPTION, f"{where} must be a JSON object")
    headers = _headers(item.get("headers"), where)
    messages = _messages(item.get("messages") or [], where)
    upgrade = bool(messages) or "sec-websocket-protocol" in headers
    response = _part(item, "response")
    return _Exchange(
        where=where,
        url=str(item.get("url", "")),
        method=str(item.get("method") or ("GET" if upgrade else "POST")).upper(),
        headers=headers,
        body=str(item.get("body") or ""),
        sent_at=_time(item.get("time"), where),
        status=response.get("status") if isinstance(response.get("status"), int) else None,
        response=str(response.get("body") or ""),
        messages=messages,
    )


def _object(value: Any, key: str, where: str) -> Mapping[str, Any]:
    inner = value.get(key) if isinstance(value, dict) else None
    if not isinstance(inner, dict):
        raise ConfigurationError(OPTION, f"{where} has no {key} object")
    return inner


def _part(value: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    """``value[key]`` when it is an object, else an empty one."""
    inner = value.get(key)
    return inner if isinstance(inner, dict) else {}


def _headers(value: Any, where: str) -> dict[str, str]:
    """Lower-case names; HTTP/2's ``:authority`` is the host."""
    if isinstance(value, dict):
        pairs = [(str(name), str(text)) for name, text in value.items()]
    elif isinstance(value, list):
        pairs = [
            (str(item.get("name", "")), str(item.get("value", "")))
            for item in value
            if isinstance(item, dict)
        ]
    elif value is None:
        pairs = []
    else:
        raise ConfigurationError(OPTION, f"{where}: headers must be an object or a list")
    headers = {name.lower(): text for name, text in pairs}
    if "host" not in headers and ":authority" in headers:
        headers["host"] = headers[":authority"]
    return {name: text for name, text in headers.items() if not name.startswith(":")}


def _messages(value: Any, where: str) -> list[tuple[str, str, float | None]]:
    if not isinstance(value, list):
        raise ConfigurationError(OPTION, f"{where}: messages must be a list")
    messages = []
    for message in value:
        if isinstance(message, dict) and message.get("type") in ("send", "receive"):
            when = _time(message.get("time"), where)
            messages.append((str(message["type"]), str(message.get("data", "")), when))
    return messages


def _time(value: Any, where: str) -> float | None:
    if value is None or value == "":
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    try:
        return datetime.fromisoformat(str(value)).timestamp()
    except ValueError:
        raise ConfigurationError(
            OPTION, f"{where}: {str(value)[:40]!r} is not an ISO 8601 time or Unix seconds"
        ) from None


# -- finding the AppSync Events requests -------------------------------------------------


def _is_realtime(exchange: _Exchange) -> bool:
    protocols = exchange.headers.get("sec-websocket-protocol", "")
    return urlsplit(exchange.url).path.rstrip("/").endswith(REALTIME_PATH) or (
        SUBPROTOCOL in protocols
    )


def _collect(exchange: _Exchange, found: CaptureFile) -> bool:
    """Adds the AppSync Events requests of ``exchange``; False when it is none."""
    if _is_realtime(exchange):
        _collect_realtime(exchange, found)
        return True
    path = urlsplit(exchange.url).path.rstrip("/")
    if exchange.method != "POST" or not path.endswith(HTTP_PATH):
        return False
    request = SignedRequest(
        Operation.HTTP_PUBLISH, exchange.headers, body=exchange.body.encode("utf-8")
    )
    refused = exchange.status is not None and exchange.status >= 400
    answer = error_text(exchange.response) if refused else None
    found.requests.append(
        CapturedRequest(request, exchange.url, exchange.where, exchange.sent_at, answer)
    )
    return True


def _collect_realtime(exchange: _Exchange, found: CaptureFile) -> None:
    received = [
        json_object(data) for direction, data, _ in exchange.messages if direction == "receive"
    ]
    tokens = [t.strip() for t in exchange.headers.get("sec-websocket-protocol", "").split(",")]
    auth = next((t for t in tokens if t.startswith(SUBPROTOCOL_PREFIX)), None)
    if auth is None:
        found.requests.append(
            Malformed(
                exchange.where,
                "connect",
                Finding(
                    Verdict.FAULT,
                    "subprotocol",
                    f"the connect offers no {SUBPROTOCOL_PREFIX}… subprotocol, where AppSync "
                    f"Events reads its authorization (offered: {', '.join(tokens) or 'none'})",
                ),
            )
        )
    else:
        try:
            headers = decode_subprotocol(auth)
        except AuthorizationRejected as exc:
            finding = Finding(Verdict.FAULT, "subprotocol", exc.reason)
            found.requests.append(Malformed(exchange.where, "connect", finding))
        else:
            answer = next(
                (error_message(m) for m in received if m.get("type") == "connection_error"), None
            )
            found.requests.append(
                CapturedRequest(
                    SignedRequest(Operation.CONNECT, headers),
                    exchange.url,
                    exchange.where,
                    exchange.sent_at,
                    answer,
                )
            )
    if not exchange.messages:
        found.notes.append(
            f"{exchange.where}: no WebSocket messages were recorded (Chrome's HAR has them; "
            "other browsers may not), so only the connect was checked"
        )
    for number, (direction, data, when) in enumerate(exchange.messages, 1):
        message = json_object(data)
        kind = message.get("type")
        if direction != "send" or kind not in ANSWER_TYPES:
            continue
        authorization = message.get("authorization")
        events = message.get("events") if kind == "publish" else None
        request = SignedRequest(
            Operation(kind),
            authorization if isinstance(authorization, dict) else {},
            channel=str(message.get("channel", "")),
            events=[str(event) for event in events] if isinstance(events, list) else None,
        )
        answer = next(
            (
                error_message(m)
                for m in received
                if m.get("type") == ANSWER_TYPES[kind] and m.get("id") == message.get("id")
            ),
            None,
        )
        where = f"{exchange.where}, message {number}"
        found.requests.append(CapturedRequest(request, exchange.url, where, when, answer))
