"""Helpers shared by the tests of the load client, HTTP publish, the ``locust``
command and its web UI: unique channels, loopback ports with nothing (useful)
behind them, the server texts the tests expect, and the temporary credentials of
the IAM mismatch tests."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import NamedTuple

from emulator_support import LiveEmulator, default_authorizer

from harness.emulator import defaults
from harness.protocol import Endpoints
from harness.signing import AuthMode, Authorizer, CredentialSource, make_authorizer

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
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def port_is_closed(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(1.0)
        return probe.connect_ex(("127.0.0.1", port)) != 0


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
