"""What the emulator counts, for ``GET /_emulator/stats``.

Counting is cheap on the hot path: a fan-out adds one number per published
event, not one per delivery. Connection attempts are kept (bounded) with wall
and monotonic timestamps, so a harness can check observed reconnect backoff
from the server's side too.
"""

from __future__ import annotations

import time
from collections import Counter, deque
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

MAX_ATTEMPTS_KEPT = 100_000
MAX_CHANNELS_KEPT = 10_000
MAX_IDENTITIES_KEPT = 1_000_000
"""Distinct identities counted per auth mode; past it the count stops growing."""
OTHER_CHANNELS = "(other channels)"


class AttemptOutcome(StrEnum):
    ACCEPTED = "accepted"
    REFUSED = "refused"  # a refuse fault
    REJECTED = "rejected"  # connect authorization failed
    BAD_REQUEST = "bad_request"  # not a valid AppSync Events handshake
    THROTTLED = "throttled"  # over the connect-rate quota


@dataclass(slots=True)
class ConnectionAttempt:
    """One WebSocket handshake seen by the server."""

    seq: int
    wall_time: float
    monotonic: float
    remote: str
    client_id: str | None
    outcome: AttemptOutcome = AttemptOutcome.ACCEPTED
    detail: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "time": round(self.wall_time, 6),
            "monotonic": round(self.monotonic, 6),
            "remote": self.remote,
            "client_id": self.client_id,
            "outcome": self.outcome.value,
            "detail": self.detail,
        }


@dataclass(slots=True)
class ChannelCounts:
    published: int = 0
    delivered: int = 0
    dropped: int = 0

    def to_json(self) -> dict[str, int]:
        return {"published": self.published, "delivered": self.delivered, "dropped": self.dropped}


@dataclass
class EmulatorStats:
    """Counters since start (or since the last reset)."""

    started_at: float = field(default_factory=time.monotonic)
    connections_accepted: int = 0
    connections_closed: int = 0
    subscriptions_total: int = 0
    ws_publishes: int = 0
    http_publishes: int = 0
    publishes_throttled: int = 0
    events_published: int = 0
    events_failed: int = 0
    deliveries: int = 0
    deliveries_dropped: int = 0
    deliveries_delayed: int = 0
    deliveries_overflowed: int = 0
    broadcast_errors: int = 0
    keepalives_sent: int = 0
    frames_rejected: int = 0
    connects_throttled: int = 0
    events_throttled: int = 0
    deliveries_throttled: int = 0
    requests_too_large: int = 0
    auth_failures: Counter[str] = field(default_factory=Counter)
    errors_sent: Counter[str] = field(default_factory=Counter)
    disconnects: Counter[str] = field(default_factory=Counter)
    channels: dict[str, ChannelCounts] = field(default_factory=dict)
    identities: dict[str, set[int]] = field(default_factory=dict)
    """Per auth mode, the hashes of the credentials that were accepted (never the
    credentials: only their number is reported)."""
    attempts: deque[ConnectionAttempt] = field(
        default_factory=lambda: deque(maxlen=MAX_ATTEMPTS_KEPT)
    )
    _attempt_seq: int = 0

    def reset(self) -> None:
        """Zero every counter in place (the broker and sessions hold this object)."""
        self.__dict__.update(EmulatorStats().__dict__)

    def channel(self, path: str) -> ChannelCounts:
        counts = self.channels.get(path)
        if counts is None:
            if len(self.channels) >= MAX_CHANNELS_KEPT:
                path = OTHER_CHANNELS
            counts = self.channels.setdefault(path, ChannelCounts())
        return counts

    def saw_identity(self, mode: str, credential: str) -> None:
        """An accepted request's credential: an API key, a token, an IAM access key id."""
        seen = self.identities.get(mode)
        if seen is None:
            seen = self.identities[mode] = set()
        if len(seen) < MAX_IDENTITIES_KEPT:
            seen.add(hash(credential))

    def record_attempt(self, remote: str, client_id: str | None) -> ConnectionAttempt:
        self._attempt_seq += 1
        attempt = ConnectionAttempt(
            self._attempt_seq, time.time(), time.monotonic(), remote, client_id
        )
        self.attempts.append(attempt)
        return attempt

    def to_json(
        self, *, open_connections: int, live_subscriptions: int, attempts_since: int = 0
    ) -> dict[str, Any]:
        return {
            "uptime_s": round(time.monotonic() - self.started_at, 3),
            "connections": {
                "open": open_connections,
                "accepted": self.connections_accepted,
                "closed": self.connections_closed,
                "attempts": self._attempt_seq,
                "disconnects": dict(self.disconnects),
            },
            "subscriptions": {"live": live_subscriptions, "total": self.subscriptions_total},
            "publishes": {
                "ws": self.ws_publishes,
                "http": self.http_publishes,
                "throttled": self.publishes_throttled,
                "events": self.events_published,
                "events_failed": self.events_failed,
            },
            "deliveries": {
                "sent": self.deliveries,
                "dropped": self.deliveries_dropped,
                "delayed": self.deliveries_delayed,
                "overflowed": self.deliveries_overflowed,
                "broadcast_errors": self.broadcast_errors,
            },
            "quotas": {
                "connects_throttled": self.connects_throttled,
                "events_throttled": self.events_throttled,
                "deliveries_throttled": self.deliveries_throttled,
                "requests_too_large": self.requests_too_large,
            },
            "keepalives_sent": self.keepalives_sent,
            "frames_rejected": self.frames_rejected,
            "auth_failures": dict(self.auth_failures),
            "identities": {mode: len(seen) for mode, seen in self.identities.items()},
            "errors_sent": dict(self.errors_sent),
            "channels": {path: counts.to_json() for path, counts in self.channels.items()},
            "connection_attempts": [
                attempt.to_json() for attempt in self.attempts if attempt.seq > attempts_since
            ],
        }
