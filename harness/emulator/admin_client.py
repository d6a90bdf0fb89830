"""A small synchronous client of the emulator's admin API (``/_emulator/``).

Used by the Locust hooks (end-of-run server checks, scenario faults); it
crosses loopback only, with the emulator's own CA when it serves TLS.
"""

from __future__ import annotations

import http.client
import json
import ssl
from typing import Any
from urllib.parse import urlsplit

from harness.errors import HarnessError

TIMEOUT_S = 5.0


class AdminError(HarnessError):
    """The admin API could not be reached or refused a request."""


class AdminClient:
    """``GET stats``, ``GET filtered``, ``POST faults`` and ``DELETE faults`` on one
    emulator."""

    def __init__(self, admin_url: str, ca_file: str | None = None) -> None:
        parts = urlsplit(admin_url)
        self._secure = parts.scheme == "https"
        self._host = parts.hostname or "127.0.0.1"
        self._port = parts.port or (443 if self._secure else 80)
        self._prefix = parts.path.rstrip("/") + "/"
        self._ca_file = ca_file

    def stats(self, attempts_since: int = 0) -> dict[str, Any]:
        answer = self._request("GET", f"stats?attempts_since={attempts_since}")
        assert isinstance(answer, dict)
        return answer

    def filtered(self, since: int = 0) -> dict[str, Any]:
        """The traced events handlers filtered after ``since`` (see harness.emulator.admin)."""
        answer = self._request("GET", f"filtered?since={since}")
        assert isinstance(answer, dict)
        return answer

    def add_faults(self, specs: list[str]) -> Any:
        return self._request("POST", "faults", json.dumps({"specs": specs}))

    def clear_faults(self) -> Any:
        return self._request("DELETE", "faults")

    def _request(self, method: str, path: str, body: str | None = None) -> Any:
        connection: http.client.HTTPConnection
        if self._secure:
            context = ssl.create_default_context(cafile=self._ca_file)
            connection = http.client.HTTPSConnection(
                self._host, self._port, timeout=TIMEOUT_S, context=context
            )
        else:
            connection = http.client.HTTPConnection(self._host, self._port, timeout=TIMEOUT_S)
        try:
            connection.request(method, self._prefix + path, body=body)
            response = connection.getresponse()
            text = response.read().decode("utf-8", "replace")
        except OSError as exc:
            raise AdminError(f"emulator admin {method} {path}: {type(exc).__name__}") from exc
        finally:
            connection.close()
        if response.status >= 300:
            raise AdminError(
                f"emulator admin {method} {path}: HTTP {response.status}: {text[:200]}"
            )
        return json.loads(text) if text else None
