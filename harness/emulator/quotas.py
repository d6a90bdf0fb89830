"""AppSync's per-API quotas, enforced by the emulator (docs/emulator.md#quotas).

Defaults are AWS's (docs/protocol.md#channels; the service quota table): 2,000
connection requests a second, 10,000 inbound events a second, 1,000,000 outbound
messages a second metered in 5 KB units, 1.2 MB per publish request, 200
subscriptions per connection. ``--quota NAME=LIMIT`` changes one, ``NAME=off``
lifts it. A rate is a token bucket holding one second's worth: a burst of a
second's quota passes at once, then the rate holds.

What AWS answers past a quota is not documented; the emulator's choices, listed as
unconfirmed in docs/emulator.md: a connect is refused at the upgrade with HTTP 429
and ``LimitExceededError``; a publish (WebSocket or HTTP) with
``LimitExceededError`` (HTTP 429); a delivery past the outbound quota is dropped
and counted; a request over the size cap gets ``PayloadTooLargeException`` (HTTP
413).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields

from harness.errors import ConfigurationError
from harness.protocol import (
    MAX_CONNECTS_PER_SECOND,
    MAX_INBOUND_EVENTS_PER_SECOND,
    MAX_OUTBOUND_UNITS_PER_SECOND,
    MAX_REQUEST_BYTES,
    MAX_SUBSCRIPTIONS_PER_CONNECTION,
    METERED_UNIT_BYTES,
    metered_units,
)

OUTBOUND_UNIT_BYTES = METERED_UNIT_BYTES
"""Outbound messages are metered in 5 KB units."""
OFF = "off"


@dataclass(frozen=True)
class Quotas:
    """The per-API limits; None lifts one."""

    connect_rate: float | None = MAX_CONNECTS_PER_SECOND
    """Connection requests a second."""
    inbound_events: float | None = MAX_INBOUND_EVENTS_PER_SECOND
    """Published events a second, WebSocket and HTTP together."""
    outbound_messages: float | None = MAX_OUTBOUND_UNITS_PER_SECOND
    """Delivered messages a second, each counted in 5 KB units."""
    request_bytes: int | None = MAX_REQUEST_BYTES
    """Bytes of one publish request (1.2 MB)."""
    subscriptions_per_connection: int | None = MAX_SUBSCRIPTIONS_PER_CONNECTION

    @classmethod
    def parse(cls, specs: Sequence[str], *, option: str = "--quota") -> Quotas:
        """``NAME=LIMIT`` or ``NAME=off`` items, each spec one or several separated by
        commas; names as in ``--help`` (``connect-rate``...)."""
        names = {field.name.replace("_", "-"): field.name for field in fields(cls)}
        values: dict[str, float | int | None] = {}
        for item in (part.strip() for spec in specs for part in spec.split(",")):
            if not item:
                continue
            name, equals, limit = item.partition("=")
            attribute = names.get(name.strip().lower())
            if not equals or attribute is None:
                raise ConfigurationError(
                    option,
                    f"expected NAME=LIMIT or NAME=off with NAME one of "
                    f"{', '.join(names)}, not {item!r}",
                )
            values[attribute] = _limit(option, name.strip(), limit.strip())
        return cls(**values)  # type: ignore[arg-type]

    def describe(self) -> dict[str, float | int | None]:
        return {field.name: getattr(self, field.name) for field in fields(self)}


def _limit(option: str, name: str, text: str) -> float | int | None:
    if text.lower() == OFF:
        return None
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise ConfigurationError(option, f"{name} must be a positive number or off, not {text!r}")
    return int(value) if value.is_integer() else value


class RateBucket:
    """A token bucket: ``rate`` tokens a second, holding at most one second's worth."""

    __slots__ = ("_clock", "_stamp", "_tokens", "rate")

    def __init__(self, rate: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self._clock = clock
        self._tokens = rate
        self._stamp = clock()

    def take(self, tokens: float = 1.0) -> bool:
        """Take ``tokens`` if the bucket holds them."""
        return self.take_up_to(1, tokens) == 1

    def take_up_to(self, count: int, each: float = 1.0) -> int:
        """Take tokens for as many of ``count`` items of ``each`` tokens as it holds;
        how many."""
        now = self._clock()
        self._tokens = min(self.rate, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now
        granted = min(count, int(self._tokens // each)) if each > 0 else count
        self._tokens -= granted * each
        return granted


def bucket(rate: float | None) -> RateBucket | None:
    """A bucket for ``rate``, or None when the quota is off."""
    return None if rate is None else RateBucket(rate)


def outbound_units(frame_bytes: int) -> int:
    """The 5 KB units one delivered message of ``frame_bytes`` counts for."""
    return metered_units(frame_bytes)
