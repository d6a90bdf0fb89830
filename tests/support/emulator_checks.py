"""Helpers for the emulator robustness and command-line tests: a full round trip
with a fresh client, running ``python -m harness.emulator`` as a command, and raw
HTTP / WebSocket-upgrade exchanges for bytes no well-behaved client library sends.
Everything crosses loopback to a real emulator process; every wait is bounded."""

from __future__ import annotations

import base64
import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

from harness.protocol import (
    ConnectionAck,
    ConnectionErrorMessage,
    Data,
    PublishSuccess,
    SubscribeSuccess,
)
from harness.signing import Authorizer
from support.emulator import RECV_TIMEOUT_S, LiveEmulator, WsClient
from support.timing import MS

REPO_ROOT = Path(__file__).resolve().parents[2]
CLI_TIMEOUT_S = 30_000 * MS


def unique(prefix: str = "c") -> str:
    """A fresh channel segment or operation id (letters, digits and '-')."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def connect_client(live: LiveEmulator, authorizer: Authorizer) -> WsClient:
    """A client connected with ``authorizer``'s connect auth, ``connection_ack`` received."""
    client = WsClient(live.open(authorizer.connect_subprotocols()), authorizer)
    ack = client.init()
    assert isinstance(ack, ConnectionAck), ack
    return client


def connection_refusal(live: LiveEmulator, authorizer: Authorizer) -> tuple[list[str], int | None]:
    """Connect with ``authorizer``'s connect auth, expecting a refusal: the error types
    of the ``connection_error`` and the close code that followed it."""
    client = WsClient(live.open(authorizer.connect_subprotocols()), None)
    reply = client.recv()
    assert isinstance(reply, ConnectionErrorMessage), reply
    return [error.error_type for error in reply.errors], client.closed_with()


def round_trip(
    live: LiveEmulator, authorizer: Authorizer | None = None, namespace: str = "default"
) -> None:
    """A fresh client connects, subscribes, publishes over the WebSocket and receives its
    event: the emulator still serves new clients normally."""
    assert live.process.process.poll() is None, "the emulator process has exited"
    client = connect_client(live, authorizer or live.authorizer())
    try:
        channel = f"/{namespace}/{unique('rt')}"
        sub_id = unique("sub")
        assert client.subscribe(sub_id, channel) == SubscribeSuccess(sub_id)
        event = json.dumps({"round": "trip", "id": sub_id})
        pub_id = unique("pub")
        client.publish(pub_id, channel, [event])
        received = [client.recv(), client.recv()]
        acks = [message for message in received if isinstance(message, PublishSuccess)]
        assert len(acks) == 1 and acks[0].id == pub_id and acks[0].failed == (), received
        assert Data(sub_id, event) in received, received
    finally:
        client.close()


def run_cli(
    *arguments: str, timeout: float = CLI_TIMEOUT_S, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """``python -m harness.emulator ARGUMENTS`` for a command expected to exit by itself."""
    return subprocess.run(
        [sys.executable, "-m", "harness.emulator", *arguments],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd or REPO_ROOT,
        check=False,
    )


def _host_port(live: LiveEmulator) -> tuple[str, int]:
    host, _, port = live.http_host.rpartition(":")
    return host, int(port)


def raw_exchange(live: LiveEmulator, request: bytes, *, want_ws_frame: bool = False) -> bytes:
    """Send ``request`` bytes on a new TCP connection; what came back until the server
    closed it, or (``want_ws_frame``) until the response head and one complete
    WebSocket frame after it have arrived."""
    received = b""
    deadline = time.monotonic() + RECV_TIMEOUT_S
    with socket.create_connection(_host_port(live), timeout=RECV_TIMEOUT_S) as sock:
        sock.sendall(request)
        while time.monotonic() < deadline:
            sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                chunk = sock.recv(65536)
            except (TimeoutError, ConnectionResetError):
                break
            if not chunk:
                break
            received += chunk
            if want_ws_frame and first_ws_frame(received) is not None:
                break
    return received


def raw_websocket(live: LiveEmulator, subprotocols: Sequence[str]) -> tuple[socket.socket, bytes]:
    """A WebSocket opened by hand, for frames no client library sends: the socket,
    after a ``101``, and what was received so far (the response head)."""
    key = base64.b64encode(os.urandom(16)).decode("ascii")
    request = (
        f"GET /event/realtime HTTP/1.1\r\nHost: {live.http_host}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
        f"Sec-WebSocket-Protocol: {', '.join(subprotocols)}\r\n\r\n"
    )
    sock = socket.create_connection(_host_port(live), timeout=RECV_TIMEOUT_S)
    sock.sendall(request.encode("ascii"))
    received = b""
    while b"\r\n\r\n" not in received:
        chunk = sock.recv(65536)
        assert chunk, f"the connection ended during the handshake: {received!r}"
        received += chunk
    assert status_of(received) == 101, received[:200]
    return sock, received


def read_first_ws_frame(sock: socket.socket, received: bytes) -> tuple[int, bytes] | None:
    """Read from ``sock`` until the first server frame after the response head is
    complete (see :func:`first_ws_frame`); None if the connection ended first."""
    deadline = time.monotonic() + RECV_TIMEOUT_S
    while (frame := first_ws_frame(received)) is None and time.monotonic() < deadline:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            chunk = sock.recv(65536)
        except (TimeoutError, ConnectionResetError):
            return None
        if not chunk:
            return None
        received += chunk
    return frame


def first_ws_frame(received: bytes) -> tuple[int, bytes] | None:
    """The opcode and payload of the first (unmasked, server-sent) WebSocket frame
    after the HTTP response head in ``received``; None if it is not all there."""
    head_end = received.find(b"\r\n\r\n")
    if head_end < 0:
        return None
    frame = received[head_end + 4 :]
    if len(frame) < 2:
        return None
    opcode, length, offset = frame[0] & 0x0F, frame[1] & 0x7F, 2
    if length == 126:
        if len(frame) < 4:
            return None
        length, offset = int.from_bytes(frame[2:4], "big"), 4
    elif length == 127:
        if len(frame) < 10:
            return None
        length, offset = int.from_bytes(frame[2:10], "big"), 10
    if len(frame) < offset + length:
        return None
    return opcode, frame[offset : offset + length]


def status_of(response: bytes) -> int:
    """The status code of a raw HTTP response (0 if there was no response at all)."""
    parts = response.split(b" ", 2)
    return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0
