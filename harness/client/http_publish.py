"""HTTP publish: ``POST /event`` with 1-5 events, signed per request (protocol reference §5).

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
from harness.errors import ConnectionLost, OperationRejected, OperationTimeout
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
        try:
            with gevent.Timeout(self.timeout_s):
                response = self._http.post(HTTP_PATH, body=body, headers=headers)
                payload = response.read()
                status = response.status_code
        except gevent.Timeout:
            raise OperationTimeout(OPERATION, self.timeout_s) from None
        except ssl.SSLError as exc:
            raise ConnectionLost(OPERATION, "TlsError", type(exc).__name__) from exc
        except (OSError, HTTPException) as exc:
            raise ConnectionLost(OPERATION, "NetworkError", type(exc).__name__) from exc
        answer = _json_object(payload)
        if status != 200:
            error_type, detail = first_error(answer, f"HTTP{status}")
            raise HttpRejected(status, error_type, detail)
        return publish_outcome(answer)

    def close(self) -> None:
        """Close the kept-alive connections."""
        self._http.close()


def _json_object(payload: bytes) -> dict[str, Any]:
    try:
        value = json.loads(payload)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
