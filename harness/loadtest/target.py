"""What a run talks to: a real Event API given by ``--host``, or the embedded emulator.

:class:`Target` holds the endpoints; :mod:`harness.loadtest.identities` builds the
users' authorizers against it. Against the embedded emulator, credentials that were
not given come from its documented test identity (``harness.emulator.identity``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from harness.emulator.process import EmulatorProcess
from harness.loadtest.settings import DEFAULT_EMULATOR_BIND, HarnessSettings
from harness.protocol import Endpoints

logger = logging.getLogger(__name__)

EMBEDDED_EMULATOR_LOG_LEVEL = ("--log-level", "WARNING")


@dataclass(frozen=True)
class Target:
    """The Event API of a run and how to authorize against it."""

    endpoints: Endpoints
    embedded: bool
    ca_file: str | None = None

    @classmethod
    def from_settings(cls, settings: HarnessSettings, host: str) -> Target:
        """``host`` is the HTTP URL Locust runs against (the emulator's when embedded)."""
        return cls(Endpoints.from_http_url(host), settings.embedded, settings.ca_file)


def start_embedded_emulator(settings: HarnessSettings) -> EmulatorProcess:
    """Start ``python -m harness.emulator`` with ``--emulator-args`` on ``--emulator-bind``
    (by default a free port of 127.0.0.1)."""
    bind = settings.emulator_bind or DEFAULT_EMULATOR_BIND
    address = ("--host", bind.host, "--port", str(bind.port))  # last: --emulator-bind wins
    emulator = EmulatorProcess.start(
        [*EMBEDDED_EMULATOR_LOG_LEVEL, *settings.emulator_args, *address]
    )
    logger.info("embedded AppSync Events emulator at %s", emulator.info.http_url)
    if not bind.loopback:
        logger.warning(
            "the embedded emulator listens on %s, reachable from the network: it is a test "
            "server that accepts well-known test credentials (docs/emulator.md) and anyone "
            "who reaches it can use its admin API; keep it on a private network",
            bind.host,
        )
    return emulator
