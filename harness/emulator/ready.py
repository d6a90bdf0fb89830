"""The line the emulator prints once it listens: light enough for its launchers to import
(the server itself pulls in aiohttp)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class ReadyInfo:
    """What the emulator prints, as one JSON line, once it listens."""

    http_url: str
    realtime_url: str
    admin_url: str
    region: str
    ca_cert: str | None
    cognito_identity_url: str | None = None
    """The Cognito Identity API's endpoint (botocore's ``endpoint_url``)."""
    identity_pool_id: str | None = None

    def to_json(self) -> str:
        return json.dumps(asdict(self))
