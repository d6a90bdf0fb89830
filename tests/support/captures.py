"""Clients that sign as buggy clients do, and HAR files of what they really sent.

:class:`WrongSigner` signs with botocore, as a third-party client would, but over the
canonical URI, body or secret it is told to get wrong. :func:`recorded_har` runs one
session of any authorizer against the emulator (connect, subscribe, publish over the
WebSocket, publish over HTTP) and writes what went over the wire, the emulator's
answers included, as Chrome exports it: the realtime entry with its
``_webSocketMessages``, then the ``POST /event`` entry.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from websockets.exceptions import ConnectionClosed

from harness.emulator import defaults
from harness.signing import AuthMode, Authorizer, encode_subprotocol
from harness.signing.wire import signing_body
from support.emulator import LiveEmulator
from support.signed_requests import SUBPROTOCOL, botocore_headers
from support.timing import MS

ANSWER_WAIT_S = 2_000 * MS


class WrongSigner(Authorizer):
    """AWS_IAM signed by botocore, wrongly where told: the connect over ``connect_path``,
    subscribes over ``subscribe_body``, everything with ``secret_key``."""

    mode = AuthMode.AWS_IAM
    signs_body = True

    def __init__(
        self,
        host: str,
        *,
        connect_path: str = "/event",
        subscribe_body: bytes | None = None,
        secret_key: str = defaults.DEFAULT_SECRET_ACCESS_KEY,
    ) -> None:
        super().__init__(host)
        self.connect_path = connect_path
        self.subscribe_body = subscribe_body
        self.secret_key = secret_key

    def _auth_headers(self, body: bytes) -> dict[str, str]:
        headers = botocore_headers(self.host, body, secret_key=self.secret_key)
        del headers["host"]
        return headers

    def connect_headers(self) -> dict[str, str]:
        return botocore_headers(
            self.host, signing_body(), path=self.connect_path, secret_key=self.secret_key
        )

    def message_authorization(
        self, channel: str, events: Sequence[str] | None = None
    ) -> dict[str, str]:
        if events is None and self.subscribe_body is not None:
            return botocore_headers(self.host, self.subscribe_body, secret_key=self.secret_key)
        return super().message_authorization(channel, events)


def recorded_har(live: LiveEmulator, authorizer: Authorizer, channel: str) -> dict[str, Any]:
    """A HAR of one session of ``authorizer``'s against ``live``, answers included."""
    return {
        "log": {
            "version": "1.2",
            "creator": {"name": "harness tests", "version": "1"},
            "entries": [
                _realtime_entry(live, authorizer, channel),
                _http_entry(live, authorizer, channel),
                _unrelated_entry(live),
            ],
        }
    }


def _realtime_entry(live: LiveEmulator, authorizer: Authorizer, channel: str) -> dict[str, Any]:
    protocol = encode_subprotocol(authorizer.connect_headers())
    started = time.time()
    socket = live.open([SUBPROTOCOL, protocol])
    messages: list[dict[str, Any]] = []
    events = ['{"recorded":1}']
    frames = [
        {"type": "connection_init"},
        {
            "type": "subscribe",
            "id": "s1",
            "channel": channel,
            "authorization": authorizer.message_authorization(channel),
        },
        {
            "type": "publish",
            "id": "p1",
            "channel": channel,
            "events": events,
            "authorization": authorizer.message_authorization(channel, events),
        },
    ]
    for frame in frames:
        text = json.dumps(frame, separators=(",", ":"))
        try:
            socket.send(text)
        except ConnectionClosed:  # a refused connect is closed by the server
            break
        messages.append(_message("send", text))
        _read_answers(socket, messages)
    _read_answers(socket, messages)  # what came before the server closed
    socket.close()
    return {
        "startedDateTime": _iso(started),
        "_resourceType": "websocket",
        "request": {
            "method": "GET",
            "url": live.endpoints.realtime_url,
            "headers": [
                {"name": "Upgrade", "value": "websocket"},
                {"name": "Sec-WebSocket-Protocol", "value": f"{SUBPROTOCOL}, {protocol}"},
            ],
        },
        "response": {"status": 101, "headers": [], "content": {"size": 0, "text": ""}},
        "_webSocketMessages": messages,
    }


def _read_answers(socket: Any, messages: list[dict[str, Any]]) -> None:
    """Read until the server is quiet for a moment (or has closed)."""
    while True:
        try:
            text = socket.recv(timeout=ANSWER_WAIT_S / 10)
        except (TimeoutError, ConnectionClosed):
            return
        messages.append(_message("receive", text))


def _http_entry(live: LiveEmulator, authorizer: Authorizer, channel: str) -> dict[str, Any]:
    body = json.dumps({"channel": channel, "events": ['{"recorded":2}']}, separators=(",", ":"))
    headers = authorizer.http_headers(body.encode())
    started = time.time()
    status, answer = live.request("POST", "/event", body, headers)
    return {
        "startedDateTime": _iso(started),
        "request": {
            "method": "POST",
            "url": live.endpoints.http_url,
            "headers": [{"name": name, "value": value} for name, value in headers.items()],
            "postData": {"mimeType": "application/json", "text": body},
        },
        "response": {
            "status": status,
            "headers": [],
            "content": {"size": 0, "text": json.dumps(answer)},
        },
    }


def _unrelated_entry(live: LiveEmulator) -> dict[str, Any]:
    return {
        "startedDateTime": _iso(time.time()),
        "request": {"method": "GET", "url": f"http://{live.http_host}/index.html", "headers": []},
        "response": {"status": 200, "headers": [], "content": {"size": 0, "text": ""}},
    }


def _message(direction: str, text: str | bytes) -> dict[str, Any]:
    data = text.decode() if isinstance(text, bytes) else text
    return {"type": direction, "time": time.time(), "opcode": 1, "data": data}


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat().replace("+00:00", "Z")
