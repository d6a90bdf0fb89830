"""Helpers shared by the tests of the load client, HTTP publish, the ``locust``
command and its web UI: unique channels, loopback ports with nothing (useful)
behind them, the server texts the tests expect, and the temporary credentials of
the IAM mismatch tests."""

from __future__ import annotations

import json
import random
import re
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, NamedTuple

import gevent
from websockets.utils import accept_key

from harness.emulator import defaults
from harness.protocol import SUBPROTOCOL, Endpoints
from harness.signing import AuthMode, Authorizer, CredentialSource, make_authorizer
from support.emulator import LiveEmulator, default_authorizer

EVENT_TOO_LARGE_TEXT = "Transformed event is larger than 240KB"
INVALID_CHANNEL_TEXT = "Invalid Channel Format"

# Temporary credentials for the IAM mismatch tests: the emulator of ``TemporaryIam``
# knows the access key and the session token; a client signs with the right secret or
# with ``WRONG_SECRET_KEY``.
TEMP_ACCESS_KEY = "ASIAHARNESSCLIENTT01"
TEMP_SECRET_KEY = "clientTestTemporarySecretKey/0123456789ab"
WRONG_SECRET_KEY = "clientTestWrongSecretKeyXXXXXXXXXXXXXXXXX"
SESSION_TOKEN = "ZZdistinctiveSessionTokenForClientTests0123456789ZZ"


def channel(namespace: str = "default", *more: str) -> str:
    """A channel of its own for one test, so tests sharing an emulator never cross."""
    return "/" + "/".join((namespace, "c" + uuid.uuid4().hex[:16], *more))


def first_line(text: str) -> str:
    lines = text.strip().splitlines()
    return lines[0] if lines else ""


class TemporaryIam(NamedTuple):
    """An emulator that knows only the temporary credentials (with their session token),
    and AWS_IAM authorizers for it that sign with the right secret and with a wrong one."""

    live: LiveEmulator
    right: Authorizer
    wrong: Authorizer

    @classmethod
    def start(cls, start_emulator: Callable[..., LiveEmulator]) -> TemporaryIam:
        live = start_emulator("--iam", f"{TEMP_ACCESS_KEY}:{TEMP_SECRET_KEY}:{SESSION_TOKEN}")

        def authorizer(secret_key: str) -> Authorizer:
            return make_authorizer(
                AuthMode.AWS_IAM,
                live.http_host,
                region=defaults.DEFAULT_REGION,
                credentials=CredentialSource.static(TEMP_ACCESS_KEY, secret_key, SESSION_TOKEN),
                sigv4_engine="fast",
            )

        return cls(live, authorizer(TEMP_SECRET_KEY), authorizer(WRONG_SECRET_KEY))


# -- loopback ports -------------------------------------------------------------------


def free_port() -> int:
    """A loopback port nothing listens on (bound, then released), below the kernel's
    ephemeral range: a port from that range, once released, can go to anything that binds
    port 0 before its user binds it (an embedded emulator, a client's own end)."""
    lowest_ephemeral = _ephemeral_ports()[0]
    rng = random.Random()
    for _ in range(100):
        port = rng.randrange(FREE_PORTS_FROM, max(FREE_PORTS_FROM + 1, lowest_ephemeral))
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free loopback port below the ephemeral range after 100 tries")


FREE_PORTS_FROM = 10_000


def _ephemeral_ports() -> tuple[int, int]:
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range", encoding="ascii") as file:
            low, high = file.read().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32_768, 60_999  # Linux's default


def port_is_closed(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(1.0)
        return probe.connect_ex(("127.0.0.1", port)) != 0


def port_closes(port: int, within_s: float) -> bool:
    """Whether the port is closed, or closes within ``within_s`` (a process SIGKILLed
    without waiting is gone a few milliseconds later)."""
    deadline = time.monotonic() + within_s
    while not port_is_closed(port):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.02)
    return True


@contextmanager
def silent_port() -> Iterator[int]:
    """A loopback port that accepts TCP connections and never says anything."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(4)
        yield int(listener.getsockname()[1])


def target_on(port: int) -> tuple[Endpoints, Authorizer]:
    """The endpoints and an API-key authorizer for whatever is on loopback ``port``."""
    return (
        Endpoints.from_http_url(f"http://127.0.0.1:{port}/event"),
        default_authorizer(AuthMode.API_KEY, f"127.0.0.1:{port}"),
    )


# -- a scripted WebSocket server ----------------------------------------------------------


def server_frame(message: dict[str, Any] | str) -> bytes:
    """One unmasked text frame as a server sends it (a dict is sent as JSON)."""
    payload = (message if isinstance(message, str) else json.dumps(message)).encode("utf-8")
    if len(payload) < 126:
        return bytes((0x81, len(payload))) + payload
    return bytes((0x81, 126)) + len(payload).to_bytes(2, "big") + payload


def server_close_frame(code: int = 1000) -> bytes:
    return bytes((0x88, 2)) + code.to_bytes(2, "big")


class ScriptedPeer:
    """The server side of one accepted connection, for a script to drive."""

    def __init__(self, connection: socket.socket) -> None:
        self.connection = connection

    def upgrade_request(self) -> bytes:
        """The client's HTTP request up to the end of its headers."""
        request = b""
        while b"\r\n\r\n" not in request:
            chunk = self.connection.recv(4096)
            if not chunk:
                raise ConnectionError("the client closed before its request ended")
            request += chunk
        return request

    def http_request(self) -> bytes:
        """The client's whole HTTP request, its ``Content-Length`` body included."""
        request = self.upgrade_request()
        head, _, body = request.partition(b"\r\n\r\n")
        length = re.search(rb"(?im)^content-length:\s*(\d+)", head)
        while length and len(body) < int(length.group(1)):
            body += self.connection.recv(65536)
        return head + b"\r\n\r\n" + body

    @staticmethod
    def switching_protocols(request: bytes) -> bytes:
        """The 101 that accepts ``request`` with the AppSync subprotocol."""
        lines = request.decode("latin-1").split("\r\n")[1:]
        headers = {
            name.lower(): value
            for name, _, value in (line.partition(": ") for line in lines)
            if value
        }
        accept = accept_key(headers["sec-websocket-key"])
        return (
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Accept: {accept}\r\nSec-WebSocket-Protocol: {SUBPROTOCOL}"
            "\r\n\r\n"
        ).encode("latin-1")

    def accept_upgrade(self) -> None:
        """Read the client's upgrade request and accept it with a 101."""
        self.send(self.switching_protocols(self.upgrade_request()))

    def accept_connection(self, connection_timeout_ms: int = 300_000) -> None:
        """Accept the upgrade, wait for the client's connection_init and acknowledge it
        with ``connection_timeout_ms``."""
        self.accept_upgrade()
        self.wait_for_client_frame()  # connection_init
        ack = {"type": "connection_ack", "connectionTimeoutMs": connection_timeout_ms}
        self.send(server_frame(ack))

    def send(self, data: bytes) -> None:
        self.connection.sendall(data)

    def wait_for_client_frame(self) -> bytes:
        """Whatever the client sends next (a frame, unparsed), or b"" at its end."""
        return self.connection.recv(65536)


@contextmanager
def scripted_server(script: Callable[[ScriptedPeer], None]) -> Iterator[int]:
    """A loopback port whose server accepts one connection and hands it to ``script``
    (in a greenlet), for what no emulator can be made to do: frames in the same write as
    the 101, an upgrade that is slow but completes, messages and HTTP answers AppSync
    never sends. The connection is closed when ``script`` returns; a script that raised
    fails the test."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)

        def serve() -> None:
            connection, _ = listener.accept()
            with connection:
                script(ScriptedPeer(connection))

        server = gevent.spawn(serve)
        try:
            yield int(listener.getsockname()[1])
        finally:
            server.join(timeout=5.0)
            if not server.dead:
                server.kill()
            elif server.exception is not None:
                raise AssertionError(f"the scripted server failed: {server.exception!r}")
