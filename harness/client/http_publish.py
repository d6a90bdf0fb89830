"""HTTP publish: ``POST /event`` with 1-5 events, signed per request
(docs/protocol.md#http-publish).

Runs on ``geventhttpclient`` (the client Locust's ``FastHttpUser`` uses), so a
publish blocks only its own greenlet and connections are kept alive between
requests. A 200 answer may still refuse single events: they come back in
:attr:`~harness.client.websocket.PublishOutcome.failed`. Any other status is an
:class:`~harness.errors.OperationRejected` carrying the ``errorType`` the
server named (or ``HTTP<status>``) and the status.
"""

from __future__ import annotations

import json
import ssl
from collections.abc import Sequence
from http.client import HTTPException
from typing import Any

import gevent
from geventhttpclient import HTTPClient

from harness.client.websocket import PublishOutcome, first_error, publish_outcome
from harness.errors import ClientError, ConnectionLost, OperationRejected, OperationTimeout
from harness.protocol import HTTP_PATH, Endpoints, compact_json
from harness.signing import Authorizer

OPERATION = "http_publish"


class HttpRejected(OperationRejected):
    """A non-200 answer to an HTTP publish; ``status`` is the HTTP status."""

    def __init__(self, status: int, error_type: str, detail: str) -> None:
        self.status = status
        super().__init__(OPERATION, error_type, detail)


class HttpPublisher:
    """Publishes over HTTP to one Event API on a small pool of kept-alive connections."""

    def __init__(
        self,
        endpoints: Endpoints,
        authorizer: Authorizer,
        *,
        ca_file: str | None = None,
        timeout_s: float = 10.0,
        concurrency: int = 1,
    ) -> None:
        self.endpoints = endpoints
        self.authorizer = authorizer
        self.timeout_s = timeout_s
        ssl_options = {"ca_certs": ca_file} if ca_file else None
        self._http = HTTPClient.from_url(
            endpoints.http_url,
            concurrency=concurrency,
            connection_timeout=timeout_s,
            network_timeout=timeout_s,
            ssl_options=ssl_options,
            headers={"User-Agent": "appsync-events-harness"},
        )

    def publish(self, channel: str, events: Sequence[str]) -> PublishOutcome:
        """Publish ``events`` to ``channel``; raises a :class:`~harness.errors.ClientError`."""
        body = compact_json({"channel": channel, "events": list(events)}).encode("utf-8")
        headers = self.authorizer.http_headers(body)
        # The request runs in a greenlet of its own. A user that Locust stops mid-publish
        # is killed, and a request killed inside geventhttpclient takes its checked-out
        # socket with it, unclosed; left alone, the request ends (bounded by the timeout)
        # and the pool closes the socket, also once close() has been called.
        status, payload, error = gevent.spawn(self._post, body, headers).get()
        if error is not None:
            raise error
        answer = _json_object(payload)
        if status != 200:
            error_type, detail = first_error(answer, f"HTTP{status}")
            raise HttpRejected(status, error_type, detail)
        return publish_outcome(answer)

    def _post(self, body: bytes, headers: dict[str, str]) -> tuple[int, bytes, ClientError | None]:
        """``(status, body, None)``, or ``(0, b"", error)``: a greenlet that raised would
        have its traceback printed by gevent."""
        try:
            with gevent.Timeout(self.timeout_s):
                response = self._http.post(HTTP_PATH, body=body, headers=headers)
                return response.status_code, response.read(), None
        except gevent.Timeout:
            return 0, b"", OperationTimeout(OPERATION, self.timeout_s)
        except ssl.SSLError as exc:
            return 0, b"", _lost("TlsError", exc)
        except (OSError, HTTPException, RuntimeError) as exc:  # RuntimeError: pool closed
            return 0, b"", _lost("NetworkError", exc)

    def close(self) -> None:
        """Close the kept-alive connections."""
        self._http.close()


def _lost(error_type: str, exc: BaseException) -> ConnectionLost:
    lost = ConnectionLost(OPERATION, error_type, type(exc).__name__)
    lost.__cause__ = exc
    return lost


def _json_object(payload: bytes) -> dict[str, Any]:
    try:
        value = json.loads(payload)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
