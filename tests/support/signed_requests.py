"""Requests signed as other clients sign them, and what the emulator answers them."""

from __future__ import annotations

import contextlib

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import ReadOnlyCredentials
from websockets.exceptions import ConnectionClosed

from harness.emulator import defaults
from harness.protocol import Message
from harness.signing import encode_subprotocol
from harness.signing.sigv4 import IAM_CONSTANT_HEADERS
from support.emulator import LiveEmulator, WsClient

SUBPROTOCOL = "aws-appsync-event-ws"


def botocore_headers(
    host: str,
    body: bytes,
    path: str = "/event",
    secret_key: str = defaults.DEFAULT_SECRET_ACCESS_KEY,
) -> dict[str, str]:
    """Sign with botocore as a third-party client would, over any path and body, with the
    emulator's test access key (and ``secret_key``)."""
    request = AWSRequest(
        method="POST",
        url=f"https://{host}{path}",
        data=body,
        headers={**IAM_CONSTANT_HEADERS, "host": host},
    )
    credentials = ReadOnlyCredentials(defaults.DEFAULT_ACCESS_KEY_ID, secret_key, None)
    SigV4Auth(credentials, "appsync", defaults.DEFAULT_REGION).add_auth(request)
    return {name.lower(): value for name, value in request.headers.items()}


def connect_with(live: LiveEmulator, auth_object: dict[str, str]) -> Message:
    """Open a socket whose header- subprotocol carries ``auth_object``; the first answer."""
    client = WsClient(live.open([SUBPROTOCOL, encode_subprotocol(auth_object)]), None)
    with contextlib.suppress(ConnectionClosed):  # a refused connect may be closed already
        client.send({"type": "connection_init"})
    answer = client.recv()
    client.close()
    return answer


def only_error(message: Message) -> tuple[str, str]:
    errors = message.errors  # type: ignore[attr-defined]
    assert len(errors) == 1, errors
    return errors[0].error_type, errors[0].message
