"""Talking to a live emulator process from the tests: a small synchronous
WebSocket client (``websockets.sync``, gevent-friendly), HTTP helpers, the
admin API and a bounded poll (``wait_until``). Nothing here is mocked: every call
crosses loopback."""

from __future__ import annotations

import http.client
import json
import ssl
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import gevent
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from harness.emulator import defaults
from harness.emulator.process import EmulatorProcess
from harness.protocol import Endpoints, Message, decode
from harness.signing import AuthMode, Authorizer, CredentialSource, make_authorizer
from harness.signing.jwt import mint_hs256
from support.timing import MS

RECV_TIMEOUT_S = 5_000 * MS
WAIT_S = 3_000 * MS
"""How long ``wait_until`` waits unless told."""


def wait_until(condition: Callable[[], Any], timeout: float = WAIT_S, what: str = "") -> Any:
    """Poll ``condition`` (yielding to other greenlets) until it returns something
    truthy; that value."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what or condition}")
        gevent.sleep(0.01)


def default_authorizer(
    mode: AuthMode, http_host: str, *, engine: str = "fast", now: float | None = None
) -> Authorizer:
    """An authorizer for ``mode`` holding the emulator's default test credentials."""
    token: str | None = None
    if mode in (AuthMode.AMAZON_COGNITO_USER_POOLS, AuthMode.OPENID_CONNECT):
        issued = time.time() if now is None else now
        token = mint_hs256(defaults.DEFAULT_JWT_SECRET, {"sub": "u1", "exp": int(issued + 3600)})
    elif mode is AuthMode.AWS_LAMBDA:
        token = defaults.DEFAULT_LAMBDA_TOKEN
    return make_authorizer(
        mode,
        http_host,
        api_key=defaults.DEFAULT_API_KEY,
        token=token,
        region=defaults.DEFAULT_REGION,
        credentials=CredentialSource.static(
            defaults.DEFAULT_ACCESS_KEY_ID, defaults.DEFAULT_SECRET_ACCESS_KEY
        ),
        sigv4_engine=engine,
    )


class WsClient:
    """A test client on one WebSocket; ``recv`` skips ``ka`` unless asked not to."""

    def __init__(self, ws: ClientConnection, authorizer: Authorizer | None) -> None:
        self.ws = ws
        self.authorizer = authorizer

    def send(self, frame: Mapping[str, Any] | str | bytes) -> None:
        self.ws.send(frame if isinstance(frame, str | bytes) else json.dumps(frame))

    def recv_raw(self, timeout: float = RECV_TIMEOUT_S) -> str:
        frame = self.ws.recv(timeout)
        assert isinstance(frame, str), f"the emulator sent a binary frame: {frame!r}"
        return frame

    def recv(self, timeout: float = RECV_TIMEOUT_S, *, skip_ka: bool = True) -> Message:
        deadline = time.monotonic() + timeout
        while True:
            message = decode(self.recv_raw(max(0.01, deadline - time.monotonic())), sender="server")
            if not (skip_ka and message.TYPE == "ka"):
                return message

    def recv_all(self, quiet_s: float = 0.3) -> list[Message]:
        """Every message (but ``ka``) until nothing arrives for ``quiet_s``."""
        messages: list[Message] = []
        while True:
            try:
                messages.append(self.recv(quiet_s))
            except TimeoutError:
                return messages

    def auth(self, channel: str, events: Sequence[str] | None = None) -> dict[str, str]:
        assert self.authorizer is not None
        return self.authorizer.message_authorization(channel, events)

    def init(self) -> Message:
        self.send({"type": "connection_init"})
        return self.recv()

    def subscribe(self, sub_id: str, channel: str, **extra: Any) -> Message:
        self.send(
            {
                "type": "subscribe",
                "id": sub_id,
                "channel": channel,
                "authorization": self.auth(channel),
                **extra,
            }
        )
        return self.recv()

    def publish(self, pub_id: str, channel: str, events: Sequence[str]) -> None:
        self.send(
            {
                "type": "publish",
                "id": pub_id,
                "channel": channel,
                "events": list(events),
                "authorization": self.auth(channel, events),
            }
        )

    def unsubscribe(self, sub_id: str) -> Message:
        self.send({"type": "unsubscribe", "id": sub_id})
        return self.recv()

    def closed_with(self, timeout: float = RECV_TIMEOUT_S) -> int | None:
        """Wait for the server to end the connection; the close code it sent, or None
        if it closed without a close frame."""
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                self.ws.recv(max(0.01, deadline - time.monotonic()))
        except ConnectionClosed as closed:
            return closed.rcvd.code if closed.rcvd is not None else None
        raise AssertionError(f"the connection was still open after {timeout} s")

    def close(self) -> None:
        self.ws.close()


@dataclass
class LiveEmulator:
    """A running emulator process and ways to talk to it."""

    process: EmulatorProcess

    @property
    def endpoints(self) -> Endpoints:
        return Endpoints.from_http_url(self.process.info.http_url)

    @property
    def http_host(self) -> str:
        return self.endpoints.http_host

    def ssl_context(self) -> ssl.SSLContext | None:
        ca_cert = self.process.info.ca_cert
        return ssl.create_default_context(cafile=ca_cert) if ca_cert else None

    def authorizer(self, mode: AuthMode = AuthMode.API_KEY, **kwargs: Any) -> Authorizer:
        return default_authorizer(mode, self.http_host, **kwargs)

    def open(
        self,
        subprotocols: Sequence[str] | None = None,
        *,
        authorizer: Authorizer | None = None,
        headers: Mapping[str, str] | None = None,
        path: str = "",
    ) -> ClientConnection:
        """A raw WebSocket to the realtime endpoint; raises if the handshake fails."""
        return connect(
            self.endpoints.realtime_url + path,
            subprotocols=subprotocols,  # type: ignore[arg-type]
            additional_headers=headers,
            proxy=None,
            compression=None,
            open_timeout=RECV_TIMEOUT_S,
            ssl=self.ssl_context(),
            max_size=None,
            legacy=True,
        )

    def client(self, mode: AuthMode = AuthMode.API_KEY, *, init: bool = True) -> WsClient:
        """A connected client authorized with ``mode``, ``connection_ack`` received."""
        authorizer = self.authorizer(mode)
        client = WsClient(self.open(authorizer.connect_subprotocols()), authorizer)
        if init:
            ack = client.init()
            assert ack.TYPE == "connection_ack", ack
        return client

    @contextmanager
    def clients(self, count: int, mode: AuthMode = AuthMode.API_KEY) -> Iterator[list[WsClient]]:
        opened = [self.client(mode) for _ in range(count)]
        try:
            yield opened
        finally:
            for client in opened:
                client.close()

    def request(
        self,
        method: str,
        path: str,
        body: bytes | str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> tuple[int, Any]:
        """An HTTP request to the emulator; the status and the decoded JSON body."""
        host = self.http_host
        connection: http.client.HTTPConnection
        context = self.ssl_context()
        if context is not None:
            connection = http.client.HTTPSConnection(host, timeout=RECV_TIMEOUT_S, context=context)
        else:
            connection = http.client.HTTPConnection(host, timeout=RECV_TIMEOUT_S)
        try:
            connection.request(method, path, body, dict(headers or {}))
            response = connection.getresponse()
            raw = response.read()
        finally:
            connection.close()
        try:
            return response.status, json.loads(raw)
        except ValueError:
            return response.status, raw.decode("utf-8", "replace")

    def http_publish(
        self, channel: str, events: Sequence[str], mode: AuthMode = AuthMode.API_KEY
    ) -> tuple[int, Any]:
        body = json.dumps({"channel": channel, "events": list(events)}).encode()
        headers = {"content-type": "application/json", **self.authorizer(mode).http_headers(body)}
        return self.request("POST", "/event", body, headers)

    def stats(self) -> dict[str, Any]:
        status, document = self.request("GET", "/_emulator/stats")
        assert status == 200, document
        return dict(document)

    def stats_since(self, attempt_seq: int) -> dict[str, Any]:
        status, document = self.request("GET", f"/_emulator/stats?attempts_since={attempt_seq}")
        assert status == 200, document
        return dict(document)

    def reset_stats(self) -> None:
        assert self.request("DELETE", "/_emulator/stats")[0] == 200

    def add_fault(self, spec: str) -> dict[str, Any]:
        status, document = self.request("POST", "/_emulator/faults", json.dumps({"spec": spec}))
        assert status == 201, document
        return dict(document["added"][0])

    def clear_faults(self) -> None:
        assert self.request("DELETE", "/_emulator/faults")[0] == 200

    def wait_for(self, predicate: Any, timeout: float = RECV_TIMEOUT_S) -> dict[str, Any]:
        """Poll the stats until ``predicate(stats)`` holds; the stats that satisfied it."""
        deadline = time.monotonic() + timeout
        while True:
            stats = self.stats()
            if predicate(stats):
                return stats
            if time.monotonic() > deadline:
                raise AssertionError(f"stats never satisfied the condition: {stats}")
            time.sleep(0.05)
