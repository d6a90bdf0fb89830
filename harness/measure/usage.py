"""What a run's clients did that AWS meters, counted as they do it (docs/usage-and-cost.md).

A :class:`UsageRecorder` per process counts connection requests, subscribes, publishes
(their events and 5 KB units) and deliveries (their 5 KB units), integrates the time
its connections were open, and keeps per wall-clock second the connects, inbound
events and outbound units, for the peaks. Its drains (:class:`UsageDrain`) merge into
the run's :class:`UsageAccount`, on the master for a distributed run: counts add, and
the seconds of all processes add before the busiest one is picked, so a peak is the
whole run's, not a sum of each process's peaks.

Counting is cheap: :meth:`UsageRecorder.delivered`, once per delivery, adds to two
integers of the current second's figures (about 0.25 us, with the call and the size);
a dictionary entry is made once per second, not per event.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import cast

from harness.measure.schema import USAGE_COUNTS, UsageDrain
from harness.protocol import METERED_UNIT_BYTES, metered_units

CONNECTS, INBOUND, OUTBOUND, MESSAGES = 0, 1, 2, 3
"""The figures kept per second, by index: connects, inbound events, outbound units and
outbound messages (the outbound totals are the sums of the seconds', so a delivery
touches nothing else)."""
PEAKED = 3
"""The per-second figures with a peak: all but the messages."""
MERGE_HORIZON_S = 60
"""Seconds older than this behind the newest merged are folded into the peaks and
dropped: workers report every 3 s, so by then every process has reported them."""


def utf8_size(text: str) -> int:
    """The UTF-8 size of ``text`` without encoding it when it is ASCII (the harness's
    own events always are)."""
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))


class UsageRecorder:
    """One process's metered counts since the last drain. Times are given by the
    caller: wall seconds for the per-second figures, monotonic seconds for durations."""

    __slots__ = (
        "_now",
        "_open",
        "_open_ms",
        "_second",
        "_seconds",
        "_since_ms",
        "connection_requests",
        "inbound_events",
        "inbound_units",
        "largest_request_bytes",
        "publish_requests",
        "subscription_requests",
    )

    def __init__(self) -> None:
        self.connection_requests = 0
        self.subscription_requests = 0
        self.publish_requests = 0
        self.inbound_events = 0
        self.inbound_units = 0
        self.largest_request_bytes = 0
        self._open = 0
        """Connections open now."""
        self._open_ms = 0
        """Milliseconds of open connections integrated so far (since the last drain)."""
        self._since_ms = 0
        """Monotonic milliseconds of the last change of :attr:`_open`."""
        self._seconds: dict[int, list[int]] = {}
        self._second = -1
        self._now: list[int] = [0, 0, 0, 0]
        """The per-second figures of :attr:`_second` (its entry of :attr:`_seconds`)."""

    # -- counting ---------------------------------------------------------------------

    def connect_requested(self, wall_s: float) -> None:
        """A WebSocket connect is attempted."""
        self.connection_requests += 1
        self._in_second(int(wall_s))[CONNECTS] += 1

    def connection_opened(self, monotonic_s: float) -> None:
        """A connect was acknowledged: the connection counts as open from now."""
        self._integrate(monotonic_s)
        self._open += 1

    def connection_closed(self, monotonic_s: float) -> None:
        """An open connection was closed or lost."""
        self._integrate(monotonic_s)
        self._open = max(0, self._open - 1)

    def subscribe_requested(self) -> None:
        self.subscription_requests += 1

    def published(self, events: Sequence[str], wall_s: float) -> None:
        """A publish request carrying ``events`` is sent (WebSocket or HTTP)."""
        sizes = [utf8_size(event) for event in events]
        self.publish_requests += 1
        self.inbound_events += len(sizes)
        self.inbound_units += sum(metered_units(size) for size in sizes)
        self.largest_request_bytes = max(self.largest_request_bytes, sum(sizes))
        self._in_second(int(wall_s))[INBOUND] += len(sizes)

    def delivered(self, event: str, wall_ns: int) -> int:
        """A ``data`` message carrying ``event`` arrived; the event's UTF-8 size (the hot
        path: one call, a few integer operations)."""
        size = len(event) if event.isascii() else utf8_size(event)
        second = wall_ns // 1_000_000_000
        now = self._now if second == self._second else self._in_second(second)
        now[OUTBOUND] += -(-size // METERED_UNIT_BYTES) or 1
        now[MESSAGES] += 1
        return size

    def _in_second(self, second: int) -> list[int]:
        """The figures of wall-clock ``second``, made current."""
        if second != self._second:
            self._now = self._seconds.setdefault(second, [0, 0, 0, 0])
            self._second = second
        return self._now

    def _integrate(self, monotonic_s: float) -> None:
        now_ms = int(monotonic_s * 1000)
        if self._open:
            self._open_ms += self._open * (now_ms - self._since_ms)
        self._since_ms = now_ms

    # -- draining ---------------------------------------------------------------------

    def drain(self, monotonic_s: float) -> UsageDrain:
        """Everything counted since the last drain; connections still open count up to
        ``monotonic_s`` (and go on counting from it)."""
        self._integrate(monotonic_s)
        seconds = self._seconds.values()
        data: UsageDrain = {
            "connection_requests": self.connection_requests,
            "subscription_requests": self.subscription_requests,
            "publish_requests": self.publish_requests,
            "inbound_events": self.inbound_events,
            "inbound_units": self.inbound_units,
            "outbound_messages": sum(figures[MESSAGES] for figures in seconds),
            "outbound_units": sum(figures[OUTBOUND] for figures in seconds),
            "connection_ms": self._open_ms,
            "largest_request_bytes": self.largest_request_bytes,
            "seconds": [[second, *figures[:PEAKED]] for second, figures in self._seconds.items()],
        }
        self.connection_requests = self.subscription_requests = self.publish_requests = 0
        self.inbound_events = self.inbound_units = self.largest_request_bytes = 0
        self._open_ms = 0
        self._seconds, self._second = {}, -1
        return data


def empty_usage() -> UsageDrain:
    """A drain with nothing counted."""
    return UsageRecorder().drain(0.0)


@dataclass
class Peak:
    """The busiest second of one per-second figure."""

    value: int = 0
    second: int | None = None
    """Its wall-clock second; None when nothing was counted."""

    def offer(self, value: int, second: int) -> None:
        if value > self.value:
            self.value, self.second = value, second


@dataclass
class UsageAccount:
    """A run's metered counts, merged from every process's drains."""

    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(USAGE_COUNTS, 0))
    connection_ms: int = 0
    largest_request_bytes: int = 0
    _seconds: dict[int, list[int]] = field(default_factory=dict)
    """Recent seconds, all processes added; older ones are folded into :attr:`_peaks`."""
    _peaks: list[Peak] = field(default_factory=lambda: [Peak(), Peak(), Peak()])

    def merge(self, data: UsageDrain) -> None:
        counted = cast("Mapping[str, int]", data)
        for name in USAGE_COUNTS:
            self.counts[name] += counted[name]
        self.connection_ms += data["connection_ms"]
        self.largest_request_bytes = max(self.largest_request_bytes, data["largest_request_bytes"])
        for second, *figures in data["seconds"]:
            known = self._seconds.setdefault(second, [0, 0, 0])
            for index, value in enumerate(figures):
                known[index] += value
        self._fold_before(max(self._seconds, default=0) - MERGE_HORIZON_S)

    def peaks(self) -> list[Peak]:
        """The busiest second of connects, inbound events and outbound units."""
        peaks = [Peak(peak.value, peak.second) for peak in self._peaks]
        for second, figures in self._seconds.items():
            for peak, value in zip(peaks, figures, strict=True):
                peak.offer(value, second)
        return peaks

    def _fold_before(self, oldest: int) -> None:
        for second in [second for second in self._seconds if second < oldest]:
            for peak, value in zip(self._peaks, self._seconds.pop(second), strict=True):
                peak.offer(value, second)
