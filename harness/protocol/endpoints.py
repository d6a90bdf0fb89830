"""The endpoints of an Event API, derived from its HTTP URL (docs/protocol.md#endpoints)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from harness.errors import MessageValidationError
from harness.protocol._text import clip
from harness.protocol.constants import HTTP_PATH, REALTIME_PATH

_STANDARD_HOST = re.compile(
    r"(?P<api_id>\w{26})\.appsync-api\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(?P<cn>\.cn)?"
)


@dataclass(frozen=True, slots=True)
class Endpoints:
    """The HTTP and realtime URLs of one Event API, and the host that auth objects carry.

    ``http_host`` (with a port when the URL has one) is what goes into every
    ``host`` auth field, even on the realtime socket (docs/protocol.md#endpoints).
    """

    http_url: str
    realtime_url: str
    http_host: str
    region: str | None

    @classmethod
    def from_http_url(cls, url: str) -> Endpoints:
        """Derive the endpoints from the HTTP endpoint, as amplify-js does
        (docs/protocol.md#endpoints).

        ``https://<id>.appsync-api.<region>.amazonaws.com[/event]`` becomes
        ``wss://<id>.appsync-realtime-api.<region>.amazonaws.com/event/realtime``;
        any other host is a custom domain (or the emulator) serving both
        paths. ``http://`` maps to ``ws://``. The path may be omitted.
        """
        parts = urlsplit(url.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise MessageValidationError(
                "host", f"must be an http(s) URL such as https://<api>/event, not {clip(url)!r}"
            )
        if parts.path not in ("", "/", HTTP_PATH, HTTP_PATH + "/"):
            raise MessageValidationError(
                "host", f"path must be {HTTP_PATH!r} (or empty), not {clip(parts.path)!r}"
            )
        if parts.query or parts.fragment:
            raise MessageValidationError("host", "must not have a query or fragment")
        host = parts.netloc.rsplit("@", 1)[-1].lower()
        standard = _STANDARD_HOST.fullmatch(parts.hostname.lower())
        realtime_host = (
            host.replace(".appsync-api.", ".appsync-realtime-api.", 1) if standard else host
        )
        ws_scheme = "wss" if parts.scheme == "https" else "ws"
        return cls(
            http_url=f"{parts.scheme}://{host}{HTTP_PATH}",
            realtime_url=f"{ws_scheme}://{realtime_host}{REALTIME_PATH}",
            http_host=host,
            region=standard.group("region") if standard else None,
        )
