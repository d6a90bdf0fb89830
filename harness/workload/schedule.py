"""Open-loop publish schedules: a fixed rate per user, not a closed loop.

A publisher sends its k-th publish at ``start + phase + k / rate``, whatever
happened to the previous one; when it falls behind it sends at once, and the
latency of each publish is still measured from its intended time. Each user
gets a random phase so users spawned together do not publish in bursts
(docs/architecture.md#the-gevent-loop).
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Slot:
    """One scheduled publish: its intended time on both clocks."""

    index: int
    monotonic_s: float
    """For sleeping and for ack latency."""
    wall_ns: int
    """For end-to-end latency across processes."""


@dataclass
class PublishSchedule:
    """Slots at ``rate_per_s``, starting after a phase in ``[0, 1 / rate_per_s)``."""

    rate_per_s: float
    rng: random.Random = field(default_factory=random.Random)
    monotonic: Callable[[], float] = time.monotonic
    wall_ns: Callable[[], int] = time.time_ns
    _start_monotonic: float = field(init=False)
    _start_wall_ns: int = field(init=False)
    _next_index: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        if not self.rate_per_s > 0:
            raise ValueError("rate_per_s must be positive")
        phase = self.rng.random() / self.rate_per_s
        self._start_monotonic = self.monotonic() + phase
        self._start_wall_ns = self.wall_ns() + round(phase * 1e9)

    def next_slot(self) -> Slot:
        """The next slot; callers sleep until ``slot.monotonic_s`` (or not, if late)."""
        index = self._next_index
        self._next_index += 1
        offset = index / self.rate_per_s
        return Slot(
            index, self._start_monotonic + offset, self._start_wall_ns + round(offset * 1e9)
        )

    def skip_missed(self) -> int:
        """Drop slots already in the past (after an outage); returns how many.

        Used when a publisher could not publish at all (no connection): the
        missed slots are reported as skipped instead of sent in a burst later.
        """
        now = self.monotonic()
        due = math.floor((now - self._start_monotonic) * self.rate_per_s) + 1
        skipped = max(0, due - self._next_index)
        self._next_index += skipped
        return skipped
